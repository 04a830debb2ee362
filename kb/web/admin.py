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

from ..feedback import FeedbackError, FeedbackService, FlagView, NotFoundError, PermissionDeniedError, Person
from ..feedback.rules import N_, REASON_LABELS, REASONS, STATUSES
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
    return render_template(
        "admin_flags.html", rows=_views(person, args), args=args, departments=_service().triage_departments(person),
        statuses=STATUSES, reasons=REASONS,
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


@bp.post("/flags/bulk")
def bulk() -> ResponseReturnValue:
    person = _require_triager()
    ids = [i for i in map(_whole, request.form.getlist("ids")) if i is not None]
    action = request.form.get("action")
    try:
        if action == "acknowledge":
            n = _service().bulk_acknowledge(person, ids)
            flash(_("%(num)d flag(s) acknowledged.", num=n), "success")
        elif action == "assign":
            n = _service().assign(person, ids, request.form.get("assignee"))
            flash(_("%(num)d flag(s) assigned.", num=n), "success")
        else:
            flash(_("Choose an action."), "error")
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
    return render_template("admin_flag.html", flag=view, entry_labels=ENTRY_LABELS, reasons=REASON_LABELS)


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
        else:
            _service().transition(person, flag_id, action, request.form.get("note"))
        flash(_("Saved."), "success")
    except (NotFoundError, PermissionDeniedError):
        abort(404)  # another department's flag looks like no flag: the ids are no oracle
    except FeedbackError as exc:
        flash(error_message(exc), "error")
    return redirect(url_for("admin.flag_detail", flag_id=flag_id))
