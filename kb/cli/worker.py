"""``kb worker``: notifications, daily jobs and index refresh, apart from the web processes."""

from __future__ import annotations

import signal
from pathlib import Path

import click

from search import runtime

from ..config import ConfigError
from ..feedback import SchemaOutdatedError
from ..worker import Worker
from .common import articles_option, make_kb


def _say(message: str) -> None:
    click.echo(f"kb worker: {message}")


@click.command()
@articles_option
@click.option("--index/--no-index", "index", default=True, show_default=True,
              help="Rebuild the search index when the articles change (one worker is enough).")
@click.option("--publish", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Publish each new build into this shared directory for `kb serve`s that follow it "
                   "(default: KB_INDEX_PUBLISH).")
@click.option("--every", default=0.5, show_default=True, type=float,
              help="Seconds between rounds when idle (an edit waits at most this long to be seen).")
def worker(articles: Path | None, index: bool, publish: Path | None, every: float) -> None:
    """Deliver notifications, run the daily jobs, keep the index up to date (any number may run)."""
    kb = make_kb(articles, index_publish=publish)
    try:
        kb.check_schema()
    except (SchemaOutdatedError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    if index:
        runtime.configure(threads=2)  # a build embeds in batches: both cores help
    job = Worker(kb, index=index, say=_say)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: job.stop.set())
    published = f", publishing into {kb.config.index_publish}" if index and kb.config.index_publish else ""
    _say(f"ready ({job.owner}); index refresh {'on' if index else 'off'}{published}")
    job.run(every=every)
    _say("stopped")
