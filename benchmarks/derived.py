"""Dev corpora derived at run time from another one (never committed as articles).

``bundled-en``: the bundled handbook (``articles/``) as an English-only handbook, the kind
the blind one is (an English handbook asked in en/ja/ko/zh, like 18F). Only its ``lang: en``
articles are copied, and the Japanese, Korean and Chinese entries of their ``aliases`` and
``tags`` and of the synonym groups (``synonyms.yml``, ``departments.yml``) are dropped: 18F
has none, and with them a CJK question finds its English article by keyword, which no
English-only handbook offers. Bodies are copied as written (a few local terms in parentheses,
"給与明細 / 급여명세서 / 工资条", as an English handbook of a company with Asian offices has).

Its questions are bundled's Japanese, Korean and Chinese ones: the answerable ones whose
answer has an English version (each qrel mapped to the English original it translates;
questions only a CJK-only article answers are left out) and every unanswerable one. Over
the full bundled index they are "native" (it holds 12% Chinese, 7% Korean chunks); here
they are what the bridged model must judge on the blind handbook: CJK over English.

It shares its questions with ``bundled``, so leave-one-out holds the two out together
(``GROUP``): a rule fitted on one and measured on the other would have seen the questions.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from kb.content.loader import load_library
from search.evaluate import read_qrels, read_queries

#: derived corpus -> the corpus it is derived from (held out together with it)
GROUP = {"bundled-en": "bundled"}
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
#: A one-line flow list in YAML: front matter ``aliases: [...]``/``tags: [...]``, a synonym group ``- [...]``.
_FLOW = re.compile(r"^(\s*(?:aliases:|tags:|-)\s*)\[(.*)\]\s*$")
CJK_LANGS = ("ja", "ko", "zh")


def group_of(name: str) -> str:
    """The leave-one-out group of a corpus: corpora in one group are held out together."""
    return GROUP.get(name, name)


def without_cjk_terms(text: str, front_matter_only: bool = False) -> str:
    """``text`` with the CJK items of its one-line YAML flow lists dropped (a list left empty stays, ``[]``)."""
    lines = text.split("\n")
    end = len(lines)
    if front_matter_only:
        end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "---"), 0) if lines[0] == "---" else 0
    for i in range(end):
        m = _FLOW.match(lines[i])
        if m and (m.group(1).strip() != "-" or not front_matter_only):
            kept = [t for t in (x.strip() for x in m.group(2).split(",")) if t and not _CJK.search(t)]
            lines[i] = f"{m.group(1)}[{', '.join(kept)}]"
    return "\n".join(lines)


def _write(path: Path, text: str) -> None:
    # Unchanged files are left alone, so the index build stays incremental.
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def bundled_en(source: Path, dev: Path, out: Path) -> tuple[Path, Path]:
    """Write ``bundled-en`` under ``out`` from the articles dir ``source`` and bundled's dev set
    ``dev``; returns (articles dir, dev-set dir with queries.jsonl, qrels.tsv, unanswerable.jsonl)."""
    articles, dev_out = out / "bundled-en", out / "bundled-en-dev"
    lib = load_library(source, use_git=False)
    english = {p for p, a in lib.articles.items() if a.lang == "en"}
    for old in articles.rglob("*.md") if articles.exists() else []:
        if old.relative_to(articles).as_posix() not in english:
            old.unlink()
    for p in english:
        _write(articles / p, without_cjk_terms((source / p).read_text(encoding="utf-8"), front_matter_only=True))
    for name in ("synonyms.yml", "departments.yml"):
        if (source / name).exists():
            _write(articles / name, without_cjk_terms((source / name).read_text(encoding="utf-8")))
    original = {p: (a.translation_of if a.translation_of in english else p) for p, a in lib.articles.items()}
    rels: dict[str, set[str]] = {}
    for qid, docs in read_qrels(dev / "qrels.tsv").items():
        for doc in docs:
            if original.get(doc) in english:
                rels.setdefault(qid, set()).add(original[doc])
    asked = [q for q in read_queries(dev / "queries.jsonl") if q.get("lang") in CJK_LANGS and q["_id"] in rels]
    _write(dev_out / "queries.jsonl", "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in asked))
    _write(dev_out / "qrels.tsv", "query-id\tcorpus-id\tscore\n" + "".join(
        f"{q['_id']}\t{d}\t1\n" for q in asked for d in sorted(rels[q["_id"]])))
    unans = [x for x in (dev / "unanswerable.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    _write(dev_out / "unanswerable.jsonl", "".join(x + "\n" for x in unans if json.loads(x).get("lang") in CJK_LANGS))
    return articles, dev_out
