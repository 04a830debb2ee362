"""Two `kb serve` replicas (gunicorn) and two `kb worker`s on one PostgreSQL schema and one Redis.

Feedback posted to both replicas: every accepted report is stored once, every
notification reaches a real SMTP receiver exactly once, and one person's rate
limit holds across the replicas (its counters are in Redis, not in a process).
"""

from __future__ import annotations

import json
import time

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from kb.feedback import Database
from kb.feedback.models import Flag, OutboxMessage

from .conftest import postgres_schema
from .live import Browser, Process, Server, free_port, kb_env, run_kb, small_site
from .test_outbox_workers import SlowInbox

REDIS_DB = 13  # this test's own Redis database, flushed at the start


@pytest.fixture
def postgres():
    with postgres_schema() as url:
        yield url


@pytest.fixture
def redis_url():
    redis = pytest.importorskip("redis")
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB, socket_connect_timeout=3)
    try:
        client.flushdb()
    except redis.exceptions.ConnectionError:
        pytest.skip("Redis not reachable at 127.0.0.1:6379")
    yield f"redis://127.0.0.1:6379/{REDIS_DB}"
    client.flushdb()


@pytest.fixture
def smtp():
    inbox = SlowInbox(0.1)
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, inbox
    controller.stop()


def test_two_replicas_and_two_workers_share_only_postgresql_and_redis(tmp_path, postgres, redis_url, smtp):
    port, inbox = smtp
    env = kb_env(KB_ARTICLES_DIR=str(small_site(tmp_path / "articles")), KB_INDEX_DIR=str(tmp_path / "index"),
                 KB_DATABASE_URL=postgres, KB_RATELIMIT_STORAGE=redis_url, KB_TRUSTED_PROXIES="127.0.0.1",
                 KB_FEEDBACK_LIMIT_PERSON="6/hour", KB_SMTP_HOST="127.0.0.1", KB_SMTP_PORT=str(port),
                 KB_SMTP_FROM="kb@x.example", KB_THREADS="2")
    run_kb("db", "upgrade", env=env)
    run_kb("index", env=env)  # built once; both replicas load it read-only
    procs: list[Process] = []
    try:
        replicas = [Server({**env, "KB_WORKERS": str(n)}, tmp_path / f"serve{n}.log") for n in (1, 2)]
        procs += replicas
        procs += [Process(["worker", "--no-index", "--every", "0.3"], env, tmp_path / f"worker{n}.log") for n in (1, 2)]
        for r in replicas:
            r.wait_ready()

        accepted, refused = [], 0
        # One person posts ten reports, alternating replicas: the limit of six holds across both.
        busy = Browser("busy@x.example")
        busy.load_token(replicas[0].base)
        for i in range(10):
            status, body = busy.post(replicas[i % 2].base + "/feedback/gap",
                                     {"query": f"busy question {i}", "department": "people"})
            if status == 200:
                accepted.append(json.loads(body)["flag"])
            else:
                assert status == 429, body
                refused += 1
        assert (len(accepted), refused) == (6, 4)
        # Three more people, three reports each, spread over both replicas.
        for person in ("ana", "bo", "cy"):
            reader = Browser(f"{person}@x.example")
            reader.load_token(replicas[1].base)  # the token and session of one replica work on the other
            for i in range(3):
                status, body = reader.post(replicas[i % 2].base + "/feedback/gap",
                                           {"query": f"{person} question {i}", "department": "people"})
                assert status == 200, body
                accepted.append(json.loads(body)["flag"])

        db = Database(postgres)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with db.session() as s:
                pending = s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != "sent"))
            if pending == 0 and len(inbox.messages) >= len(accepted):
                break
            time.sleep(0.3)
        time.sleep(1.5)  # room for any second copy
        with db.session() as s:
            flags = list(s.scalars(select(Flag)))
            outbox = list(s.scalars(select(OutboxMessage)))
        db.engine.dispose()
    finally:
        logs = {p.log.name: p.output() for p in procs}
        for p in procs:
            p.stop()
    assert sorted(f.id for f in flags) == sorted(accepted) and len(set(accepted)) == 15, logs
    assert len({f.query for f in flags}) == 15
    assert len(outbox) == 15 and all(m.status == "sent" and m.attempts == 1 for m in outbox)
    ids = [m["Message-ID"] for m in inbox.messages]
    assert len(ids) == 15 and len(set(ids)) == 15, logs
    subjects = {m["Subject"] for m in inbox.messages}
    assert all(any(f"#{flag}" in subj for subj in subjects) for flag in accepted)
