"""``kb check``: what department owners must fix, as file:line lines or JSON."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import click

from ..content import Problem
from ..core import KB
from .common import articles_option, display_prefix, make_kb


def _print_json(kb: KB, problems: list[Problem], counts: Counter) -> None:
    json.dump(
        {
            "articles_dir": str(kb.config.articles_dir),
            "articles": len(kb.library.articles),
            "errors": counts["error"],
            "warnings": counts["warning"],
            "problems": [p.as_dict() for p in problems],
        },
        sys.stdout,
        ensure_ascii=False,
        indent=2,
    )
    sys.stdout.write("\n")


def _print_lines(kb: KB, problems: list[Problem], counts: Counter, quiet: bool) -> None:
    prefix = display_prefix(Path(kb.config.articles_dir))
    for p in problems:
        if quiet and p.severity != "error":
            continue
        line = p.format(prefix)
        click.echo(click.style(line, fg="red") if p.severity == "error" else line, color=None)
    lib = kb.library
    click.echo(
        f"{len(lib.articles)} articles, {len(lib.departments)} departments: "
        f"{counts['error']} error(s), {counts['warning']} warning(s)"
    )


@click.command()
@articles_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document for machines.")
@click.option("--quiet", "-q", is_flag=True, help="Print errors only (and the summary).")
def check(articles: Path | None, as_json: bool, quiet: bool) -> None:
    """Validate articles and departments.yml.

    Exit status: 0 when there are no errors (warnings are allowed), 1 otherwise.
    """
    kb = make_kb(articles)
    if not Path(kb.config.articles_dir).is_dir():
        raise click.UsageError(f"articles directory not found: {kb.config.articles_dir}")
    problems = kb.check()
    counts = Counter(p.severity for p in problems)
    if as_json:
        _print_json(kb, problems, counts)
    else:
        _print_lines(kb, problems, counts, quiet)
    sys.exit(1 if counts["error"] else 0)
