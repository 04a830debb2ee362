"""404 and 500 pages in the site's look and the reader's language."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException


def _describe(exc: HTTPException) -> str:
    if exc.code == 403:
        return exc.description if exc.description and not exc.description.startswith("You don't") else _(
            "You do not have permission to see this page."
        )
    if exc.code == 413:
        return _("This request is too large. Shorten what you wrote and try again.")
    if exc.code == 429 and request.blueprint == "search":
        return _("You have searched a lot in a short time. Please wait a minute and try again.")
    if exc.code == 429:
        return _("You have sent a lot of feedback in a short time. Please wait a while and try again.")
    return _("The request could not be understood.")


def _json_answer() -> bool:
    """Errors in JSON for the API (whatever it accepts) and for clients that ask for JSON: the
    OpenAPI document promises a JSON body for every documented error."""
    from .feedback import wants_json

    return request.path.startswith("/api/") or wants_json()


def init_app(app: Flask) -> None:
    from flask_wtf.csrf import CSRFError

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):  # noqa: ANN202
        description = _("This form expired or came from another site. Go back, reload the page and try again.")
        if _json_answer():
            return jsonify(ok=False, message=description), 400
        return render_template("error.html", code=400, description=description), 400

    @app.errorhandler(400)
    @app.errorhandler(403)
    @app.errorhandler(413)
    @app.errorhandler(429)
    def client_error(exc: HTTPException):  # noqa: ANN202
        if _json_answer():
            return jsonify(ok=False, message=_describe(exc)), exc.code
        return render_template("error.html", code=exc.code, description=_describe(exc)), exc.code

    @app.errorhandler(404)
    def not_found(exc: HTTPException):  # noqa: ANN202
        if _json_answer():
            return jsonify(ok=False, message=_("Not found.")), 404
        return render_template("error.html", code=404), 404

    @app.errorhandler(500)
    def server_error(exc: Exception):  # noqa: ANN202
        try:
            return render_template("error.html", code=500), 500
        except Exception:  # the template itself may be what broke
            from .observe import request_id

            return f"Internal server error (reference {request_id()})", 500
