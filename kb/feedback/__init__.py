"""The feedback loop: votes, gap flags, routing, triage, outbox. No web requests here."""

from .channels import Channel, Channels, EmailChannel, Notice, WebhookChannel
from .db import Database, SchemaOutdatedError
from .errors import FeedbackError, InvalidInputError, InvalidTransitionError, NotFoundError, PermissionDeniedError
from .identity import Person
from .rules import COMMENT_MAX, QUERY_MAX, REASONS, Action
from .service import FeedbackService, Receipt
from .views import FlagView

__all__ = [
    "COMMENT_MAX", "QUERY_MAX", "Action", "Channel", "Channels", "Database", "EmailChannel", "FeedbackError",
    "FeedbackService", "FlagView", "InvalidInputError", "InvalidTransitionError", "NotFoundError", "Notice",
    "Person", "PermissionDeniedError", "REASONS", "Receipt", "SchemaOutdatedError", "WebhookChannel",
]
