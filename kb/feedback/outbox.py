"""Deliver outbox messages: SMTP email and Slack-compatible webhooks, with retries.

A message is leased before sending (so two workers never send it at once),
marked sent after the server accepted it, and retried with exponential
backoff while the server is down, for up to MAX_ATTEMPTS tries (about two
days). Each email carries a Message-ID derived from its dedupe key, so even a
worker that dies between "accepted" and "marked sent" produces a duplicate a
mail system can recognise.
"""

from __future__ import annotations

import json
import smtplib
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy import or_, select

from .db import Database
from .models import OutboxMessage, utcnow

MAX_ATTEMPTS = 24
BASE_DELAY = 30  # seconds; doubles each try, capped at MAX_DELAY
MAX_DELAY = 3 * 3600
LEASE = timedelta(minutes=2)


@dataclass(frozen=True)
class MailSettings:
    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "kb@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(MAX_DELAY, BASE_DELAY * 2 ** max(0, attempts - 1)))


def send_email(settings: MailSettings, msg: OutboxMessage) -> None:
    email = EmailMessage()
    email["From"] = settings.sender
    email["To"] = msg.target
    email["Subject"] = msg.payload.get("subject", "")
    email["Message-ID"] = make_msgid(idstring=msg.dedupe_key.replace("@", "-"), domain="kb.local")
    email.set_content(msg.payload.get("body", ""))
    with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
        if settings.starttls:
            smtp.starttls()
        if settings.username:
            smtp.login(settings.username, settings.password or "")
        smtp.send_message(email)


def send_webhook(msg: OutboxMessage, timeout: float = 10.0) -> None:
    data = json.dumps(msg.payload).encode()
    req = urllib.request.Request(msg.target, data=data, headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (configured URLs only)
        if resp.status >= 300:
            raise OSError(f"webhook answered {resp.status}")


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    dead: int = 0


def deliver_due(
    db: Database,
    mail: MailSettings,
    now: Callable[[], datetime] = utcnow,
    limit: int = 50,
) -> DeliveryReport:
    """Send what is due; returns counts. Safe to run from several processes."""
    report = DeliveryReport()
    t = now()
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
        ids = [m.id for m in due]
    for mid in ids:
        with db.session() as s:
            m = s.get(OutboxMessage, mid)
            try:
                if m.kind == "email":
                    send_email(mail, m)
                elif m.kind == "webhook":
                    send_webhook(m)
                else:
                    raise ValueError(f"unknown outbox kind {m.kind}")
            except Exception as exc:  # any failure: try again later
                m.attempts += 1
                m.last_error = f"{type(exc).__name__}: {exc}"[:1000]
                m.leased_until = None
                if m.attempts >= MAX_ATTEMPTS:
                    m.status = "dead"
                    report.dead += 1
                else:
                    m.status = "pending"
                    m.next_attempt_at = now() + backoff(m.attempts)
                    report.failed += 1
                continue
            m.status, m.sent_at, m.leased_until, m.attempts = "sent", now(), None, m.attempts + 1
            report.sent += 1
    return report


def start_worker(db: Database, mail: MailSettings, every: float = 5.0, log: Callable[[str], None] = print):  # noqa: ANN201
    """Deliver in a background thread of the server process (local runs and small sites)."""
    import threading
    import time

    def loop() -> None:
        while True:
            try:
                report = deliver_due(db, mail)
                if report.sent or report.dead:
                    log(f"notifications: sent {report.sent}, gave up {report.dead}")
            except Exception as exc:  # the database may be briefly unavailable; keep going
                log(f"notifications: {exc}")
            time.sleep(every)

    thread = threading.Thread(target=loop, name="kb-outbox", daemon=True)
    thread.start()
    return thread
