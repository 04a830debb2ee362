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
@click.option("--watch/--no-watch", default=None, help="Reindex when articles change (default: on in dev mode).")
def serve(articles: Path | None, host: str, port: int, dev: bool | None, watch: bool | None) -> None:
    """Serve the site."""
    from . import create_app
    from .feedback import SchemaOutdatedError

    config = _config(articles)
    if dev is not None:
        config = config.with_(dev=dev)
    try:
        app = create_app(config)
    except SchemaOutdatedError as exc:
        raise click.ClickException(str(exc)) from None
    lib = app.extensions["kb_content"].library
    click.echo(f"kb: {len(lib.articles)} articles from {config.articles_dir}")
    from . import indexing

    # Requests never build: the index is brought up to date here, before serving,
    # and afterwards by `kb index` or the watcher below.
    progress = _Progress()
    try:
        report = indexing.build(config, library=lib, progress=progress)
    finally:
        progress.close()
    click.echo(f"kb: search index {report.mode} ({report.articles} articles, {report.seconds:.1f}s)")
    app.extensions["kb_search"].get().search("warm up")  # load the models now, not on the first query
    if watch if watch is not None else config.dev:
        indexing.start_watcher(config, app.extensions["kb_content"], log=lambda m: click.echo(f"kb: {m}"))
        click.echo("kb: watching the articles dir; edits are reindexed within seconds")
    from .feedback.outbox import start_worker

    start_worker(app.extensions["kb_db"], app.extensions["kb_feedback"].channels, log=lambda m: click.echo(f"kb: {m}"))
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


index_option = click.option(
    "--index",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Index directory (default: KB_INDEX_DIR or a cache dir derived from the articles dir).",
)


class _Progress:
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


def _ensure_index(config: Config, quiet: bool = False):  # noqa: ANN202
    """Build (or bring up to date) the index, then return a Searcher for it."""
    from . import indexing

    progress = _Progress()
    try:
        report = indexing.build(config, progress=progress)
    finally:
        progress.close()
    if not quiet and report.mode != "unchanged":
        click.echo(f"kb: index {report.mode} ({report.chunks} chunks, {report.seconds:.1f}s)", err=True)
    return indexing.handle(config).get()


@main.command()
@articles_option
@index_option
@click.option("--full", is_flag=True, help="Rebuild everything instead of only what changed.")
def index(articles: Path | None, index: Path | None, full: bool) -> None:
    """Build or update the search index (atomically: the old one serves until done)."""
    from search.build import IndexBusyError

    from . import indexing
    from .content import load_library

    config = _config(articles, index)
    lib = load_library(Path(config.articles_dir))
    errors = [p for p in lib.problems if p.severity == "error"]
    if errors:
        click.echo(f"kb: {len(errors)} article problem(s); run `kb check` for details (the rest is indexed)", err=True)
    progress = _Progress()
    try:
        report = indexing.build(config, library=lib, full=full, progress=progress)
    except IndexBusyError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        progress.close()
    _close_resolved_flags(config)
    if report.mode == "unchanged":
        click.echo(f"Index is up to date ({report.articles} articles) at {config.resolved_index_dir}")
        return
    embedded = ", ".join(f"{n}: {c}" for n, c in report.embedded.items())
    click.echo(
        f"Index {report.mode}: {report.articles} articles, {report.chunks} chunks "
        f"(+{len(report.added)} ~{len(report.changed)} -{len(report.removed)} articles; embedded {embedded}) "
        f"in {report.seconds:.1f}s at {config.resolved_index_dir}"
    )


def _close_resolved_flags(config: Config) -> None:
    """Docs-as-code: commits with ``Resolves-Feedback: <id>`` resolve those flags."""
    from .content import load_library
    from .content.urls import SiteUrls
    from .feedback import Channels, FeedbackService
    from .feedback.db import check_schema
    from .feedback.docs_as_code import close_from_git

    database = _database(config)
    try:
        check_schema(database.engine)
    except Exception:  # no feedback database here (or not migrated): nothing to close
        return
    lib = load_library(Path(config.articles_dir), use_git=False)
    service = FeedbackService(database, lambda: lib, SiteUrls(config.site_url, config.diff_url), Channels.from_config(config))
    closed = close_from_git(service, Path(config.articles_dir))
    if closed:
        click.echo(f"Resolved feedback from commits: {', '.join(f'#{i}' for i in closed)}")


def _hit_json(hit) -> dict:  # noqa: ANN001
    return {"article": hit.article, "anchor": hit.anchor, "title": hit.title, "score": hit.score}


@main.command()
@articles_option
@index_option
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 1000))
@click.option("--department", default=None, help="Only this department's articles.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--batch", is_flag=True, help="Read BEIR queries JSONL on stdin; write one JSON line per query.")
@click.argument("query", required=False)
def search(articles: Path | None, index: Path | None, limit: int, department: str | None, as_json: bool, batch: bool, query: str | None) -> None:
    """Search the articles (building the index the first time)."""
    config = _config(articles, index)
    if not batch and not query:
        raise click.UsageError("give a QUERY, or --batch with queries on stdin")
    searcher = _ensure_index(config, quiet=as_json or batch)
    if batch:
        out = sys.stdout
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                q = json.loads(line)
                qid, text = q["_id"], str(q.get("text", ""))
            except (ValueError, KeyError, TypeError):
                raise click.ClickException(f"not a BEIR query line (needs _id and text): {line[:80]!r}") from None
            result = searcher.search(text, department=department, limit=limit)
            out.write(json.dumps({"_id": qid, "results": [_hit_json(h) for h in result.hits]}, ensure_ascii=False) + "\n")
            out.flush()
        return
    result = searcher.search(query, department=department, limit=limit)
    if as_json:
        payload = {
            "query": query,
            "did_you_mean": result.did_you_mean,
            "corrected": result.corrected,
            "took_ms": round(result.took_ms, 1),
            "results": [
                {**_hit_json(h), "heading": h.heading, "department": h.department, "lang": h.lang, "snippet": h.snippet}
                for h in result.hits
            ],
        }
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    if result.did_you_mean:
        verb = "Showing results for" if result.corrected else "Did you mean"
        click.echo(f"{verb}: {result.did_you_mean}")
    if not result.hits:
        click.echo("No results.")
    import re as _re

    for i, h in enumerate(result.hits, 1):
        where = h.article + (f"#{h.anchor}" if h.anchor else "")
        click.echo(f"{i:>2}. {h.title}  [{h.department}]  {h.score:.4f}")
        click.echo(f"    {where}" + (f"  ({h.heading})" if h.heading else ""))
        plain = _re.sub(r"</?mark>", "", h.snippet)
        from html import unescape

        click.echo(f"    {unescape(plain)[:160]}")
    click.echo(f"({result.total} articles, {result.took_ms:.0f} ms)")


@main.command("eval")
@articles_option
@index_option
@click.option("--queries", "queries_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--qrels", "qrels_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def eval_cmd(articles: Path | None, index: Path | None, queries_path: Path, qrels_path: Path, as_json: bool) -> None:
    """Recall@1/5/10, MRR@10 and nDCG@10 of the search over a BEIR query set."""
    from search.evaluate import evaluate, format_report, read_qrels, read_queries

    config = _config(articles, index)
    searcher = _ensure_index(config)
    queries = read_queries(queries_path)
    qrels = read_qrels(qrels_path)
    run = {}
    for q in queries:
        if str(q["_id"]) in qrels:
            run[str(q["_id"])] = [h.article for h in searcher.search(str(q["text"]), limit=10).hits]
    report = evaluate(queries, qrels, run)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(format_report(report))


def _database(config: Config):  # noqa: ANN202
    from .feedback import Database

    return Database(config.resolved_database_url())


@main.group()
def db() -> None:
    """The feedback database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the current version."""
    from .feedback.db import current_revision, head_revision, make_engine, upgrade

    config = _config()
    url = config.resolved_database_url()
    upgrade(url)
    engine = make_engine(url)
    click.echo(f"Database at {engine.url.render_as_string(hide_password=True)} is at schema {current_revision(engine)} (head {head_revision()})")
    engine.dispose()


@main.group()
def outbox() -> None:
    """Notifications waiting to be sent."""


@outbox.command("deliver")
@click.option("--watch", is_flag=True, help="Keep delivering every few seconds.")
def outbox_deliver(watch: bool) -> None:
    """Send due emails and webhooks (retrying failures with backoff)."""
    import time

    from .feedback import Channels
    from .feedback.outbox import deliver_due

    config = _config()
    database = _database(config)
    channels = Channels.from_config(config)
    while True:
        report = deliver_due(database, channels)
        if report.sent or report.failed or report.dead or not watch:
            click.echo(f"sent {report.sent}, will retry {report.failed}, gave up {report.dead}")
        if not watch:
            return
        time.sleep(5)


def _display_prefix(root: Path) -> str:
    """Show paths as the user can open them: relative to the current dir when possible."""
    try:
        rel = root.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return str(root).rstrip("/") + "/"
    return "" if str(rel) == "." else rel.as_posix() + "/"


if __name__ == "__main__":  # pragma: no cover
    main()
