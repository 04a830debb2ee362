"""Several `kb worker` processes on one database, a slow real SMTP receiver: each message exactly once."""

from __future__ import annotations

import asyncio
import email
import os
import subprocess
import sys
import time
from collections import Counter

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from kb.config import PROJECT_ROOT, Config
from kb.feedback import EmailChannel
from kb.feedback.channels import Channels
from kb.feedback.models import OutboxMessage
from kb.feedback.outbox import claim_next, deliver_due, worker_id

from .test_feedback_outbox import free_port


class SlowInbox:
    """Takes ``delay`` seconds to accept each message, like a busy relay."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's API)
        await asyncio.sleep(self.delay)
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def slow_smtp(request):
    inbox = SlowInbox(getattr(request, "param", 0.05))
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, inbox
    controller.stop()


def queue(db, n: int) -> None:
    with db.session() as s:
        s.add_all(OutboxMessage(kind="email", target=f"person{i}@x.example", dedupe_key=f"test-{i}",
                                payload={"subject": f"Message {i}", "body": "Hello"}) for i in range(n))


def start_workers(n: int, database_url: str, smtp_port: int, **env: str) -> list[subprocess.Popen]:
    environ = {**os.environ, "KB_DATABASE_URL": database_url, "KB_SMTP_HOST": "127.0.0.1",
               "KB_SMTP_PORT": str(smtp_port), "KB_SMTP_FROM": "kb@x.example", "PYTHONPATH": str(PROJECT_ROOT), **env}
    return [subprocess.Popen([sys.executable, "-m", "kb", "worker", "--no-index", "--every", "0.2"], env=environ,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=PROJECT_ROOT)
            for _ in range(n)]


def stop(workers: list[subprocess.Popen]) -> str:
    for w in workers:
        w.terminate()
    return "".join(w.communicate(timeout=30)[0] for w in workers)


def wait_until_sent(db, n: int, inbox: SlowInbox, workers, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.session() as s:
            sent = s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "sent"))
        if sent == n and len(inbox.messages) >= n:
            return
        assert all(w.poll() is None for w in workers), stop(workers)
        time.sleep(0.2)
    pytest.fail(f"only {sent} of {n} sent in {timeout}s:\n{stop(workers)}")


def test_four_workers_started_at_once_send_each_message_exactly_once(db, database_url, slow_smtp):
    port, inbox = slow_smtp
    queue(db, 100)
    workers = start_workers(4, database_url, port)
    try:
        wait_until_sent(db, 100, inbox, workers, timeout=60)
        time.sleep(1.0)  # time for any second copy to arrive
    finally:
        output = stop(workers)
    ids = Counter(m["Message-ID"] for m in inbox.messages)
    assert len(inbox.messages) == 100, output
    assert len(ids) == 100 and set(ids.values()) == {1}
    assert {m["To"] for m in inbox.messages} == {f"person{i}@x.example" for i in range(100)}
    with db.session() as s:
        rows = list(s.scalars(select(OutboxMessage)))
    assert all(r.status == "sent" and r.attempts == 1 and r.lease_owner is None for r in rows)
    # The work was shared: more than one worker sent something.
    assert sum("notifications: sent" in line for line in output.splitlines()) >= 2, output


@pytest.mark.parametrize("slow_smtp", [2.5], indirect=True)
def test_a_lease_shorter_than_a_slow_send_is_renewed_not_taken_over(db, database_url, slow_smtp):
    port, inbox = slow_smtp
    queue(db, 4)
    # A 1-second lease and a relay taking 2.5 s per message: without renewal the other worker
    # would take each message over mid-send and send a second copy.
    workers = start_workers(2, database_url, port, KB_OUTBOX_LEASE="1")
    try:
        wait_until_sent(db, 4, inbox, workers, timeout=40)
        time.sleep(2.0)
    finally:
        output = stop(workers)
    assert sorted(m["To"] for m in inbox.messages) == [f"person{i}@x.example" for i in range(4)], output


def test_a_claim_is_atomic_and_the_lease_owner_only_settles(db):
    from datetime import timedelta

    from kb.feedback.models import utcnow

    queue(db, 1)
    t = utcnow()
    first = claim_next(db, t, timedelta(seconds=60), "a")
    assert first is not None
    assert claim_next(db, t, timedelta(seconds=60), "b") is None  # leased: nobody else gets it
    assert claim_next(db, t + timedelta(seconds=61), timedelta(seconds=60), "b") == first  # expired: taken over
    with db.session() as s:
        assert s.get(OutboxMessage, first).lease_owner == "b"


def test_every_attempt_of_a_message_has_the_same_message_id(db, slow_smtp):
    port, inbox = slow_smtp
    queue(db, 1)
    channel = EmailChannel(Config(smtp_host="127.0.0.1", smtp_port=port, smtp_from="kb@x.example"))
    with db.session() as s:
        message = s.scalar(select(OutboxMessage))
    channel.send(message)
    channel.send(message)  # a retry after a crash between "accepted" and "marked sent"
    first, second = inbox.messages
    assert first["Message-ID"] == second["Message-ID"] and first["Message-ID"].endswith("@kb.local>")
    # And through the outbox: one more send gives the same id again.
    assert deliver_due(db, Channels([channel]), owner=worker_id()).sent == 1
    assert inbox.messages[2]["Message-ID"] == first["Message-ID"]
