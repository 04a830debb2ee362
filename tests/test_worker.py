"""`kb worker`'s loop (daily jobs, index refresh) and the PostgreSQL statement timeout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from kb import KB
from kb.config import Config
from kb.feedback import Database
from kb.worker import DAILY_JOBS, Worker, register_daily

from .conftest import sqlite_url
from .live import small_site


def test_daily_jobs_run_once_a_day_each_and_a_failing_one_does_not_stop_the_rest(tmp_path, monkeypatch):
    monkeypatch.setattr("kb.worker.DAILY_JOBS", {})
    ran = []
    register_daily("digest", lambda kb, day: ran.append(("digest", day)) or "sent 0 digests")
    register_daily("broken", lambda kb, day: 1 / 0)
    register_daily("rollup", lambda kb, day: ran.append(("rollup", day)))
    import kb.worker as worker_module

    assert set(worker_module.DAILY_JOBS) == {"digest", "broken", "rollup"} and "broken" not in DAILY_JOBS
    # The real registry: kb worker runs the overdue digest, the log roll-up and the weekly digest daily.
    assert {"digest", "insights-prune", "insights-digest"} <= set(DAILY_JOBS)
    clock = [datetime(2026, 12, 2, 8, tzinfo=UTC)]
    said = []
    job = Worker(KB(Config(database_url=sqlite_url(tmp_path))), index=False, clock=lambda: clock[0], say=said.append)
    for _ in range(3):
        job.tick()
    clock[0] += timedelta(days=1)
    job.tick()
    day = clock[0].date()
    assert ran == [("digest", day - timedelta(days=1)), ("rollup", day - timedelta(days=1)),
                   ("digest", day), ("rollup", day)]
    assert said.count("digest: sent 0 digests") == 2 and sum("broken failed" in s for s in said) == 2


def test_the_worker_builds_the_index_at_start_and_again_when_an_article_changes(tmp_path, models):
    articles = small_site(tmp_path / "articles")
    cfg = Config(articles_dir=articles, index_dir=tmp_path / "index", embedders="use-m3",
                 database_url=sqlite_url(tmp_path), reload_seconds=0)
    kb = KB(cfg, models=models)
    said = []
    job = Worker(kb, say=said.append)
    job.tick()
    assert kb.search.search("sixteen weeks").hits[0].article == "people/parental-leave.md"
    job.tick()  # nothing changed: no build
    assert sum(s.startswith("index") for s in said) == 1
    (articles / "people" / "remote.md").write_text("---\ntitle: Remote work\n---\n# Remote work\n\n"
                                                   "Work from a café two days a week.\n", encoding="utf-8")
    job.tick()
    assert said[-1].startswith("index incremental") or said[-1].startswith("index full"), said
    kb.index.check_every = 0
    assert kb.search.search("café two days").hits[0].article == "people/remote.md"


def test_a_slow_statement_is_cancelled_on_postgresql_and_the_url_options_are_kept(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("statement_timeout is a PostgreSQL setting")
    db = Database(database_url, statement_timeout=0.5)
    with db.engine.connect() as conn:
        assert conn.execute(text("SHOW statement_timeout")).scalar() == "500ms"
        assert conn.execute(text("SHOW search_path")).scalar().startswith("kb_test_")  # the URL's own option
    with pytest.raises(OperationalError, match="statement timeout"), db.engine.connect() as conn:
        conn.execute(text("SELECT pg_sleep(3)"))
    db.engine.dispose()


def test_the_worker_runs_its_models_at_start_not_on_the_first_edit(tmp_path, models, monkeypatch):
    articles = small_site(tmp_path / "articles")
    cfg = Config(articles_dir=articles, index_dir=tmp_path / "index", embedders="use-m3",
                 database_url=sqlite_url(tmp_path), reload_seconds=0)
    KB(cfg, models=models).build_index()  # up to date before the worker starts: its first round embeds nothing
    use = models.get("use-m3")
    calls = []
    real = use.encode
    monkeypatch.setattr(use, "encode", lambda texts, **kw: calls.append(list(texts)) or real(texts, **kw))
    Worker(KB(cfg, models=models), say=lambda _: None).tick()
    # Loaded (lazily, on a first text) now, so the first edit does not wait for it.
    assert calls == [["warm up"]]


def test_the_worker_publishes_each_new_build_for_the_replicas(tmp_path, models):
    from search.layout import IndexLayout
    from search.publish import latest

    articles = small_site(tmp_path / "articles")
    cfg = Config(articles_dir=articles, index_dir=tmp_path / "index", embedders="use-m3",
                 database_url=sqlite_url(tmp_path), reload_seconds=0, index_publish=tmp_path / "published")
    said = []
    job = Worker(KB(cfg, models=models), say=said.append)
    job.tick()
    first = latest(tmp_path / "published")
    assert first == IndexLayout(tmp_path / "index").current().dir.name and f"published build {first}" in said[-1]
    job.tick()
    assert latest(tmp_path / "published") == first and sum("published" in s for s in said) == 1
    (articles / "people" / "remote.md").write_text("---\ntitle: Remote work\n---\n# Remote work\n\nTwo days.\n",
                                                   encoding="utf-8")
    job.tick()
    second = latest(tmp_path / "published")
    assert second not in (None, first) and second == IndexLayout(tmp_path / "index").current().dir.name
    assert (tmp_path / "published" / "builds" / second / "manifest.json").is_file()


def test_a_publication_that_keeps_failing_is_retried_and_said_once(tmp_path, models):
    from search.publish import latest

    articles = small_site(tmp_path / "articles")
    blocked = tmp_path / "published"
    blocked.write_text("a file where the published dir should be", encoding="utf-8")
    cfg = Config(articles_dir=articles, index_dir=tmp_path / "index", embedders="use-m3",
                 database_url=sqlite_url(tmp_path), reload_seconds=0, index_publish=blocked)
    said = []
    job = Worker(KB(cfg, models=models), say=said.append)
    for _ in range(3):
        job.tick()
    assert sum("reindex failed" in s for s in said) == 1, said
    blocked.unlink()  # fixed: the next round publishes, though no article changed
    job.tick()
    assert latest(blocked) is not None and "published build" in said[-1]
