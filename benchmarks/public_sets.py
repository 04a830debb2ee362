"""Public retrieval sets (XQuAD-R zh/en, JSQuAD) as kb articles, plus the dev sets, evaluated.

kb indexes a directory of Markdown articles, so each BEIR corpus is written as
one article per passage (``<safe _id>.md``, front matter ``title:``, the passage
as the body) and the qrels are rewritten to point at those files. The queries
get ``lang`` and ``kind`` fields, so ``kb eval`` and ``benchmarks/fusion_study.py``
break the results down by them.

Run from the repository root:

    .venv/bin/python benchmarks/public_sets.py                       # convert only; print the paths
    .venv/bin/python benchmarks/public_sets.py --eval --fusion       # kb eval + fusion_study on every set
    .venv/bin/python benchmarks/public_sets.py --sets xquad-zh,jsquad --eval
    .venv/bin/python benchmarks/public_sets.py --sets 18f-dev --fusion --summary

Sets: xquad-zh (Chinese questions, Chinese sentence pool), xquad-en2zh (the same
questions in English over the Chinese pool), xquad-en (English over English),
jsquad (600 dev questions, seed 0, over all 2,304 passages), and the dev sets
18f-dev, gitlab-ja-dev, bundled-dev (used in place). Converted files go under
``--cache-dir`` (default /tmp/kb-public-sets) and are reused when present.
Indexes go to kb's default cache (~/.cache/kb/indexes/), one per articles dir.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CORPORA = Path("/work/shared/corpora")
XQUAD = CORPORA / "xquad-r-zh-en"
JSQUAD = CORPORA / "jsquad-retrieval-ja" / "beir"
DEV = ROOT / "benchmarks" / "dev"
JSQUAD_SAMPLE = 600
JSQUAD_SEED = 0

#: fusion_study rows summarised by --summary, and the names shown for them.
SUMMARY_ROWS = {
    "only keyword": "keyword only",
    "only minilm": "MiniLM only",
    "only use-m3": "USE only",
    "plain RRF k=60, all": "plain RRF (k=60)",
    "weighted (default) k=5": "fused default (k=5)",
}


@dataclass(frozen=True)
class EvalSet:
    name: str
    articles: Path
    queries: Path
    qrels: Path


# --- conversion ---------------------------------------------------------------
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def safe_id(doc_id: str) -> str:
    """A file name for a corpus id: unsafe characters become ``_``; never hidden."""
    name = _UNSAFE.sub("_", doc_id) or "_"
    return "_" + name if name.startswith(".") else name


def read_jsonl(path: Path) -> Iterator[dict]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def read_qrels(path: Path) -> list[tuple[str, str, int]]:
    """(query-id, corpus-id, score) rows with score > 0, header skipped."""
    rows = []
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.reader(f, delimiter="\t"):
            if not row or row[0] in ("query-id", "query_id"):
                continue
            score = int(row[2]) if len(row) > 2 else 1
            if score > 0:
                rows.append((row[0], row[1], score))
    return rows


def convert_corpus(corpus: Path, dest: Path) -> dict[str, str]:
    """Write one article per passage into ``dest`` (skipped when done before).

    Returns corpus id -> article path relative to ``dest``.
    """
    names: dict[str, str] = {}
    used: set[str] = set()
    docs = list(read_jsonl(corpus))
    for doc in docs:
        base = safe_id(str(doc["_id"]))
        name, n = base, 1
        while name.lower() in used:  # ids differing only in unsafe characters or case
            n += 1
            name = f"{base}-{n}"
        used.add(name.lower())
        names[str(doc["_id"])] = f"{name}.md"
    marker = dest / ".complete"
    if marker.exists() and marker.read_text(encoding="utf-8").strip() == str(len(docs)):
        return names
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=dest.name + ".", dir=dest.parent))
    for doc in docs:
        title = str(doc.get("title") or "").strip() or str(doc["_id"])
        front = yaml.safe_dump({"title": title}, allow_unicode=True, sort_keys=False)
        body = str(doc.get("text") or "").strip()
        (tmp / names[str(doc["_id"])]).write_text(f"---\n{front}---\n{body}\n", encoding="utf-8")
    (tmp / ".complete").write_text(str(len(docs)), encoding="utf-8")
    if dest.exists():
        shutil.rmtree(dest)
    tmp.rename(dest)
    return names


def write_set(
    out: Path,
    queries: list[dict],
    qrels: list[tuple[str, str, int]],
    names: dict[str, str],
    lang: str,
    kind: str,
) -> tuple[Path, Path]:
    """Queries with ``lang``/``kind`` and qrels pointing at article paths, for the queries given."""
    out.mkdir(parents=True, exist_ok=True)
    wanted = {str(q["_id"]) for q in queries}
    qpath, rpath = out / "queries.jsonl", out / "qrels.tsv"
    with open(qpath, "w", encoding="utf-8") as f:
        for q in queries:
            f.write(
                json.dumps({"_id": str(q["_id"]), "text": q["text"], "lang": lang, "kind": kind}, ensure_ascii=False)
            )
            f.write("\n")
    with open(rpath, "w", encoding="utf-8", newline="") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for qid, doc, score in qrels:
            if qid in wanted:
                f.write(f"{qid}\t{names[doc]}\t{score}\n")
    return qpath, rpath


def xquad_sets(cache: Path) -> dict[str, EvalSet]:
    zh_dir, en_dir = cache / "xquad-r-zh" / "articles", cache / "xquad-r-en" / "articles"
    zh_names = convert_corpus(XQUAD / "beir-zh" / "corpus.jsonl", zh_dir)
    en_names = convert_corpus(XQUAD / "beir-en" / "corpus.jsonl", en_dir)
    zh_qrels = read_qrels(XQUAD / "beir-zh" / "qrels" / "test.tsv")
    en_qrels = read_qrels(XQUAD / "beir-en" / "qrels" / "test.tsv")
    zh_queries = list(read_jsonl(XQUAD / "beir-zh" / "queries.jsonl"))
    en_queries = list(read_jsonl(XQUAD / "beir-en" / "queries.jsonl"))
    sets = {}
    for name, articles, queries, qrels, names, lang, kind in (
        ("xquad-zh", zh_dir, zh_queries, zh_qrels, zh_names, "zh", "monolingual"),
        ("xquad-en2zh", zh_dir, en_queries, zh_qrels, zh_names, "en", "crosslingual"),
        ("xquad-en", en_dir, en_queries, en_qrels, en_names, "en", "monolingual"),
    ):
        qpath, rpath = write_set(cache / "sets" / name, queries, qrels, names, lang, kind)
        sets[name] = EvalSet(name, articles, qpath, rpath)
    return sets


def jsquad_set(cache: Path) -> EvalSet:
    articles = cache / "jsquad-ja" / "articles"
    names = convert_corpus(JSQUAD / "corpus.jsonl", articles)
    qrels = read_qrels(JSQUAD / "qrels" / "dev.tsv")
    dev_ids = list(dict.fromkeys(qid for qid, _, _ in qrels))
    sample = set(random.Random(JSQUAD_SEED).sample(dev_ids, JSQUAD_SAMPLE))
    queries = [q for q in read_jsonl(JSQUAD / "queries.jsonl") if str(q["_id"]) in sample]
    qpath, rpath = write_set(cache / "sets" / "jsquad", queries, qrels, names, "ja", "monolingual")
    return EvalSet("jsquad", articles, qpath, rpath)


def dev_sets() -> dict[str, EvalSet]:
    return {
        "18f-dev": EvalSet(
            "18f-dev", CORPORA / "18f-handbook", DEV / "18f" / "queries.jsonl", DEV / "18f" / "qrels.tsv"
        ),
        "gitlab-ja-dev": EvalSet(
            "gitlab-ja-dev",
            CORPORA / "gitlab-handbook-ja",
            DEV / "gitlab-ja" / "queries.jsonl",
            DEV / "gitlab-ja" / "qrels.tsv",
        ),
        "bundled-dev": EvalSet(
            "bundled-dev", ROOT / "articles", DEV / "bundled" / "queries.jsonl", DEV / "bundled" / "qrels.tsv"
        ),
    }


ALL_SETS = ("18f-dev", "gitlab-ja-dev", "bundled-dev", "xquad-zh", "xquad-en2zh", "xquad-en", "jsquad")


def prepare(names: list[str], cache: Path) -> list[EvalSet]:
    available: dict[str, EvalSet] = dev_sets()
    if any(n.startswith("xquad") for n in names):
        available.update(xquad_sets(cache))
    if "jsquad" in names:
        available["jsquad"] = jsquad_set(cache)
    return [available[n] for n in names]


# --- running ------------------------------------------------------------------
def run(cmd: list[str]) -> str:
    """Run a command from the repository root, echoing and returning its stdout."""
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}")
    return proc.stdout


def _set_args(s: EvalSet) -> list[str]:
    return ["--articles", str(s.articles), "--queries", str(s.queries), "--qrels", str(s.qrels)]


def kb_eval(s: EvalSet) -> str:
    return run([sys.executable, "-m", "kb", "eval", *_set_args(s)])


def english_first(s: EvalSet, cache: Path) -> EvalSet:
    """The set with an English query first (same queries otherwise).

    fusion_study.py takes the list of retrievers from the first query's rankings,
    and MiniLM produces none for a non-English query, so a set starting with a
    Japanese query would get no "only minilm" row and a plain RRF without MiniLM.
    """
    queries = list(read_jsonl(s.queries))
    first_en = next((i for i, q in enumerate(queries) if q.get("lang") == "en"), None)
    if not first_en:  # None (no English query) or 0 (already first)
        return s
    queries.insert(0, queries.pop(first_en))
    out = cache / "sets" / s.name / "queries.english-first.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in queries), encoding="utf-8")
    return EvalSet(s.name, s.articles, out, s.qrels)


def fusion_study(s: EvalSet) -> str:
    return run([sys.executable, str(ROOT / "benchmarks" / "fusion_study.py"), *_set_args(s)])


_ROW = re.compile(r"^(?P<label>.+?)\s+hit@5=(?P<hit>[\d.]+) mrr=(?P<mrr>[\d.]+)\s*(?P<langs>.*)$")


def summarise(output: str) -> list[tuple[str, str, dict[str, str]]]:
    """(row name, overall hit@5, {lang: hit@5}) for the SUMMARY_ROWS found in fusion_study output."""
    rows = []
    for line in output.splitlines():
        m = _ROW.match(line)
        if m and m["label"].strip() in SUMMARY_ROWS:
            langs = dict(part.split("=", 1) for part in m["langs"].split())
            rows.append((SUMMARY_ROWS[m["label"].strip()], m["hit"], langs))
    return rows


def summary_table(rows: list[tuple[str, str, dict[str, str]]]) -> str:
    langs = sorted({lang for _, _, by in rows for lang in by})
    found = {name for name, _, _ in rows}
    lines = ["| retriever | all | " + " | ".join(langs) + " |", "|---" * (len(langs) + 2) + "|"]
    for name, hit, by in rows:
        lines.append(f"| {name} | {hit} | " + " | ".join(by.get(lang, "-") for lang in langs) + " |")
    for name in SUMMARY_ROWS.values():
        if name not in found:
            lines.append(f"| {name} | n/a (retriever not in this index) |" + " |" * len(langs))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default=",".join(ALL_SETS), help=f"comma-separated, from: {', '.join(ALL_SETS)}")
    ap.add_argument("--cache-dir", type=Path, default=Path("/tmp/kb-public-sets"))
    ap.add_argument("--eval", action="store_true", help="print the `kb eval` table of each set")
    ap.add_argument("--fusion", action="store_true", help="print the fusion_study output of each set")
    ap.add_argument("--summary", action="store_true", help="with --fusion: also a Markdown hit@5 table per language")
    args = ap.parse_args()
    names = [n.strip() for n in args.sets.split(",") if n.strip()]
    unknown = [n for n in names if n not in ALL_SETS]
    if unknown:
        ap.error(f"unknown set(s): {', '.join(unknown)}")
    for s in prepare(names, args.cache_dir):
        print(f"## {s.name}\narticles: {s.articles}\nqueries:  {s.queries}\nqrels:    {s.qrels}\n", flush=True)
        if args.eval:
            print(f"### kb eval ({s.name})\n{kb_eval(s)}\n", flush=True)
        if args.fusion:
            out = fusion_study(english_first(s, args.cache_dir))
            print(f"### fusion_study ({s.name})\n{out}", flush=True)
            if args.summary:
                print(f"### hit@5 by query language ({s.name})\n{summary_table(summarise(out))}\n", flush=True)


if __name__ == "__main__":
    main()
