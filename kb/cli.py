"""The ``kb`` command: serve the site, check articles (and, later, index and search)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import click

from .config import Config, ConfigError


def _config(articles: Path | None = None, index: Path | None = None) -> Config:
    try:
        config = Config.from_env()
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    changes = {}
    if articles is not None:
        changes["articles_dir"] = articles
    if index is not None:
        changes["index_dir"] = index
    return config.with_(**changes) if changes else config


articles_option = click.option(
    "--articles",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Articles directory (default: KB_ARTICLES_DIR or the bundled articles).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kb")
def main() -> None:
    """kb: the employee knowledge base."""


@main.command()
@articles_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--dev/--no-dev", default=None, help="Dev mode (default: KB_DEV).")
def serve(articles: Path | None, host: str, port: int, dev: bool | None) -> None:
    """Serve the site."""
    from . import create_app

    config = _config(articles)
    if dev is not None:
        config = config.with_(dev=dev)
    app = create_app(config)
    lib = app.extensions["kb_content"].library
    click.echo(f"kb: {len(lib.articles)} articles from {config.articles_dir}")
    click.echo(f"kb: serving on http://{host}:{port}/  (Ctrl-C to stop)")
    from werkzeug.serving import run_simple

    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)


@main.command()
@articles_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document for machines.")
@click.option("--quiet", "-q", is_flag=True, help="Print errors only (and the summary).")
def check(articles: Path | None, as_json: bool, quiet: bool) -> None:
    """Validate articles and departments.yml.

    Exit status: 0 when there are no errors (warnings are allowed), 1 otherwise.
    """
    from .content import check_library, load_library

    config = _config(articles)
    root = Path(config.articles_dir)
    if not root.is_dir():
        raise click.UsageError(f"articles directory not found: {root}")
    lib = load_library(root)
    problems = check_library(lib, date.today(), config.default_review_days)
    counts = Counter(p.severity for p in problems)
    if as_json:
        json.dump(
            {
                "articles_dir": str(root),
                "articles": len(lib.articles),
                "errors": counts["error"],
                "warnings": counts["warning"],
                "problems": [p.as_dict() for p in problems],
            },
            sys.stdout,
            ensure_ascii=False,
            indent=2,
        )
        sys.stdout.write("\n")
    else:
        prefix = _display_prefix(root)
        for p in problems:
            if quiet and p.severity != "error":
                continue
            line = p.format(prefix)
            click.echo(click.style(line, fg="red") if p.severity == "error" else line, color=None)
        click.echo(
            f"{len(lib.articles)} articles, {len(lib.departments)} departments: "
            f"{counts['error']} error(s), {counts['warning']} warning(s)"
        )
    sys.exit(1 if counts["error"] else 0)


def _display_prefix(root: Path) -> str:
    """Show paths as the user can open them: relative to the current dir when possible."""
    try:
        rel = root.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return str(root).rstrip("/") + "/"
    return "" if str(rel) == "." else rel.as_posix() + "/"


if __name__ == "__main__":  # pragma: no cover
    main()
