"""Every setting of kb, read from ``KB_*`` environment variables.

This is the one place configuration lives. ``Config.from_env()`` reads the
environment; tests build a ``Config`` directly. Nothing here touches Flask.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

#: The project checkout, so the bundled articles are found when kb runs from source.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

LANGUAGES = ("en", "ja", "ko", "zh")


def _default_cache_home() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kb"


def index_dir_for(articles_dir: Path) -> Path:
    """The default index location for an articles dir: one cache folder per dir.

    Derived from the resolved path so ``kb search --articles X`` always finds the
    index it built for X, without anyone naming an index dir.
    """
    resolved = str(Path(articles_dir).resolve())
    digest = hashlib.sha256(resolved.encode()).hexdigest()[:12]
    return _default_cache_home() / "indexes" / f"{Path(resolved).name}-{digest}"


class ConfigError(ValueError):
    """A setting has a value kb cannot use."""


@dataclass(frozen=True)
class Config:
    """Settings with their defaults. Field docs are repeated in README.md."""

    #: KB_ARTICLES_DIR: the Markdown articles (department per top folder).
    articles_dir: Path = PROJECT_ROOT / "articles"
    #: KB_INDEX_DIR: the search index; default: a cache folder derived from articles_dir.
    index_dir: Path | None = None
    #: KB_DATABASE_URL: SQLAlchemy URL; default: SQLite in the instance folder.
    database_url: str | None = None
    #: KB_INSTANCE_DIR: local state (the default SQLite database).
    instance_dir: Path = PROJECT_ROOT / "instance"
    #: KB_SECRET_KEY: signs sessions and CSRF tokens. Required outside dev mode.
    secret_key: str | None = None
    #: KB_SITE_NAME: shown in the header and page titles.
    site_name: str = "Meridian Works Knowledge Base"
    #: KB_REPO_URL: web URL of the articles repository, for "edit this article" links,
    #: e.g. https://git.example.com/org/kb/-/edit/main/articles  ({path} is appended).
    repo_url: str | None = None
    #: KB_DEFAULT_REVIEW_DAYS: review interval when neither article nor department sets one.
    default_review_days: int = 365
    #: KB_DEV: dev mode (local runs): a generated secret key, verbose errors.
    dev: bool = False
    #: KB_RELOAD_SECONDS: how often the running site looks for changed articles.
    reload_seconds: float = 2.0
    #: KB_EMBEDDERS: comma-separated embedding models: minilm, use-m3, st:/path/to/model.
    embedders: str = "minilm,use-m3"
    #: KB_SITE_URL: the site's public address, for links in notifications.
    site_url: str = "http://127.0.0.1:8000"
    #: KB_IDENTITY_HEADER: the header a trusted SSO proxy sets to the user's email.
    identity_header: str = "X-Forwarded-Email"
    #: KB_TRUSTED_PROXIES: comma-separated addresses/networks whose identity header is believed.
    trusted_proxies: str = ""
    #: KB_ADMINS: comma-separated admin emails (department owners come from departments.yml).
    admins: str = ""
    #: KB_ANONYMOUS_FEEDBACK: accept feedback without storing who gave it.
    anonymous_feedback: bool = False
    #: KB_SMTP_HOST, KB_SMTP_PORT, KB_SMTP_FROM, KB_SMTP_USER, KB_SMTP_PASSWORD, KB_SMTP_STARTTLS: outgoing mail.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_from: str = "kb@localhost"
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    #: KB_RATELIMIT_STORAGE: where rate-limit counters live (memory://, or redis://127.0.0.1:6379).
    ratelimit_storage: str = "memory://"
    #: KB_FEEDBACK_LIMIT_PERSON / KB_FEEDBACK_LIMIT_ADDRESS: feedback posts (votes and gap reports together)
    #: allowed to one signed-in person, and to one client address without identity.
    feedback_limit_person: str = "30/hour"
    feedback_limit_address: str = "120/hour"
    #: KB_DIFF_URL: a compare URL with {old} and {new} commits, for "article updated since this flag".
    diff_url: str | None = None
    #: KB_MAX_ARTICLE_BYTES: an article (or departments.yml, synonyms.yml) larger than this is skipped, read no further.
    max_article_bytes: int = 1_000_000
    #: KB_MAX_LINE_CHARS: a file with a longer line is skipped (long lines make parsing slow).
    max_line_chars: int = 20_000
    #: KB_RENDER_SECONDS: an article that takes longer to render is reported and skipped (0: no limit).
    render_seconds: float = 5.0
    #: KB_MAX_REQUEST_BYTES: the largest request body accepted (a 2,000-character comment in UTF-8 plus fields); larger: 413.
    max_request_bytes: int = 64 * 1024

    #: KB_SEARCH_LIMIT: searches (page and API) allowed per client address.
    search_limit: str = "120/minute"
    #: KB_SEARCH_CACHE: result pages each process keeps for repeated searches (0: none); emptied when a new index build
    #: is switched in.
    search_cache: int = 1000
    #: KB_LOG_RETENTION_DAYS: raw search and view rows older than this are rolled up per day and deleted.
    log_retention_days: int = 180
    #: KB_INSIGHTS_MIN_SEARCHERS: a query's text is shown in reports only when this many distinct searchers typed it.
    insights_min_searchers: int = 3
    #: KB_WEBHOOK_ALLOW: comma-separated hosts a webhook may call over plain http (otherwise https only).
    webhook_allow: str = ""

    # --- production serving (kb serve with KB_DEV=0, kb worker) -----------------------------
    #: KB_WORKERS: gunicorn worker processes; 0: one per CPU core.
    workers: int = 0
    #: KB_THREADS: request threads in each worker process.
    threads: int = 4
    #: KB_WORKER_TIMEOUT: seconds a worker may stay silent before the master restarts it.
    worker_timeout: float = 30.0
    #: KB_GRACEFUL_TIMEOUT: seconds requests in progress get to finish on SIGTERM or SIGHUP.
    graceful_timeout: float = 30.0
    #: KB_KEEPALIVE: seconds an idle kept-alive connection stays open.
    keepalive: float = 5.0
    #: KB_HEADER_TIMEOUT: seconds a client has to send a request's headers and (small) body;
    #: until then it holds no request thread, and then it is closed.
    header_timeout: float = 10.0
    #: KB_SMTP_TIMEOUT / KB_WEBHOOK_TIMEOUT: seconds per network operation when sending.
    smtp_timeout: float = 10.0
    webhook_timeout: float = 10.0
    #: KB_DB_STATEMENT_TIMEOUT: seconds any one SQL statement may run on PostgreSQL (0: no limit).
    db_statement_timeout: float = 15.0
    #: KB_OUTBOX_LEASE: seconds a worker holds a message it is sending (renewed while it sends).
    outbox_lease: float = 120.0
    #: KB_INDEX_PUBLISH: a shared directory `kb worker` publishes each new build into (search/publish.py).
    index_publish: Path | None = None
    #: KB_INDEX_FOLLOW: a published directory `kb serve` follows: it imports each new build there and switches,
    #: instead of building itself.
    index_follow: Path | None = None
    #: KB_METRICS_ALLOW: comma-separated addresses/networks that may read /metrics (loopback always may).
    metrics_allow: str = ""

    @property
    def webhook_allow_hosts(self) -> list[str]:
        return [h.strip().lower() for h in self.webhook_allow.split(",") if h.strip()]

    @property
    def metrics_allow_list(self) -> list[str]:
        return ["127.0.0.0/8", "::1", *(a.strip() for a in self.metrics_allow.split(",") if a.strip())]

    @property
    def worker_count(self) -> int:
        return self.workers if self.workers > 0 else (os.cpu_count() or 1)

    @property
    def admin_emails(self) -> set[str]:
        return {a.strip().lower() for a in self.admins.split(",") if a.strip()}

    @property
    def proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        Path(self.instance_dir).mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{Path(self.instance_dir) / 'kb.sqlite3'}"

    @property
    def embedder_specs(self) -> list[str]:
        return [s.strip() for s in self.embedders.split(",") if s.strip()]

    @property
    def resolved_index_dir(self) -> Path:
        return Path(self.index_dir) if self.index_dir else index_dir_for(self.articles_dir)

    def with_(self, **changes: Any) -> Config:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Config:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get("KB_" + f.name.upper())
            if raw is None or raw == "":
                continue
            values[f.name] = _coerce(f.name, raw, cls.__dataclass_fields__[f.name].default)
        return cls(**values)


def _coerce(name: str, raw: str, default: Any) -> Any:
    if name in ("articles_dir", "index_dir", "instance_dir", "index_publish", "index_follow"):
        return Path(raw).expanduser()
    if isinstance(default, bool):
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"KB_{name.upper()} must be true or false, not {raw!r}")
    if isinstance(default, int) and not isinstance(default, bool):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"KB_{name.upper()} must be a whole number, not {raw!r}") from None
    if isinstance(default, float):
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"KB_{name.upper()} must be a number, not {raw!r}") from None
    return raw
