"""``kb index``, ``kb search`` and ``kb eval``: the search index from the terminal.

They rank through the same search service as the site, so a result here is
the result an employee sees (one per article and its translations).
"""

from __future__ import annotations

import json
import re
import signal
import sys
import threading
from html import unescape
from pathlib import Path
from typing import TextIO

import click

from search import runtime
from search.build import BuildReport, IndexBusyError
from search.evaluate import evaluate, format_report, read_qrels, read_queries
from search.service import SearchPage
from search.shipping import ShippingError, export_build, import_build

from .. import indexing
from ..core import KB
from ..feedback.docs_as_code import Closure
from ..records import answer_fields, hit_record
from .common import Progress, articles_option, index_option, make_kb

_MARK = re.compile(r"</?mark>")
#: The fields of a --batch result line: compact, for thousands of queries.
BATCH_FIELDS = ("article", "anchor", "title", "score")


def _build(kb: KB, *, full: bool = False, quiet: bool = True) -> BuildReport:
    runtime.configure(threads=2)  # embedding batches and HNSW building use both cores
    with Progress() as progress:
        try:
            report = kb.build_index(full=full, progress=progress)
        except IndexBusyError as exc:
            raise click.ClickException(str(exc)) from None
    if not quiet and report.mode != "unchanged":
        click.echo(f"kb: index {report.mode} ({report.chunks} chunks, {report.seconds:.1f}s)", err=True)
    return report


@click.command()
@articles_option
@index_option
@click.option("--full", is_flag=True, help="Rebuild everything instead of only what changed.")
@click.option("--export", "export_to", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="After building, write the live build to this tarball (to ship to other hosts).")
@click.option("--import", "import_from", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Do not build: verify this exported tarball and switch the index to it.")
@click.option("--follow", "follow_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Do not build: until stopped, import each build published in this directory "
                   "(`kb worker --publish`) and switch the index to it.")
def index(articles: Path | None, index: Path | None, full: bool, export_to: Path | None, import_from: Path | None,
          follow_dir: Path | None) -> None:
    """Build or update the search index (atomically: the old one serves until done)."""
    kb = make_kb(articles, index, index_follow=follow_dir)
    if import_from is not None or follow_dir is not None:
        if export_to is not None or full or (import_from and follow_dir):
            raise click.UsageError("--import and --follow build nothing: they take no --export, --full or each other")
        if follow_dir is not None:
            _follow(kb)
        else:
            _import(kb, import_from)
        return
    errors = [p for p in kb.library.problems if p.severity == "error"]
    if errors:
        click.echo(f"kb: {len(errors)} article problem(s); run `kb check` for details (the rest is indexed)", err=True)
    report = _build(kb, full=full)
    closed = kb.close_flags_from_git()
    if closed is None:
        click.echo("kb: no feedback database here (run `kb db upgrade`): flags named in commits stay open", err=True)
    else:
        _print_closures(closed)
    where = kb.config.resolved_index_dir
    if report.mode == "unchanged":
        click.echo(f"Index is up to date ({report.articles} articles) at {where}")
    else:
        embedded = ", ".join(f"{n}: {c}" for n, c in report.embedded.items())
        click.echo(
            f"Index {report.mode}: {report.articles} articles, {report.chunks} chunks "
            f"(+{len(report.added)} ~{len(report.changed)} -{len(report.removed)} articles; embedded {embedded}) "
            f"in {report.seconds:.1f}s at {where}"
        )
    if export_to is not None:
        _export(kb, export_to)


def _export(kb: KB, out: Path) -> None:
    try:
        build = export_build(kb.config.resolved_index_dir, out)
    except (ShippingError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Exported build {build.name} to {out} ({out.stat().st_size / 1e6:.1f} MB)")


def _follow(kb: KB) -> None:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"kb: following {kb.config.index_follow} into {kb.config.resolved_index_dir}", err=True)
    indexing.follow(kb.config, stop, log=lambda line: click.echo(f"kb: {line}", err=True))


def _import(kb: KB, tarball: Path) -> None:
    try:
        report = import_build(tarball, kb.config.resolved_index_dir)
    except (ShippingError, IndexBusyError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Imported {tarball} (built {report.built_at}, {report.files} files, {report.bytes / 1e6:.1f} MB, "
               f"{report.cached} vectors cached) as {report.build_dir.name}; now live at {kb.config.resolved_index_dir}")


def _print_closures(closures: list[Closure]) -> None:
    resolved = [c for c in closures if c.outcome == "resolved"]
    if resolved:
        click.echo(f"Resolved feedback from commits: {', '.join(f'#{c.flag_id}' for c in resolved)}")
    for c in closures:
        if c.outcome != "resolved":
            click.echo(f"kb: not resolved: #{c.flag_id}: commit {c.commit[:12]} touches no article of its department", err=True)


def _batch(kb: KB, lines: TextIO, out: TextIO, department: str | None, limit: int) -> None:
    """BEIR queries (JSON lines with _id and text) in, one JSON line of results per query out."""
    for line in lines:
        if not line.strip():
            continue
        try:
            q = json.loads(line)
            qid, text = q["_id"], str(q.get("text", ""))
        except (ValueError, KeyError, TypeError):
            raise click.ClickException(f"not a BEIR query line (needs _id and text): {line[:80]!r}") from None
        page = kb.search.search(text, department=department, page_size=limit)
        lib = kb.library
        records = (hit_record(h, lib) for h in page.hits)
        results = [{k: r[k] for k in BATCH_FIELDS} for r in records]
        out.write(json.dumps({"_id": qid, **answer_fields(page), "results": results}, ensure_ascii=False) + "\n")
        out.flush()


def _print_page(page: SearchPage) -> None:
    if page.did_you_mean:
        click.echo(f"{'Showing results for' if page.corrected else 'Did you mean'}: {page.did_you_mean}")
    if not page.answered:
        click.echo("No article answers this yet." + (" Possibly related:" if page.hits else ""))
    if not page.hits:
        click.echo("No results.")
    for i, h in enumerate(page.hits, 1):
        click.echo(f"{i:>2}. {h.title}  [{h.department}]  {h.score:.4f}")
        where = h.article + (f"#{h.anchor}" if h.anchor else "")
        click.echo(f"    {where}" + (f"  ({h.heading})" if h.heading else ""))
        if h.also_in:
            click.echo("    also in: " + ", ".join(f"{o.lang} {o.article}" for o in h.also_in))
        click.echo(f"    {unescape(_MARK.sub('', h.snippet))[:160]}")
    click.echo(f"({page.total} articles, {page.took_ms:.0f} ms)")


@click.command()
@articles_option
@index_option
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 1000))
@click.option("--department", default=None, help="Only this department's articles.")
@click.option("--lang", "reader_lang", default=None, help="The reader's language: its version of a translated article first.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--batch", is_flag=True, help="Read BEIR queries JSONL on stdin; write one JSON line per query.")
@click.argument("query", required=False)
def search(articles: Path | None, index: Path | None, limit: int, department: str | None, reader_lang: str | None,
           as_json: bool, batch: bool, query: str | None) -> None:
    """Search the articles (building the index the first time)."""
    if not batch and not query:
        raise click.UsageError("give a QUERY, or --batch with queries on stdin")
    kb = make_kb(articles, index)
    _build(kb, quiet=as_json or batch)
    if batch:
        _batch(kb, sys.stdin, sys.stdout, department, limit)
        return
    page = kb.search.search(query, department=department, reader_lang=reader_lang, page_size=limit)
    if not as_json:
        _print_page(page)
        return
    payload = {
        "query": page.query, "did_you_mean": page.did_you_mean, "corrected": page.corrected, "total": page.total,
        "took_ms": round(page.took_ms, 1), **answer_fields(page), "results": [hit_record(h, kb.library) for h in page.hits],
    }
    click.echo(json.dumps(payload, ensure_ascii=False, indent=2))


@click.command("eval")
@articles_option
@index_option
@click.option("--queries", "queries_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--qrels", "qrels_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def eval_cmd(articles: Path | None, index: Path | None, queries_path: Path, qrels_path: Path, as_json: bool) -> None:
    """Recall@1/5/10, MRR@10 and nDCG@10 of the search over a BEIR query set.

    Ranked as the site shows results: one per article family, so a question
    answered by a policy counts as found when the page shows that policy in
    another language version.
    """
    kb = make_kb(articles, index)
    _build(kb, quiet=False)
    lib = kb.library
    queries, qrels = read_queries(queries_path), read_qrels(qrels_path)
    family = {path: lib.family_of(a) for path, a in lib.articles.items()}
    by_family = {qid: {family.get(d, d): g for d, g in docs.items()} for qid, docs in qrels.items()}
    run = {}
    for q in queries:
        if str(q["_id"]) in qrels:
            page = kb.search.search(str(q["text"]), page_size=10)
            run[str(q["_id"])] = [family.get(h.article, h.article) for h in page.hits]
    report = evaluate(queries, by_family, run)
    click.echo(json.dumps(report, indent=2) if as_json else format_report(report))
