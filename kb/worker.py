"""``kb worker``: the background jobs, outside the web processes.

One loop per process: deliver due notifications (the outbox), run the daily
jobs when their day comes, and bring the search index up to date when the
articles change (the replicas' IndexHandles switch to the new build by
themselves), publishing each new build into ``KB_INDEX_PUBLISH`` when set, for
the replicas that follow it. Any number of workers may run on one database: the outbox leases
each message to one of them (``kb.feedback.outbox``).

Daily jobs (digests, log roll-ups) are registered in one place, ``DAILY_JOBS``.
Every worker runs each of them once a day, so a job must be idempotent for its
day: outbox rows it writes carry a dedupe key with the date, and a roll-up
replaces that day's totals rather than adding to them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from .core import KB
from .feedback.models import utcnow
from .feedback.outbox import DeliveryReport, worker_id
from .indexing import publish

log = logging.getLogger("kb.worker")

#: A daily job: called with the KB and the day it runs for; returns a line for the log, or None.
DailyJob = Callable[[KB, date], "str | None"]

#: The one registry of daily jobs, by name. Add a job here (or with ``register_daily``).
DAILY_JOBS: dict[str, DailyJob] = {}


def register_daily(name: str, job: DailyJob) -> None:
    DAILY_JOBS[name] = job


def _digests(kb: KB, day: date) -> str | None:
    report = kb.feedback.queue_digests(day)
    return f"digests queued: {len(report.sent)}" if report.sent else None


def _insights_prune(kb: KB, day: date) -> str | None:
    """Roll up the day that just finished (and any other not rolled up), then apply retention."""
    report = kb.insights.prune()
    if not (report.days or report.searches or report.views):
        return None
    return f"insights: rolled up {report.days} days; deleted {report.searches} searches, {report.views} views past retention"


def _weekly_digests(kb: KB, day: date) -> str | None:
    queued = kb.queue_digests()  # keyed by department and ISO week: once a week however often it runs
    return f"insights: queued {queued} weekly digest messages" if queued else None


register_daily("digest", _digests)
register_daily("insights-prune", _insights_prune)
register_daily("insights-digest", _weekly_digests)


@dataclass
class Worker:
    """One ``kb worker`` process's jobs; ``tick`` does one round of each."""

    kb: KB
    index: bool = True
    clock: Callable[[], datetime] = utcnow
    say: Callable[[str], None] = log.info
    owner: str = field(default_factory=worker_id)
    #: Set to stop (SIGTERM): the send in progress finishes, no new one starts.
    stop: threading.Event = field(default_factory=threading.Event)
    _last_day: dict[str, date] = field(default_factory=dict)
    _library: object | None = None
    _index_error: str | None = None

    def tick(self) -> int:
        """One round; returns how many notifications went out (the loop hurries on while there are more)."""
        sent = self.deliver()
        self.daily()
        if self.index:
            self.refresh_index()
        return sent

    def deliver(self, batch: int = 50) -> int:
        """Up to ``batch`` messages, one at a time: a stop request waits for one send at most."""
        total = DeliveryReport()
        try:
            while total.sent + total.failed + total.dead + total.lost < batch and not self.stop.is_set():
                report = self.kb.deliver_outbox(owner=self.owner, limit=1)
                if not (report.sent or report.failed or report.dead or report.lost):
                    break
                for name in ("sent", "failed", "dead", "lost"):
                    setattr(total, name, getattr(total, name) + getattr(report, name))
        except Exception as exc:  # the database may be briefly unreachable: the next round tries again
            self.say(f"notifications: {exc}")
        if total.sent or total.dead or total.lost:
            self.say(f"notifications: sent {total.sent}, will retry {total.failed}, gave up {total.dead}")
        return total.sent

    def daily(self) -> None:
        today = self.clock().date()
        for name, job in DAILY_JOBS.items():
            if self._last_day.get(name) == today:
                continue
            self._last_day[name] = today  # a failing job waits for tomorrow rather than retrying every tick
            try:
                line = job(self.kb, today)
            except Exception as exc:
                self.say(f"daily job {name} failed: {exc}")
                continue
            if line:
                self.say(f"{name}: {line}")

    def refresh_index(self) -> None:
        """Rebuild when the articles changed (and once at start), publish the build (KB_INDEX_PUBLISH);
        then close flags named in commits."""
        try:
            lib = self.kb.content.refresh()
            if lib is self._library:
                return
            report = self.kb.build_index()
            if report.mode != "unchanged":
                self.say(f"index {report.mode}: {report.articles} articles in {report.seconds:.1f}s")
            if self.kb.config.index_publish is not None:
                started = time.monotonic()
                if published := publish(self.kb.config):
                    self.say(f"published build {published} in {time.monotonic() - started:.2f}s")
            if self._library is None:
                # Models load lazily, on the first text to embed (10 s and more): at start, not on the first edit.
                for model in self.kb.models.all(self.kb.config.embedder_specs):
                    model.encode(["warm up"])
            self._library = lib  # only now: a failed publication is tried again next round
            self._index_error = None
            self.kb.close_flags_from_git()
        except Exception as exc:  # a bad edit, a busy index, an unwritable published dir: try again next round
            if str(exc) != self._index_error:  # said once, not twice a second
                self.say(f"reindex failed: {exc}")
            self._index_error = str(exc)

    def run(self, every: float = 0.5) -> None:
        """Until ``stop`` is set (SIGTERM): a send in progress finishes first."""
        while not self.stop.is_set():
            busy = self.tick()
            self.stop.wait(0.05 if busy else every)
