"""Which evidence separates unanswerable questions from answerable ones, held out.

Reads the saved rankings of benchmarks/loo.py (same ``--cache-dir``), prints the
evidence of every question the current rule gets wrong when its thresholds are
fitted on the other corpora, then compares candidate rules leave-one-corpus-out (bundled
and bundled-en held out together, as in loo.py).

    .venv/bin/python benchmarks/answer_study.py --corpora bundled,skt-ko,sustech-zh --cache-dir /tmp/kb-loo
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import astuple, fields
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.loo import DEFAULT, Corpus, corpora, fitting  # noqa: E402
from search import answer  # noqa: E402

Rule = Callable[[list[tuple[answer.Evidence | None, bool, str]]], Callable[[answer.Evidence | None], bool]]


def _rule(
    native: tuple[str, ...], foreign: tuple[str, ...] = answer.FOREIGN_FEATURES, max_wrong: float = answer.FIT_MAX_WRONG,
    calibrate: bool = True, balance: bool = True, each: bool = True,
    bridged: tuple[str, ...] | None = answer.BRIDGED_FEATURES, apart: bool = False,
) -> Rule:
    def rule(train: list[tuple[answer.Evidence | None, bool, str]]) -> Callable[[answer.Evidence | None], bool]:
        r = answer.fit(train, max_wrong, native, foreign, calibrate, balance, each, bridged, apart)
        return lambda e: answer.decide(e, r).answered

    return rule


NATIVE = answer.NATIVE_FEATURES
FIVE = tuple(f for f in NATIVE if f != "missing_any")  # the rule of 2026-12-02 (with today's ``unknown``)
RULES: dict[str, Rule] = {
    "kept": _rule(NATIVE),
    "one foreign model (no bridged model)": _rule(NATIVE, bridged=None),
    "foreign model fitted without the bridged questions": _rule(NATIVE, apart=True),
    "bridged: + bridge_agree": _rule(NATIVE, bridged=("similarity", "bridge_agree")),
    "bridged: + rare_coverage": _rule(NATIVE, bridged=("similarity", "rare_coverage")),
    "bridged: + coverage, rare_coverage": _rule(NATIVE, bridged=("similarity", "coverage", "rare_coverage")),
    "bridged: + agree": _rule(NATIVE, bridged=("similarity", "agree")),
    "bridged: + missing_any": _rule(NATIVE, bridged=("similarity", "missing_any")),
    "bridged: + margin": _rule(NATIVE, bridged=("similarity", "margin")),
    "bridged: + bridge_disagree": _rule(NATIVE, bridged=("similarity", "bridge_disagree")),
    "native without missing_any": _rule(FIVE),
    "missing (keyword side only) for missing_any": _rule((*FIVE, "missing")),
    "+ models_agree": _rule((*NATIVE, "models_agree")),
    "+ margin": _rule((*NATIVE, "margin")),
    "foreign: + rare_coverage": _rule(NATIVE, ("similarity", "rare_coverage")),
    "foreign: + margin": _rule(NATIVE, ("similarity", "margin")),
    "foreign: + bridge_disagree": _rule(NATIVE, ("similarity", "bridge_disagree")),
    "cap 0.04 per corpus": _rule(NATIVE, max_wrong=0.04),
    "cap 0.02 per corpus": _rule(NATIVE, max_wrong=0.02),
    "one pooled cap": _rule(NATIVE, each=False),
    "one pooled cap, examples not weighed per corpus": _rule(NATIVE, balance=False, each=False),
}


def _fmt(e: answer.Evidence | None) -> str:
    if e is None:
        return "none"
    return " ".join(f"{f.name[:6]}={v:.2f}" if isinstance(v, float) else f"{f.name[:6]}={v if isinstance(v, str) else int(v)}"
                    for f, v in zip(fields(e), astuple(e), strict=True))


def show_errors(loaded: list[Corpus], rule: Rule) -> None:
    for c in loaded:
        decide = rule([(a.evidence, a.answerable, o.name) for o in fitting(c, loaded) for a in o.asked])
        print(f"\n## {c.name}")
        for a in c.asked:
            if decide(a.evidence) == a.answerable:
                continue
            label = "UNANS still answered" if not a.answerable else "ANS marked unanswered"
            print(f"{label:22} {a.q.get('lang', '?')} {a.q.get('kind', '?'):12} {_fmt(a.evidence)} | {a.q['text']}")


def compare(loaded: list[Corpus]) -> None:
    print("\n| rule | " + " | ".join(c.name for c in loaded) + " | mean caught | max wrong |")
    print("|---|" + "---|" * len(loaded) + "---|---|")
    for label, rule in RULES.items():
        cells, caught_all, wrong_all = [], [], []
        for c in loaded:
            decide = rule([(a.evidence, a.answerable, o.name) for o in fitting(c, loaded) for a in o.asked])
            un = [a for a in c.asked if not a.answerable]
            ans = [a for a in c.asked if a.answerable]
            caught = sum(not decide(a.evidence) for a in un) / max(1, len(un))
            wrong = sum(not decide(a.evidence) for a in ans) / max(1, len(ans))
            cells.append(f"{caught:.2f} / {wrong:.3f}")
            caught_all.append(caught)
            wrong_all.append(wrong)
        mean = sum(caught_all) / len(caught_all)
        print(f"| {label} | " + " | ".join(cells) + f" | {mean:.2f} | {max(wrong_all):.3f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpora", default=",".join(DEFAULT))
    ap.add_argument("--cache-dir", type=Path, default=Path("/tmp/kb-loo"))
    ap.add_argument("--errors", default="kept", help="the rule whose held-out errors are printed")
    args = ap.parse_args()
    loaded = corpora([n.strip() for n in args.corpora.split(",") if n.strip()], args.cache_dir)
    if args.errors:  # "" for none
        show_errors(loaded, RULES[args.errors])
    compare(loaded)


if __name__ == "__main__":
    main()
