"""/healthz, /readyz, /metrics and request ids through the app (a real database, a real index)."""

from __future__ import annotations

import json
import logging

import pytest
from alembic import command

from kb import KB, create_app
from kb.config import PROJECT_ROOT, Config
from kb.feedback import Database
from kb.feedback.db import alembic_config, head_revision

from .conftest import sqlite_url
from .live import small_site

ARTICLES = PROJECT_ROOT / "articles"


def make_app(tmp_path, index_dir, models=None, articles=ARTICLES, **settings):
    tmp_path.mkdir(parents=True, exist_ok=True)
    cfg = Config(articles_dir=articles, index_dir=index_dir, secret_key="t", reload_seconds=0,
                 database_url=sqlite_url(tmp_path), embedders="use-m3", **settings)
    app = create_app(KB(cfg, models=models))
    app.testing = True
    return app


@pytest.fixture(scope="module")
def small(tmp_path_factory, models):
    """A three-article site indexed with one model: (articles dir, index dir)."""
    from kb import indexing

    tmp = tmp_path_factory.mktemp("ops")
    articles = small_site(tmp / "articles")
    cfg = Config(articles_dir=articles, index_dir=tmp / "index", embedders="use-m3")
    indexing.build(cfg, models)
    return articles, tmp / "index"


@pytest.fixture
def search_app(small, tmp_path, models):
    return make_app(tmp_path, small[1], models=models, articles=small[0])


def test_healthz_answers_and_readyz_says_why_not_ready(tmp_path):
    app = make_app(tmp_path, tmp_path / "no-index")
    client = app.test_client()
    assert client.get("/healthz").json == {"ok": True}
    answer = client.get("/readyz")
    assert answer.status_code == 503 and answer.json["ok"] is False
    assert answer.json["reasons"] == ["index: not loaded (IndexMissingError)"]
    assert answer.headers["Cache-Control"] == "no-store"
    # Any Host: load balancers call by address.
    assert client.get("/healthz", headers={"Host": "10.0.0.7:8000"}).status_code == 200
    assert client.get("/", headers={"Host": "10.0.0.7:8000"}).status_code == 400


def test_readyz_reports_an_outdated_schema_and_an_unreachable_database(search_app, tmp_path):
    client = search_app.test_client()
    assert client.get("/readyz").json == {"ok": True, "reasons": []}
    kb = search_app.extensions["kb"]
    command.downgrade(alembic_config(kb.db.url), "0003")
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json["reasons"] == [f"database: schema 0003, the code needs {head_revision()} (run kb db upgrade)"]
    kb.__dict__["db"] = Database("postgresql+psycopg://kb@127.0.0.1:9/none?connect_timeout=2")  # nothing listens
    answer = client.get("/readyz")
    assert answer.status_code == 503 and answer.json["reasons"][0].startswith("database: unreachable")
    assert "127.0.0.1" not in answer.get_data(as_text=True)  # no addresses for whoever asks


def test_metrics_only_for_loopback_and_the_allowed_networks(search_app, tmp_path):
    client = search_app.test_client()
    assert client.get("/api/search?q=parental+leave").status_code == 200
    text = client.get("/metrics").get_data(as_text=True)
    assert 'kb_http_requests_total{method="GET",route="/api/search",status="200"}' in text
    assert "kb_index_build_info{build=" in text and 'kb_outbox_messages{state="sent"}' in text
    outside = {"REMOTE_ADDR": "10.1.2.3"}
    assert client.get("/metrics", environ_base=outside).status_code == 404
    # Relayed by a proxy on this host for someone outside: judged by them.
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404
    kb = search_app.extensions["kb"]
    allowed = make_app(tmp_path / "b", kb.config.index_dir, models=kb.models, articles=kb.config.articles_dir,
                       metrics_allow="10.0.0.0/8").test_client()
    assert allowed.get("/metrics", environ_base=outside).status_code == 200
    assert allowed.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.1"}).status_code == 404


def test_request_id_only_from_the_trusted_proxy_and_on_error_pages(tmp_path, caplog):
    app = make_app(tmp_path, tmp_path / "no-index", trusted_proxies="127.0.0.1")

    @app.get("/boom")
    def boom():
        raise RuntimeError("broken on purpose")

    client = app.test_client()
    assert client.get("/healthz", headers={"X-Request-Id": "edge-42"}).headers["X-Request-Id"] == "edge-42"
    spoofed = client.get("/healthz", headers={"X-Request-Id": "edge-42"}, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert spoofed.headers["X-Request-Id"] != "edge-42"
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and missing.headers["X-Request-Id"] in missing.get_data(as_text=True)
    app.testing = False  # a real 500, not the exception raised into the test
    with caplog.at_level(logging.INFO, logger="kb"):
        broken = client.get("/boom?q=secret+words", headers={"X-Request-Id": "edge-43"})
    assert broken.status_code == 500 and "edge-43" in broken.get_data(as_text=True)
    assert not [r for r in caplog.records if r.name == "kb"]  # one error line (ours, with the id), not Flask's too
    [error] = [r for r in caplog.records if r.name == "kb.error"]
    assert error.fields["request_id"] == "edge-43" and error.exc_info[0] is RuntimeError
    [access] = [r for r in caplog.records if r.name == "kb.access" and r.fields["request_id"] == "edge-43"]
    assert access.fields == {"request_id": "edge-43", "method": "GET", "route": "/boom", "status": 500,
                             "duration_ms": access.fields["duration_ms"]}
    from kb.logs import JsonFormatter

    line = json.loads(JsonFormatter().format(access))
    assert line["route"] == "/boom" and "secret" not in json.dumps(line)


def _stage_series(text: str) -> dict[str, tuple[float, float]]:
    """``kb_search_stage_seconds``: (count, sum) per stage, from a scrape."""
    found: dict[str, list[float]] = {}
    for line in text.splitlines():
        for part, i in (("_count{", 0), ("_sum{", 1)):
            if line.startswith("kb_search_stage_seconds" + part):
                stage = line.split('stage="', 1)[1].split('"', 1)[0]
                found.setdefault(stage, [0.0, 0.0])[i] = float(line.rsplit(" ", 1)[1])
    return {stage: (c, s) for stage, (c, s) in found.items()}


def test_metrics_show_search_latency_by_stage_for_each_stage_that_ran(search_app):
    client = search_app.test_client()
    # The registry is the test process's: other tests' searches count too, so compare with before.
    before = _stage_series(client.get("/metrics").get_data(as_text=True))
    # Texts no other test searches: a repeated one is answered from the page cache, which runs no stage.
    for q in ("parental leave weeks stage metrics", "育児休業は何週間"):
        assert client.get(f"/api/search?q={q}").status_code == 200
    after = _stage_series(client.get("/metrics").get_data(as_text=True))
    # One model (use-m3), so one embed stage; each of these ran once per search.
    for stage in ("analyze", "keyword", "embed:use-m3", "vectors", "fuse", "answer", "snippets"):
        count, total = after[stage]
        old_count, old_total = before.get(stage, (0.0, 0.0))
        assert count - old_count == 2 and total > old_total, (stage, before.get(stage), after[stage])
    # No model that is not configured (other tests in this process may have used it before).
    assert after.get("embed:minilm") == before.get("embed:minilm")
    assert 'kb_search_stage_seconds_bucket{le="0.001",stage="analyze"}' in client.get("/metrics").get_data(as_text=True)


def test_a_search_without_words_times_only_its_analysis(search_app):
    from search.timing import Timings

    seen: list[Timings] = []
    kb = search_app.extensions["kb"]
    kb.search.on_timings = seen.append
    kb.search.search("?!")
    kb.search.search("sick leave")
    assert list(seen[0].seconds) == ["analyze"]
    assert {"analyze", "keyword", "embed:use-m3", "vectors", "fuse", "answer", "snippets"} <= set(seen[1].seconds)
    assert all(s >= 0 for s in seen[1].seconds.values())
