"""For the machines that run kb: liveness, readiness and Prometheus metrics.

``/healthz`` says the process answers; ``/readyz`` whether it should get traffic
(index loaded, database reachable, schema current), 503 with the reasons
otherwise; ``/metrics`` is read only from ``KB_METRICS_ALLOW`` (and loopback).
A request relayed by a proxy is judged by every address it came through, so
the public cannot read metrics through a proxy on the same host.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, request

from ..feedback.identity import trusted
from . import core
from .headers import OPS_PATHS

bp = Blueprint("ops", __name__)
#: Paths a load balancer or scraper calls by address: exempt from the Host check, never cached.
PATHS = OPS_PATHS


@bp.get("/healthz")
def healthz():  # noqa: ANN201
    return jsonify(ok=True)


@bp.get("/readyz")
def readyz():  # noqa: ANN201
    reasons = core().readiness()
    return jsonify(ok=not reasons, reasons=reasons), 503 if reasons else 200


def metrics_allowed() -> bool:
    allow = core().config.metrics_allow_list
    hops = [h.strip() for h in ",".join(request.headers.getlist("X-Forwarded-For")).split(",") if h.strip()]
    return all(trusted(addr, allow) for addr in [request.remote_addr, *hops])


@bp.get("/metrics")
def metrics():  # noqa: ANN201
    if not metrics_allowed():
        abort(404)  # not a page for readers: it does not exist for them
    from ..metrics import CONTENT_TYPE, exposition

    return Response(exposition(core()), content_type=CONTENT_TYPE)
