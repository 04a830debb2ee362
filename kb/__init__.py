"""kb: a self-service knowledge base for employees."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from flask import Flask

from .config import PROJECT_ROOT, Config

__all__ = ["Config", "create_app"]


def _asset_dir(name: str) -> Path:
    """Templates and static files: inside the package when installed from a wheel,
    beside it (the repository's top-level ``templates/``) when run from source."""
    packaged = Path(__file__).parent / name
    return packaged if packaged.is_dir() else PROJECT_ROOT / name


def create_app(config: Config | None = None, *, check_db: bool = True, **overrides: Any) -> Flask:
    """The Flask app factory: ``create_app()`` reads ``KB_*`` from the environment.

    Raises SchemaOutdatedError when the database needs ``kb db upgrade``.
    """
    config = config or Config.from_env()
    if overrides:
        config = config.with_(**overrides)
    templates = _asset_dir("templates")
    app = Flask(
        __name__,
        template_folder=str(templates),
        static_folder=str(templates / "static"),
        instance_path=str(Path(config.instance_dir).resolve()),
    )
    secret = config.secret_key
    if not secret:
        if not config.dev and not app.testing:
            # A random key still works for one process; sessions just do not survive restarts.
            app.logger.warning("KB_SECRET_KEY is not set; using a random key for this process")
        secret = secrets.token_hex(32)
    app.config.update(
        SECRET_KEY=secret,
        KB=config,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Local runs are plain http on 127.0.0.1; everywhere else cookies need TLS.
        SESSION_COOKIE_SECURE=not config.dev and config.site_url.startswith("https://"),
        WTF_CSRF_TIME_LIMIT=None,  # a form left open all day still works; the token is per session
    )

    from .content import ContentStore

    app.extensions["kb_content"] = ContentStore(config.articles_dir, reload_seconds=config.reload_seconds)

    from .indexing import handle

    # One Searcher per process, swapped whole when `kb index` switches the index.
    app.extensions["kb_search"] = handle(config)

    from . import i18n

    i18n.init_app(app)

    from .content.urls import SiteUrls
    from .feedback import Channels, Database, FeedbackService
    from .feedback.db import check_schema

    url = config.resolved_database_url()
    db = Database(url)
    if check_db:
        check_schema(db.engine)  # refuse to run on an outdated schema: `kb db upgrade`
    app.extensions["kb_db"] = db
    app.extensions["kb_feedback"] = FeedbackService(
        db, lambda: app.extensions["kb_content"].library, SiteUrls(config.site_url, config.diff_url),
        Channels.from_config(config),
    )

    from .web import init_app as init_web

    init_web(app)
    return app
