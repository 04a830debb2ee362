"""Last change (commit, date, author) of every article, from one ``git log``.

One process for the whole tree, not one per file: on a 650-article handbook
that is the difference between a fraction of a second and half a minute.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .models import GitInfo

_RS, _US = "\x1e", "\x1f"


def _git(root: Path, *args: str, timeout: float = 60) -> str | None:
    try:
        proc = subprocess.run(
            ["git", "-c", "core.quotepath=off", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def git_metadata(root: Path) -> dict[str, GitInfo]:
    """Map article path (relative to ``root``) to its last commit; {} without git."""
    out = _git(
        root,
        "log",
        "--relative",
        "--no-renames",
        "--name-only",
        f"--format={_RS}%H{_US}%aI{_US}%an{_US}%ae",
        "--",
        ".",
    )
    if not out:
        return {}
    info: dict[str, GitInfo] = {}
    for record in out.split(_RS):
        if not record.strip():
            continue
        header, _, names = record.partition("\n")
        try:
            commit, when, author, email = header.split(_US)
            date = datetime.fromisoformat(when)
        except ValueError:
            continue
        meta = None
        for name in names.splitlines():
            name = name.strip()
            if name.endswith(".md") and name not in info:
                meta = meta or GitInfo(commit=commit, date=date, author=author, email=email)
                info[name] = meta
    return info


# Leading blanks of the line only: a ``^\s*`` spanned every blank line below each line start (quadratic).
_RESOLVES = re.compile(r"^[^\S\n]*Resolves-Feedback:\s*#?(\d+(?:\s*,\s*#?\d+)*)\s*$", re.I | re.M)


@dataclass(frozen=True)
class ResolvingCommit:
    """A commit whose message says ``Resolves-Feedback: <id>``, with the articles it touched."""

    commit: str
    author: str  # as written in git: anyone can write any name
    message: str
    flag_ids: tuple[int, ...]
    files: frozenset[str]  # paths relative to the articles dir


def resolving_commits(root: Path) -> list[ResolvingCommit]:
    """Commits touching ``root`` whose message says ``Resolves-Feedback: <id>``, oldest first."""
    out = _git(root, "log", "--reverse", "--relative", "--no-renames", "--name-only",
               f"--format={_RS}%H{_US}%an{_US}%B{_US}", "--", ".")
    if not out:
        return []
    found = []
    for record in out.split(_RS):
        if "resolves-feedback" not in record.lower():
            continue
        try:
            commit, author, message, names = record.split(_US, 3)
        except ValueError:
            continue
        ids = tuple(int(x) for m in _RESOLVES.finditer(message) for x in re.findall(r"\d+", m.group(1)))
        if ids:
            files = frozenset(n.strip() for n in names.splitlines() if n.strip())
            found.append(ResolvingCommit(commit.strip(), author, message, ids, files))
    return found
