"""A time limit on pure-Python work in the current thread (rendering untrusted Markdown).

Python-Markdown is quadratic on some inputs (a paragraph of 4,000 unmatched ``[``
takes seconds, 10,000 ``[^`` most of a minute), and capping every such pattern
is whack-a-mole. Instead the renderer runs under a deadline: a timer raises
``TimeLimitError`` in the rendering thread, which Python delivers at the next
bytecode, so a slow render stops within milliseconds of its budget. Work inside
a single C call (one regex match) is not interrupted; the content layer's own
patterns are linear (see ``scan.py``).
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class TimeLimitError(Exception):
    """The work did not finish within its time limit."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"took longer than {seconds:g} s")
        self.seconds = seconds


def _raise_in(thread_id: int, exc_type: type[BaseException] | None) -> None:
    # None clears an exception that was set but not yet delivered.
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                               ctypes.py_object(exc_type) if exc_type else None)


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise ``TimeLimitError`` in this thread if the block runs longer than ``seconds``.

    ``None`` or a value <= 0 means no limit.
    """
    if not seconds or seconds <= 0:
        yield
        return
    thread_id = threading.get_ident()
    lock = threading.Lock()
    # "armed" once this thread is inside the try below: an exception raised any earlier
    # (while Timer.start() waits for its thread) would escape the conversion.
    state = {"armed": False, "fired": False, "done": False}

    def fire() -> None:
        with lock:
            if not state["done"]:
                state["fired"] = True
                if state["armed"]:
                    _raise_in(thread_id, _Expired)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        try:
            with lock:
                state["armed"] = True
                if state["fired"]:
                    raise _Expired
            yield
        finally:
            with lock:
                state["done"] = True
                if state["fired"]:
                    _raise_in(thread_id, None)  # fired as the block ended: never deliver it later
            timer.cancel()
    except _Expired:
        # Wherever it landed (the block, or the clean-up above), it means the time ran out.
        raise TimeLimitError(seconds) from None


class _Expired(BaseException):
    # A BaseException, so the timed code's own ``except Exception`` cannot swallow it.
    pass
