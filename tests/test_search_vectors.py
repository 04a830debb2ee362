"""faiss indexes (flat and HNSW), embedders and their cache."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from search.embedders import (
    MODELS,
    EmbedderError,
    EmbedderPool,
    Profile,
    SentenceTransformerEmbedder,
    load_embedder,
    register,
)
from search.vector_cache import VectorCache, embed_with_cache
from search.vectors import VectorIndex


def unit_vectors(n, dim=32, seed=0):
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("threshold, kind", [(10_000, faiss.IndexFlatIP), (100, faiss.IndexHNSWFlat)])
def test_flat_below_threshold_hnsw_above_and_persisted(tmp_path, threshold, kind):
    vecs = unit_vectors(500)
    index = VectorIndex.build(vecs, hnsw_threshold=threshold)
    assert isinstance(index.index, kind)
    index.save(tmp_path / "v.faiss")
    loaded = VectorIndex.load(tmp_path / "v.faiss")
    scores, ids = loaded.search(vecs[123], 5)
    assert ids[0] == 123 and scores[0] == pytest.approx(1.0, abs=1e-4)
    assert list(scores) == sorted(scores, reverse=True)


def test_search_never_asks_for_more_than_there_is():
    index = VectorIndex.build(unit_vectors(3))
    _, ids = index.search(unit_vectors(1, seed=1)[0], 10)
    assert sorted(ids.tolist()) == [0, 1, 2]


def test_models_are_never_downloaded(tmp_path):
    with pytest.raises(EmbedderError, match="never downloaded"):
        SentenceTransformerEmbedder(tmp_path / "no-model-here")
    with pytest.raises(EmbedderError, match="unknown embedder"):
        load_embedder("sentence-transformers/all-MiniLM-L6-v2")


def test_a_model_is_one_registry_entry(use_embedder):
    loaded = []

    def load(profile):
        loaded.append(profile)
        return use_embedder

    profile = Profile(languages=frozenset({"ja"}), min_similarity=0.2, bridge_weight=0.5)
    register("test-ja", load, profile)
    try:
        assert load_embedder("test-ja") is use_embedder and loaded == [profile]
    finally:
        del MODELS["test-ja"]
    # The built-in models carry their profiles wherever they are made.
    assert use_embedder.profile == MODELS["use-m3"].profile and use_embedder.languages is None


def test_a_local_model_is_multilingual_unless_told(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    emb = SentenceTransformerEmbedder(tmp_path)
    assert emb.name == f"st:{tmp_path}" and emb.profile == Profile() and emb.understands("ko")
    english = SentenceTransformerEmbedder(tmp_path, profile=Profile(languages=frozenset({"en"})))
    assert not english.understands("ko")


def test_the_pool_loads_each_model_once(use_embedder):
    asked = []
    pool = EmbedderPool(lambda spec: asked.append(spec) or use_embedder)
    assert pool.get("use-m3") is pool.get(" use-m3 ") is use_embedder
    assert pool.all(["use-m3"]) == [use_embedder] and asked == ["use-m3"]


def test_vector_cache_embeds_only_new_texts(tmp_path, use_embedder):
    cache = VectorCache(tmp_path / "cache.sqlite")
    first, computed = embed_with_cache(use_embedder, ["parental leave", "VPN setup"], cache)
    assert computed == 2 and first.shape == (2, 512)
    again, computed = embed_with_cache(use_embedder, ["VPN setup", "expense deadline", "parental leave"], cache)
    assert computed == 1
    np.testing.assert_allclose(again[0], first[1], atol=1e-6)
    assert np.linalg.norm(again, axis=1) == pytest.approx([1, 1, 1], abs=1e-5)
    cache.close()


def test_multilingual_model_puts_translations_close(use_embedder):
    vecs = use_embedder.encode(["parental leave", "育児休業", "expense report deadline"])
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2]


def test_fast_query_encoder_ranks_like_the_full_model():
    """Queries go through an int8 TorchScript copy of MiniLM; chunks through the float32 model."""
    emb = SentenceTransformerEmbedder()
    before = emb.encode(["sixteen weeks of parental leave"])[0]
    assert emb._query_fn() is not None, "the fast path should be taken for MiniLM"
    # The int8 copy shares tensors with the full model but must not change it.
    assert np.array_equal(emb.encode(["sixteen weeks of parental leave"])[0], before)
    passages = [
        "Employees receive sixteen weeks of paid parental leave after the birth or adoption of a child.",
        "Submit expense reports with receipts within thirty days of purchase.",
        "Connect to the VPN before using public Wi-Fi networks.",
        "Report a lost or stolen laptop to the IT security team immediately.",
    ]
    docs = emb.encode(passages)
    queries = ["how long is maternity leave", "deadline for receipts", "wifi at the airport", "my laptop was stolen"]
    for i, q in enumerate(queries):
        fast, full = emb.encode_query(q), emb.encode([q])[0]
        assert fast.dtype == np.float32 and abs(float(np.linalg.norm(fast)) - 1) < 1e-4
        assert float(fast @ full) > 0.95
        assert int(np.argmax(docs @ fast)) == i == int(np.argmax(docs @ full))
