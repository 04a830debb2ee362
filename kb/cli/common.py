"""What every command shares: the KB from the environment and options, progress, paths."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ..config import ConfigError
from ..core import KB

articles_option = click.option(
    "--articles",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Articles directory (default: KB_ARTICLES_DIR or the bundled articles).",
)
index_option = click.option(
    "--index",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Index directory (default: KB_INDEX_DIR or a cache dir derived from the articles dir).",
)


def make_kb(articles: Path | None = None, index: Path | None = None, **changes: Any) -> KB:
    """The KB of this command: ``KB_*`` settings, then the command line's options."""
    if articles is not None:
        changes["articles_dir"] = articles
    if index is not None:
        changes["index_dir"] = index
    try:
        return KB.from_overrides(**{k: v for k, v in changes.items() if v is not None})
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


class Progress:
    """A progress bar on stderr for long builds (silent when not a terminal)."""

    def __init__(self) -> None:
        self.bar = None
        self.stage = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(total=total, desc=stage, unit="chunk", file=sys.stderr, leave=False, disable=None)
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def display_prefix(root: Path) -> str:
    """Show paths as the user can open them: relative to the current dir when possible."""
    try:
        rel = root.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return str(root).rstrip("/") + "/"
    return "" if str(rel) == "." else rel.as_posix() + "/"
