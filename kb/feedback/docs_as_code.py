"""Close flags from the articles repository: ``Resolves-Feedback: 42`` in a commit message."""

from __future__ import annotations

from .service import FeedbackService


def close_from_git(service: FeedbackService, commits: list[tuple[str, str, str, list[int]]]) -> list[int]:
    """Resolve every open flag the ``commits`` (``resolving_commits``) say they resolve;
    returns the ids closed now."""
    closed = []
    for commit, author, message, ids in commits:
        for flag_id in ids:
            if service.resolve_from_commit(flag_id, commit, message, author):
                closed.append(flag_id)
    return closed
