"""Deliver outbox messages through their channels, with retries.

A message is leased before sending (so two workers never send it at once),
marked sent after the receiver accepted it, and retried with exponential
backoff while the receiver is down, for up to MAX_ATTEMPTS tries (about two
days). Each email carries a Message-ID derived from its dedupe key, so even a
worker that dies between "accepted" and "marked sent" produces a duplicate a
mail system can recognise.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select

from .channels import Channels
from .db import Database
from .models import OutboxMessage, utcnow

MAX_ATTEMPTS = 24
BASE_DELAY = 30  # seconds; doubles each try, capped at MAX_DELAY
MAX_DELAY = 3 * 3600
LEASE = timedelta(minutes=2)


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(MAX_DELAY, BASE_DELAY * 2 ** max(0, attempts - 1)))


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    dead: int = 0


def _lease_due(db: Database, t: datetime, limit: int) -> list[int]:
    """Claim up to ``limit`` due messages for LEASE; returns their ids."""
    with db.session() as s:
        due = list(
            s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.status.in_(("pending", "sending")))
                .where(OutboxMessage.next_attempt_at <= t)
                .where(or_(OutboxMessage.leased_until.is_(None), OutboxMessage.leased_until < t))
                .order_by(OutboxMessage.id)
                .limit(limit)
            )
        )
        for m in due:
            m.status, m.leased_until = "sending", t + LEASE
        return [m.id for m in due]


def _failed(m: OutboxMessage, exc: Exception, now: datetime, report: DeliveryReport) -> None:
    m.attempts += 1
    m.last_error = f"{type(exc).__name__}: {exc}"[:1000]
    m.leased_until = None
    if m.attempts >= MAX_ATTEMPTS:
        m.status = "dead"
        report.dead += 1
    else:
        m.status = "pending"
        m.next_attempt_at = now + backoff(m.attempts)
        report.failed += 1


def deliver_due(
    db: Database,
    channels: Channels,
    now: Callable[[], datetime] = utcnow,
    limit: int = 50,
) -> DeliveryReport:
    """Send what is due, each message through the channel its ``kind`` names; returns counts.

    Safe to run from several processes.
    """
    report = DeliveryReport()
    for mid in _lease_due(db, now(), limit):
        with db.session() as s:
            m = s.get(OutboxMessage, mid)
            try:
                channels.send(m)
            except Exception as exc:  # any failure (an unknown channel too): try again later
                _failed(m, exc, now(), report)
                continue
            m.status, m.sent_at, m.leased_until, m.attempts = "sent", now(), None, m.attempts + 1
            report.sent += 1
    return report


def start_worker(
    db: Database, channels: Channels, every: float = 5.0, log: Callable[[str], None] = print
) -> threading.Thread:
    """Deliver in a background thread of the server process (local runs and small sites)."""

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
