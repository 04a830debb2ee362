"""Delivery made visible: each notification's state, the undelivered list, "retry now".

A mixin of ``FeedbackService``: owners see the deliveries of the flags they
triage; only admins see every undelivered message and push one to be retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import NotFoundError, PermissionDeniedError
from .identity import Person
from .models import OutboxMessage
from .rules import valid_id

#: The states a person reads, in the order a message goes through them.
DELIVERY_STATES = ("pending", "retrying", "sent", "given_up")


@dataclass(frozen=True)
class Delivery:
    """One notification as the flag page and /admin/outbox show it."""

    id: int
    kind: str  # the channel: email, webhook
    target: str
    subject: str
    state: str  # one of DELIVERY_STATES
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    flag_id: int | None


def delivery_state(m: OutboxMessage) -> str:
    if m.status == "sent":
        return "sent"
    if m.status == "dead":
        return "given_up"
    return "retrying" if m.attempts else "pending"  # "sending" is a lease, not a state anyone acts on


def as_delivery(m: OutboxMessage) -> Delivery:
    payload = m.payload or {}
    subject = payload.get("subject") or (payload.get("text") or "").split("\n", 1)[0]
    return Delivery(
        id=m.id, kind=m.kind, target=m.target, subject=subject[:200], state=delivery_state(m), attempts=m.attempts,
        last_error=m.last_error, created_at=m.created_at, next_attempt_at=m.next_attempt_at, sent_at=m.sent_at,
        flag_id=m.flag_id,
    )


class DeliveryMixin:
    """Mixed into FeedbackService."""

    def _deliveries(self, s: Session, flag_id: int) -> tuple[Delivery, ...]:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.flag_id == flag_id).order_by(OutboxMessage.id))
        return tuple(as_delivery(m) for m in rows)

    def undelivered(self, actor: Person, limit: int = 500) -> list[Delivery]:
        """Every message not sent yet (pending, retrying, given up), oldest first: admins only."""
        self._require_admin(actor)
        with self.db.session() as s:
            rows = s.scalars(select(OutboxMessage).where(OutboxMessage.status != "sent")
                             .order_by(OutboxMessage.id).limit(limit))
            return [as_delivery(m) for m in rows]

    def retry_now(self, actor: Person, message_id: int) -> Delivery:
        """Make an undelivered message due at once (a given-up one gets one more try): admins only."""
        self._require_admin(actor)
        with self.db.session() as s:
            m = s.get(OutboxMessage, message_id) if valid_id(message_id) else None
            if m is None or m.status == "sent":
                raise NotFoundError("not_found", f"no undelivered message {message_id}", id=message_id)
            if m.status == "dead":
                m.attempts = max(0, m.attempts - 1)  # one more try before it gives up again
            m.status, m.next_attempt_at, m.leased_until = "pending", self.now(), None
            s.flush()
            return as_delivery(m)

    @staticmethod
    def _require_admin(actor: Person) -> None:
        if not actor.is_admin:
            raise PermissionDeniedError("forbidden", "the outbox is for admins")
