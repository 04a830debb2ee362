"""Between the content layer and the search library: Documents in, a built index out.

The KB core comes here, so neither the web nor the CLI holds indexing logic.
Every function takes the process's ``EmbedderPool`` (the core's), so the build
and the live index share its models.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from search.build import BuildReport, build_index
from search.documents import DocSection, Document
from search.embedders import EmbedderPool

from .config import Config
from .content import ContentStore, Library, load_library


def to_document(article, family: str = "") -> Document:  # noqa: ANN001 (kb.content.Article)
    """``family``: the id of the original ``article`` translates (``Library.family_of``)."""
    return Document(
        id=article.path,
        title=article.title,
        lang=article.lang,
        department=article.department,
        summary=article.summary,
        tags=tuple(article.tags),
        aliases=tuple(article.aliases),
        sections=tuple(DocSection(s.anchor, s.path, s.text) for s in article.sections),
        content_hash=article.content_hash,
        family=family,
    )


def documents(lib: Library) -> list[Document]:
    return [to_document(a, lib.family_of(a)) for a in sorted(lib.articles.values(), key=lambda a: a.path)]


def build(
    config: Config,
    models: EmbedderPool,
    *,
    library: Library | None = None,
    full: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> BuildReport:
    lib = library or load_library(Path(config.articles_dir))
    embedders = models.all(config.embedder_specs)
    return build_index(
        documents(lib),
        config.resolved_index_dir,
        embedders,
        synonyms=lib.department_synonyms(),
        full=full,
        progress=progress,
    )


def start_watcher(
    config: Config, store: ContentStore, models: EmbedderPool, log: Callable[[str], None] = print, every: float = 2.0
) -> threading.Thread:
    """Reindex in the background whenever the articles change (local runs).

    The running site's IndexHandle notices the switched index by itself.
    """

    def loop() -> None:
        last = None
        while True:
            time.sleep(every)
            try:
                lib = store.library
                if last is not None and lib is not last:
                    report = build(config, models, library=lib)
                    if report.mode != "unchanged":
                        log(f"reindexed {len(report.added) + len(report.changed) + len(report.removed)} article(s) in {report.seconds:.1f}s")
                last = lib
            except Exception as exc:  # keep watching: a bad edit must not stop reindexing
                log(f"reindex failed: {exc}")

    thread = threading.Thread(target=loop, name="kb-index-watcher", daemon=True)
    thread.start()
    return thread
