"""kb: a self-service knowledge base for employees."""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import Flask

from .config import PROJECT_ROOT, Config, ConfigError
from .core import KB

__all__ = ["KB", "Config", "create_app"]


def _asset_dir(name: str) -> Path:
    """Templates and static files: inside the package when installed from a wheel,
    beside it (the repository's top-level ``templates/``) when run from source."""
    packaged = Path(__file__).parent / name
    return packaged if packaged.is_dir() else PROJECT_ROOT / name


def _secret_key(app: Flask, config: Config) -> str:
    """KB_SECRET_KEY; a random key for this process in dev mode (and tests) only.

    Raises ConfigError in production without one: sessions and CSRF tokens would not survive a
    restart or agree between processes, and nobody would notice until readers' forms failed.
    """
    if config.secret_key:
        return config.secret_key
    if not config.dev and not app.testing:
        raise ConfigError("KB_SECRET_KEY is not set: set it to a long random value (or KB_DEV=1 for a local run)")
    return secrets.token_hex(32)


def create_app(kb: KB | None = None) -> Flask:
    """The Flask app factory: ``create_app()`` builds a KB from the ``KB_*`` environment.

    Raises SchemaOutdatedError when the database needs ``kb db upgrade``, ConfigError without
    KB_SECRET_KEY outside dev mode.
    """
    kb = kb or KB.from_config()
    config = kb.config
    templates = _asset_dir("templates")
    app = Flask(
        __name__,
        template_folder=str(templates),
        static_folder=str(templates / "static"),
        instance_path=str(Path(config.instance_dir).resolve()),
    )
    kb.check_schema()  # refuse to run on an outdated schema: `kb db upgrade`
    app.config.update(
        SECRET_KEY=_secret_key(app, config),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Local runs are plain http on 127.0.0.1; everywhere else cookies need TLS.
        SESSION_COOKIE_SECURE=not config.dev and config.site_url.startswith("https://"),
        WTF_CSRF_TIME_LIMIT=None,  # a form left open all day still works; the token is per session
        # Every form is small: anything bigger is refused (413) before it is parsed or stored.
        MAX_CONTENT_LENGTH=config.max_request_bytes,
        MAX_FORM_MEMORY_SIZE=config.max_request_bytes,
        MAX_FORM_PARTS=1000,  # a bulk action on the queue's 500 flags, plus its fields
    )
    app.extensions["kb"] = kb

    from . import i18n
    from .web import init_app as init_web

    i18n.init_app(app)
    init_web(app)
    return app
