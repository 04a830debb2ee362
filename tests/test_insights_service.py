"""Insights figures on a seeded synthetic history, compared with values worked out by hand,
on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from kb.content import Library
from kb.content.departments import parse_response_target
from kb.content.links import article_slug
from kb.content.models import Article, Department, GitInfo
from kb.feedback.errors import PermissionDeniedError
from kb.feedback.identity import Person
from kb.feedback.models import Flag, FlagEvent, SearchClick, SearchLog, Vote
from kb.insights import InsightsService, Period
from kb.insights.helpfulness import wilson
from kb.insights.recording import searcher_hash
from kb.insights.service_metrics import median, percentile

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # a Friday
JST = timezone(timedelta(hours=9))
OWNER = Person("pat@x.example", owns=frozenset({"payroll"}))
ADMIN = Person("ada@x.example", is_admin=True)
EMPLOYEE = Person("eve@x.example")
DEPARTMENTS = {
    "payroll": Department("payroll", "Payroll", owners=["pat@x.example"], response_target=parse_response_target("2 days")),
    "it": Department("it", "IT", owners=["ivy@x.example"]),
}


def art(path, dep, lang="en", translation_of=None, reviewed=None, changed=datetime(2026, 11, 1, tzinfo=UTC)):
    return Article(path=path, slug=article_slug(path), title=path, department=dep, lang=lang, body="",
                   translation_of=translation_of, last_reviewed=reviewed, git=GitInfo("c", changed, "A", "a@x"))


def library() -> Library:
    arts = [art("payroll/pay.md", "payroll", reviewed=date(2025, 12, 1)),
            art("payroll/pay.ja.md", "payroll", "ja", "payroll/pay.md", changed=datetime(2026, 10, 1, tzinfo=UTC)),
            art("it/vpn.md", "it", reviewed=date(2025, 1, 1)), art("it/wifi.md", "it")]
    lib = Library(root=Path("articles"), articles={a.path: a for a in arts}, departments=DEPARTMENTS)
    lib.index()
    return lib


class Clock:
    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t


def service(db, clock, min_searchers=3) -> InsightsService:
    lib = library()
    return InsightsService(db, lambda: lib, secret=lambda: "s", retention_days=180, min_searchers=min_searchers,
                           review_days=365, now=clock)


def page(query, shown, total=None, department=None, answered=None, lang="en"):
    return SimpleNamespace(query=query, language=lang, department=department, total=len(shown) if total is None else total,
                           hits=[SimpleNamespace(article=a) for a in shown], answered=answered)


def seed_searches(svc, clock, day=datetime(2026, 11, 18, 9, 0, tzinfo=UTC)):
    """Payroll: "Pay day" 4 times by 3 sessions (2 opened at position 1), one zero-answer one-off;
    IT: "vpn broken" twice, unanswered, never opened."""
    clock.t = day
    ids = [svc.record_search(page("Pay day", ["payroll/pay.md", "it/vpn.md"]), s) for s in ("a", "b", "c", "a")]
    svc.record_search(page("harassment by my manager bob", [], department="payroll"), "d")
    for s in ("e", "f"):
        svc.record_search(page("vpn broken", ["it/vpn.md"], answered=False), s)
    clock.t = day + timedelta(seconds=30)
    svc.record_click(ids[0], 1, "payroll/pay.md")
    clock.t = day + timedelta(seconds=90)
    svc.record_click(ids[1], 1, "payroll/pay.md")
    return ids


def seed_flags(db):
    """Four payroll flags over a month (created, acknowledged, resolved at known hours)."""
    def flag(s, created, due, events, status, kind="article"):
        created = created.astimezone(UTC)  # kb writes UTC; SQLite would keep another zone's wall time
        f = Flag(kind=kind, department="payroll", status=status, created_at=created, updated_at=created, due_at=due)
        s.add(f)
        s.flush()
        s.add(FlagEvent(flag_id=f.id, at=created, action="created", detail={}))
        for action, hours in events:
            s.add(FlagEvent(flag_id=f.id, at=created + timedelta(hours=hours), action=action, detail={}))

    d = datetime
    with db.session() as s:
        flag(s, d(2026, 11, 2, 9, tzinfo=UTC), d(2026, 11, 4, 9, tzinfo=UTC), [("acknowledge", 2), ("resolve", 24)], "resolved")
        flag(s, d(2026, 11, 9, 15, tzinfo=UTC), d(2026, 11, 11, 15, tzinfo=UTC), [("acknowledge", 24), ("resolve", 72)], "resolved")
        flag(s, d(2026, 11, 16, 8, tzinfo=UTC), d(2026, 11, 18, 8, tzinfo=UTC), [("acknowledge", 4)], "acknowledged")
        flag(s, d(2026, 11, 20, 7, tzinfo=JST), d(2026, 11, 21, 22, tzinfo=UTC), [], "new", kind="gap")


def seed_votes(db):
    rows = [("payroll/pay.md", True)] * 4 + [("payroll/pay.md", False)] * 2 + [("it/vpn.md", False)] \
        + [("payroll/pay.ja.md", True)] + [("payroll/pay.ja.md", False)] * 2
    with db.session() as s:
        for i, (path, helpful) in enumerate(rows):
            s.add(Vote(article=path, voter=f"v{i}", day=date(2026, 11, 1 + i), helpful=helpful, content_hash="h",
                       reason=None if helpful else ("outdated" if i % 2 else "unclear")))


LAST_30 = Period(date(2026, 10, 22), date(2026, 11, 20))


def test_search_figures_for_an_owner_and_an_admin(db):
    clock = Clock(NOW)
    svc = service(db, clock)
    seed_searches(svc, clock)
    seed_flags(db)
    clock.t = NOW
    mine = svc.report(OWNER, "search", LAST_30)
    # Payroll: 4 "pay day" + 1 one-off zero-answer = 5; opened 2; no click 5 - 1 zero - 2 opened = 2; 1 gap flag.
    assert mine["totals"] == {"searches": 5, "zero_answer": 1, "unanswered": 0, "clicked": 2, "no_click": 2,
                              "didnt_find": 1, "success_rate": 0.4, "zero_answer_rate": 0.2, "unanswered_rate": 0.0,
                              "no_click_rate": 0.4, "didnt_find_rate": 0.2}
    assert mine["per_day"] == {"2026-11-18": 5} and mine["per_language"] == {"en": 5}
    assert [(q["query"], q["searches"], q["searchers"]) for q in mine["top_queries"]] == [("pay day", 4, 3)]
    assert mine["top_zero_answer"] == [] and mine["hidden_searches"] == 1  # the one-off never appears
    assert mine["click_positions"] == {1: 2} and mine["first_result_share"] == 1.0
    assert mine["heatmap"][3][9] == 5 and sum(map(sum, mine["heatmap"])) == 5  # Wednesday 09:00 UTC
    everyone = svc.report(ADMIN, "search", LAST_30)
    assert everyone["totals"]["searches"] == 7 and everyone["totals"]["unanswered"] == 2
    assert everyone["totals"]["no_click"] == 7 - 1 - 2
    assert everyone["top_queries"] == [] or everyone["top_queries"][0]["query"] == "pay day"
    assert "vpn broken" not in {q["query"] for q in everyone["top_queries"]}  # 2 searchers < 3
    assert svc.report(ADMIN, "search", LAST_30, department="it")["totals"]["searches"] == 2


def test_k_anonymity_threshold_follows_the_setting(db):
    clock = Clock(NOW)
    svc = service(db, clock, min_searchers=2)
    seed_searches(svc, clock)
    clock.t = NOW
    shown = {q["query"] for q in svc.report(ADMIN, "search", LAST_30)["top_queries"]}
    assert shown == {"pay day", "vpn broken"}  # the one-off still hidden at 2


def test_one_session_counts_once_per_day_and_anew_the_next(db):
    clock = Clock(NOW)
    svc = service(db, clock)
    assert searcher_hash("s", "a", date(2026, 11, 1)) == searcher_hash("s", "a", date(2026, 11, 1))
    assert searcher_hash("s", "a", date(2026, 11, 1)) != searcher_hash("s", "a", date(2026, 11, 2))
    for day in (1, 1, 2, 3):  # one person, three days: three daily pseudonyms, never linked
        clock.t = datetime(2026, 11, day, 12, tzinfo=UTC)
        svc.record_search(page("payslip", ["payroll/pay.md"]), "same-session")
    svc.flush()
    with db.session() as s:
        assert len(set(s.scalars(select(SearchLog.searcher)))) == 3
    clock.t = NOW
    assert svc.report(ADMIN, "search", LAST_30)["top_queries"][0]["searchers"] == 3


def test_clicks_must_match_what_the_search_showed(db):
    clock = Clock(NOW)
    svc = service(db, clock)
    sid = svc.record_search(page("pay", ["payroll/pay.md", "it/vpn.md"]), "a")
    clock.t = NOW + timedelta(seconds=5)
    svc.record_click(sid, 1, "it/vpn.md")  # not what position 1 showed
    svc.record_click(sid, 3, "it/vpn.md")  # nothing shown there
    svc.record_click("x" * 12, 1, "payroll/pay.md")  # no such search
    svc.record_click("<script>", 1, "payroll/pay.md")  # not a reference at all
    svc.record_click(sid, 2, "it/vpn.md")  # the one real click
    svc.record_click(sid, 2, "it/vpn.md")  # once per position
    clock.t = NOW + timedelta(days=2)
    svc.record_click(sid, 1, "payroll/pay.md")  # an old link reused
    svc.flush()
    with db.session() as s:
        clicks = list(s.scalars(select(SearchClick)))
        search = s.scalar(select(SearchLog).where(SearchLog.ref == sid))
        assert [(c.position, c.ms_to_click) for c in clicks] == [(2, 5000)] and search.clicks == 1


def test_helpfulness_wilson_and_ranking(db):
    seed_votes(db)
    svc = service(db, Clock(NOW))
    report = svc.report(ADMIN, "helpfulness", LAST_30)
    rows = {r["article"]: r for r in report["articles"]}
    # 4 yes of 6: p = 0.6667; Wilson 95%: (0.3000, 0.9032), worked out with z = 1.96.
    assert rows["payroll/pay.md"] == {**rows["payroll/pay.md"], "yes": 4, "no": 2, "share": 0.6667, "low": 0.3, "high": 0.9032}
    # Under 5 votes: no share, no interval.
    assert rows["it/vpn.md"]["share"] is None and rows["payroll/pay.ja.md"]["share"] is None
    # Ranked by the upper bound: 1 of 3 (0.7923) before 0 of 1 (0.7935) before 4 of 6 (0.9032).
    assert [r["article"] for r in report["articles"]] == ["payroll/pay.ja.md", "it/vpn.md", "payroll/pay.md"]
    assert report["departments"]["payroll"]["votes"] == 9 and report["departments"]["payroll"]["share"] == round(5 / 9, 4)
    assert report["reasons"] == {"outdated": 2, "unclear": 3}  # No votes at i = 4, 5, 6, 8, 9
    assert report["by_month"] == {"2026-11": report["by_month"]["2026-11"]} and report["by_month"]["2026-11"]["votes"] == 10
    owner = svc.report(OWNER, "helpfulness", LAST_30)
    assert {r["department"] for r in owner["articles"]} == {"payroll"}


def test_wilson_matches_the_textbook():
    low, high = wilson(4, 6)
    assert (round(low, 4), round(high, 4)) == (0.3, 0.9032)
    assert wilson(0, 0) == (0.0, 1.0)
    assert round(wilson(0, 1)[1], 4) == round(1.96**2 / (1 + 1.96**2), 4)  # 0 of 1: upper bound z²/(n+z²)


def test_service_metrics_by_hand(db):
    seed_flags(db)
    svc = service(db, Clock(NOW))
    report = svc.report(OWNER, "service", Period(date(2026, 11, 1), date(2026, 11, 20)))
    pay = report["departments"]["payroll"]
    assert pay["received"] == 4 and pay["open"] == 2 and pay["overdue"] == 1
    # acknowledge after 2, 24, 4 hours: median 4, nearest-rank p90 the 3rd of 3 = 24.
    assert pay["acknowledge"] == {"count": 3, "median_hours": 4.0, "p90_hours": 24.0}
    # resolve after 24, 72 hours: median 48, p90 72; one of two within its due date.
    assert pay["resolve"] == {"count": 2, "median_hours": 48.0, "p90_hours": 72.0}
    assert (pay["within_target"], pay["within_target_share"]) == (1, 0.5)
    assert report["by_week"] == {"2026-W45": {"received": 1, "resolved": 1}, "2026-W46": {"received": 1, "resolved": 1},
                                 "2026-W47": {"received": 2}}
    grid = report["heatmap"]  # Monday = 1: 08, 09, 15 UTC; the Tokyo-morning gap flag is Thursday 22:00 UTC
    assert (grid[1][8], grid[1][9], grid[1][15], grid[4][22], sum(map(sum, grid))) == (1, 1, 1, 1, 4)
    assert svc.report(ADMIN, "service", Period(date(2026, 11, 1), date(2026, 11, 20)))["departments"].keys() == {"payroll"}


def test_percentiles():
    assert median([3, 1, 2]) == 2 and median([1, 2, 3, 4]) == 2.5 and median([]) is None
    assert percentile(list(range(1, 11)), 0.9) == 9 and percentile([5], 0.9) == 5


def test_content_health(db):
    clock = Clock(NOW - timedelta(days=3))
    svc = service(db, clock)
    for path, n in (("payroll/pay.md", 3), ("it/vpn.md", 5)):
        for _ in range(n):
            svc.record_view(path)
    clock.t = NOW
    report = svc.report(ADMIN, "content", LAST_30)
    # vpn: reviewed 2025-01-01 + 365 days: overdue; pay: due 2026-12-01, within 30 days. Most-read first.
    assert [(r["article"], r["overdue"], r["views"]) for r in report["stale"]] == [("it/vpn.md", True, 5), ("payroll/pay.md", False, 3)]
    assert [r["article"] for r in report["never_viewed_90_days"]] == ["it/wifi.md", "payroll/pay.ja.md"]
    assert [r["article"] for r in report["translations_behind"]] == ["payroll/pay.ja.md"]
    assert [r["article"] for r in svc.report(OWNER, "content", LAST_30)["stale"]] == ["payroll/pay.md"]


def test_roles(db):
    svc = service(db, Clock(NOW))
    with pytest.raises(PermissionDeniedError):
        svc.report(EMPLOYEE, "search", LAST_30)
    with pytest.raises(PermissionDeniedError):
        svc.report(OWNER, "search", LAST_30, department="it")
    assert svc.report(OWNER, "search", LAST_30)["scope"] == ["payroll"]
    assert svc.report(ADMIN, "search", LAST_30)["scope"] is None
