"""The live Searcher of an index dir: a new one when ``kb index`` switches the build.

A running server needs no restart for a new build: each request asks the handle,
which looks at the index's ``current`` link every ``CHECK_EVERY`` seconds and loads
the new build's Searcher when it changed. Embedding models come from the process's
``EmbedderPool`` and are shared across swaps.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .embedders import EmbedderPool
from .layout import IndexLayout, Manifest
from .searcher import ENCODER_THREADS, IndexMissingError, Searcher


class IndexHandle:
    """The live Searcher for an index dir, replaced whole when a new build appears.

    Owns the threads that encode queries, shared by its Searchers; ``close``
    stops them.
    """

    #: Seconds between looks at ``current`` (a readlink and a stat, done by a request): part of the
    #: time from a build's switch to its first answer.
    CHECK_EVERY = 0.25

    def __init__(self, index_dir: Path, models: EmbedderPool, check_every: float = CHECK_EVERY) -> None:
        self.layout = IndexLayout(Path(index_dir))
        self.index_dir = self.layout.root
        self.models = models
        self.check_every = check_every
        self._searcher: Searcher | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self._encoders = ThreadPoolExecutor(ENCODER_THREADS, thread_name_prefix="kb-encode")

    def get(self) -> Searcher:
        now = time.monotonic()
        if self._searcher is not None and now - self._checked < self.check_every:
            return self._searcher
        with self._lock:
            build = self.layout.current()
            self._checked = time.monotonic()
            if build is None:
                if self._searcher is not None:
                    return self._searcher
                raise IndexMissingError(f"no search index in {self.index_dir}: run `kb index`")
            if self._searcher is None or self._searcher.build != build:
                names = [m.name for m in Manifest.read(build.manifest).models]
                # The old Searcher is dropped, not closed: a request in another
                # thread may still be using it; its files close when it is collected.
                self._searcher = Searcher(build, {n: self.models.get(n) for n in names}, encoders=self._encoders)
            return self._searcher

    def after_fork(self) -> None:
        """In a process forked from one that used this handle (a preloading server's workers).

        Threads do not survive a fork: the encoder threads are made anew (the old pool would
        queue work forever), and so is the lock, which another thread may have held. The loaded
        Searcher stays, so its pages remain shared with the parent.
        """
        self._lock = threading.Lock()
        self._encoders = ThreadPoolExecutor(ENCODER_THREADS, thread_name_prefix="kb-encode")
        if self._searcher is not None:
            self._searcher._encoders = self._encoders

    def close(self) -> None:
        with self._lock:
            if self._searcher is not None:
                self._searcher.close()
                self._searcher = None
        self._encoders.shutdown(wait=False)
