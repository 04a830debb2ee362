"""The triage queue for department owners and admins, with CSV/JSON export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from flask import Blueprint, Response, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..feedback import FeedbackError, FeedbackService, NotFoundError, PermissionDeniedError
from ..feedback.models import REASONS, STATUSES, Flag
from . import core, library
from .security import current_person

bp = Blueprint("admin", __name__, url_prefix="/admin")
FILTERS = ("department", "status", "reason", "article", "age", "q", "sort")


def _service() -> FeedbackService:
    return core().feedback


def _require_triager():  # noqa: ANN202
    person = current_person()
    if not person.is_triager:
        abort(403, description=_("The feedback queue is for department owners and admins."))
    return person


def _filtered(person) -> tuple[list[Flag], dict]:  # noqa: ANN001
    args = {k: (request.args.get(k) or "").strip() for k in FILTERS}
    if "status" not in request.args:
        args["status"] = "open"
    try:
        age = int(args["age"]) if args["age"] else None
    except ValueError:
        age = None
    flags = _service().list_flags(
        person, department=args["department"] or None, status=args["status"] or None, reason=args["reason"] or None,
        article=args["article"] or None, older_than_days=age, text=args["q"] or None, sort=args["sort"] or "due",
    )
    return flags, args


def _aware(dt: datetime | None) -> datetime | None:
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt


def flag_row(f: Flag) -> dict:
    lib = library()
    art = lib.articles.get(f.article) if f.article else None
    now = datetime.now(UTC)
    due = _aware(f.due_at)
    return {
        "id": f.id, "kind": f.kind, "department": f.department, "status": f.status, "reason": f.reason,
        "article": f.article, "article_title": art.title if art else None, "section": f.section, "query": f.query,
        "comment": f.comment, "assignee": f.assignee, "reporter": f.reporter,
        "created_at": _aware(f.created_at).isoformat(), "due_at": due.isoformat() if due else None,
        "overdue": bool(due and due < now and f.status in ("new", "acknowledged")),
        "resolution_note": f.resolution_note,
        "article_changed": bool(art and f.content_hash and art.content_hash != f.content_hash),
    }


@bp.get("/flags")
def flags():  # noqa: ANN201
    person = _require_triager()
    rows, args = _filtered(person)
    lib = library()
    deps = sorted((d for d in lib.departments.values() if person.can_triage(d.id)), key=lambda d: d.name.lower())
    return render_template(
        "admin_flags.html", rows=[flag_row(f) for f in rows], args=args, departments=deps,
        statuses=STATUSES, reasons=REASONS,
    )


@bp.get("/flags.<fmt>")
def export(fmt: str):  # noqa: ANN201
    person = _require_triager()
    rows = [flag_row(f) for f in _filtered(person)[0]]
    if fmt == "json":
        return jsonify(flags=rows)
    if fmt != "csv":
        abort(404)
    buf = io.StringIO()
    fields = list(rows[0]) if rows else ["id", "kind", "department", "status", "reason", "article", "query", "comment"]
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        # A comment starting with = or + must not become a formula in a spreadsheet.
        writer.writerow({k: ("'" + v if isinstance(v, str) and v[:1] in "=+-@" else v) for k, v in r.items()})
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return Response(buf.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="kb-flags-{stamp}.csv"'})


@bp.post("/flags/bulk")
def bulk():  # noqa: ANN201
    person = _require_triager()
    ids = [int(x) for x in request.form.getlist("ids") if x.isdigit()]
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
    except PermissionDeniedError:
        abort(403)
    except FeedbackError as exc:
        flash(str(exc), "error")
    return redirect(url_for("admin.flags", **{k: v for k, v in request.args.items() if k in FILTERS}))


@bp.get("/flags/<int:flag_id>")
def flag_detail(flag_id: int):  # noqa: ANN201
    person = _require_triager()
    try:
        flag = _service().get_flag(person, flag_id)
    except NotFoundError:
        abort(404)
    except PermissionDeniedError:
        abort(403)
    row = flag_row(flag)
    cfg = current_app.config["KB"]
    diff_url = None
    art = library().articles.get(flag.article) if flag.article else None
    if row["article_changed"] and cfg.diff_url and flag.git_commit and art and art.git:
        diff_url = cfg.diff_url.format(old=flag.git_commit, new=art.git.commit, path=flag.article)
    return render_template("admin_flag.html", flag=flag, row=row, events=flag.events, diff_url=diff_url, article=art)


@bp.post("/flags/<int:flag_id>")
def flag_action(flag_id: int):  # noqa: ANN201
    person = _require_triager()
    action = request.form.get("action", "")
    try:
        if action == "assign":
            _service().assign(person, [flag_id], request.form.get("assignee"))
        else:
            _service().transition(person, flag_id, action, request.form.get("note"))
        flash(_("Saved."), "success")
    except NotFoundError:
        abort(404)
    except PermissionDeniedError:
        abort(403)
    except FeedbackError as exc:
        flash(str(exc), "error")
    return redirect(url_for("admin.flag_detail", flag_id=flag_id))
