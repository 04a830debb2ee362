"""``kb serve``: bring the index up to date, then serve the site."""

from __future__ import annotations

from pathlib import Path

import click
from werkzeug.serving import WSGIRequestHandler

from search import runtime

from .. import create_app
from ..config import ConfigError
from ..feedback import SchemaOutdatedError
from .common import Progress, articles_option, make_kb


class QuietRequestHandler(WSGIRequestHandler):
    """The built-in server without its ``Server: Werkzeug/… Python/…`` banner: it says only "kb"."""

    def version_string(self) -> str:
        return "kb"


def _log(message: str) -> None:
    click.echo(f"kb: {message}")


@click.command()
@articles_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--dev/--no-dev", default=None, help="Dev mode (default: KB_DEV).")
@click.option("--watch/--no-watch", default=None, help="Reindex when articles change (default: on in dev mode).")
def serve(articles: Path | None, host: str, port: int, dev: bool | None, watch: bool | None) -> None:
    """Serve the site."""
    kb = make_kb(articles, dev=dev)
    runtime.configure(threads=1)  # queries are one short vector each: a second thread costs more than it saves
    try:
        app = create_app(kb)
    except (SchemaOutdatedError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    _log(f"{len(kb.library.articles)} articles from {kb.config.articles_dir}")
    # Requests never build: the index is brought up to date here, before serving,
    # and afterwards by `kb index` or the watcher below.
    with Progress() as progress:
        report = kb.build_index(progress=progress)
    _log(f"search index {report.mode} ({report.articles} articles, {report.seconds:.1f}s)")
    kb.warm_up()
    if watch if watch is not None else kb.config.dev:
        kb.watch_articles(log=_log)
        _log("watching the articles dir; edits are reindexed within seconds")
    kb.start_outbox_worker(log=_log)
    kb.start_insights_pruner(log=_log)
    _log(f"serving on http://{host}:{port}/  (Ctrl-C to stop)")
    from werkzeug.serving import run_simple

    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False,
               request_handler=QuietRequestHandler)
