"""The composition root: ``KB.from_config(config)`` wires every service once.

The web app (``create_app(kb)``), every CLI command and the background
workers take a ``KB``; nothing else constructs services. Parts are built on
first use and then kept, so ``kb check`` never opens a database and a test
app that never searches never loads a model.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from search.build import BuildReport
from search.embedders import EmbedderPool
from search.handle import IndexHandle
from search.service import SearchPage, SearchService
from search.timing import Timings

from . import indexing
from .config import Config
from .content import ContentStore, Library, Problem, check_library
from .content.departments import FILENAME as DEPARTMENTS_FILE
from .content.files import Limits
from .content.gitmeta import resolving_commits
from .content.urls import SiteUrls
from .feedback import Channels, Database, FeedbackService, SchemaOutdatedError
from .feedback.db import check_schema
from .feedback.docs_as_code import Closure, close_from_git
from .feedback.due import calendar_problems
from .feedback.models import utcnow
from .feedback.outbox import DeliveryReport, deliver_due, start_worker
from .insights import InsightsService, PruneReport
from .insights.digest import queue_digests
from .insights.retention import start_pruner


class KB:
    def __init__(self, config: Config, *, models: EmbedderPool | None = None) -> None:
        """``models``: the process's embedding models (tests share one pool across apps)."""
        self.config = config
        self.models = models or EmbedderPool()

    @classmethod
    def from_config(cls, config: Config | None = None) -> KB:
        """``config`` defaults to the ``KB_*`` environment."""
        return cls(config or Config.from_env())

    @classmethod
    def from_overrides(cls, **changes: object) -> KB:
        """The ``KB_*`` environment with some settings replaced (the CLI's options)."""
        return cls(Config.from_env().with_(**changes))

    # --- content ------------------------------------------------------------
    @cached_property
    def content(self) -> ContentStore:
        limits = Limits(max_bytes=self.config.max_article_bytes, max_line_chars=self.config.max_line_chars,
                        render_seconds=self.config.render_seconds)
        return ContentStore(self.config.articles_dir, reload_seconds=self.config.reload_seconds, limits=limits)

    @property
    def library(self) -> Library:
        """The current articles (reloaded when files change)."""
        return self.content.library

    @cached_property
    def urls(self) -> SiteUrls:
        return SiteUrls(self.config.site_url, self.config.diff_url)

    def check(self, today: date | None = None) -> list[Problem]:
        """Everything ``kb check`` reports: the content's problems and the notification
        targets in departments.yml that the channels refuse."""
        lib = self.library
        problems = check_library(lib, today or date.today(), self.config.default_review_days)
        refused = [Problem(DEPARTMENTS_FILE, dep.line, "error", "notify-target", message)
                   for dep, message in self.channels.problems(d for d in lib.departments.values() if d.declared)]
        declared = [d for d in lib.departments.values() if d.declared]
        refused += [Problem(DEPARTMENTS_FILE, dep.line, "error", "unknown-calendar", message)
                    for dep, message in calendar_problems(declared)]
        return sorted(problems + refused, key=lambda p: (p.file, p.line or 0, p.severity != "error"))

    # --- search ---------------------------------------------------------------
    @cached_property
    def index(self) -> IndexHandle:
        """The live search index: one Searcher per process, swapped whole when a new build appears."""
        return IndexHandle(self.config.resolved_index_dir, self.models)

    @cached_property
    def search(self) -> SearchService:
        """What every front end searches with: one result per article family, paged, logged."""
        return SearchService(self.index, on_search=self._record_search, cache_size=self.config.search_cache,
                             on_timings=self._observe_search_stages)

    def _record_search(self, page: SearchPage) -> None:
        self.insights.record_search(page)

    @staticmethod
    def _observe_search_stages(timings: Timings) -> None:
        # Imported here, not at the top: prometheus_client picks its multiprocess mode when first imported,
        # which `kb serve` must be able to set up before (kb/cli/serve.py).
        from .metrics import observe_search_stages

        observe_search_stages(timings)

    def record_search(self, page: SearchPage, session_key: str | None) -> str:
        """Log a search typed in a browser session; returns its reference for the result links' ``?from=``."""
        return self.insights.record_search(page, session_key)

    def warm_up(self) -> None:
        """Load the models and the index now, not on the first employee's query."""
        self.search.search("warm up")

    def build_index(self, *, full: bool = False, progress: Callable[[str, int, int], None] | None = None) -> BuildReport:
        """Bring the index up to date with the articles (atomically)."""
        return indexing.build(self.config, self.models, library=self.library, full=full, progress=progress)

    def watch_articles(self, log: Callable[[str], None]) -> None:
        """Reindex in a background thread whenever the articles change (local runs)."""
        indexing.start_watcher(self.config, self.content, self.models, log=log, every=max(self.config.reload_seconds, 0.5))

    def after_fork(self) -> None:
        """In a server worker forked after this KB loaded its parts (gunicorn's preload):
        threads, locks and database connections are per process, the loaded models and index are not."""
        if "index" in self.__dict__:
            self.index.after_fork()
        if "content" in self.__dict__:
            self.content.after_fork()
        if "db" in self.__dict__:
            self.db.engine.dispose(close=False)  # the parent's pooled connections stay the parent's

    # --- feedback -------------------------------------------------------------
    @cached_property
    def db(self) -> Database:
        return Database(self.config.resolved_database_url(), self.config.db_statement_timeout)

    @cached_property
    def channels(self) -> Channels:
        """Where notifications go (email, webhooks, ...), configured once."""
        return Channels.from_config(self.config)

    @cached_property
    def feedback(self) -> FeedbackService:
        return FeedbackService(self.db, lambda: self.library, self.urls, self.channels, admins=self.config.admin_emails,
                               rate_link=lambda flag_id: self.urls.absolute("/rate/" + self.insights.rating_token(flag_id)))

    @cached_property
    def insights(self) -> InsightsService:
        """What was searched, found, rated and waited for, per department; and its recording."""
        cfg = self.config
        # Without KB_SECRET_KEY (dev mode) the day's searcher pseudonyms last as long as the process.
        secret = cfg.secret_key or secrets.token_hex(32)
        return InsightsService(self.db, lambda: self.library, secret=lambda: secret,
                               retention_days=cfg.log_retention_days, min_searchers=cfg.insights_min_searchers,
                               review_days=cfg.default_review_days, now=utcnow, encoder=self._multilingual_encoder)

    def _multilingual_encoder(self) -> Callable:
        """``encode`` of the first configured embedder that reads every language (USE by default)."""
        for spec in self.config.embedder_specs:
            model = self.models.get(spec)
            if model.languages is None:
                return model.encode
        raise RuntimeError("no multilingual embedder is configured (KB_EMBEDDERS): the gap radar needs one")

    def queue_digests(self) -> int:
        """Queue last week's digest for each department that lists notification targets (once per week)."""
        deps = list(self.library.departments.values())
        return queue_digests(self.insights, self.channels, deps, self.urls, utcnow())

    def start_insights_pruner(self, log: Callable[[str], None]) -> None:
        """Daily, in a background thread: roll up and delete raw search and view rows past
        KB_LOG_RETENTION_DAYS, and queue the weekly digests not queued yet."""

        def daily() -> PruneReport:
            report = self.insights.prune()
            if queued := self.queue_digests():
                log(f"insights: queued {queued} weekly digest messages")
            return report

        start_pruner(daily, log)

    def deliver_outbox(self, owner: str | None = None, limit: int = 50) -> DeliveryReport:
        """Send up to ``limit`` notifications that are due (safe from any number of processes)."""
        return deliver_due(self.db, self.channels, lease=timedelta(seconds=self.config.outbox_lease), owner=owner,
                           limit=limit)

    def start_outbox_worker(self, log: Callable[[str], None]) -> None:
        """Deliver notifications from a background thread of this process."""
        start_worker(self.db, self.channels, log=log)

    def check_schema(self) -> None:
        """Raise SchemaOutdatedError unless the database is migrated (``kb db upgrade``)."""
        check_schema(self.db.engine)

    def readiness(self) -> list[str]:
        """Why this process should not get traffic yet (empty: ready). Short reasons, no paths or URLs:
        ``/readyz`` shows them to whoever asks."""
        from .feedback.db import current_revision, head_revision

        reasons = []
        try:
            self.index.get()
        except Exception as exc:  # no build yet, or one that does not load
            reasons.append(f"index: not loaded ({type(exc).__name__})")
        try:
            current, head = current_revision(self.db.engine), head_revision()
        except SQLAlchemyError as exc:
            reasons.append(f"database: unreachable ({type(exc).__name__})")
        else:
            if current != head:
                reasons.append(f"database: schema {current or 'none'}, the code needs {head} (run kb db upgrade)")
        return reasons

    def close_flags_from_git(self) -> list[Closure] | None:
        """Docs-as-code: commits saying ``Resolves-Feedback: <id>`` resolve those flags
        (when they touch an article of the flag's department; the others are refused).

        None when commits name flags but there is no migrated database to close
        them in: ``kb index`` also runs where nobody set one up (a build server).
        """
        commits = resolving_commits(Path(self.config.articles_dir))
        if not commits:
            return []
        try:
            self.check_schema()
        except (SchemaOutdatedError, SQLAlchemyError):
            return None
        return close_from_git(self.feedback, commits)
