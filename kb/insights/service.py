"""``InsightsService``: who may see which department's figures, over which days, and the recording
of searches, clicks and views. Each report lives in its own module; this one only wires them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import text

from ..content import Library
from ..feedback.db import Database
from ..feedback.errors import NotFoundError, PermissionDeniedError
from ..feedback.identity import Person
from .content_health import content_report
from .gaps import Encode, VectorCache, gap_report, model_id
from .helpfulness import helpfulness_report
from .period import Period, Scope
from .recording import Recorder, SearchRecord
from .retention import PruneReport, prune
from .rollup import RollupReport, roll_up
from .satisfaction import (
    RatingState,
    flag_of_token,
    form_key,
    rate,
    rating_state,
    rating_token,
    satisfaction_report,
    valid_form_key,
)
from .searches import search_report
from .service_metrics import service_report

SECTIONS = ("search", "gaps", "helpfulness", "service", "content")


class InsightsService:
    def __init__(
        self,
        db: Database,
        library: Callable[[], Library],
        *,
        secret: Callable[[], str],
        retention_days: int,
        min_searchers: int,
        review_days: int,
        now: Callable[[], datetime],
        encoder: Callable[[], Encode] | None = None,
    ) -> None:
        """``encoder``: the multilingual embedder's ``encode``, loaded on first use (the gap radar)."""
        self.db = db
        self.library = library
        self.retention_days = retention_days
        self.min_searchers = min_searchers
        self.review_days = review_days
        self.now = now
        self.recorder = Recorder(db, secret, now)
        self.secret = secret
        self.encoder = encoder
        self._articles: tuple[tuple[int, str], list[str], Any] | None = None
        self.vectors = VectorCache()  # the gap radar's query vectors

    # --- recording ------------------------------------------------------
    def record_search(self, page: Any, session_key: str | None = None) -> str:
        """Log a ``SearchPage`` (page 1 of a typed search); returns its reference for the result links."""
        shown = [h.article for h in page.hits]
        lib = self.library()
        top = lib.articles.get(shown[0]) if shown else None
        area = page.department or (top.department if top else None)
        # ``answered`` is the search's own verdict where the search service gives one.
        rec = SearchRecord(query=page.query, lang=page.language, department=page.department, area=area,
                           results=page.total, shown=shown, answered=getattr(page, "answered", None))
        return self.recorder.search(rec, session_key)

    def record_click(self, ref: str, position: int, article: str) -> None:
        self.recorder.click(ref, position, article)

    def record_didnt_find(self, ref: str) -> None:
        """A "didn't find" reported from the page of search ``ref``: that search counts as no success."""
        self.recorder.didnt_find(ref)

    def record_view(self, article: str) -> None:
        self.recorder.view(article)

    def flush(self) -> None:
        """Wait until the queued searches, clicks and views are written."""
        self.recorder.flush()

    # --- reading --------------------------------------------------------
    def scope_for(self, actor: Person, department: str | None = None) -> Scope:
        """Owners see their departments, admins all; anyone else is refused."""
        if not actor.is_triager:
            raise PermissionDeniedError("forbidden", "insights are for department owners and admins")
        if department:
            if not actor.can_triage(department):
                raise PermissionDeniedError("forbidden", "only that department's owners and admins see its figures")
            return Scope(frozenset({department}))
        return Scope(None if actor.is_admin else frozenset(actor.owns))

    def report(self, actor: Person, section: str, period: Period, department: str | None = None) -> dict[str, Any]:
        """One section's figures (``SECTIONS``) as plain JSON-ready values."""
        scope = self.scope_for(actor, department)
        self.flush()  # a report includes the searches just made
        lib, now = self.library(), self.now()
        with self.db.session() as s:
            if s.get_bind().dialect.name == "postgresql":
                # The driver prepares a statement run often; a generic plan made for one period's
                # range and IN list is far off for another (seconds instead of milliseconds): plan each.
                s.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
            if section == "search":
                body = search_report(s, period, scope, self.min_searchers)
            elif section == "gaps":
                body = self._gaps(s, period, scope, lib)
            elif section == "helpfulness":
                body = helpfulness_report(s, period, scope, lib)
            elif section == "service":
                body = {**service_report(s, period, scope, now), "satisfaction": satisfaction_report(s, period, scope)}
            elif section == "content":
                body = content_report(s, period, scope, lib, now.date(), self.review_days)
            else:
                raise KeyError(section)
        deps = None if scope.departments is None else sorted(scope.departments)
        return {"section": section, "period": period.as_dict(), "scope": deps, **body}

    def _gaps(self, s: Any, period: Period, scope: Scope, lib: Library) -> dict[str, Any]:
        if self.encoder is None:
            return {"groups": [], "failed_queries": 0, "grouped_queries": 0, "min_searchers": self.min_searchers}
        encode = self.encoder()

        def article_vectors() -> tuple[list[str], Any]:
            # The articles' titles and summaries, encoded once per loaded library and model.
            key = (id(lib), model_id(encode))
            if self._articles is None or self._articles[0] != key:
                paths = sorted(lib.articles)
                texts = [f"{lib.articles[p].title}. {lib.articles[p].summary}" for p in paths]
                self._articles = (key, paths, encode(texts))
            return self._articles[1], self._articles[2]

        return gap_report(s, period, scope, lib, self.vectors.wrap(encode), article_vectors, self.min_searchers)

    def overview(self, actor: Person, period: Period, department: str | None = None) -> dict[str, Any]:
        return {name: self.report(actor, name, period, department) for name in SECTIONS}

    # --- satisfaction ---------------------------------------------------
    def rating_token(self, flag_id: int) -> str:
        """The signed part of the resolution email's rating links."""
        return rating_token(self.secret(), flag_id)

    def flag_for_token(self, token: str) -> int | None:
        return flag_of_token(self.secret(), token)

    def rating_for_token(self, token: str) -> RatingState | None:
        """What the email's link shows (None for a bad link or a flag that is gone); changes nothing."""
        flag_id = flag_of_token(self.secret(), token)
        return None if flag_id is None else rating_state(self.db, flag_id)

    def rating_form_key(self, token: str) -> str:
        return form_key(self.secret(), token)

    def valid_rating_form(self, token: str, key: str) -> bool:
        return valid_form_key(self.secret(), token, key)

    def rate_own(self, person: Person, flag_id: int, score: int) -> None:
        """A rating from My requests: only the flag's reporter, signed in, rates it (NotFoundError otherwise)."""
        if not person.email:
            raise NotFoundError("not_found", "no resolved flag to rate", id=flag_id)
        rate(self.db, flag_id, score, self.now(), reporter=person.email)

    def rate_by_token(self, token: str, score: int) -> int:
        """A rating from the email's link; returns the flag id. NotFoundError for a bad link."""
        flag_id = flag_of_token(self.secret(), token)
        if flag_id is None:
            raise NotFoundError("not_found", "this rating link is not valid")
        rate(self.db, flag_id, score, self.now())
        return flag_id

    def roll_up(self) -> RollupReport:
        """Roll up every finished UTC day not rolled up yet, or changed since (``rollup``)."""
        self.flush()
        return roll_up(self.db, self.now())

    def prune(self) -> PruneReport:
        """Roll up every finished day, then delete raw rows older than the retention period
        (``kb worker`` runs this daily, the dev server hourly)."""
        self.flush()
        return prune(self.db, self.now(), self.retention_days)
