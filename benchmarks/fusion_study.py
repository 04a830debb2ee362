"""How each retriever and each fusion variant does on a BEIR query set.

Runs every retriever once per query, then re-fuses the saved rankings in many
ways, so weights can be chosen from measurements. Run by hand:

    .venv/bin/python benchmarks/fusion_study.py --articles ../shared/corpora/18f-handbook \
        --queries benchmarks/dev/18f/queries.jsonl --qrels benchmarks/dev/18f/qrels.tsv
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kb import KB  # noqa: E402
from kb.config import Config  # noqa: E402
from search.bridge import lang_group  # noqa: E402
from search.embedders import EmbedderPool  # noqa: E402
from search.evaluate import evaluate, read_qrels, read_queries  # noqa: E402
from search.fusion import Ranking, Weights, fuse, weights_for  # noqa: E402
from search.query import QueryInfo, analyze_query  # noqa: E402
from search.searcher import Searcher  # noqa: E402


def article_run(searcher: Searcher, rankings: list[Ranking], weights: Weights, info: QueryInfo, k: int) -> list[str]:
    def same(p: int, lang: str | None) -> bool:
        return lang_group(searcher.chunks[p].lang) == lang_group(lang or info.lang)

    fused = fuse(rankings, weights, lambda p: searcher.chunks[p].doc_id, same, k=k)
    return [f.article for f in fused[:10]]


def _no_bridge(w: Weights) -> Weights:
    w.dense = {n: v for n, v in w.dense.items() if not n.endswith("~")}
    return w


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", required=True, type=Path)
    ap.add_argument("--queries", required=True, type=Path)
    ap.add_argument("--qrels", required=True, type=Path)
    args = ap.parse_args()
    config = Config.from_env().with_(articles_dir=args.articles)
    models = EmbedderPool()
    kb = KB(config, models=models)
    kb.build_index()
    searcher = kb.index.get()
    queries = read_queries(args.queries)
    qrels = read_qrels(args.qrels)
    queries = [q for q in queries if str(q["_id"]) in qrels]
    saved = []
    for q in queries:
        info = analyze_query(q["text"])
        rankings, _ = searcher.rankings(info.text, lang=info.lang)
        saved.append((q, info, rankings))
    # Every retriever any query used: a Korean first query has no MiniLM ranking.
    names = list(dict.fromkeys(r.name for _, _, rankings in saved for r in rankings))

    def report(label: str, make_weights: Callable[[QueryInfo], Weights], k: int = 20) -> None:
        run = {}
        for q, info, rankings in saved:
            run[str(q["_id"])] = article_run(searcher, rankings, make_weights(info), info, k)
        r = evaluate(queries, qrels, run)
        langs = " ".join(f"{g[5:]}={r[g]['hit@5']:.3f}" for g in sorted(r) if g.startswith("lang="))
        print(f"{label:<34} hit@5={r['all']['hit@5']:.3f} mrr={r['all']['mrr@10']:.3f}  {langs}")

    profiles = {n: e.profile for n, e in searcher.embedders.items()}
    for n in dict.fromkeys(names):
        if n.endswith("~"):
            continue
        report(f"only {n}", lambda info, n=n: Weights(keyword=1.0 if n == "keyword" else 0,
                                                       dense={n: 1.0}, cross={n: 1.0}))
    report("weighted, no bridge", lambda info: _no_bridge(weights_for(info, profiles)), k=5)
    plain = [n for n in names if not n.endswith("~")]
    report("plain RRF k=60, all", lambda info: Weights(1.0, {n: 1.0 for n in plain}, {n: 1.0 for n in plain}), k=60)
    for k in (5, 10, 20, 60):
        report(f"weighted (default) k={k}", lambda info: weights_for(info, profiles), k=k)
    for kw, ml in ((0.2, 0.8), (0.4, 0.6), (0.4, 1.0), (0.6, 0.8), (0.6, 1.2), (0.8, 1.0)):
        def bridged(info: QueryInfo, kw: float = kw, ml: float = ml) -> Weights:
            w = weights_for(info, profiles)
            w.dense["keyword~"], w.dense["minilm~"] = kw, ml
            return w

        report(f"bridge keyword~{kw} minilm~{ml}", bridged, k=5)


if __name__ == "__main__":
    main()
