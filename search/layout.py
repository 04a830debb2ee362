"""Where every file of an index lives, and the manifest that says what a build holds.

Layout of an index dir (``IndexLayout``)::

    current -> builds/20261123-081500-ab12   (symlink, replaced atomically)
    builds/<id>/                             (one build: see BuildLayout)
    cache/vectors.sqlite                     (embeddings by model and text hash)
    .lock                                    (held by the one build running)

Layout of a build dir (``BuildLayout``)::

    manifest.json                            (schema, models, per-article hashes and families)
    chunks.json                              (chunk table; a position is a chunk's id)
    keyword/                                 (Whoosh segments, and postings.npz + postings-terms.json)
    vectors/<model>.faiss, <model>.pos.npy   (per model: its vectors, and the chunk position of each)
    vocab.json, synonyms.json, suggest.json
    bridge.json, bridge.npy                  (cross-language terms and their vectors)

This module is the only one that knows these names: the build writes through
it and the readers (Searcher, KeywordIndex, Bridge) read through it.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

SCHEMA_VERSION = 5  # 5: the manifest records each article's family and the bridge model


def _file_stem(model: str) -> str:
    """A model name as a file name (``st:/models/e5`` has slashes)."""
    return re.sub(r"[^\w.-]", "_", model)


@dataclass(frozen=True)
class KeywordLayout:
    """The keyword index: Whoosh's own files, and the postings exported beside them."""

    dir: Path

    @property
    def postings(self) -> Path:
        return self.dir / "postings.npz"

    @property
    def postings_terms(self) -> Path:
        return self.dir / "postings-terms.json"


@dataclass(frozen=True)
class BuildLayout:
    """The path of every file in one build dir."""

    dir: Path

    manifest = property(lambda self: self.dir / "manifest.json")
    chunks = property(lambda self: self.dir / "chunks.json")
    vectors_dir = property(lambda self: self.dir / "vectors")
    vocab = property(lambda self: self.dir / "vocab.json")
    synonyms = property(lambda self: self.dir / "synonyms.json")
    suggest = property(lambda self: self.dir / "suggest.json")
    bridge_terms = property(lambda self: self.dir / "bridge.json")
    bridge_vectors = property(lambda self: self.dir / "bridge.npy")

    @property
    def keyword(self) -> KeywordLayout:
        return KeywordLayout(self.dir / "keyword")

    def vectors(self, model: str) -> Path:
        return self.vectors_dir / f"{_file_stem(model)}.faiss"

    def positions(self, model: str) -> Path:
        return self.vectors_dir / f"{_file_stem(model)}.pos.npy"

    @property
    def finished(self) -> bool:
        """A build dir without a manifest is unfinished (or was abandoned)."""
        return self.manifest.exists()


@dataclass(frozen=True)
class IndexLayout:
    """An index dir: the builds, the link to the live one, the vector cache, the lock."""

    root: Path

    current_link = property(lambda self: self.root / "current")
    builds = property(lambda self: self.root / "builds")
    vector_cache = property(lambda self: self.root / "cache" / "vectors.sqlite")
    lock = property(lambda self: self.root / ".lock")

    def current(self) -> BuildLayout | None:
        """The live build, or None when there is no finished one."""
        try:
            target = os.readlink(self.current_link)
        except OSError:
            return None
        build = BuildLayout((self.root / target).resolve())
        return build if build.finished else None

    def new_build(self) -> BuildLayout:
        build = BuildLayout(self.builds / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}")
        build.dir.mkdir(parents=True)
        return build

    def switch(self, build: BuildLayout) -> None:
        """Point ``current`` at ``build``, atomically (on POSIX)."""
        tmp = self.root / f".current-{uuid.uuid4().hex[:8]}"
        os.symlink(os.path.relpath(build.dir, self.root), tmp)
        os.replace(tmp, self.current_link)

    def build_dirs(self) -> list[BuildLayout]:
        """Every build dir, newest first."""
        if not self.builds.is_dir():
            return []
        dirs = sorted((p for p in self.builds.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
        return [BuildLayout(p) for p in dirs]


@dataclass(frozen=True)
class ModelInfo:
    name: str
    dim: int
    languages: list[str] | None = None  # None: multilingual


@dataclass
class Manifest:
    """What a build holds; written last, so a build dir with one is complete."""

    config_hash: str
    models: list[ModelInfo]
    articles: dict[str, str]  # article id -> hash of its Document
    families: dict[str, str]  # article id -> id of its original (itself for an original)
    languages: list[str]
    chunks: int  # live chunks
    bridge_model: str | None = None  # the model whose space the bridge terms live in
    built_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    schema: int = SCHEMA_VERSION

    def family_of(self, article: str) -> str:
        return self.families.get(article) or article

    @classmethod
    def read(cls, path: Path) -> Manifest:
        data = json.loads(path.read_text(encoding="utf-8"))
        models = [ModelInfo(**m) for m in data.pop("models")]
        if "bridge_model" not in data:  # schema 4: the bridge was built with the first multilingual model
            data["bridge_model"] = next((m.name for m in models if m.languages is None), None)
        data.setdefault("families", {})
        return cls(models=models, **data)

    def write(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, path)
