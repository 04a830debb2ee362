"""Between the content layer and the search library: Documents in, a built index out.

The KB core comes here, so neither the web nor the CLI holds indexing logic.
Every build takes the process's ``EmbedderPool`` (the core's), so the build
and the live index share its models. ``publish`` and ``follow`` ship builds
through a shared directory (``KB_INDEX_PUBLISH``, ``KB_INDEX_FOLLOW``;
search/publish.py): no models needed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from search.build import BuildReport, IndexBusyError, build_index
from search.documents import DocSection, Document
from search.embedders import EmbedderPool
from search.publish import follow_once, publish_build
from search.shipping import ShippingError

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


#: Seconds between looks at the published dir (one small file read each).
FOLLOW_EVERY = 0.5


def publish(config: Config) -> str | None:
    """Publish the live build into KB_INDEX_PUBLISH; its id, or None when already published."""
    assert config.index_publish is not None
    return publish_build(config.resolved_index_dir, config.index_publish)


def follow(config: Config, stop: threading.Event, log: Callable[[str], None] = print,
           every: float = FOLLOW_EVERY) -> None:
    """Until ``stop`` is set: import each build published in KB_INDEX_FOLLOW and switch to it.

    The servers' IndexHandles see the switch by themselves; a failed look is logged and tried again.
    """
    assert config.index_follow is not None
    while not stop.is_set():
        started = time.monotonic()
        try:
            report = follow_once(config.index_follow, config.resolved_index_dir)
        except (ShippingError, IndexBusyError, OSError) as exc:
            log(f"following {config.index_follow} failed: {exc}")
            report = None
        if report is not None:
            log(f"switched to published build {report.build_dir.name}: {report.copied} file(s) copied "
                f"({report.bytes_copied / 1e6:.1f} MB), {report.linked} unchanged, in {time.monotonic() - started:.2f}s")
        stop.wait(every)
