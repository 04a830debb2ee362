"""``kb db upgrade`` and ``kb outbox deliver``: the feedback database and its notifications."""

from __future__ import annotations

import time
from pathlib import Path

import click
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError

from ..feedback.db import current_revision, head_revision, upgrade
from .common import make_kb


@click.group()
def db() -> None:
    """The feedback database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the current version."""
    kb = make_kb()
    where = kb.db.engine.url.render_as_string(hide_password=True)
    try:
        upgrade(kb.db.url)
    except OperationalError as exc:
        raise click.ClickException(f"cannot open the database at {where}: {exc.orig}{_hint(kb.db.engine.url)}") from None
    click.echo(f"Database at {where} is at schema {current_revision(kb.db.engine)} (head {head_revision()})")


def _hint(url: URL) -> str:
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).parent.is_dir():
        return f" (the directory {Path(url.database).parent} does not exist; create it or set KB_DATABASE_URL)"
    return " (check KB_DATABASE_URL and that the server is running)"


@click.group()
def outbox() -> None:
    """Notifications waiting to be sent."""


@outbox.command("deliver")
@click.option("--watch", is_flag=True, help="Keep delivering every few seconds.")
def outbox_deliver(watch: bool) -> None:
    """Send due emails and webhooks (retrying failures with backoff)."""
    kb = make_kb()
    while True:
        report = kb.deliver_outbox()
        if report.sent or report.failed or report.dead or not watch:
            click.echo(f"sent {report.sent}, will retry {report.failed}, gave up {report.dead}")
        if not watch:
            return
        time.sleep(5)


@outbox.command("digest")
def outbox_digest() -> None:
    """Queue today's overdue digest for each department's owners (for cron; a second run the same day sends nothing)."""
    kb = make_kb()
    report = kb.feedback.queue_digests()
    click.echo(f"digests queued: {len(report.sent)} ({', '.join(report.sent) or 'none'}); "
               f"already sent today: {len(report.already)}; nothing to report: {len(report.quiet)}")
    delivered = kb.deliver_outbox()
    click.echo(f"sent {delivered.sent}, will retry {delivered.failed}, gave up {delivered.dead}")
