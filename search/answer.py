"""Whether a search answered the question, from calibrated evidence (search/evidence.py).

A ranking always has a first result, so "the top hit" says nothing about whether
the handbook answers. The evidence (``Evidence``: similarity read on each model's
and each language's scale, plain and idf-weighted keyword coverage, the query
words the index has nowhere, agreement) is on scales that mean the same on every
corpus; evidence.py says what each part is and why.

The decision (``Rule``) is three logistic models, fitted with ``fit`` (``RULE``:
on all six dev corpora): ``native`` for a question in a language the index has;
``foreign`` for one in a language it (almost) lacks, under 5% of its chunks, on
its similarity alone (it has no words of its own to match); ``bridged`` for a
foreign question the bridge translated into the index's English, i.e. Japanese,
Korean or Chinese over an English handbook, the kind the blind handbook gets,
also on its similarity alone. Every corpus weighs the same, then the cut is moved
so that at most 3% of each fitting corpus's answerable questions are marked
unanswered (the target is 5% on held-out ones; one pooled cap let 18F and
sustech-zh reach 7.3-7.5% held out).

Why a bridged model: with one foreign model, its cut was set by the lowest
answerable English questions over CJK handbooks (GitLab-ja, skt-ko, sustech-zh),
the other direction, whose cosines are of another kind; 18F's Korean, Japanese
and Chinese near misses sat above it. The bridged model is fitted on bridged
questions alone: 18F's and those of ``bundled-en`` (the bundled handbook without
its translations, asked its ja/ko/zh questions: benchmarks/derived.py). The
foreign model is still fitted on every foreign question, bridged ones too: fitted
without them, on two corpora at a time, skt-ko's wrongly unanswered went from 2.5%
to 7.5% held out.

Held out (benchmarks/loo.py: each corpus's rule fitted on the others, bundled and
bundled-en held out together; 2026-12-04), caught / wrongly unanswered: 18F 0.26 /
0.005, GitLab-ja 0.40 / 0.010, bundled 0.64 / 0.017, skt-ko 0.44 / 0.025,
sustech-zh 0.62 / 0.000, bundled-en 0.53 / 0.044 (one foreign model, on the same
questions: 0.14 / 0, 0.40 / 0.010, 0.64 / 0.017, 0.44 / 0.025, 0.62 / 0, 0.37 / 0).

Most misses are still questions in a language the index lacks (their cosines are
those of real cross-language questions) and English near misses over 18F. What was
measured and not kept (the margin, the models' agreement, keyword coverage, the
bridge's agreement and its translation's coverage): benchmarks/README.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from .evidence import Evidence

NOTHING_MATCHED = "nothing_matched"
WEAK_MATCHES = "weak_matches"
#: Share of answerable questions the fit may mark unanswered on its own corpora.
FIT_MAX_WRONG = 0.03

MIN_CALIBRATION = 10  # answerable examples a language group needs for its own similarity scale
MIN_UNANSWERABLE = 5  # fewer unanswerable examples than this in a group: it is not fitted
CUT_SLACK = 0.005  # the fitted weights are rounded: the answerable example on the cut must stay answered


@dataclass(frozen=True)
class Decision:
    answered: bool
    reason: str | None = None  # NOTHING_MATCHED or WEAK_MATCHES when not answered


#: What the rule weighs for a question in the index's language, for one in a language it lacks,
#: and for one of those the bridge translated (Korean over an English handbook).
NATIVE_FEATURES = ("similarity", "coverage", "rare_coverage", "unknown", "agree", "missing_any")
FOREIGN_FEATURES = ("similarity",)
BRIDGED_FEATURES = ("similarity",)


@dataclass(frozen=True)
class Model:
    """A linear score over some features: answered when it is at least 0."""

    weights: tuple[tuple[str, float], ...]
    bias: float

    def score(self, ev: Evidence) -> float:
        return self.bias + sum(w * _feature(ev, name) for name, w in self.weights)

    def __str__(self) -> str:
        return " ".join(f"{n}={w:+.2f}" for n, w in self.weights) + f" bias={self.bias:+.2f}"


@dataclass(frozen=True)
class Rule:
    """One model for questions in a language the index has, one for the others: their
    evidence differs in kind (a Korean question over an English handbook has no words of
    its own to match; only the bridge's translation does). ``bridged``: the model for the
    foreign questions the bridge translated (Japanese, Korean, Chinese over an English
    handbook), apart from the ones it did not (English over a Japanese one), whose
    similarities are of another kind; None: the foreign model judges those too.

    ``scales``: per calibration group (``Evidence.group``), the median similarity of answerable
    questions; a similarity is read relative to it, because a Korean question's best cosine
    is about two thirds of an English one's for the same kind of match (0.34 against 0.52)."""

    native: Model
    foreign: Model
    scales: tuple[tuple[str, float], ...] = ()
    bridged: Model | None = None

    def model_for(self, ev: Evidence) -> Model:
        if not ev.foreign:
            return self.native
        return self.bridged if ev.bridged and self.bridged is not None else self.foreign

    def answers(self, ev: Evidence) -> bool:
        ev = _calibrated(ev, dict(self.scales))
        return self.model_for(ev).score(ev) >= 0

    def __str__(self) -> str:
        scales = " ".join(f"{g}={v:.2f}" for g, v in self.scales)
        bridged = f"; bridged: {self.bridged}" if self.bridged is not None else ""
        return f"native: {self.native}; foreign: {self.foreign}{bridged}; scales: {scales or '-'}"


ALWAYS = Model((), 1.0)  # what a group without unanswerable examples to fit on gets


def _feature(ev: Evidence, name: str) -> float:
    if name == "cross_similarity":
        return ev.similarity if ev.cross else 0.0
    if name == "bridge_disagree":  # the translation's keyword hits are elsewhere (0 without a bridge)
        return float(ev.bridged and not ev.bridge_agree)
    return float(getattr(ev, name))


#: Fitted with benchmarks/loo.py on the 18F, GitLab-ja, bundled, skt-ko, sustech-zh and bundled-en dev sets
#: (2026-12-04, 30-44 unanswerable questions each); see benchmarks/README.md.
RULE = Rule(
    native=Model(
        (("similarity", 2.067), ("coverage", -4.631), ("rare_coverage", 7.951), ("unknown", -1.588), ("agree", 0.858),
         ("missing_any", 1.124)),
        bias=-1.955,
    ),
    foreign=Model((("similarity", 3.57),), bias=-1.251),
    scales=(
        ("*/foreign", 0.338), ("*/native", 0.462), ("en/foreign", 0.359), ("en/native", 0.516), ("ja/foreign", 0.371),
        ("ja/native", 0.414), ("ko/foreign", 0.308), ("ko/native", 0.335), ("zh/foreign", 0.333), ("zh/native", 0.424),
    ),
    bridged=Model((("similarity", 3.9),), bias=-2.046),
)


def decide(ev: Evidence | None, rule: Rule | None = None) -> Decision:
    """Answered, or why not: nothing matched at all (no results are shown), or only weak matches."""
    if ev is None:
        return Decision(False, NOTHING_MATCHED)
    if (rule or RULE).answers(ev):
        return Decision(True)
    if ev.coverage == 0 and not ev.agree and not ev.bridge_agree and (not ev.foreign or ev.similarity == 0):
        # No word of the query (or of its translation) in the keyword side's best chunks,
        # and the models found nothing close: what they return is the nearest noise. A
        # question in a language the index lacks has no words to match, so for it only the
        # models can say "nothing": its closest articles stay, as possibly related.
        return Decision(False, NOTHING_MATCHED)
    return Decision(False, WEAK_MATCHES)


#: One fitting example: the evidence, whether the handbook answers, and which corpus it is from.
Example = tuple[Evidence, bool, str]


def fit_model(examples: Sequence[Example], names: Sequence[str], max_wrong: float = FIT_MAX_WRONG, ridge: float = 0.1,
              balance: bool = True, each: bool = True) -> Model:
    """A logistic regression on ``names``, its cut then moved so that on every corpus at most
    ``max_wrong`` of the answerable examples score below it.

    Each corpus weighs the same, and so do its answerable and its unanswerable examples:
    otherwise the biggest dev set (18F, 205 English questions) sets the rule for all."""
    if sum(1 for _, ok, _ in examples if not ok) < MIN_UNANSWERABLE or all(not ok for _, ok, _ in examples):
        return ALWAYS  # nothing to fit on, or no answerable example to keep answered
    x = np.array([[_feature(e, n) for n in names] + [1.0] for e, _, _ in examples])
    y = np.array([1.0 if ok else 0.0 for _, ok, _ in examples])
    counts: dict[tuple[str, bool], int] = {}
    counts_ok = {True: 0, False: 0}
    for _, ok, src in examples:
        counts[src, ok] = counts.get((src, ok), 0) + 1
        counts_ok[ok] += 1
    sample = np.array([1.0 / (counts[src, ok] if balance else counts_ok[ok]) for _, ok, src in examples])
    sample /= sample.sum()
    w = np.zeros(x.shape[1])
    penalty = ridge * np.eye(x.shape[1]) / len(y)
    penalty[-1, -1] = 0.0  # the bias is not shrunk
    for _ in range(50):  # Newton steps: a handful of features converge in a few
        p = 1 / (1 + np.exp(-(x @ w)))
        grad = x.T @ (sample * (p - y)) + penalty @ w
        hess = (x * (sample * p * (1 - p))[:, None]).T @ x + penalty + 1e-9 * np.eye(len(w))
        w -= np.linalg.solve(hess, grad)
    scores = x @ w
    cut = min(
        float(np.sort(scores[mask])[int(max_wrong * mask.sum())])
        for src in ({s for _, _, s in examples} if each else {None})
        if (mask := (y == 1) & np.array([src is None or s == src for _, _, s in examples])).any()
    )
    # A little below the cut: the weights are rounded, and the answerable example on it must stay answered.
    bias = round(float(w[-1] - cut) + CUT_SLACK, 3)
    return Model(tuple((n, round(float(v), 3)) for n, v in zip(names, w[:-1], strict=True)), bias)


def fit(
    examples: Iterable[tuple[Evidence | None, bool] | tuple[Evidence | None, bool, str]], max_wrong: float = FIT_MAX_WRONG,
    native: Sequence[str] = NATIVE_FEATURES, foreign: Sequence[str] = FOREIGN_FEATURES, calibrate: bool = True,
    balance: bool = True, each: bool = True, bridged: Sequence[str] | None = BRIDGED_FEATURES, apart: bool = False,
) -> Rule:
    """The rule fitted on ``examples`` (evidence, answerable[, corpus]): the similarity scales
    first, then each group (native, foreign, and bridged unless ``bridged`` is None) on its
    own, held to ``max_wrong`` answerable examples marked unanswered on each corpus. Without
    ``MIN_UNANSWERABLE`` bridged unanswerable examples, or without a bridged answerable one,
    the foreign model judges them too."""
    data: list[Example] = [(x[0], x[1], x[2] if len(x) > 2 else "") for x in examples if x[0] is not None]
    scales = _scales([e for e, ok, _ in data if ok]) if calibrate else {}
    data = [(_calibrated(e, scales), ok, src) for e, ok, src in data]
    away = [x for x in data if x[0].foreign]
    # A bridged model needs both kinds to set a cut: with no answerable example it would answer everything.
    split = (bridged is not None and sum(1 for e, ok, _ in away if e.bridged and not ok) >= MIN_UNANSWERABLE
             and any(e.bridged and ok for e, ok, _ in away))
    return Rule(
        fit_model([x for x in data if not x[0].foreign], native, max_wrong, balance=balance, each=each),
        fit_model([x for x in away if not (apart and split and x[0].bridged)], foreign, max_wrong, balance=balance, each=each),
        tuple(sorted(scales.items())),
        fit_model([x for x in away if x[0].bridged], bridged, max_wrong, balance=balance, each=each)
        if split and bridged is not None else None,
    )


def _calibrated(ev: Evidence, scales: Mapping[str, float]) -> Evidence:
    """``ev`` with its similarity relative to its group's scale (or, for a language not
    fitted, that of every language alike, native or foreign)."""
    scale = scales.get(ev.group) or scales.get(ev.group.replace(ev.lang, "*", 1))
    return replace(ev, similarity=ev.similarity / scale) if scale else ev


def _scales(answerable: Sequence[Evidence]) -> dict[str, float]:
    """The median similarity of answerable examples per calibration group with enough of them,
    and per native/foreign over every language ("*/native")."""
    groups: dict[str, list[float]] = {}
    for e in answerable:
        groups.setdefault(e.group, []).append(e.similarity)
        groups.setdefault(e.group.replace(e.lang, "*", 1), []).append(e.similarity)
    return {g: round(float(np.median(v)), 3) for g, v in groups.items() if len(v) >= MIN_CALIBRATION and np.median(v) > 0}
