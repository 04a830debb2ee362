"""Where one search's time goes, stage by stage: plain data, filled as the search runs.

``search/`` knows no metrics library: the caller gives ``SearchService`` an
``on_timings`` hook and turns each search's ``Timings`` into whatever it
keeps (kb: a Prometheus histogram). Only ``time.perf_counter`` is called, a
dozen times per search, so timing every search costs microseconds.

The stages (``STAGES``) are the work of ``Searcher.retrieve`` and the
service's hits. The query encoders run in threads while the keyword
retriever runs, so the stages overlap: their sum is more than the search's
wall time.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import TypeVar

T = TypeVar("T")

#: Every stage a search may report (``embed:<model>`` once per model that read the query).
STAGES = ("analyze", "keyword", "embed:<model>", "vectors", "bridge", "fuse", "answer", "spelling", "snippets")


class Timings:
    """Seconds per stage of one search, summed when a stage runs twice (a spelling correction
    is searched too)."""

    __slots__ = ("seconds",)

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    def stage(self, name: str) -> _Stage:
        """``with timings.stage("keyword"): ...`` adds the block's time to ``name``."""
        return _Stage(self, name)


class _Stage:
    __slots__ = ("name", "started", "timings")

    def __init__(self, timings: Timings, name: str) -> None:
        self.timings, self.name, self.started = timings, name, 0.0

    def __enter__(self) -> None:
        self.started = perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.timings.add(self.name, perf_counter() - self.started)


def timed(fn: Callable[..., T], *args: object) -> tuple[T, float]:
    """``fn(*args)`` and the seconds it took (for work done in another thread)."""
    started = perf_counter()
    out = fn(*args)
    return out, perf_counter() - started
