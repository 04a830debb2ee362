"""The only way the content layer reads files: inside the articles dir, and not too much.

Articles are untrusted input written by many people. A symlink such as
``people/env.md -> /proc/self/environ`` must not publish the server's
environment, and a 5 GB file must not be read into memory to be rejected, so
every path is resolved (links followed) and checked to stay under the
articles dir before it is opened, and reads stop at a byte cap.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from .models import Problem

OUTSIDE = "outside-articles-dir"
#: Files at the top of an articles dir that describe the repository, not policy.
ROOT_IGNORED = {"readme.md", "source.md", "contributing.md", "license.md", "changelog.md", "code_of_conduct.md"}


@dataclass(frozen=True)
class Limits:
    """Caps on one file: beyond them parsing (and regexes) could take minutes."""

    max_bytes: int = 1_000_000
    max_line_chars: int = 20_000
    #: seconds one article may take to render; longer: reported and skipped
    render_seconds: float = 5.0


def _outside(rel: str, what: str = "file") -> Problem:
    return Problem(rel, None, "error", OUTSIDE,
                   f"this {what} is a link to somewhere outside the articles directory; it was not read "
                   "(copy the content into the articles directory instead)")


class ContentFiles:
    """Lists and reads the files of one articles dir, never anything outside it."""

    def __init__(self, root: Path, limits: Limits | None = None) -> None:
        self.root = Path(root)
        self.real_root = Path(os.path.realpath(self.root))
        self.limits = limits or Limits()

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def inside(self, path: Path) -> bool:
        """Whether ``path``, links resolved, is under the articles dir (it need not exist)."""
        real = Path(os.path.realpath(path))
        return real == self.real_root or self.real_root in real.parents

    def walk(self) -> tuple[list[Path], list[Problem]]:
        """Article files inside the dir, and a problem for each link that leads outside.

        Directory links are not descended into (as ``Path.rglob`` did before):
        one leading outside is reported; one staying inside is listed anyway.
        """
        files: list[Path] = []
        problems: list[Problem] = []
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            here = Path(dirpath)
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for d in dirnames:
                if (here / d).is_symlink() and not self.inside(here / d):
                    problems.append(_outside(self.rel(here / d), "directory"))
            for name in filenames:
                path = here / name
                rel = self.rel(path)
                if not name.endswith(".md") or name.startswith("."):
                    continue
                if "/" not in rel and name.lower() in ROOT_IGNORED:
                    continue
                if not self.inside(path):
                    problems.append(_outside(rel))
                elif path.is_file():
                    files.append(path)
        return sorted(files), problems

    def signature_entry(self, path: Path) -> tuple | None:
        """What says a file changed, without looking outside the dir: a link leading
        out is judged by the link itself (``lstat``), never by its target."""
        try:
            st = path.stat() if self.inside(path) else path.lstat()
        except OSError:
            return None
        return (str(path), st.st_mtime_ns, st.st_size)

    def read_bytes(self, path: Path, problems: list[Problem]) -> bytes | None:
        """The file's bytes, or None with a problem (outside, not a file, too large)."""
        rel = self.rel(path)
        if not self.inside(path):
            problems.append(_outside(rel))
            return None
        cap = self.limits.max_bytes
        try:
            # The resolved path, opened without following a last link, so the file
            # checked is the file read; O_NONBLOCK so a FIFO cannot hang the load.
            fd = os.open(os.path.realpath(path), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as exc:
            problems.append(Problem(rel, None, "error", "unreadable", f"cannot be read: {exc.strerror}"))
            return None
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                problems.append(Problem(rel, None, "error", "not-a-file", "is not a regular file; it was not read"))
                return None
            data = f.read(cap + 1)  # one byte more than allowed tells "too large" without reading the rest
        if len(data) > cap:
            problems.append(Problem(rel, None, "error", "file-too-large",
                                    f"is larger than {cap} bytes (KB_MAX_ARTICLE_BYTES); it was skipped: split it"))
            return None
        return data

    def long_line(self, rel: str, text: str, problems: list[Problem]) -> bool:
        """Report the first line over the length cap; True if there is one."""
        cap = self.limits.max_line_chars
        if len(text) <= cap:
            return False
        for number, line in enumerate(text.split("\n"), 1):
            if len(line) > cap:
                problems.append(Problem(rel, number, "error", "line-too-long",
                                        f"line {number} has {len(line)} characters, more than {cap} "
                                        "(KB_MAX_LINE_CHARS); the file was skipped: break the line"))
                return True
        return False

    def read_text(self, path: Path, problems: list[Problem]) -> str | None:
        """A YAML file's text, with the same checks as an article's; None if unusable."""
        rel = self.rel(path)
        data = self.read_bytes(path, problems)
        if data is None:
            return None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(Problem(rel, None, "error", "encoding", "not valid UTF-8"))
            return None
        return None if self.long_line(rel, text, problems) else text
