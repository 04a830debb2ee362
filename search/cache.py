"""A small least-recently-used cache of search pages, dropped whole when the index changes.

Searches repeat: the same top questions come back all day, a reader pages back and forth,
and the results page and the API ask the same thing. Ranking a query costs two model
encodings, a keyword search, fusion and snippets; a repeat costs a dictionary look-up.
Entries belong to one build: a new Searcher (a new build switched in) empties the cache,
so a cached page never outlives the index it came from. One cache per process (each
worker has its own), guarded by a lock because request threads share it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["PageCache"]

V = TypeVar("V")


class PageCache(Generic[V]):
    """Up to ``size`` values for one owner (the live Searcher); ``size`` 0 caches nothing."""

    def __init__(self, size: int) -> None:
        self.size = max(0, size)
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._owner: object | None = None
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, owner: object, key: Hashable, make: Callable[[], V]) -> V:
        """The value for ``key`` made under ``owner``, made (outside the lock) when missing."""
        if not self.size:
            return make()
        with self._lock:
            if owner is not self._owner:
                self._items.clear()
                self._owner = owner
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
            self.misses += 1
        value = make()  # two threads may both make a missing page: cheaper than holding the lock
        with self._lock:
            if owner is self._owner:
                self._items[key] = value
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)
