"""Every request gets an id, one JSON access-log line and its place in the metrics.

The id comes from ``X-Request-Id`` when the trusted proxy sends one (so the
proxy's log and ours agree), otherwise it is made here; it is returned in the
``X-Request-Id`` header and shown on error pages, so a reader can quote it.
The access log holds no query text and no identity: the route (``/a/<path>``),
not the path, and no query string.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, g, request
from flask.wrappers import Response

from .. import metrics
from ..feedback.identity import trusted
from ..logs import ACCESS, ERRORS
from . import core

HEADER = "X-Request-Id"
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

access_log = logging.getLogger(ACCESS)
error_log = logging.getLogger(ERRORS)


def request_id() -> str:
    return g.get("kb_request_id") or "-"


def _start() -> None:
    g.kb_started = time.perf_counter()
    given = request.headers.get(HEADER, "")
    from_proxy = trusted(request.remote_addr, core().config.proxy_list)
    g.kb_request_id = given if from_proxy and _SAFE_ID.fullmatch(given) else uuid.uuid4().hex


def _route() -> str:
    # The rule, not the path: no article names or typed text, and a bounded set of labels.
    return request.url_rule.rule if request.url_rule is not None else "<unmatched>"


def _finish(response: Response) -> Response:
    response.headers[HEADER] = request_id()
    seconds = time.perf_counter() - g.get("kb_started", time.perf_counter())
    route = _route()
    access_log.info("request", extra={"fields": {
        "request_id": request_id(), "method": request.method, "route": route,
        "status": response.status_code, "duration_ms": round(seconds * 1000, 1),
    }})
    metrics.observe_request(route, request.method, response.status_code, seconds)
    metrics.observe_pool(core())
    return response


def _log_exception(exc_info: tuple) -> None:
    """Flask's own error log, with the request id (and one line, not Flask's and ours)."""
    error_log.error("unhandled exception", exc_info=exc_info, extra={"fields": {
        "request_id": request_id(), "method": request.method, "route": _route(),
    }})


def init_app(app: Flask) -> None:
    app.before_request_funcs.setdefault(None, []).insert(0, _start)  # first: the Host check's 400 has an id too
    app.after_request(_finish)
    app.log_exception = _log_exception

    @app.context_processor
    def request_id_context() -> dict:
        return {"request_id": request_id()}
