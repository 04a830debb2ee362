"""Retrieval metrics over BEIR-style query and qrels files."""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

KS = (1, 5, 10)


def read_queries(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t")
        for row in reader:
            if not row or row[0] in ("query-id", "query_id"):
                continue
            qid, doc, score = row[0], row[1], int(row[2]) if len(row) > 2 else 1
            if score > 0:
                qrels[qid][doc] = score
    return dict(qrels)


def query_metrics(ranked: list[str], relevant: dict[str, int]) -> dict[str, float]:
    out: dict[str, float] = {}
    for k in KS:
        out[f"recall@{k}"] = len(set(ranked[:k]) & set(relevant)) / len(relevant)
    # "Hit@k" (any relevant article in the top k) is what a reader experiences.
    out["hit@5"] = 1.0 if set(ranked[:5]) & set(relevant) else 0.0
    rr = 0.0
    for i, d in enumerate(ranked[:10]):
        if d in relevant:
            rr = 1.0 / (i + 1)
            break
    out["mrr@10"] = rr
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sorted(relevant.values(), reverse=True)[:10]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    out["ndcg@10"] = dcg / idcg if idcg else 0.0
    return out


def evaluate(
    queries: Iterable[dict], qrels: dict[str, dict[str, int]], run: dict[str, list[str]]
) -> dict[str, dict[str, float]]:
    """Mean metrics overall and per ``lang`` and ``kind`` value: {group: {metric: value, "n": count}}."""
    groups: dict[str, list[dict[str, float]]] = defaultdict(list)
    for q in queries:
        qid = str(q["_id"])
        if qid not in qrels:
            continue
        m = query_metrics(run.get(qid, []), qrels[qid])
        groups["all"].append(m)
        for key in ("lang", "kind"):
            if q.get(key):
                groups[f"{key}={q[key]}"].append(m)
    report: dict[str, dict[str, float]] = {}
    for g, ms in groups.items():
        report[g] = {k: sum(m[k] for m in ms) / len(ms) for k in ms[0]}
        report[g]["n"] = len(ms)
    return report


def format_report(report: dict[str, dict[str, float]]) -> str:
    cols = ["recall@1", "recall@5", "recall@10", "hit@5", "mrr@10", "ndcg@10"]
    lines = [f"{'group':<22}{'n':>5}" + "".join(f"{c:>11}" for c in cols)]
    order = ["all"] + sorted(g for g in report if g.startswith("lang=")) + sorted(g for g in report if g.startswith("kind="))
    for g in order:
        r = report[g]
        lines.append(f"{g:<22}{int(r['n']):>5}" + "".join(f"{r[c]:>11.3f}" for c in cols))
    return "\n".join(lines)
