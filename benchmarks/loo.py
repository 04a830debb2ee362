"""Leave-one-corpus-out: how kb's ranking and its "no answer" decision carry over
to a handbook nobody tuned on.

For every dev corpus (18F, GitLab-ja, the bundled handbook, skt-oss-guide-ko,
sustech-handbook-zh; BEIR sets with ``--public``) the retrievers run once per
question and their rankings are saved (``--cache-dir``, default /tmp/kb-loo:
one index per corpus, built on first use, then reused). Every method is then
re-fused from the saved rankings, so the table costs one retrieval per
question. A parameter that is fitted (the answerability rule, search/answer.py) is fitted
on the other corpora and measured on the held-out one. ``bundled-en`` (benchmarks/derived.py:
the bundled handbook without its translations, asked its Japanese, Korean and Chinese
questions; written into the cache dir) shares its questions with ``bundled``: the two are held
out together, never one fitted on to measure the other.

    .venv/bin/python benchmarks/loo.py                      # the table
    .venv/bin/python benchmarks/loo.py --corpora bundled,skt-ko

Rows: kb's default (what ``Searcher.search`` does, spelling retry aside: fused, then
re-ranked by search/rerank.py, whose weights benchmarks/rerank_fit.py fits leave-one-out), the
fusion alone (``fused, not re-ranked``), each
single retriever alone, plain RRF (k=60, every retriever, equal weights) and
the previous rank-only fusion (``rrf-weighted``). Hit@5 and MRR@10 count one
result per article family, as the results page shows them.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.derived import bundled_en, group_of  # noqa: E402
from benchmarks.fusion_study import article_run  # noqa: E402
from benchmarks.public_sets import CORPORA, DEV, ROOT, prepare  # noqa: E402
from kb import KB  # noqa: E402
from kb.config import Config  # noqa: E402
from search import answer  # noqa: E402
from search.embedders import EmbedderPool  # noqa: E402
from search.evaluate import evaluate, read_qrels, read_queries  # noqa: E402
from search.fusion import Ranking, Weights, weights_for  # noqa: E402
from search.query import QueryInfo, analyze_query  # noqa: E402
from search.searcher import Searcher  # noqa: E402

#: name -> (articles dir, dev-set dir)
SETS: dict[str, tuple[Path, Path]] = {
    "18f": (CORPORA / "18f-handbook", DEV / "18f"),
    "gitlab-ja": (CORPORA / "gitlab-handbook-ja", DEV / "gitlab-ja"),
    "bundled": (ROOT / "articles", DEV / "bundled"),
    "skt-ko": (CORPORA / "skt-oss-guide-ko", DEV / "skt-ko"),
    "sustech-zh": (CORPORA / "sustech-handbook-zh", DEV / "sustech-zh"),
}
PUBLIC = ("xquad-zh", "xquad-en2zh", "jsquad")
#: Written into the cache dir at run time from another corpus (benchmarks/derived.py), held out with it.
DERIVED = ("bundled-en",)
#: What loo.py and answer_study.py measure by default (rerank_fit.py: ``SETS`` only).
DEFAULT = (*SETS, *DERIVED)


@dataclass
class Asked:
    """One question with its saved rankings and the evidence the decision reads."""

    q: dict
    info: QueryInfo
    rankings: list[Ranking]
    answerable: bool
    evidence: answer.Evidence | None = None


@dataclass
class Corpus:
    name: str
    searcher: Searcher
    qrels: dict[str, dict[str, int]]
    asked: list[Asked] = field(default_factory=list)
    articles: Path | None = None  # its articles dir (rerank_fit.py --links reads its links)


def open_corpus(name: str, articles: Path, queries: Path, qrels: Path, unanswerable: Path | None, cache: Path) -> Corpus:
    index_dir = cache / f"idx-{articles.name}"
    config = Config.from_env().with_(articles_dir=articles, index_dir=index_dir)
    kb = KB(config, models=EmbedderPool())
    kb.build_index()
    searcher = kb.index.get()
    rels = read_qrels(qrels)
    corpus = Corpus(name, searcher, rels, articles=articles)
    asked = [(q, True) for q in read_queries(queries) if str(q["_id"]) in rels]
    if unanswerable is not None and unanswerable.exists():
        asked += [(q, False) for q in read_queries(unanswerable)]
    saved = cache / f"rankings-{name}.pickle"
    stamp = (searcher.build.dir.name, [str(q["_id"]) + q["text"] for q, _ in asked])
    if saved.exists():
        old_stamp, table = pickle.loads(saved.read_bytes())
        if old_stamp == stamp:
            corpus.asked = [Asked(q, analyze_query(q["text"]), r, ok) for (q, ok), r in zip(asked, table, strict=True)]
    if not corpus.asked:
        table = []
        for q, ok in asked:
            info = analyze_query(q["text"])
            rankings, _ = searcher.rankings(info.text, lang=info.lang)
            table.append(rankings)
            corpus.asked.append(Asked(q, info, rankings, ok))
        saved.write_bytes(pickle.dumps((stamp, table)))
    for a in corpus.asked:
        a.evidence = searcher.evidence(a.info, a.rankings)
    return corpus


def corpora(names: list[str], cache: Path) -> list[Corpus]:
    out = []
    for name in names:
        if name in SETS:
            articles, dev = SETS[name]
            out.append(open_corpus(name, articles, dev / "queries.jsonl", dev / "qrels.tsv", dev / "unanswerable.jsonl", cache))
        elif name == "bundled-en":
            articles, dev = bundled_en(ROOT / "articles", DEV / "bundled", cache / "derived")
            out.append(open_corpus(name, articles, dev / "queries.jsonl", dev / "qrels.tsv", dev / "unanswerable.jsonl", cache))
        else:
            (s,) = prepare([name], cache / "public")
            out.append(open_corpus(name, s.articles, s.queries, s.qrels, None, cache))
    return out


# --- methods --------------------------------------------------------------------
Method = Callable[[Searcher, Asked], list[str]]


def _families(searcher: Searcher, articles: list[str]) -> list[str]:
    """One entry per family, where its best version ranked (the page shows the version in the
    reader's language, else English, else the original; the qrels list every version)."""
    seen: set[str] = set()
    out = []
    for a in articles:
        fam = searcher.family_of(a)
        if fam not in seen:
            seen.add(fam)
            out.append(a)
    return out


def default(searcher: Searcher, a: Asked) -> list[str]:
    fused = searcher.fuse(a.rankings, a.info, a.evidence)
    return [f.article for f in fused[:30]]


def fused_only(searcher: Searcher, a: Asked) -> list[str]:
    fused = searcher.fuse(a.rankings, a.info, a.evidence, reranked=False)
    return [f.article for f in fused[:30]]


def rrf_weighted(searcher: Searcher, a: Asked) -> list[str]:
    profiles = searcher.embedder_profiles()
    return article_run(searcher, a.rankings, weights_for(a.info, profiles), a.info, k=5)


def only(name: str) -> Method:
    def run(searcher: Searcher, a: Asked) -> list[str]:
        w = Weights(keyword=1.0 if name == "keyword" else 0.0, dense={name: 1.0}, cross={name: 1.0})
        return article_run(searcher, a.rankings, w, a.info, k=60)

    return run


def plain_rrf(searcher: Searcher, a: Asked) -> list[str]:
    names = {r.name for r in a.rankings if not r.name.endswith("~")}
    return article_run(searcher, a.rankings, Weights(1.0, dict.fromkeys(names, 1.0), dict.fromkeys(names, 1.0)), a.info, k=60)


def methods(corpus: Corpus) -> dict[str, Method]:
    out: dict[str, Method] = {
        "kb default": default, "fused, not re-ranked": fused_only, "rrf-weighted (old)": rrf_weighted,
        "plain RRF k=60": plain_rrf,
    }
    for name in ["keyword", *corpus.searcher.embedders]:
        out[f"only {name}"] = only(name)
    return out


def measure(corpus: Corpus, method: Method) -> dict[str, dict[str, float]]:
    run = {str(a.q["_id"]): _families(corpus.searcher, method(corpus.searcher, a)) for a in corpus.asked if a.answerable}
    return evaluate([a.q for a in corpus.asked if a.answerable], corpus.qrels, run)


# --- answerability, fitted leave-one-out ------------------------------------------
def fitting(held: Corpus, loaded: list[Corpus]) -> list[Corpus]:
    """The corpora a rule measured on ``held`` is fitted on: every one outside its group."""
    return [o for o in loaded if group_of(o.name) != group_of(held.name)]


def answerability(held: Corpus, others: list[Corpus]) -> tuple[answer.Rule, float, float, int, int]:
    train = [(a.evidence, a.answerable, c.name) for c in others for a in c.asked if a.evidence is not None]
    fitted = answer.fit(train)
    unans = [a for a in held.asked if not a.answerable]
    ans = [a for a in held.asked if a.answerable]
    caught = sum(1 for a in unans if not answer.decide(a.evidence, fitted).answered) / max(1, len(unans))
    wrong = sum(1 for a in ans if not answer.decide(a.evidence, fitted).answered) / max(1, len(ans))
    return fitted, caught, wrong, len(unans), len(ans)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpora", default=",".join(DEFAULT),
                    help=f"comma-separated, from {', '.join([*DEFAULT, *PUBLIC])}")
    ap.add_argument("--public", action="store_true", help="also the BEIR sets (xquad-zh, xquad-en2zh, jsquad)")
    ap.add_argument("--cache-dir", type=Path, default=Path("/tmp/kb-loo"))
    args = ap.parse_args()
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    names = [n.strip() for n in args.corpora.split(",") if n.strip()] + (list(PUBLIC) if args.public else [])
    loaded = corpora(names, args.cache_dir)
    print("| corpus | method | hit@5 | MRR@10 | hit@5 by query language |\n|---|---|---|---|---|")
    for c in loaded:
        for label, method in methods(c).items():
            r = measure(c, method)
            langs = " ".join(f"{g[5:]} {r[g]['hit@5']:.3f}" for g in sorted(r) if g.startswith("lang="))
            print(f"| {c.name} | {label} | {r['all']['hit@5']:.3f} | {r['all']['mrr@10']:.3f} | {langs} |", flush=True)
    print("\n| held-out corpus | unanswerable caught (answered=false) | answerable marked unanswered | rule fitted on the others |")
    print("|---|---|---|---|")
    for c in loaded:
        if not any(not a.answerable for a in c.asked):
            continue
        fitted, caught, wrong, nu, na = answerability(c, fitting(c, loaded))
        print(f"| {c.name} | {caught:.2f} (of {nu}) | {wrong:.3f} (of {na}) | {fitted} |")
    every = answer.fit([(a.evidence, a.answerable, c.name) for c in loaded for a in c.asked])
    print(f"\nFitted on every corpus above (search/answer.py RULE): {every}\nin use: {answer.RULE}\n{every!r}")


if __name__ == "__main__":
    main()
