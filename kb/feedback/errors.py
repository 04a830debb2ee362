"""Errors of the feedback service, each with a stable machine ``code``.

Callers never show ``str(exc)`` to readers: the English text is for logs and
the CLI. The web layer maps ``code`` (and ``params``) to a translated message.
"""

from __future__ import annotations

from typing import Any


class FeedbackError(Exception):
    """Base of the errors a caller turns into a message (web) or exit code (CLI)."""

    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


class InvalidInputError(FeedbackError):
    """Codes: reason_required, bad_reason, comment_too_long, choose_department, empty_gap, note_required."""


class PermissionDeniedError(FeedbackError):
    """Code: forbidden."""


class NotFoundError(FeedbackError):
    """Code: not_found."""


class InvalidTransitionError(FeedbackError):
    """Codes: unknown_action, bad_transition."""
