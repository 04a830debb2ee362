"""Keep a loaded Library fresh while the site runs, off the request path.

Department owners edit files and expect to see the change on reload, so the
store re-reads the articles dir when any file changed, looking at most every
``reload_seconds`` (a stat of each file, no parsing). A request never waits for
a reload: it gets the current Library, and the look (and the load, if anything
changed) runs in a background thread, one at a time. Only the very first load,
when there is no Library yet, is made by the caller.

``reload_seconds=0`` (tests) looks on every access, in the accessing thread so
an edit is visible to the next line of the test; even then, while one thread
reloads, every other keeps the old Library without waiting.
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
        self._reloading = threading.Lock()  # held by the one thread that looks and loads
        self._library: Library | None = None
        self._signature: tuple | None = None
        self._checked = 0.0
        self._renderer = ArticleRenderer(self._files.limits.render_seconds)

    @property
    def library(self) -> Library:
        """The current Library, at once; a due look for changes is started, not awaited."""
        lib = self._library
        if lib is None:
            return self.refresh()
        if time.monotonic() - self._checked >= self.reload_seconds and self._reloading.acquire(blocking=False):
            if self.reload_seconds <= 0:
                self._reload_and_release()
            else:
                threading.Thread(target=self._reload_and_release, name="kb-content-reload", daemon=True).start()
        return self._library or lib

    def after_fork(self) -> None:
        """In a forked child: a reload thread of the parent does not exist here, so its lock is made anew."""
        self._reloading = threading.Lock()

    def refresh(self) -> Library:
        """Look for changes now and load them, waiting for a reload under way."""
        with self._reloading:
            self._reload()
        assert self._library is not None
        return self._library

    def _reload_and_release(self) -> None:
        try:
            self._reload()
        finally:
            self._reloading.release()

    def _reload(self) -> None:
        # Called with self._reloading held. The new Library replaces the old one in a
        # single assignment, so readers see one or the other, never a half-built one.
        sig = _signature(self._files)
        if sig != self._signature or self._library is None:
            self._library = load_library(self.root, use_git=self.use_git, renderer=self._renderer,
                                         limits=self._files.limits)
            self._signature = sig
        self._checked = time.monotonic()
