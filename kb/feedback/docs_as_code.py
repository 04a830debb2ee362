"""Close flags from the articles repository: ``Resolves-Feedback: 42`` in a commit message."""

from __future__ import annotations

from pathlib import Path

from ..content.gitmeta import resolving_commits
from .service import FeedbackService


def close_from_git(service: FeedbackService, articles_dir: Path) -> list[int]:
    """Resolve every open flag a commit says it resolves; returns the ids closed now."""
    closed = []
    for commit, author, message, ids in resolving_commits(articles_dir):
        for flag_id in ids:
            if service.resolve_from_commit(flag_id, commit, message, author):
                closed.append(flag_id)
    return closed
