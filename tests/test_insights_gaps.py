"""The gap radar with the real multilingual embedder (USE): failed searches in English and
Japanese about one missing policy form one group, k-anonymous examples, likely department."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

from kb.content import Library
from kb.content.links import article_slug
from kb.content.models import Article, Department
from kb.feedback.identity import Person
from kb.insights import InsightsService, Period

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
DEPS = {"benefits": Department("benefits", "Benefits", owners=["bo@x"]), "it": Department("it", "IT", owners=["io@x"])}


def library() -> Library:
    arts = [Article(path=p, slug=article_slug(p), title=t, department=d, lang="en", body="", summary=s)
            for p, t, d, s in (("benefits/parental-leave.md", "Parental leave", "benefits", "Leave for new parents."),
                               ("it/vpn.md", "VPN access", "it", "Connect to the company network from home."))]
    lib = Library(root=Path("articles"), articles={a.path: a for a in arts}, departments=DEPS)
    lib.index()
    return lib


def test_failed_searches_group_by_meaning_across_languages(db, use_embedder):
    lib = library()
    svc = InsightsService(db, lambda: lib, secret=lambda: "s", retention_days=180, min_searchers=3, review_days=365,
                          now=lambda: NOW, encoder=lambda: use_embedder.encode)
    typed = [("how many weeks of paternity leave", "en", 3), ("父親の育児休業は何週間", "ja", 3),
             ("paternity leave for fathers", "en", 1), ("vpn not connecting", "en", 3), ("VPNに接続できない", "ja", 2)]
    for query, lang, people in typed:
        for i in range(people):
            svc.record_search(SimpleNamespace(query=query, language=lang, department=None, total=0, hits=[], answered=False),
                              f"{query}-{i}")
    # Found something, and it was opened: not a failure.
    ok = svc.record_search(SimpleNamespace(query="vpn setup", language="en", department=None, total=1, answered=True,
                                           hits=[SimpleNamespace(article="it/vpn.md")]), "z")
    svc.record_click(ok, 1, "it/vpn.md")
    admin = Person("a@x", is_admin=True)
    report = svc.report(admin, "gaps", Period(date(2026, 11, 1), date(2026, 11, 20)))
    groups = {g["department"]: g for g in report["groups"]}
    assert set(groups) == {"benefits", "it"} and report["failed_queries"] == 5
    leave, vpn = groups["benefits"], groups["it"]
    assert (leave["searches"], leave["queries"], leave["languages"]) == (7, 3, ["en", "ja"])
    # Only the texts typed by 3 distinct searchers are shown; the one-off still counts in the size.
    assert leave["examples"] == ["how many weeks of paternity leave", "父親の育児休業は何週間"]
    assert (vpn["searches"], vpn["languages"], vpn["examples"]) == (5, ["en", "ja"], ["vpn not connecting"])
    assert leave["nearest_article"] == "benefits/parental-leave.md"
    owner = Person("bo@x", owns=frozenset({"benefits"}))
    assert [g["department"] for g in svc.report(owner, "gaps", Period(date(2026, 11, 1), date(2026, 11, 20)))["groups"]] == ["benefits"]
