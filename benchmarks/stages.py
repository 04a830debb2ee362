"""Where a query's time goes: each stage of ``Searcher.search`` timed alone. Run by hand.

    .venv/bin/python benchmarks/stages.py ../shared/corpora/18f-handbook
    .venv/bin/python benchmarks/stages.py ../shared/corpora/gitlab-handbook-ja --queries 100

Prints p50/p95 in milliseconds per stage over the dev-set queries, plus the
whole ``search()`` call, so a change to one stage can be judged on its own.
The index must exist (``kb index --articles DIR``). Threads are set as
``kb serve`` sets them (``runtime.configure(1)``); ``--threads`` to compare.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb import KB  # noqa: E402
from kb.config import Config  # noqa: E402
from search import keyword, runtime  # noqa: E402
from search.chunking import synonym_terms  # noqa: E402
from search.embedders import EmbedderPool  # noqa: E402
from search.query import analyze_query  # noqa: E402


def queries(n: int, seed: int = 0) -> list[str]:
    texts: list[str] = []
    for qfile in sorted((ROOT / "benchmarks" / "dev").glob("*/queries.jsonl")):
        with open(qfile, encoding="utf-8") as f:
            texts.extend(str(json.loads(line)["text"]) for line in f if line.strip())
    return random.Random(seed).sample(texts, min(n, len(texts)))


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("articles", type=Path)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1, help="faiss and torch threads (kb serve: 1)")
    args = ap.parse_args()
    runtime.configure(args.threads)
    config = Config.from_env().with_(articles_dir=args.articles.resolve())
    s = KB(config, models=EmbedderPool()).index.get()
    qs = queries(args.queries)
    for q in qs[:20]:
        s.search(q)
    times: dict[str, list[float]] = defaultdict(list)

    def timed(name: str, fn):  # noqa: ANN001, ANN202
        t = time.perf_counter()
        out = fn()
        times[name].append((time.perf_counter() - t) * 1000)
        return out

    for raw in qs:
        info = analyze_query(raw)
        text = info.text
        expansions = synonym_terms(text, s.synonyms)
        q = timed("keyword.build_query", lambda: keyword.build_query(text, expansions))  # noqa: B023
        if q:
            timed("keyword.search", lambda: s.keyword.search(q, 100))  # noqa: B023
            timed("keyword.search (whoosh)", lambda: s.keyword.whoosh_search(q, 100))  # noqa: B023
        vecs = {}
        for name, emb in s.embedders.items():
            if emb.understands(info.lang):
                vecs[name] = timed(f"encode {name}", lambda e=emb: e.encode_query(text))  # noqa: B023
                timed(f"faiss {name}", lambda n=name: s._dense(n, vecs[n], None, 100))  # noqa: B023
        if s.bridge is not None and s.bridge_model in vecs:
            tr = timed("bridge.translate", lambda: s.bridge.translate(vecs[s.bridge_model], info.lang, 10))  # noqa: B023
            if "en" in tr and "en" in s.bridge_targets:
                tq = keyword.build_query(" ".join(tr["en"]))
                if tq:
                    timed("keyword.search (bridge)", lambda: s.keyword.search(tq, 100))  # noqa: B023
        timed("speller.correct", lambda: s.speller.correct(text))  # noqa: B023
        timed("fused rankings", lambda: s._fused(info, None))  # noqa: B023
        timed("search() total", lambda: s.search(raw))  # noqa: B023
    print(f"{args.articles.name}: {len(qs)} queries, {sum(1 for c in s.chunks if c)} chunks")
    print(f"{'stage':28} {'n':>4} {'p50':>8} {'p95':>8} {'mean':>8}")
    for name, v in times.items():
        print(f"{name:28} {len(v):4d} {pct(v, 50):8.2f} {pct(v, 95):8.2f} {statistics.mean(v):8.2f}")


if __name__ == "__main__":
    main()
