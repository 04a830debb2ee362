"""Deliver outbox messages through their channels, with retries, from any number of workers.

A worker leases one due message at a time in a single atomic statement (on
PostgreSQL the candidate row is picked ``FOR UPDATE SKIP LOCKED``; on SQLite the
conditional ``UPDATE … WHERE status … AND lease expired`` is checked by its row
count), so two workers never hold the same message. While a send is slow the
lease is renewed in the background, so it never expires under a send in
progress; only the lease's owner renews it or marks the message done. Failures
are retried with exponential backoff for up to MAX_ATTEMPTS tries (about two
days). Each email carries one Message-ID derived from its dedupe key for all
its attempts, so even a worker that dies between "accepted" and "marked sent"
produces a duplicate a mail system can recognise.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update

from .channels import Channels
from .db import Database
from .models import OutboxMessage, utcnow

MAX_ATTEMPTS = 24
BASE_DELAY = 30  # seconds; doubles each try, capped at MAX_DELAY
MAX_DELAY = 3 * 3600
LEASE = timedelta(minutes=2)
STATES = ("pending", "sending", "sent", "dead")

log = logging.getLogger("kb.outbox")


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(MAX_DELAY, BASE_DELAY * 2 ** max(0, attempts - 1)))


def worker_id() -> str:
    """Who holds a lease: host and process, plus a random part (pids are reused)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    #: Sent, but the lease had been lost meanwhile (the database was unreachable for longer than a lease).
    lost: int = 0


def _due(t: datetime) -> list[Any]:
    return [
        OutboxMessage.status.in_(("pending", "sending")),
        OutboxMessage.next_attempt_at <= t,
        or_(OutboxMessage.leased_until.is_(None), OutboxMessage.leased_until < t),
    ]


def claim_next(db: Database, t: datetime, lease: timedelta, owner: str) -> int | None:
    """Lease the oldest due message to ``owner`` until ``t + lease``; its id, or None when none is due."""
    pick = select(OutboxMessage.id).where(*_due(t)).order_by(OutboxMessage.id).limit(1)
    if db.engine.dialect.name == "postgresql":
        # Rows other workers are claiming right now are skipped, not waited for.
        pick = pick.with_for_update(skip_locked=True)
    # The due conditions are checked again by the UPDATE itself: on SQLite this one
    # statement is the whole claim, and a row another worker took matches no longer.
    stmt = (
        update(OutboxMessage)
        .where(OutboxMessage.id == pick.scalar_subquery(), *_due(t))
        .values(status="sending", leased_until=t + lease, lease_owner=owner)
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    with db.session() as s:
        claimed = s.execute(stmt).scalars().all()
    return claimed[0] if len(claimed) == 1 else None


def _settle(db: Database, mid: int, owner: str, **values: Any) -> bool:
    """Write the outcome of a send, if ``owner`` still holds the lease."""
    stmt = (
        update(OutboxMessage)
        .where(OutboxMessage.id == mid, OutboxMessage.lease_owner == owner)
        .values(leased_until=None, lease_owner=None, **values)
        .execution_options(synchronize_session=False)
    )
    with db.session() as s:
        return s.execute(stmt).rowcount == 1


class LeaseRenewal:
    """Keeps a lease alive while its message is being sent (a slow mail relay, a slow webhook)."""

    def __init__(self, db: Database, mid: int, owner: str, lease: timedelta, now: Callable[[], datetime]) -> None:
        self.db, self.mid, self.owner, self.lease, self.now = db, mid, owner, lease, now
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kb-outbox-lease", daemon=True)

    def _run(self) -> None:
        # A third of the lease: two renewals may fail (a database hiccup) before it could expire.
        while not self._stop.wait(self.lease.total_seconds() / 3):
            try:
                with self.db.session() as s:
                    s.execute(update(OutboxMessage)
                              .where(OutboxMessage.id == self.mid, OutboxMessage.lease_owner == self.owner)
                              .values(leased_until=self.now() + self.lease)
                              .execution_options(synchronize_session=False))
            except Exception as exc:  # keep trying: the send itself is still under way
                log.warning("outbox: renewing the lease of message %s failed: %s", self.mid, exc)

    def __enter__(self) -> LeaseRenewal:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _failure(m: OutboxMessage, exc: Exception, now: datetime) -> dict[str, Any]:
    attempts = m.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "last_error": f"{type(exc).__name__}: {exc}"[:1000]}
    if attempts >= MAX_ATTEMPTS:
        return {**values, "status": "dead"}
    return {**values, "status": "pending", "next_attempt_at": now + backoff(attempts)}


def deliver_due(
    db: Database,
    channels: Channels,
    now: Callable[[], datetime] = utcnow,
    limit: int = 50,
    lease: timedelta = LEASE,
    owner: str | None = None,
) -> DeliveryReport:
    """Send up to ``limit`` due messages, each through the channel its ``kind`` names; returns counts.

    Safe to run from any number of threads and processes at once.
    """
    owner = owner or worker_id()
    report = DeliveryReport()
    for _ in range(limit):
        mid = claim_next(db, now(), lease, owner)
        if mid is None:
            break
        with db.session() as s:
            m = s.get(OutboxMessage, mid)
        try:
            # No transaction stays open while sending: a send may take as long as the relay likes.
            with LeaseRenewal(db, mid, owner, lease, now):
                channels.send(m)
        except Exception as exc:  # any failure (an unknown channel too): try again later
            values = _failure(m, exc, now())
            if _settle(db, mid, owner, **values):
                report.dead += values["status"] == "dead"
                report.failed += values["status"] == "pending"
            continue
        if _settle(db, mid, owner, status="sent", sent_at=now(), attempts=m.attempts + 1):
            report.sent += 1
        else:
            report.lost += 1
            log.warning("outbox: message %s was sent after its lease was lost", mid)
    return report


def backlog(db: Database) -> dict[str, int]:
    """How many messages are in each state (for /metrics)."""
    from sqlalchemy import func

    with db.session() as s:
        rows = s.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
    counts = dict.fromkeys(STATES, 0)
    counts.update({status: n for status, n in rows})
    return counts


def start_worker(
    db: Database, channels: Channels, every: float = 5.0, log: Callable[[str], None] = print
) -> threading.Thread:
    """Deliver in a background thread of the dev server (production runs ``kb worker``)."""

    def loop() -> None:
        while True:
            try:
                report = deliver_due(db, channels)
                if report.sent or report.dead:
                    log(f"notifications: sent {report.sent}, gave up {report.dead}")
            except Exception as exc:  # the database may be briefly unavailable; keep going
                log(f"notifications: {exc}")
            time.sleep(every)

    thread = threading.Thread(target=loop, name="kb-outbox", daemon=True)
    thread.start()
    return thread
