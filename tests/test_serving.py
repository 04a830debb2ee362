"""`kb serve` in production: gunicorn workers forked after the preload, metrics, logs, timeouts, signals."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from .live import Browser, Server, free_port, get, kb_env, run_kb, small_site
from .test_outbox_workers import SlowInbox


def children(pid: int, kind: str = "serve") -> set[int]:
    """The gunicorn workers of master ``pid`` (``kind="worker"``: the ``kb worker`` beside it)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                args = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and kind.encode() in args:
                found.add(int(entry.name))
    return found


def children_when(pid: int, count: int, kind: str = "serve", seconds: float = 60) -> set[int]:
    """``children`` once there are ``count`` of them: the server answers as soon as its first worker listens."""
    deadline = time.monotonic() + seconds
    while len(found := children(pid, kind)) != count and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


@pytest.fixture(scope="module")
def smtp():
    inbox = SlowInbox(0.05)
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, inbox
    controller.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory, smtp):
    tmp = tmp_path_factory.mktemp("serving")
    env = kb_env(KB_ARTICLES_DIR=str(small_site(tmp / "articles")), KB_INDEX_DIR=str(tmp / "index"),
                 KB_DATABASE_URL=f"sqlite:///{tmp / 'kb.sqlite3'}", KB_WORKERS="2", KB_THREADS="2",
                 KB_HEADER_TIMEOUT="3", KB_TRUSTED_PROXIES="127.0.0.1", KB_RELOAD_SECONDS="1",
                 KB_SMTP_HOST="127.0.0.1", KB_SMTP_PORT=str(smtp[0]))
    run_kb("db", "upgrade", env=env)
    live = Server(env, tmp / "serve.log", "--with-worker").wait_ready()
    yield live
    live.stop()


def test_gunicorn_workers_answer_searches_from_the_preloaded_index(server):
    assert len(children_when(server.proc.pid, 2)) == 2
    for _ in range(6):  # both workers, whichever gets each request
        status, headers, body = get(server.base + "/api/search?q=parental+leave")
        assert status == 200 and json.loads(body)["results"][0]["article"] == "people/parental-leave.md"
    assert headers["Server"] == "kb"
    assert len(headers["X-Request-Id"]) == 32
    assert "(SIGHUP: reload workers" in server.output() and "BufferingThreadWorker" in server.output()


def test_request_id_from_the_trusted_proxy_is_kept_and_logged_without_the_query(server):
    status, headers, _ = get(server.base + "/api/search?q=unmistakable+words", {"X-Request-Id": "proxy-abc.123"})
    assert status == 200 and headers["X-Request-Id"] == "proxy-abc.123"
    status, headers, _ = get(server.base + "/healthz", {"X-Request-Id": "bad id <script>"})
    assert headers["X-Request-Id"] != "bad id <script>" and len(headers["X-Request-Id"]) == 32
    time.sleep(0.3)
    lines = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
    [entry] = [e for e in lines if e.get("request_id") == "proxy-abc.123"]
    assert entry["route"] == "/api/search" and entry["status"] == 200 and entry["method"] == "GET"
    assert isinstance(entry["duration_ms"], float) and entry["time"].endswith("Z")
    assert "unmistakable" not in server.output()


def test_metrics_count_every_worker_and_read_the_index_and_outbox(server):
    def healthz_count() -> float:
        text = get(server.base + "/metrics")[2]
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith('kb_http_requests_total{') and 'route="/healthz"' in line)

    before = healthz_count()
    for _ in range(20):
        assert get(server.base + "/healthz")[0] == 200
    # Two workers answered those; a scrape of either sums both (prometheus_client multiprocess mode).
    assert healthz_count() - before == 20
    text = get(server.base + "/metrics")[2]
    assert "kb_index_build_info{build=" in text and "kb_index_age_seconds " in text
    assert 'kb_outbox_messages{state="pending"} 0.0' in text and "kb_db_pool_connections_in_use" in text
    assert 'kb_http_request_duration_seconds_bucket{le="0.1",route="/healthz",status="200"}' in text

    def keyword_searches() -> float:
        text = get(server.base + "/metrics")[2]
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith('kb_search_stage_seconds_count{stage="keyword"}'))

    before = keyword_searches()
    for q in ("sick+leave", "doctor+note", "receipts", "hotel+rate", "adoption", "shift+manager"):
        assert get(server.base + f"/api/search?q={q}")[0] == 200  # each new: a repeated search is cached
    # Search latency by stage, from whichever worker searched (the timing hook of search/timing.py).
    assert keyword_searches() - before == 6


def test_two_hundred_half_sent_connections_do_not_block_a_normal_request(server):
    host, port = "127.0.0.1", server.port
    stalled = []
    for i in range(200):
        s = socket.create_connection((host, port))
        if i % 3 == 1:  # half the headers
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        elif i % 3 == 2:  # headers, then only part of the announced body
            s.sendall(b"POST /feedback/gap HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 500\r\n\r\nquery=")
        stalled.append(s)  # i % 3 == 0: nothing at all
    try:
        started = time.monotonic()
        status, _, _ = get(server.base + "/healthz", timeout=10)
        assert status == 200 and time.monotonic() - started < 2.0
        status, _, body = get(server.base + "/api/search?q=sick", timeout=10)
        assert status == 200 and "sick-leave" in body
        # KB_HEADER_TIMEOUT=3: then the server closes them (recv sees the end, not a timeout).
        time.sleep(4)
        for s in stalled:
            s.settimeout(5)
            try:
                assert s.recv(100) == b""
            except ConnectionResetError:
                pass
    finally:
        for s in stalled:
            s.close()


def test_with_worker_a_kb_worker_beside_the_server_sends_the_notifications(server, smtp):
    [worker] = children_when(server.proc.pid, 1, "worker")
    reader = Browser("reader@x.example")
    reader.load_token(server.base)
    status, body = reader.post(server.base + "/feedback/gap", {"query": "bike to work", "department": "people"})
    assert status == 200, body
    deadline = time.monotonic() + 30
    while not smtp[1].messages and time.monotonic() < deadline:
        time.sleep(0.2)
    [mail] = smtp[1].messages
    assert mail["To"] == "people-kb@x.example" and "bike to work" in mail.get_payload()
    # The worker logs once the send is settled, a moment after the receiver has the mail.
    while "kb worker: notifications: sent 1" not in server.output() and time.monotonic() < deadline + 10:
        time.sleep(0.2)
    assert "kb worker: notifications: sent 1" in server.output()


def test_sighup_replaces_the_workers_and_sigterm_stops_gracefully(server):
    old = children_when(server.proc.pid, 2)
    os.kill(server.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert get(server.base + "/healthz")[0] == 200  # served throughout
        now = children(server.proc.pid)
        if len(now) == 2 and not now & old:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"workers {old} were not replaced: {children(server.proc.pid)}\n{server.output()}")
    assert get(server.base + "/api/search?q=expenses")[0] == 200  # new workers search too
    [worker] = children(server.proc.pid, "worker")  # not restarted by a reload
    assert server.stop(signal.SIGTERM) == 0
    assert "Shutting down: Master" in server.output()
    assert not Path(f"/proc/{worker}").exists() or b"zombie" in Path(f"/proc/{worker}/status").read_bytes()
