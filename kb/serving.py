"""``kb serve`` in production: gunicorn, preloaded, with a worker that buffers requests.

The master loads the models and the index once (``preload_app``), then forks
``KB_WORKERS`` workers that share those pages; each worker makes its own
threads, locks and database connections (``KB.after_fork``). SIGHUP replaces
the workers gracefully, SIGTERM lets requests in progress finish
(``KB_GRACEFUL_TIMEOUT``).

``BufferingThreadWorker``: gunicorn's threaded worker gives a connection a
thread as soon as it is accepted, so clients that open connections and send
their headers slowly (or never) hold every thread and block everyone else. Here
a connection waits in the worker's event loop, holding no thread, until its
headers and (small) body have arrived, looked at without reading them
(``MSG_PEEK``); after ``KB_HEADER_TIMEOUT`` it is closed. What a buffering
reverse proxy does, without depending on one.
"""

from __future__ import annotations

import re
import socket
import time
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

from .core import KB

_HEADERS_END = b"\r\n\r\n"
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d{1,12})[ \t]*\r\n", re.IGNORECASE)
#: Larger than any request kb accepts (headers plus KB_MAX_REQUEST_BYTES): what is peeked at once.
PEEK_BYTES = 256 * 1024


def request_complete(data: bytes, limit: int = PEEK_BYTES) -> bool:
    """Whether ``data`` (the start of a connection) holds a whole request, or enough to answer it.

    A request too large to wait for (headers or announced body beyond ``limit``) counts as complete:
    the parser or the app refuses it at once.
    """
    end = data.find(_HEADERS_END)
    if end < 0:
        return len(data) >= limit
    head = data[: end + 2]
    if b"\r\ntransfer-encoding:" in head.lower():
        return True  # chunked: kb's forms never are; the parser reads (and the app limits) it
    match = _CONTENT_LENGTH.search(head + b"\r\n")
    length = int(match.group(1)) if match else 0
    return length + end + 4 > limit or len(data) >= end + 4 + length


class BufferingThreadWorker(ThreadWorker):
    """gthread, where a connection gets a thread only once its request has arrived (see the module)."""

    header_timeout: float = 10.0

    def init_process(self) -> None:
        self.parked: list[Any] = []  # connections with part of a request, re-examined each loop
        super().init_process()

    def enqueue_req(self, conn: Any) -> None:
        if conn.initialized and conn.parser is not None and conn.parser.unreader.buf.getvalue():
            super().enqueue_req(conn)  # the next request is already read ahead: nothing to wait for
            return
        try:
            data = conn.sock.recv(PEEK_BYTES, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            data = None
        except OSError:
            data = b""  # reset: the thread sees it and closes the connection
        if data is not None and (data == b"" or request_complete(data)):
            conn.data_ready, conn.kb_deadline = True, None
            super().enqueue_req(conn)
            return
        self._park(conn, data is None)

    def _park(self, conn: Any, nothing_yet: bool) -> None:
        if getattr(conn, "kb_deadline", None) is None:
            conn.kb_deadline = time.monotonic() + self.header_timeout
        if nothing_yet:
            # Readable once anything arrives: the existing pending path calls enqueue_req again.
            import selectors
            from functools import partial

            conn.timeout = conn.kb_deadline
            conn.sock.setblocking(False)
            if conn.initialized:
                self.keepalived_conns.append(conn)
                self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_client_socket_readable, conn))
            else:
                self.pending_conns.append(conn)
                self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_pending_socket_readable, conn))
            return
        # Part of a request: readable all the time, so it is looked at again each loop, not polled.
        self.parked.append(conn)

    def murder_pending(self) -> None:
        super().murder_pending()
        now, parked, self.parked = time.monotonic(), self.parked, []
        for conn in parked:
            if now > conn.kb_deadline:
                self.nr_conns -= 1
                conn.close()
            else:
                self.enqueue_req(conn)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        # With connections parked, look at them again soon rather than once a second.
        super().wait_for_and_dispatch_events(min(timeout, 0.05) if self.parked else timeout)
        if self.parked:
            self.murder_pending()


class KBApplication(BaseApplication):
    """gunicorn through its Python API, on the Flask app ``kb serve`` already built (and warmed up)."""

    def __init__(self, app: Any, kb: KB, host: str, port: int) -> None:
        self.application, self.kb, self.bind = app, kb, f"{host}:{port}"
        super().__init__()

    def load_config(self) -> None:
        cfg = self.kb.config
        # The workers are forked from this process: they inherit the class's setting.
        BufferingThreadWorker.header_timeout = cfg.header_timeout
        options = {
            "bind": self.bind,
            "workers": cfg.worker_count,
            "threads": cfg.threads,
            "worker_class": BufferingThreadWorker,
            "preload_app": True,
            # gunicorn takes whole seconds
            "timeout": max(1, round(cfg.worker_timeout)),
            "graceful_timeout": max(1, round(cfg.graceful_timeout)),
            "keepalive": max(0, round(cfg.keepalive)),
            "limit_request_line": 8190,
            "accesslog": None,  # kb writes its own, as JSON (kb.web.observe)
            "post_fork": self._post_fork,
            "child_exit": self._child_exit,
            "proc_name": "kb",
            # One per host otherwise (~/.gunicorn/gunicorn.ctl): two replicas on one machine would clash.
            "control_socket_disable": True,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.application

    def _post_fork(self, server: Any, worker: Any) -> None:
        from search import runtime

        self.kb.after_fork()
        runtime.configure(threads=1)  # the parent's setting, made again for this process's own pools

    @staticmethod
    def _child_exit(server: Any, worker: Any) -> None:
        from .metrics import process_exited

        process_exited(worker.pid)


def run(app: Any, kb: KB, host: str, port: int) -> None:
    """Serve until SIGTERM (or SIGINT); SIGHUP replaces the workers."""
    from gunicorn.http import wsgi

    wsgi.SERVER = "kb"  # the Server header says only "kb", as the dev server's does: no version to look up
    KBApplication(app, kb, host, port).run()
