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
    from . import admin, errors, feedback, filters, pages, search, security

    security.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(search.bp)
    app.register_blueprint(feedback.bp)
    app.register_blueprint(admin.bp)
    errors.init_app(app)
    filters.init_app(app)

    @app.context_processor
    def site_context() -> dict:
        return {"site_name": core().config.site_name, "kb_config": core().config, "today": date.today()}

    @app.after_request
    def security_headers(response):  # noqa: ANN001, ANN202
        # No inline scripts or styles anywhere, so the policy can be strict.
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response
