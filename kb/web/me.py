"""My requests: what the signed-in employee sent, what became of it; a follow-up, withdrawing,
or rating how a resolved one was handled.

Thin: who is asking, the FeedbackService's RequestViews, render. Only with an
identity (SSO, or the demo switcher): anonymous mode keeps no one's requests.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..feedback import FeedbackError, NotFoundError, Person
from ..feedback.rules import REASON_LABELS
from ..insights.satisfaction import score_of
from . import core
from .feedback import error_message, requests_offered
from .security import current_person

bp = Blueprint("me", __name__, url_prefix="/me")

#: A request's status in the reporter's words.
STATUS_LABELS = {
    "new": _l("Received"), "acknowledged": _l("Being looked at"), "resolved": _l("Resolved"),
    "declined": _l("Declined"), "withdrawn": _l("Withdrawn"),
}
#: Who said what on a request, as its reporter reads it (internal notes never reach this page).
ENTRY_LABELS = {
    "report": _l("You reported"), "comment": _l("You added"), "helpful": _l("You later found the article helpful"),
    "withdrawn": _l("You withdrew it"), "reply": _l("Reply from %(department)s"),
}


def _reporter() -> Person:
    if core().config.anonymous_feedback:
        abort(404)  # anonymous mode: no one's requests are kept under their name
    if not requests_offered():
        abort(403, description=_("Sign in to see your requests."))
    return current_person()


@bp.get("/requests")
def requests() -> ResponseReturnValue:
    person = _reporter()
    rows = core().feedback.my_requests(person)
    return render_template("me_requests.html", rows=rows, reasons=REASON_LABELS, statuses=STATUS_LABELS,
                           entry_labels=ENTRY_LABELS)


def _flag_id(value: str) -> int:
    return int(value) if value.isascii() and value.isdigit() and len(value) < 12 else 0


@bp.post("/requests/<flag_id>")
def request_action(flag_id: str) -> ResponseReturnValue:
    person = _reporter()
    fid = _flag_id(flag_id)
    action = request.form.get("action", "")
    try:
        if action == "comment":
            core().feedback.comment_on_request(person, fid, request.form.get("text"))
            flash(_("Your comment was added to #%(id)s.", id=fid), "success")
        elif action == "withdraw":
            core().feedback.withdraw_request(person, fid)
            flash(_("You withdrew #%(id)s.", id=fid), "success")
        elif action == "rate":
            score = score_of(request.form.get("score", ""))
            if score is None:
                abort(400, description=_("A rating is a whole number from 1 to 5."))
            core().insights.rate_own(person, fid, score)  # the email link's rule too
            flash(_("Thank you: you rated #%(id)s %(score)s of 5. You can change it at any time; the latest rating counts.",
                    id=fid, score=score), "success")
        else:
            flash(_("Choose an action."), "error")
    except NotFoundError:
        abort(404)  # someone else's request looks like none
    except FeedbackError as exc:
        flash(error_message(exc), "error")
    return redirect(url_for("me.requests") + f"#request-{fid}")
