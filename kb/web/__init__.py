"""Thin blueprints: read the request, call the content layer, render."""

from __future__ import annotations

from datetime import date

from flask import Flask, current_app, g

from ..content import Library
from ..core import KB


def core() -> KB:
    """The app's KB: its services and settings."""
    return current_app.extensions["kb"]


def library() -> Library:
    """The current Library, the same one for the whole request."""
    if "kb_library" not in g:
        g.kb_library = core().library
    return g.kb_library


def init_app(app: Flask) -> None:
    from . import (
        admin,
        errors,
        feedback,
        filters,
        headers,
        insights,
        labels,
        me,
        observe,
        openapi,
        ops,
        pages,
        rawquery,
        search,
        security,
    )

    app.wsgi_app = rawquery.RawUTF8Query(app.wsgi_app)  # type: ignore[method-assign]
    headers.init_app(app)
    observe.init_app(app)
    security.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(search.bp)
    app.register_blueprint(feedback.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(me.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(insights.bp)
    errors.init_app(app)
    filters.init_app(app)
    labels.init_app(app)

    @app.context_processor
    def site_context() -> dict:
        return {"site_name": core().config.site_name, "kb_config": core().config, "today": date.today()}
