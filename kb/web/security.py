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


def person_key() -> str:
    """Rate-limit key for 'per person': the email, or the session for anonymous readers."""
    person = current_person()
    if person.email:
        return "p:" + person.email
    session.setdefault("kb_anon", __import__("secrets").token_hex(8))
    return "s:" + session["kb_anon"]


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
