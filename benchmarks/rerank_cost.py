"""What the re-ranker (search/rerank.py) costs a search: ``Searcher.search`` with and
without it, interleaved query by query so both see the same machine load. Run by hand:

    .venv/bin/python benchmarks/rerank_cost.py ../shared/corpora/18f-handbook

The index must exist (``kb index --articles DIR``, or ``KB_INDEX_DIR`` at loo.py's).
Threads are set as ``kb serve`` sets them (``runtime.configure(1)``). ``--links`` adds a
third run: the measured, not kept, ``cited`` feature (the articles' links read from the
Library, as ``rerank_fit.py --links`` does) with ``CITED``, its fit on all five corpora.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.rerank_fit import article_links  # noqa: E402
from benchmarks.stages import pct, queries  # noqa: E402
from kb import KB  # noqa: E402
from kb.config import Config  # noqa: E402
from search import rerank, runtime  # noqa: E402
from search.embedders import EmbedderPool  # noqa: E402

#: rerank_fit.py --nested --links --features <rerank.FEATURES>,cited, fitted on all five (2026-12-04); not in use.
CITED = rerank.Model((
    ("fused", 3.483), ("fused_rr", 0.246), ("keyword", -0.173), ("keyword_rr", -0.441), ("minilm", 0.192),
    ("minilm_rr", 0.971), ("use-m3", 1.753), ("use-m3_rr", 0.846), ("keyword~", -0.144), ("keyword~_rr", 0.311),
    ("minilm~", 0.520), ("minilm~_rr", 0.919), ("agree", 0.527), ("title_cover", -0.076), ("body_cover", 3.461),
    ("title_rarest", 1.392), ("body_rarest", 0.706), ("native", -0.785), ("length", -2.511), ("cited", 2.890),
))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("articles", type=Path)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--links", action="store_true", help="also the cited feature over the articles' links")
    args = ap.parse_args()
    runtime.configure(1)
    s = KB(Config.from_env().with_(articles_dir=args.articles.resolve()), models=EmbedderPool()).index.get()
    qs = queries(args.queries)
    for q in qs[:20]:
        s.search(q)
    fitted = rerank.RERANK
    models = {"with the re-ranker": fitted, "fusion alone": rerank.Model(())}
    links = {}
    if args.links:
        links = article_links(args.articles.resolve())
        models["with cited"] = CITED
    times: dict[str, list[float]] = {name: [] for name in models}
    try:
        for i, q in enumerate(qs * args.passes):
            # Alternate which goes first: a warm cache must not favour one of them.
            for name in (list(models) if i % 2 else list(models)[::-1]):
                rerank.RERANK = models[name]
                s.lexicon.links = links if name == "with cited" else {}
                started = time.perf_counter()
                s.search(q)
                times[name].append((time.perf_counter() - started) * 1000)
    finally:
        rerank.RERANK = fitted
    for name, v in times.items():
        print(f"{name:20} search() p50 {pct(v, 50):6.2f} ms  p95 {pct(v, 95):6.2f} ms  ({len(v)} searches)")


if __name__ == "__main__":
    main()
