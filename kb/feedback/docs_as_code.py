"""Close flags from the articles repository: ``Resolves-Feedback: 42`` in a commit message."""

from __future__ import annotations

from dataclasses import dataclass

from ..content.gitmeta import ResolvingCommit
from .service import FeedbackService


@dataclass(frozen=True)
class Closure:
    flag_id: int
    commit: str
    outcome: str  # "resolved", or "unrelated": the commit touches no article of the flag's department


def close_from_git(service: FeedbackService, commits: list[ResolvingCommit]) -> list[Closure]:
    """Resolve every open flag the ``commits`` say they resolve and may; flags
    already closed (or unknown) are left out of the answer."""
    out = []
    for commit in commits:
        for flag_id in commit.flag_ids:
            outcome = service.resolve_from_commit(flag_id, commit)
            if outcome != "not-open":
                out.append(Closure(flag_id, commit.commit, outcome))
    return out
