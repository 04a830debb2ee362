"""Home, department and article pages, the title filter and the language switcher."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, make_response, redirect, render_template, request, send_from_directory

from ..config import LANGUAGES
from ..content.urls import ARTICLE_PREFIX
from ..i18n import COOKIE, select_locale
from . import core, library
from .feedback import current_voter, vote_state_message
from .filters import safe_next

bp = Blueprint("pages", __name__)


@bp.get("/")
def home():  # noqa: ANN201
    lib = library()
    # Counted as the department page lists them: an article and its translations once.
    ui = select_locale()
    departments = sorted(
        ((d, len(lib.families_in(d.id, ui))) for d in lib.departments.values()),
        key=lambda x: x[0].name.lower(),
    )
    return render_template(
        "home.html",
        departments=[(d, n) for d, n in departments if n],
        recent=lib.recently_updated(8),
    )


@bp.get("/d/<dep_id>")
def department(dep_id: str):  # noqa: ANN201
    lib = library()
    dep = lib.departments.get(dep_id)
    articles = lib.in_department(dep_id)
    if dep is None or (not articles and not dep.declared):
        abort(404)
    review_days = core().config.default_review_days
    today = date.today()
    overdue = {a.path for a in articles if a.review_overdue(today, review_days)}
    return render_template("department.html", dep=dep, entries=lib.families_in(dep_id, select_locale()), overdue=overdue)


@bp.get(ARTICLE_PREFIX + "<path:slug>")  # the URL helper (kb.content.urls) makes these paths
def article(slug: str):  # noqa: ANN201
    lib = library()
    art = lib.by_slug(slug.strip("/"))
    if art is None:
        abort(404)
    _record_reading(art.path)
    dep = lib.departments.get(art.department)
    translations = lib.translations(art)
    ui = select_locale()
    offer = next((t for t in translations if t.lang == ui), None) if art.lang != ui else None
    related = [lib.articles[p] for p in art.related if p in lib.articles]
    cfg = core().config
    edit_url = f"{cfg.repo_url.rstrip('/')}/{art.path}" if cfg.repo_url else None
    today = date.today()
    voter = current_voter()
    vote_state = vote_state_message(core().feedback.current_vote(voter, art.path)) if voter else None
    html = render_template(
        "article.html",
        article=art,
        dep=dep,
        translations=translations,
        offer=offer,
        related=related,
        edit_url=edit_url,
        overdue=art.review_overdue(today, cfg.default_review_days),
        review_due=art.review_due(cfg.default_review_days),
        vote_state=vote_state,
    )
    response = make_response(html)
    if vote_state:  # this reader's own answer: never from a shared cache, whether signed in or not
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/favicon.ico")
def favicon():  # noqa: ANN201
    """Browsers ask for it on every site: a small icon, not a 404 in every log."""
    from flask import current_app

    return send_from_directory(current_app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon",
                               max_age=7 * 24 * 3600)


def _whole_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else None


def _record_reading(path: str) -> None:
    """A view (no identity), and the click when the link came from a search (``?from=<ref>&pos=N``).
    Both are queued: the page never waits for, nor fails with, the log."""
    insights = core().insights
    insights.record_view(path)
    ref, position = request.args.get("from", "")[:20], _whole_arg("pos")
    if ref and position is not None:
        insights.record_click(ref, position, path)


@bp.get("/lang/<code>")
def set_language(code: str):  # noqa: ANN201
    if code not in LANGUAGES:
        abort(404)
    response = make_response(redirect(safe_next(request.args.get("next"))))
    response.set_cookie(COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response
