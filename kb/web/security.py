"""CSRF on every form, rate limits on feedback, and who the request is from."""

from __future__ import annotations

from flask import Flask, Request, abort, g, request, session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from werkzeug.datastructures import ImmutableMultiDict

from ..feedback.identity import Person, demo_people, parse_identity, person_for, trusted

csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)
#: Every feedback form shares one budget: votes and gap reports alike.
FEEDBACK_SCOPE = "feedback"
DEV_SESSION_KEY = "kb_demo_email"


class NulFreeMultiDict(ImmutableMultiDict):
    """Query and form values without NUL characters: no database stores them (PostgreSQL refuses
    them), and no form or filter needs them. The one place the web reads request values."""

    def __init__(self, mapping=None) -> None:  # noqa: ANN001 (Werkzeug's signature)
        super().__init__(mapping)
        for key, values in dict.items(self):
            dict.__setitem__(self, key, [v.replace("\x00", "") if isinstance(v, str) else v for v in values])


class KBRequest(Request):
    parameter_storage_class = NulFreeMultiDict


def current_person() -> Person:
    if "kb_person" not in g:
        g.kb_person = _identify()
    return g.kb_person


def _identify() -> Person:
    from . import core, library

    cfg = core().config
    email = None
    headers = [h for h in request.headers.getlist(cfg.identity_header) if h.strip()]
    # The header is only believed from the SSO proxy: anyone can send it.
    if headers and trusted(request.remote_addr, cfg.proxy_list):
        email = parse_identity(headers[0]) if len(headers) == 1 else None
        if email is None:  # two headers, a list, or not an address: never guess who it is
            g.kb_person = Person(None)
            abort(400)
    elif cfg.dev:
        email = session.get(DEV_SESSION_KEY) or demo_people(library().departments)["employee"]
    admins = set(cfg.admin_emails)
    if cfg.dev:
        admins.add(demo_people(library().departments)["admin"])
    return person_for(email, library().departments, admins)


def client_address() -> str:
    """The employee's address: behind the trusted proxy, the nearest address in its
    X-Forwarded-For that is not a proxy itself; otherwise the connection's."""
    from . import core

    proxies = core().config.proxy_list
    remote = request.remote_addr or ""
    if not trusted(remote, proxies):
        return remote
    hops = [h.strip() for h in ",".join(request.headers.getlist("X-Forwarded-For")).split(",") if h.strip()]
    for hop in reversed(hops):
        if not trusted(hop, proxies):
            return hop[:64]
    return remote


def feedback_key() -> str:
    """Whose feedback budget a post is charged to: the person when known, else the client's
    address (not the session: dropping the cookie must not buy a new budget)."""
    person = current_person()
    return "p:" + person.email if person.email else "a:" + client_address()


def feedback_limit() -> str:
    """The budget of that key: a person's, or an address's (shared by everyone behind it)."""
    from . import core

    cfg = core().config
    return cfg.feedback_limit_person if current_person().email else cfg.feedback_limit_address


def search_limit() -> str:
    from . import core

    return core().config.search_limit


def init_app(app: Flask) -> None:
    app.request_class = KBRequest
    csrf.init_app(app)
    config = app.extensions["kb"].config
    app.config.setdefault("RATELIMIT_STORAGE_URI", config.ratelimit_storage)
    app.config.setdefault("RATELIMIT_STRATEGY", "moving-window")
    limiter.init_app(app)

    @app.context_processor
    def identity_context() -> dict:
        from . import library

        person = current_person()
        demo = demo_people(library().departments) if config.dev else {}
        return {"person": person, "demo_people": demo}
