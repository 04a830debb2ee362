"""``kb serve``: bring the index up to date, then serve the site.

Dev mode (``KB_DEV=1``, ``make run``): Werkzeug's server in one process, with the
article watcher and the outbox in its threads. Production: gunicorn (``kb.serving``),
the models and the index loaded once before the workers fork; background jobs run
in ``kb worker`` (or in one started beside the server with ``--with-worker``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
from flask import Flask
from werkzeug.serving import WSGIRequestHandler

from search import runtime
from search.build import IndexBusyError
from search.layout import IndexLayout

from .. import create_app
from ..config import ConfigError
from ..core import KB
from ..feedback import SchemaOutdatedError
from .common import Progress, articles_option, make_kb


class QuietRequestHandler(WSGIRequestHandler):
    """The built-in server without its ``Server: Werkzeug/… Python/…`` banner: it says only "kb"."""

    def version_string(self) -> str:
        return "kb"


def _log(message: str) -> None:
    click.echo(f"kb: {message}")


def _metrics_dir() -> None:
    """Prometheus's multiprocess files, shared by the workers: before anything imports prometheus_client."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    path = tempfile.mkdtemp(prefix="kb-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    _at_master_exit(lambda: shutil.rmtree(path, ignore_errors=True))


def _start_worker(articles: Path | None, command: tuple[str, ...] = ("worker",)) -> subprocess.Popen:
    """``--with-worker``: a ``kb worker`` process beside the server (or another ``command``), stopped with it."""
    args = [sys.executable, "-m", "kb", *command, *(["--articles", str(articles)] if articles else [])]
    proc = subprocess.Popen(args)

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()

    _at_master_exit(stop)
    return proc


def _at_master_exit(action) -> None:  # noqa: ANN001
    """At the exit of this process only: forked workers inherit atexit handlers and run them too."""
    master = os.getpid()
    atexit.register(lambda: action() if os.getpid() == master else None)


@click.command()
@articles_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--dev/--no-dev", default=None, help="Dev mode (default: KB_DEV).")
@click.option("--watch/--no-watch", default=None, help="Reindex when articles change (default: on in dev mode).")
@click.option("--with-worker", is_flag=True, help="Production: also run `kb worker` (one-box installs).")
def serve(articles: Path | None, host: str, port: int, dev: bool | None, watch: bool | None, with_worker: bool) -> None:
    """Serve the site."""
    kb = make_kb(articles, dev=dev)
    production = not kb.config.dev
    if production:
        _metrics_dir()
    runtime.configure(threads=1)  # queries are one short vector each: a second thread costs more than it saves
    try:
        app = create_app(kb)
    except (SchemaOutdatedError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    _log(f"{len(kb.library.articles)} articles from {kb.config.articles_dir}")
    # Requests never build: the index is brought up to date here, before serving,
    # and afterwards by `kb index`, `kb worker` or the watcher below, or taken from a publisher.
    following = kb.config.index_follow is not None
    if following:
        _follow_first(kb)
    else:
        _bring_index_up_to_date(kb)
    kb.warm_up()
    if following:
        # A process of its own, not a thread: threads do not survive gunicorn's fork, and it needs no models.
        _start_worker(articles, ("index", "--follow", str(kb.config.index_follow),
                                 "--index", str(kb.config.resolved_index_dir)))
        _log(f"following the builds published in {kb.config.index_follow}")
    if production:
        _serve_production(app, kb, articles, host, port, with_worker, watch)
        return
    if not following and (watch if watch is not None else kb.config.dev):
        kb.watch_articles(log=_log)
        _log("watching the articles dir; edits are reindexed within seconds")
    kb.start_outbox_worker(log=_log)
    kb.start_insights_pruner(log=_log)
    _log(f"serving on http://{host}:{port}/  (Ctrl-C to stop)")
    from werkzeug.serving import run_simple

    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False,
               request_handler=QuietRequestHandler)


def _follow_first(kb: KB, every: float = 1.0) -> None:
    """With KB_INDEX_FOLLOW: serve the published build, never one built here (waiting for the first, if need be)."""
    from search.publish import follow_once
    from search.shipping import ShippingError

    waited = False
    while True:
        try:
            follow_once(kb.config.index_follow, kb.config.resolved_index_dir)
        except (ShippingError, OSError) as exc:
            _log(f"following {kb.config.index_follow} failed: {exc}")
        build = kb.index.layout.current()
        if build is not None:
            _log(f"search index: published build {build.dir.name}")
            return
        if not waited:
            _log(f"waiting for a build to be published in {kb.config.index_follow} (kb worker --publish)")
            waited = True
        time.sleep(every)


def _bring_index_up_to_date(kb: KB) -> None:
    """Build what changed; when another process (a replica starting beside this one, `kb worker`) is
    building the same index, serve its current build: the running one switches to the new one itself."""
    try:
        with Progress() as progress:
            report = kb.build_index(progress=progress)
    except IndexBusyError as exc:
        if IndexLayout(kb.config.resolved_index_dir).current() is None:
            raise click.ClickException(f"{exc}; no build to serve yet: start again when it is done") from None
        _log(f"{exc}: serving the current build, and the new one when it is switched in")
        return
    _log(f"search index {report.mode} ({report.articles} articles, {report.seconds:.1f}s)")


def _serve_production(app: Flask, kb: KB, articles: Path | None, host: str, port: int,
                      with_worker: bool, watch: bool | None) -> None:
    from ..logs import configure_json_logging
    from ..serving import run

    configure_json_logging()
    if watch:
        _log("--watch is for dev mode; in production `kb worker` reindexes when the articles change")
    if with_worker:
        _start_worker(articles)
        _log("started kb worker: notifications, daily jobs, index refresh")
    else:
        _log("notifications are sent by `kb worker` (or use --with-worker)")
    cfg = kb.config
    if cfg.worker_count > 1 and cfg.ratelimit_storage.startswith("memory://"):
        _log("rate limits are counted per worker process with KB_RATELIMIT_STORAGE=memory://: use redis://")
    _log(f"serving on http://{host}:{port}/ with {cfg.worker_count} workers x {cfg.threads} threads "
         "(SIGHUP: reload workers, SIGTERM: stop)")
    # Nothing of ours runs in a thread yet: threads do not survive the fork into the workers.
    run(app, kb, host, port)
