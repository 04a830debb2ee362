"""Feedback forms: 'Was this helpful?' on articles, 'Didn't find it?' on searches.

Each works as a plain form POST with a redirect back (no JavaScript needed)
and as a fetch() that gets JSON (kb.js swaps the form for the answer).
"""

from __future__ import annotations

import secrets

from flask import Blueprint, abort, flash, jsonify, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_date, format_number
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape

from ..feedback import COMMENT_MAX, QUERY_MAX, FeedbackError, FeedbackService, Receipt
from ..feedback.conversation import VoteState
from ..feedback.identity import demo_people
from ..feedback.rules import ACTIONS, REASON_LABELS
from . import core, library
from .filters import safe_next
from .labels import target_text
from .security import DEV_SESSION_KEY, FEEDBACK_SCOPE, current_person, feedback_key, feedback_limit, limiter

bp = Blueprint("feedback", __name__)


def _service() -> FeedbackService:
    return core().feedback


@bp.app_context_processor
def feedback_context() -> dict:
    """The service's rules the forms show (reasons, the comment limit): no copies in the templates."""
    return {"comment_max": COMMENT_MAX, "comment_max_text": format_number(COMMENT_MAX), "feedback_reasons": REASON_LABELS}


#: What a reader is told for each FeedbackError code (str(exc) is English, for logs).
ERROR_MESSAGES = {
    "reason_required": _l("Tell us what was wrong: choose a reason."),
    "bad_reason": _l("Choose one of the reasons in the list."),
    "comment_too_long": _l("Comments can be up to %(max)s characters."),
    "too_long": _l("This text can be up to %(max)s characters."),
    "choose_department": _l("Choose the department that should answer."),
    "empty_gap": _l("Say what you were looking for."),
    "note_required": _l("%(action)s: say why in a note."),
    "bad_transition": _l("“%(action)s” is not possible for this flag now."),
    "unknown_action": _l("Choose an action."),
    "not_found": _l("There is no flag #%(id)s."),
    "empty_text": _l("Write something first."),
    "not_open": _l("Only an open request can be withdrawn."),
    "nothing_selected": _l("Nothing was selected: tick the flags to change first."),
    "assignee_required": _l("Give the email address of the person to assign."),
    "not_assignable": _l("%(assignee)s cannot be assigned: flags go to an owner of %(department)s or an admin."),
    "merge_target": _l("Give the number of the flag to merge into."),
    "merge_self": _l("A flag cannot be merged into itself."),
    "merge_closed": _l("Only open flags can be merged: #%(id)s is closed."),
    "merge_department": _l("Only an admin can merge flags of two departments."),
}
#: Flash categories shown inside the feedback box the redirect lands on (#feedback, #gap), not at the top.
FEEDBACK_FLASHES = ("fb-success", "fb-error")


def error_message(exc: FeedbackError) -> str:
    """The reader's translated message for a service error."""
    params = dict(exc.params)
    if "max" in params:
        params["max"] = format_number(params["max"])
    if params.get("action") in ACTIONS:
        params["action"] = _(ACTIONS[params["action"]].label)
    message = ERROR_MESSAGES.get(exc.code)
    return str(message) % params if message is not None else _("Something went wrong. Please try again.")


def wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json" or request.headers.get("X-Requested-With") == "fetch"


def _who() -> tuple[str, str | None]:
    """(voter key, reporter email): anonymous mode stores no identity at all."""
    cfg = core().config
    person = current_person()
    if cfg.anonymous_feedback or not person.email:
        if not cfg.anonymous_feedback:
            abort(403, description=_("Sign in to give feedback."))
        session.setdefault("kb_anon", secrets.token_hex(8))
        return "anon:" + session["kb_anon"], None
    return person.email, person.email


def current_voter() -> str | None:
    """The voter key of this request, without creating one: whose vote an article page shows."""
    cfg = core().config
    person = current_person()
    if cfg.anonymous_feedback or not person.email:
        return "anon:" + session["kb_anon"] if "kb_anon" in session else None
    return person.email


def requests_offered() -> bool:
    """My requests needs to know who sent what: SSO (or the demo) identity, never anonymous mode."""
    return bool(current_person().email) and not core().config.anonymous_feedback


def vote_state_message(state: VoteState | None) -> str | None:
    if state is None:
        return None
    day = format_date(state.day, "medium")
    if state.helpful:
        return _("You said this was helpful on %(date)s.", date=day)
    return _("You said this was not helpful on %(date)s.", date=day)


def receipt_html(message: str, receipt: Receipt) -> Markup:
    """The receipt with its reference number linking to My requests (where that is offered)."""
    html = escape(message)
    if receipt.flag_id and requests_offered():
        ref = f"#{receipt.flag_id}"
        link = Markup('<a href="{}">{}</a>').format(url_for("me.requests") + f"#request-{receipt.flag_id}", ref)
        html = Markup(html.replace(ref, link, 1))
    return html


def receipt_message(receipt: Receipt, helpful: bool | None = None) -> str:
    if helpful:
        return _("Thanks for letting us know this helped.")
    dep = receipt.department
    if dep is None:
        return _("Thanks: your feedback was sent.")
    if dep.response_target:
        return _(
            "Thanks: %(department)s owns this and answers within %(target)s. Your reference is #%(id)s.",
            department=dep.name, target=target_text(dep.response_target), id=receipt.flag_id,
        )
    return _("Thanks: %(department)s owns this and will look at it. Your reference is #%(id)s.", department=dep.name, id=receipt.flag_id)


def _answer(message: str, back: str, receipt: Receipt, state: str | None = None) -> ResponseReturnValue:
    html = receipt_html(message, receipt)
    if wants_json():
        dep = receipt.department
        return jsonify(
            ok=True, message=message, html=str(html), state=state, flag=receipt.flag_id,
            department=dep.name if dep else None,
            response_target=target_text(dep.response_target) if dep and dep.response_target else None,
        ), 200
    flash(html, "fb-success")  # shown in the box the redirect lands on; the page shows the vote itself
    return redirect(back)


def _error(message: str, back: str, status: int = 400) -> ResponseReturnValue:
    if wants_json():
        return jsonify(ok=False, message=message), status
    flash(message, "fb-error")
    return redirect(back)


@bp.post("/feedback/article")
@limiter.shared_limit(feedback_limit, scope=FEEDBACK_SCOPE, key_func=feedback_key, methods=["POST"])
def article_feedback() -> ResponseReturnValue:
    art = library().articles.get(request.form.get("article", ""))
    if art is None:
        abort(404)
    back = url_for("pages.article", slug=art.slug) + "#feedback"
    helpful = request.form.get("helpful")
    if helpful not in ("yes", "no"):
        return _error(_("Choose Yes or No."), back)
    voter, reporter = _who()
    try:
        receipt = _service().vote(
            voter=voter, reporter=reporter, article=art, helpful=helpful == "yes",
            reason=request.form.get("reason") or None, comment=request.form.get("comment"),
            section=request.form.get("section") or None, notify=request.form.get("notify") == "1",
        )
    except FeedbackError as exc:
        return _error(error_message(exc), back)
    state = vote_state_message(_service().current_vote(voter, art.path))
    return _answer(receipt_message(receipt, helpful == "yes"), back, receipt, state)


@bp.post("/feedback/gap")
@limiter.shared_limit(feedback_limit, scope=FEEDBACK_SCOPE, key_func=feedback_key, methods=["POST"])
def gap_feedback() -> ResponseReturnValue:
    query = (request.form.get("query") or "")[:QUERY_MAX]
    back = url_for("search.search_page", q=query) + "#gap"
    voter, reporter = _who()
    try:
        receipt = _service().flag_gap(
            reporter=reporter, query=query, department=request.form.get("department", ""),
            comment=request.form.get("comment"), notify=request.form.get("notify") == "1",
        )
    except FeedbackError as exc:
        return _error(error_message(exc), back)
    # The search whose page this came from is no success, even if a result was opened from it.
    core().insights.record_didnt_find((request.form.get("from") or "")[:20])
    return _answer(receipt_message(receipt), back, receipt)


@bp.post("/dev/switch")
def dev_switch() -> ResponseReturnValue:
    """Dev mode only: act as the demo employee, department owner or admin."""
    if not core().config.dev:
        abort(404)
    people = demo_people(library().departments)
    role = request.form.get("role", "")
    if role not in people:
        abort(400)
    session[DEV_SESSION_KEY] = people[role]
    return redirect(safe_next(request.form.get("next")))
