"""What every answer says about itself: the host it is for, caching, Vary, browser policies."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, abort, current_app, g, request
from flask.wrappers import Response

#: Answers about a person or for triage: never stored by a browser or a proxy.
PRIVATE_PREFIXES = ("/admin/", "/dev/", "/feedback/", "/me/", "/insights", "/api/insights/", "/rate/")
#: Browser features the site never uses.
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
#: Health and metrics: always fresh.
OPS_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


def allowed_hosts(site_url: str, local: bool) -> frozenset[str]:
    """The host names the site answers for: KB_SITE_URL's, and the machine's own names on local runs
    (dev mode, tests, or a site whose configured address is this machine's, the default)."""
    host = (urlsplit(site_url).hostname or "").lower()
    local = local or host in LOCAL_HOSTS
    return frozenset({host} | (LOCAL_HOSTS if local else set())) - {""}


def _hostname(host: str) -> str:
    host = host.lower()
    if host.startswith("["):  # [::1]:8000
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def check_host() -> None:
    """400 for any Host but the configured one, before routing (Werkzeug's slash redirect echoes it)."""
    if request.path in OPS_PATHS:  # load balancers and scrapers call by address
        return
    cfg = current_app.extensions["kb"].config
    if _hostname(request.host) not in allowed_hosts(cfg.site_url, cfg.dev or current_app.testing):
        abort(400)


def add_headers(response: Response) -> Response:
    # No inline scripts or styles anywhere, so the policy can be strict.
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    if request.endpoint == "static":
        return response
    # Pages show who is signed in (the identity header or the session cookie) and its language (a cookie).
    response.vary.update(("Cookie", current_app.extensions["kb"].config.identity_header))
    person = g.get("kb_person")
    if request.path.startswith(PRIVATE_PREFIXES) or request.path in OPS_PATHS or (person is not None and person.signed_in):
        response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    app.before_request_funcs.setdefault(None, []).insert(0, check_host)
    app.after_request(add_headers)
