"""Embeddings computed once: a cache of vectors by model and text, and embedding through it."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .embedders import Embedder


class VectorCache:
    """Vectors by (model, sha256 of text) in SQLite, so rebuilds embed only what changed."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, timeout=30, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (model TEXT, key TEXT, vec BLOB, PRIMARY KEY (model, key))")

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def get_many(self, model: str, keys: Sequence[str], dim: int) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        for i in range(0, len(unique), 500):
            batch = unique[i : i + 500]
            rows = self._db.execute(
                f"SELECT key, vec FROM vectors WHERE model = ? AND key IN ({','.join('?' * len(batch))})",
                [model, *batch],
            )
            for key, blob in rows:
                vec = np.frombuffer(blob, dtype=np.float32)
                if vec.shape[0] == dim:
                    found[key] = vec
        return found

    def put_many(self, model: str, items: dict[str, np.ndarray]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors (model, key, vec) VALUES (?, ?, ?)",
                [(model, k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()],
            )

    def close(self) -> None:
        self._db.close()


def embed_with_cache(
    embedder: Embedder,
    texts: Sequence[str],
    cache: VectorCache | None,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, int]:
    """Vectors for ``texts``; returns them and how many had to be computed."""
    embedder.load()
    keys = [VectorCache.key(t) for t in texts]
    dim = embedder.dim
    cached = cache.get_many(embedder.name, keys, dim) if cache else {}
    missing = [i for i, k in enumerate(keys) if k not in cached]
    computed: dict[str, np.ndarray] = {}
    step = 64
    for start in range(0, len(missing), step):
        idx = missing[start : start + step]
        vecs = embedder.encode([texts[i] for i in idx])
        for i, v in zip(idx, vecs, strict=True):
            computed[keys[i]] = v
        if progress:
            progress(len(idx))
    if cache and computed:
        cache.put_many(embedder.name, computed)
    dim = embedder.dim
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for i, k in enumerate(keys):
        out[i] = cached.get(k) if k in cached else computed[k]
    return out, len(set(keys[i] for i in missing))
