"""Insights at scale on PostgreSQL: 1,000,000 search rows, 100,000 article views, 50,000 votes
and 20,000 flags over 180 days; then how long the first roll-up of every finished day takes,
how long each insights page's report takes (read from the roll-ups, today's rows raw), the
gap radar with a small hashing encoder (its first view encodes up to 500 queries, the next
ones only queries not seen before), and what logging a search costs. Run by hand:

    PYTHONPATH=. .venv/bin/python benchmarks/insights.py [--searches 1000000] [--views 100000] [--no-rollup]

``--no-rollup`` times the reports on raw rows only (every day read raw, as before issue 9's roll-ups).
Rows are generated inside PostgreSQL (generate_series) in a fresh schema of the local server
(KB_TEST_POSTGRES, default postgresql://postgres@127.0.0.1:5432/test), dropped afterwards.
Each report is timed 3 times; the best run is printed (the machine is shared: the load average
is printed before and after).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
import zlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import psycopg
from sqlalchemy import text

from kb.config import PROJECT_ROOT
from kb.content import load_library
from kb.feedback.db import Database, upgrade
from kb.feedback.identity import Person
from kb.insights import SECTIONS, InsightsService, Period

BASE = os.environ.get("KB_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
AREAS = "ARRAY['payroll','benefits','people','it-security','finance']"
LANGS = "ARRAY['en','ja','ko','zh']"


def generate(db: Database, searches: int, views: int, articles: list[str]) -> None:
    arts = "ARRAY[" + ",".join(f"'{a}'" for a in articles) + "]"
    with db.engine.begin() as c:
        # A long tail of queries (5,000 frequent texts, then one-offs), shown 5 articles, half opened.
        c.execute(text(f"""
            INSERT INTO search_log (at, query, lang, department, results, top_article, area, answered, shown, searcher, clicks,
                                    didnt_find)
            SELECT now() - random() * interval '180 days',
                   CASE WHEN random() < 0.8 THEN 'query ' || floor(random() * 5000)::int ELSE 'one-off ' || g END,
                   ({LANGS})[1 + floor(random() * 4)::int], NULL, floor(random() * 8)::int,
                   ({arts})[1 + (g % {len(articles)})], ({AREAS})[1 + floor(random() * 5)::int],
                   random() > 0.15, json_build_array(({arts})[1 + (g % {len(articles)})]),
                   substr(md5((g % 20000)::text || floor(random() * 180)::text), 1, 32),
                   (random() < 0.5)::int, random() < 0.03
            FROM generate_series(1, {searches}) g"""))
        c.execute(text("""
            INSERT INTO search_clicks (search_id, at, article, position, ms_to_click)
            SELECT id, at + interval '20 seconds', top_article, 1, 20000 FROM search_log WHERE clicks > 0"""))
        c.execute(text(f"""
            INSERT INTO article_views (at, article)
            SELECT now() - random() * interval '180 days', ({arts})[1 + floor(random() * {len(articles)})::int]
            FROM generate_series(1, {views})"""))
        c.execute(text(f"""
            INSERT INTO votes (article, voter, day, helpful, reason, content_hash, created_at, updated_at)
            SELECT ({arts})[1 + (g % {len(articles)})], 'v' || g, (now() - (g % 180) * interval '1 day')::date,
                   random() < 0.7, NULL, 'h', now(), now()
            FROM generate_series(1, 50000) g"""))
        c.execute(text(f"""
            INSERT INTO flags (kind, department, status, notify_reporter, reports, created_at, updated_at, due_at)
            SELECT CASE WHEN g % 3 = 0 THEN 'gap' ELSE 'article' END, ({AREAS})[1 + g % 5],
                   CASE WHEN g % 4 = 0 THEN 'new' ELSE 'resolved' END, false, 1, t, t, t + interval '3 days'
            FROM (SELECT g, now() - random() * interval '180 days' AS t FROM generate_series(1, 20000) g) x"""))
        c.execute(text("""
            INSERT INTO flag_events (flag_id, at, action, detail)
            SELECT id, created_at + interval '5 hours', 'acknowledge', '{}'::json FROM flags
            UNION ALL SELECT id, created_at + interval '30 hours', 'resolve', '{}'::json FROM flags WHERE status = 'resolved'"""))
        c.execute(text("ANALYZE"))


class HashingEncoder:
    """A small stand-in for USE (character trigrams hashed into 512 dimensions): the gap radar's
    database work and grouping are timed, not the model."""

    name = "hashing-512"

    def __init__(self) -> None:
        self.encoded = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.encoded += len(texts)
        out = np.zeros((len(texts), 512), dtype=np.float32)
        for i, t in enumerate(texts):
            padded = f"  {t.lower()} "
            for j in range(len(padded) - 2):
                out[i, zlib.crc32(padded[j:j + 3].encode()) % 512] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def best(fn: Callable[[], object], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def logging_cost(svc: InsightsService, n: int = 500) -> tuple[float, float, float]:
    """Milliseconds a request spends logging a search (median, p95), and the background
    writer's milliseconds per row to commit them all."""
    page = SimpleNamespace(query="how do I change my bank account", language="en", department=None, total=3, answered=True,
                           hits=[SimpleNamespace(article=a) for a in ("payroll/pay-schedule.md",)])
    times = []
    for i in range(n):
        started = time.perf_counter()
        svc.record_search(page, f"session-{i % 50}")
        times.append((time.perf_counter() - started) * 1000)
    started = time.perf_counter()
    svc.flush()
    per_row = (time.perf_counter() - started) * 1000 / n
    times.sort()
    return statistics.median(times), times[int(0.95 * len(times))], per_row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--searches", type=int, default=1_000_000)
    parser.add_argument("--views", type=int, default=100_000)
    parser.add_argument("--no-rollup", action="store_true", help="time the reports on raw rows only")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})")
    schema = f"kb_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(BASE, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = BASE.replace("postgresql://", "postgresql+psycopg://") + f"?options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        db = Database(url)
        lib = load_library(Path(PROJECT_ROOT / "articles"))
        encoder = HashingEncoder()
        svc = InsightsService(db, lambda: lib, secret=lambda: "bench", retention_days=180, min_searchers=3,
                              review_days=365, now=lambda: datetime.now(UTC), encoder=lambda: encoder.encode)
        started = time.perf_counter()
        generate(db, args.searches, args.views, sorted(lib.articles))
        print(f"generated {args.searches:,} searches and {args.views:,} views in {time.perf_counter() - started:.1f}s")
        if not args.no_rollup:
            started = time.perf_counter()
            report = svc.roll_up()
            print(f"first roll-up: {report.days} days, {report.searches:,} searches in {time.perf_counter() - started:.1f}s")
            started = time.perf_counter()
            svc.roll_up()
            print(f"roll-up with nothing to do: {(time.perf_counter() - started) * 1000:.1f} ms")
            with db.engine.begin() as c:
                c.execute(text("ANALYZE"))  # what autovacuum does after a bulk load; the planner needs the roll-ups' sizes
        admin, owner = Person("a@x", is_admin=True), Person("o@x", owns=frozenset({"payroll"}))
        today = datetime.now(UTC).date()
        for days in (30, 90):
            period = Period.last(days, today)
            for who, person in (("admin", admin), ("owner", owner)):
                for section in SECTIONS:
                    before = encoder.encoded
                    if section == "gaps":
                        seconds = best(lambda: svc.report(person, section, period), runs=1)  # noqa: B023
                        print(f"{'gaps, first':12} {who:5} last {days:2} days: {seconds * 1000:7.1f} ms "
                              f"({encoder.encoded - before} texts encoded)")
                        before = encoder.encoded
                    seconds = best(lambda: svc.report(person, section, period))  # noqa: B023
                    extra = f" ({encoder.encoded - before} texts encoded)" if section == "gaps" else ""
                    print(f"{section:12} {who:5} last {days:2} days: {seconds * 1000:7.1f} ms{extra}")
        svc.flush()
        median, p95, per_row = logging_cost(svc)
        print(f"logging a search in the request (PostgreSQL): median {median:.3f} ms, p95 {p95:.3f} ms; "
              f"background writer {per_row:.3f} ms per row")
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        with psycopg.connect(BASE, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
