"""Prometheus metrics: what the web processes count, and what is read at scrape time.

Counters and histograms (requests; search latency by stage, from the search
service's timing hook) live in ``prometheus_client``'s multiprocess files
when ``PROMETHEUS_MULTIPROC_DIR`` is set (``kb serve`` sets it before any
worker forks), so a scrape of any worker sums all of them. Index, outbox and
database figures are read when scraped, by ``KBCollector``: one query each,
nothing kept between scrapes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from search.timing import Timings

    from .core import KB

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter("kb_http_requests_total", "HTTP requests answered, by route and status.", ["route", "method", "status"])
LATENCY = Histogram("kb_http_request_duration_seconds", "Time to answer, by route and status.", ["route", "status"],
                    buckets=BUCKETS)
#: Stages take from tens of microseconds (analyze) to tens of milliseconds (an embedding under load).
STAGE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
SEARCH_STAGES = Histogram("kb_search_stage_seconds", "Time of each stage of a search (search/timing.py): analyze, "
                          "keyword, embed:<model>, vectors, bridge, fuse, answer, spelling, snippets.", ["stage"],
                          buckets=STAGE_BUCKETS)
# Per process, summed over the live ones: connections of this worker's pool in use right now.
DB_POOL_IN_USE = Gauge("kb_db_pool_connections_in_use", "Database connections checked out of the pools.",
                       multiprocess_mode="livesum")

CONTENT_TYPE = CONTENT_TYPE_LATEST


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(route, method, str(status)).inc()
    LATENCY.labels(route, str(status)).observe(seconds)


def observe_search_stages(timings: Timings) -> None:
    """One search's stages (the SearchService's ``on_timings`` hook)."""
    for stage, seconds in timings.seconds.items():
        SEARCH_STAGES.labels(stage).observe(seconds)


def observe_pool(kb: KB) -> None:
    if "db" in kb.__dict__:  # a process that never opened the database has no pool to report
        pool = kb.db.engine.pool
        DB_POOL_IN_USE.set(pool.checkedout() if hasattr(pool, "checkedout") else 0)


class KBCollector(Collector):
    """Figures read at scrape time: the index build and its age, the outbox backlog by state."""

    def __init__(self, kb: KB) -> None:
        self.kb = kb

    def collect(self) -> Iterator[GaugeMetricFamily]:
        build = self.kb.index.layout.current()
        info = GaugeMetricFamily("kb_index_build_info", "The index build being served (1).", labels=["build"])
        age = GaugeMetricFamily("kb_index_age_seconds", "Seconds since the served index was built.")
        if build is not None:
            info.add_metric([build.dir.name], 1)
            age.add_metric([], max(0.0, time.time() - build.manifest.stat().st_mtime))
        yield info
        yield age
        from .feedback.outbox import backlog

        outbox = GaugeMetricFamily("kb_outbox_messages", "Outbox messages by state.", labels=["state"])
        try:
            for state, n in backlog(self.kb.db).items():
                outbox.add_metric([state], n)
        except Exception:  # an unreachable database shows in /readyz; the scrape still answers
            pass
        yield outbox


def exposition(kb: KB) -> bytes:
    """The text a scrape reads: every process's counters, and the figures read now."""
    registry = CollectorRegistry()
    if multiprocess():
        from prometheus_client import multiprocess as mp

        mp.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    text = generate_latest(registry)
    extra = CollectorRegistry()
    extra.register(KBCollector(kb))
    return text + generate_latest(extra)


def process_exited(pid: int) -> None:
    """A gunicorn worker ended: its live gauges no longer count."""
    if multiprocess():
        from prometheus_client import multiprocess as mp

        mp.mark_process_dead(pid)
