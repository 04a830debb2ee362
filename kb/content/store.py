"""Keep a loaded Library fresh while the site runs.

Department owners edit files and expect to see the change on reload, so the
store re-reads the articles dir when any file changed, looking at most every
``reload_seconds`` (a stat of each file, no parsing) so requests stay cheap.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from .files import ContentFiles, Limits
from .library import Library
from .loader import ArticleRenderer, load_library


def _signature(files: ContentFiles) -> tuple:
    """Every file a load reads, links leading outside included (judged by the link
    itself), so adding or fixing one is noticed without looking outside."""
    root = files.root
    found, outside = files.walk()
    paths = [*found, *(root / p.file for p in outside), root / "departments.yml", root / "synonyms.yml"]
    return tuple(e for e in map(files.signature_entry, paths) if e is not None)


class ContentStore:
    def __init__(self, root: Path, *, reload_seconds: float = 2.0, use_git: bool = True,
                 limits: Limits | None = None) -> None:
        self.root = Path(root)
        self._files = ContentFiles(self.root, limits)
        self.reload_seconds = reload_seconds
        self.use_git = use_git
        self._lock = threading.Lock()
        self._library: Library | None = None
        self._signature: tuple | None = None
        self._checked = 0.0
        self._renderer = ArticleRenderer()

    @property
    def library(self) -> Library:
        now = time.monotonic()
        if self._library is not None and now - self._checked < self.reload_seconds:
            return self._library
        with self._lock:
            if self._library is None or time.monotonic() - self._checked >= self.reload_seconds:
                sig = _signature(self._files)
                if sig != self._signature or self._library is None:
                    self._library = load_library(self.root, use_git=self.use_git, renderer=self._renderer,
                                                 limits=self._files.limits)
                    self._signature = sig
                self._checked = time.monotonic()
        return self._library
