"""``/insights`` pages, their CSV and JSON exports and ``/api/insights/...``: for department owners
(their departments) and admins (all). Thin: read the filters, ask the InsightsService, render."""

from __future__ import annotations

import csv
import io
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from ..feedback import FeedbackError, NotFoundError, PermissionDeniedError, Person
from ..insights import SECTIONS
from ..insights.period import PRESET_DAYS, period_from
from ..insights.satisfaction import score_of
from ..insights.tables import WEEKDAYS, tables_for
from . import core
from .admin import _spreadsheet_safe
from .feedback import error_message
from .security import csrf, current_person

bp = Blueprint("insights", __name__)
FILTERS = ("days", "start", "end", "department")


def _person() -> Person:
    person = current_person()
    if not person.is_triager:
        abort(403, description=_("Insights are for department owners and admins."))
    return person


def _args() -> dict[str, str]:
    return {k: v.strip()[:20] for k in FILTERS if (v := request.args.get(k))}


def _report(section: str) -> tuple[dict, dict[str, str]]:
    person = _person()
    if section not in SECTIONS:
        abort(404)
    args = _args()
    try:
        period = period_from(args.get("days"), args.get("start"), args.get("end"), core().insights.now().date())
    except ValueError:
        abort(400, description=_("Choose 7, 30 or 90 days, or a start date before the end date."))
    try:
        return core().insights.report(person, section, period, args.get("department")), args
    except PermissionDeniedError:
        abort(403, description=_("Only that department's owners and admins see its figures."))


@bp.get("/insights")
def index() -> ResponseReturnValue:
    return redirect(url_for("insights.page", name="search", **_args()))


@bp.get("/insights/<name>")
def page(name: str) -> ResponseReturnValue:
    section, _dot, fmt = name.partition(".")
    report, args = _report(section)
    if fmt == "json":
        return jsonify(report)
    if fmt == "csv":
        return _csv(report)
    if fmt:
        abort(404)
    return render_template("insights.html", report=report, tables=tables_for(report), sections=SECTIONS, args=args,
                           presets=PRESET_DAYS, departments=core().feedback.triage_departments(current_person()),
                           weekdays=WEEKDAYS)


@bp.get("/api/insights/<section>")
def api(section: str) -> ResponseReturnValue:
    person = current_person()
    if not person.is_triager:
        return jsonify(error="forbidden", message="Insights are for department owners and admins."), 403
    return page(section + ".json")


@bp.post("/insights/gaps/flag")
def gap_flag() -> ResponseReturnValue:
    """The gap radar's one click: a gap flag for the group's likely department, routed like any other."""
    person = _person()
    form = request.form
    searches = form.get("searches", "")
    comment = _("Opened from the gap radar: %(num)s failed searches (%(languages)s).",
                num=searches if searches.isascii() and searches.isdigit() else "?", languages=form.get("languages", "")[:60])
    try:
        receipt = core().feedback.flag_gap(reporter=person.email, query=form.get("query", ""),
                                           department=form.get("department", ""), comment=comment)
    except FeedbackError as exc:
        flash(error_message(exc), "error")
        return redirect(url_for("insights.page", name="gaps"))
    flash(_("Gap flag #%(id)s opened for %(department)s.", id=receipt.flag_id, department=receipt.department.name), "success")
    if person.can_triage(receipt.department.id):
        return redirect(url_for("admin.flag_detail", flag_id=receipt.flag_id))
    return redirect(url_for("insights.page", name="gaps"))


@bp.route("/rate/<token>", methods=["GET", "POST"])
@csrf.exempt  # the form carries a key bound to the link instead of the session's token (see below)
def rate(token: str) -> ResponseReturnValue:
    """The reporter rates how their resolved flag was handled, from the resolution email's links.

    GET never changes anything: mail gateways (Safe Links, Mimecast, Proofpoint) fetch every link
    of a message, so links that recorded their score would be "rated" 1 to 5 by the scanner. GET
    shows the link's score preselected and one button; rate.js presses it on load in a person's
    browser, so it stays one click (two without JavaScript). The POST needs no session: the signed
    token is the permission and no cookie or sign-in is read, so there is no ambient authority for a
    forged request to borrow; the form's key is bound to the token (only a page rendered for this
    link posts it, with cookies off or the session gone), and a foreign Origin is refused too.
    """
    insights = core().insights
    state = insights.rating_for_token(token)
    if state is None:
        abort(404)
    if request.method != "POST":  # GET, and HEAD (some scanners only ask that)
        raw = request.args.get("score", "")
        linked = score_of(raw)
        if raw and linked is None:
            abort(400, description=_("A rating is a whole number from 1 to 5."))
        send_now = bool(state.resolved and linked and linked != state.score)
        return render_template("rate.html", token=token, state=state, chosen=linked or state.score,
                               send_now=send_now, form_key=insights.rating_form_key(token))
    if not _same_origin() or not insights.valid_rating_form(token, request.form.get("form_key", "")):
        abort(400, description=_("This form is not from this rating page. Open the link from the email again."))
    score = score_of(request.form.get("score", ""))
    if score is None:
        abort(400, description=_("A rating is a whole number from 1 to 5."))
    try:
        insights.rate_by_token(token, score)
        flash(_("Thank you: you rated it %(score)s of 5. You can change it here at any time; the latest rating counts.",
                score=score), "success")
    except NotFoundError:
        flash(_("This request is not resolved at the moment, so it cannot be rated."), "error")
    return redirect(url_for("insights.rate", token=token), code=303)  # a reload sends nothing twice


def _same_origin() -> bool:
    """No Origin (older browsers, tools) or this site's own host."""
    origin = request.headers.get("Origin")
    try:
        return origin is None or urlsplit(origin).netloc == request.host
    except ValueError:  # "http://[::1" and the like
        return False


def _csv(report: dict) -> Response:
    """Every table of the section, one after another, each under its name (spreadsheet-safe cells)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    for table in tables_for(report):
        columns = [c for c in table.columns if c.fmt != "gapflag"]  # a form, not a figure
        writer.writerow([table.name])
        writer.writerow([c.label for c in columns])
        for row in table.rows:
            writer.writerow([_spreadsheet_safe(row.get(c.key)) for c in columns])
        writer.writerow([])
    name = f"kb-insights-{report['section']}-{report['period']['start']}-{report['period']['end']}.csv"
    return Response(buf.getvalue(), mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'})
