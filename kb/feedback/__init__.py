"""The feedback loop: votes, gap flags, routing, triage, outbox. No web requests here."""

from .db import Database, SchemaOutdatedError
from .identity import Person
from .service import (
    FeedbackError,
    FeedbackService,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    Receipt,
)

__all__ = [
    "Database", "FeedbackError", "FeedbackService", "InvalidInputError", "InvalidTransitionError",
    "NotFoundError", "Person", "PermissionDeniedError", "Receipt", "SchemaOutdatedError",
]
