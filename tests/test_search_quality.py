"""Retrieval quality on the development sets: a regression guard, not a benchmark.

The thresholds sit below what the default configuration measures
(benchmarks/README.md) so that only a real regression fails them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kb import KB
from kb.config import PROJECT_ROOT, Config
from search.evaluate import evaluate, read_qrels, read_queries

from .conftest import corpus

DEV = PROJECT_ROOT / "benchmarks" / "dev"


def hit_at_5(config: Config, dev: Path, models) -> dict:  # noqa: ANN001
    searcher = KB(config, models=models).index.get()
    queries = read_queries(dev / "queries.jsonl")
    qrels = read_qrels(dev / "qrels.tsv")
    run = {str(q["_id"]): [h.article for h in searcher.search(q["text"], limit=10).hits] for q in queries}
    report = evaluate(queries, qrels, run)
    return {group: round(r["hit@5"], 3) for group, r in report.items()}


def test_bundled_dev_set(bundled_index, models):
    scores = hit_at_5(Config(articles_dir=PROJECT_ROOT / "articles", index_dir=bundled_index), DEV / "bundled", models)
    assert scores["all"] >= 0.92, scores
    for lang in ("en", "ja", "ko", "zh"):
        assert scores[f"lang={lang}"] >= 0.8, scores


@pytest.mark.shared
def test_18f_dev_set(tmp_path_factory, models):
    config = Config(articles_dir=corpus("18f-handbook"), index_dir=tmp_path_factory.mktemp("18f-index"))
    KB(config, models=models).build_index()
    scores = hit_at_5(config, DEV / "18f", models)
    assert scores["all"] >= 0.9, scores
    assert scores["lang=en"] >= 0.92, scores
    for lang in ("ja", "ko", "zh"):
        assert scores[f"lang={lang}"] >= 0.76, scores
