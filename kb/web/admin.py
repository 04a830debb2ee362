"""The triage queue for department owners and admins, with CSV/JSON export.

Thin: read the request, ask the FeedbackService (FlagViews), render.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext

from ..feedback import (
    FeedbackError,
    FeedbackService,
    FlagView,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    Person,
)
from ..feedback.rules import N_, REASON_LABELS, REASONS, STATUSES
from ..feedback.triage import BulkResult
from ..feedback.views import EXPORT_FIELDS
from . import core
from .feedback import error_message
from .security import current_person

bp = Blueprint("admin", __name__, url_prefix="/admin")
FILTERS = ("department", "status", "reason", "article", "age", "q", "sort")
#: Each entry on a flag's page, as the owner reads it (msgids).
ENTRY_LABELS = {
    "report": N_("Report"), "comment": N_("The reporter added"), "helpful": N_("The reader later found it helpful"),
    "withdrawn": N_("The reporter withdrew it"), "reply": N_("Reply to the reporter"), "note": N_("Internal note"),
}


def _service() -> FeedbackService:
    return core().feedback


def _require_triager() -> Person:
    person = current_person()
    if not person.is_triager:
        abort(403, description=_("The feedback queue is for department owners and admins."))
    return person


def _filter_args() -> dict[str, str]:
    """The queue's filters as given (the queue shows open flags unless told otherwise)."""
    args = {k: (request.args.get(k) or "").strip() for k in FILTERS}
    if "status" not in request.args:
        args["status"] = "open"
    return args


def _whole(value: str) -> int | None:
    """A whole number as typed (ASCII digits only: "²".isdigit() is true but int() refuses it)."""
    return int(value) if value.isascii() and value.isdigit() else None


def _views(person: Person, args: dict[str, str]) -> list[FlagView]:
    age = _whole(args["age"])
    return _service().flag_views(
        person, department=args["department"] or None, status=args["status"] or None, reason=args["reason"] or None,
        article=args["article"] or None, older_than_days=age, text=args["q"] or None, sort=args["sort"] or "due",
    )


@bp.get("/flags")
def flags() -> ResponseReturnValue:
    person = _require_triager()
    args = _filter_args()
    departments = _service().triage_departments(person)
    assignable = sorted(set().union(*(_service().assignable(d.id) for d in departments)))
    return render_template(
        "admin_flags.html", rows=_views(person, args), args=args, departments=departments,
        statuses=STATUSES, reasons=REASONS, assignable=assignable,
    )


#: What makes a spreadsheet read a cell as a formula (OWASP's CSV injection list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _spreadsheet_safe(value: object) -> object:
    # No cell of an export may become a formula in a spreadsheet, whichever field it is.
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


@bp.get("/flags.<fmt>")
def export(fmt: str) -> ResponseReturnValue:
    person = _require_triager()
    if fmt not in ("json", "csv"):
        abort(404)
    args = _filter_args()
    rows = [v.as_dict() for v in _views(person, args)]
    _service().record_export(person, fmt, args, len(rows))
    if fmt == "json":
        return jsonify(flags=rows)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    for r in rows:
        writer.writerow({k: _spreadsheet_safe(v) for k, v in r.items()})
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return Response(buf.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="kb-flags-{stamp}.csv"'})


def _bulk_message(action: str, result: BulkResult, assignee: str | None = None) -> str:
    """Exactly what a bulk action did, and what it left alone."""
    done, skipped = len(result.done), len(result.skipped)
    if action == "acknowledge":
        said = ngettext("%(num)d flag acknowledged.", "%(num)d flags acknowledged.", done)
        rest = ngettext("%(num)d was not new and stays as it was.", "%(num)d were not new and stay as they were.", skipped)
    elif action == "assign":
        said = ngettext("%(num)d flag assigned to %(who)s, who was notified.",
                        "%(num)d flags assigned to %(who)s, who was notified.", done, who=assignee)
        rest = ngettext("%(num)d was already assigned to them.", "%(num)d were already assigned to them.", skipped)
    else:
        said = ngettext("%(num)d flag unassigned.", "%(num)d flags unassigned.", done)
        rest = ngettext("%(num)d had no assignee.", "%(num)d had no assignee.", skipped)
    return f"{said} {rest}" if skipped else said


BULK_ACTIONS = ("acknowledge", "assign", "unassign")


@bp.post("/flags/bulk")
def bulk() -> ResponseReturnValue:
    person = _require_triager()
    ids = [i for i in map(_whole, request.form.getlist("ids")) if i is not None]
    action = request.form.get("action", "")
    assignee = (request.form.get("assignee") or "").strip().lower() or None
    try:
        if action == "acknowledge":
            result = _service().bulk_acknowledge(person, ids)
        elif action == "assign":
            result = _service().assign(person, ids, assignee)
        elif action == "unassign":
            result = _service().unassign(person, ids)
        else:
            raise FeedbackError("unknown_action", "choose an action")
        flash(_bulk_message(action, result, assignee), "success")
    except (NotFoundError, PermissionDeniedError):
        abort(404)
    except FeedbackError as exc:
        flash(error_message(exc), "error")
    return redirect(url_for("admin.flags", **{k: v for k, v in request.args.items() if k in FILTERS}))


@bp.get("/flags/<int:flag_id>")
def flag_detail(flag_id: int) -> ResponseReturnValue:
    person = _require_triager()
    try:
        view = _service().view_flag(person, flag_id)
    except (NotFoundError, PermissionDeniedError):
        abort(404)  # another department's flag looks like no flag: the ids are no oracle
    return render_template("admin_flag.html", flag=view, entry_labels=ENTRY_LABELS, reasons=REASON_LABELS,
                           assignable=sorted(_service().assignable(view.department)))


@bp.post("/flags/<int:flag_id>")
def flag_action(flag_id: int) -> ResponseReturnValue:
    person = _require_triager()
    action = request.form.get("action", "")
    try:
        if action == "assign":
            _service().assign(person, [flag_id], request.form.get("assignee"))
        elif action == "reply":
            _service().reply(person, flag_id, request.form.get("text"))
        elif action == "note":
            _service().add_note(person, flag_id, request.form.get("text"))
        elif action == "unassign":
            _service().unassign(person, [flag_id])
        elif action == "merge":
            into = _whole((request.form.get("into") or "").strip().lstrip("#"))
            if into is None:
                raise InvalidInputError("merge_target", "give the number of the flag to merge into")
            _service().merge(person, flag_id, into)
        else:
            _service().transition(person, flag_id, action, request.form.get("note"))
        flash(_("Saved."), "success")
    except NotFoundError as exc:
        if exc.params.get("id") not in (None, flag_id):
            flash(error_message(exc), "error")  # the merge target: a number the owner typed
        else:
            abort(404)
    except PermissionDeniedError as exc:
        if exc.code != "merge_department":
            abort(404)  # another department's flag looks like no flag: the ids are no oracle
        flash(error_message(exc), "error")
    except FeedbackError as exc:
        flash(error_message(exc), "error")
    return redirect(url_for("admin.flag_detail", flag_id=flag_id))


@bp.get("/outbox")
def outbox() -> ResponseReturnValue:
    """Undelivered notifications, for admins: what is waiting, retrying or given up, and why."""
    person = _require_triager()
    try:
        rows = _service().undelivered(person)
    except PermissionDeniedError:
        abort(403, description=_("The outbox is for admins."))
    return render_template("admin_outbox.html", rows=rows)


@bp.post("/outbox/<int:message_id>/retry")
def outbox_retry(message_id: int) -> ResponseReturnValue:
    person = _require_triager()
    try:
        _service().retry_now(person, message_id)
        flash(_("Message %(id)s will be sent on the next delivery run (within seconds).", id=message_id), "success")
    except PermissionDeniedError:
        abort(403, description=_("The outbox is for admins."))
    except NotFoundError:
        flash(_("Message %(id)s is not waiting any more: it was sent.", id=message_id), "error")
    return redirect(url_for("admin.outbox"))
