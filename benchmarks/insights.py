"""Insights at scale on PostgreSQL: 1,000,000 search rows and 100,000 article views over
180 days, then how long each insights page's report takes, and what logging a search costs.
Run by hand:

    PYTHONPATH=. .venv/bin/python benchmarks/insights.py [--searches 1000000] [--views 100000]

Rows are generated inside PostgreSQL (generate_series) in a fresh schema of the local server
(KB_TEST_POSTGRES, default postgresql://postgres@127.0.0.1:5432/test), dropped afterwards.
Each report is timed 3 times; the best run is printed (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

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
            INSERT INTO search_log (at, query, lang, department, results, top_article, area, answered, shown, searcher, clicks)
            SELECT now() - random() * interval '180 days',
                   CASE WHEN random() < 0.8 THEN 'query ' || floor(random() * 5000)::int ELSE 'one-off ' || g END,
                   ({LANGS})[1 + floor(random() * 4)::int], NULL, floor(random() * 8)::int,
                   ({arts})[1 + (g % {len(articles)})], ({AREAS})[1 + floor(random() * 5)::int],
                   random() > 0.15, json_build_array(({arts})[1 + (g % {len(articles)})]),
                   substr(md5((g % 20000)::text || floor(random() * 180)::text), 1, 32),
                   (random() < 0.5)::int
            FROM generate_series(1, {searches}) g"""))
        c.execute(text("""
            INSERT INTO search_clicks (search_id, at, article, position, ms_to_click)
            SELECT id, at + interval '20 seconds', top_article, 1, 20000 FROM search_log WHERE clicks > 0"""))
        c.execute(text(f"""
            INSERT INTO article_views (at, article)
            SELECT now() - random() * interval '180 days', ({arts})[1 + floor(random() * {len(articles)})::int]
            FROM generate_series(1, {views})"""))
        c.execute(text("ANALYZE"))


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
    args = parser.parse_args()
    schema = f"kb_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(BASE, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = BASE.replace("postgresql://", "postgresql+psycopg://") + f"?options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        db = Database(url)
        lib = load_library(Path(PROJECT_ROOT / "articles"))
        svc = InsightsService(db, lambda: lib, secret=lambda: "bench", retention_days=180, min_searchers=3,
                              review_days=365, now=lambda: datetime.now(UTC))
        started = time.perf_counter()
        generate(db, args.searches, args.views, sorted(lib.articles))
        print(f"generated {args.searches:,} searches and {args.views:,} views in {time.perf_counter() - started:.1f}s")
        admin, owner = Person("a@x", is_admin=True), Person("o@x", owns=frozenset({"payroll"}))
        today = datetime.now(UTC).date()
        for days in (30, 90):
            period = Period.last(days, today)
            for who, person in (("admin", admin), ("owner", owner)):
                for section in (s for s in SECTIONS if s != "gaps"):  # the gap radar needs USE: not timed here
                    seconds = best(lambda: svc.report(person, section, period))  # noqa: B023
                    print(f"{section:12} {who:5} last {days:2} days: {seconds * 1000:7.1f} ms")
        svc.flush()
        median, p95, per_row = logging_cost(svc)
        print(f"logging a search in the request (PostgreSQL): median {median:.3f} ms, p95 {p95:.3f} ms; "
              f"background writer {per_row:.3f} ms per row")
    finally:
        with psycopg.connect(BASE, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
