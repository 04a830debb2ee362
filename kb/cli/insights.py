"""``kb insights``: the /insights figures in the terminal; ``kb insights rollup``: roll up the finished
days; ``kb insights prune``: that, then retention."""

from __future__ import annotations

import json

import click

from ..feedback import Person
from ..insights import SECTIONS, Period
from ..insights.tables import tables_for
from .common import make_kb

#: The terminal reads the database directly, so it sees what an admin sees.
TERMINAL = Person("terminal", is_admin=True)


@click.group(invoke_without_command=True)
@click.option("--department", default=None, help="One department's figures (default: all).")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 3660), help="The last N days.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the same as /api/insights/...).")
@click.pass_context
def insights(ctx: click.Context, department: str | None, days: int, as_json: bool) -> None:
    """Search, helpfulness, service and content figures, as /insights shows them."""
    if ctx.invoked_subcommand is not None:
        return
    kb = make_kb()
    if department and department not in kb.library.departments:
        raise click.BadParameter(f"no department {department!r}", param_hint="--department")
    period = Period.last(days, kb.insights.now().date())
    report = kb.insights.overview(TERMINAL, period, department)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    click.echo(f"Insights {period.start} .. {period.end} (UTC), {department or 'all departments'}")
    for name in SECTIONS:
        for table in tables_for(report[name]):
            if table.chart == "heatmap" or not table.rows:
                continue
            click.echo(f"\n{name}: {table.title}")
            columns = [c for c in table.columns if c.fmt != "gapflag"]
            click.echo("  " + " | ".join(c.label for c in columns))
            for row in table.rows[:10]:
                click.echo("  " + " | ".join(_cell(row, c.key) for c in columns))


def _cell(row: dict, key: str) -> str:
    value = row.get(key)
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@insights.command("prune")
def prune() -> None:
    """Roll up every finished day, then delete raw search and view rows older than KB_LOG_RETENTION_DAYS."""
    kb = make_kb()
    report = kb.insights.prune()
    click.echo(f"rolled up {report.days} days; deleted {report.searches} searches, {report.clicks} clicks and "
               f"{report.views} views from before {report.cutoff:%Y-%m-%d}")


@insights.command("rollup")
def rollup() -> None:
    """Roll up every finished UTC day not rolled up yet (or changed since) into daily figures; deletes nothing."""
    kb = make_kb()
    report = kb.insights.roll_up()
    click.echo(f"rolled up {report.days} days ({report.searches} searches)")


@insights.command("digest")
def digest() -> None:
    """Queue last week's digest email for each department (a department gets one per week)."""
    kb = make_kb()
    click.echo(f"queued {kb.queue_digests()} digest messages (send them with kb outbox deliver)")
