"""404 and 500 pages in the site's look and the reader's language."""

from __future__ import annotations

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException


def init_app(app: Flask) -> None:
    @app.errorhandler(404)
    def not_found(exc: HTTPException):  # noqa: ANN202
        return render_template("error.html", code=404), 404

    @app.errorhandler(500)
    def server_error(exc: Exception):  # noqa: ANN202
        try:
            return render_template("error.html", code=500), 500
        except Exception:  # the template itself may be what broke
            return "Internal server error", 500
