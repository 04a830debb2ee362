"""Roll-ups of finished days: every report reads the same whether its days are rolled up or not,
a second roll-up changes nothing, a late row is counted once, k-anonymity stays exact across
rolled and raw days and departments, a "didn't find" makes its search no success, and the gap
radar encodes a query once (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
import zlib
from datetime import UTC, date, datetime, timedelta

import numpy as np
from sqlalchemy import func, select

from kb import KB, create_app
from kb.config import PROJECT_ROOT, Config
from kb.feedback.identity import Person
from kb.feedback.models import (
    ClickDaily,
    Flag,
    QueryDaily,
    QuerySearchers,
    SearchDaily,
    SearchHours,
    SearchLog,
    SearchTotals,
    ViewDaily,
)
from kb.insights import InsightsService, Period
from kb.insights.rollup import split_for

from .conftest import sqlite_url
from .test_insights_service import ADMIN, NOW, OWNER, Clock, library, page

DAY_A = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)  # a Monday
DAY_B = datetime(2026, 11, 18, 14, 0, tzinfo=UTC)  # a Wednesday
NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 20))
PAY = ["payroll/pay.md", "it/vpn.md"]
TABLES = (SearchDaily, SearchTotals, QueryDaily, QuerySearchers, ClickDaily, SearchHours, ViewDaily)


class TrigramEncoder:
    """A small real encoder (character trigrams hashed into 64 dimensions, unit length) that
    counts the texts it is asked to encode."""

    name = "trigram-64"

    def __init__(self) -> None:
        self.texts: list[str] = []

    def encode(self, texts):
        self.texts.extend(texts)
        out = np.zeros((len(texts), 64), dtype=np.float32)
        for i, text in enumerate(texts):
            padded = f"  {text.lower()} "
            for j in range(len(padded) - 2):
                out[i, zlib.crc32(padded[j:j + 3].encode()) % 64] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def make(db, clock, min_searchers=2, encoder=None) -> InsightsService:
    lib = library()
    return InsightsService(db, lambda: lib, secret=lambda: "s", retention_days=180, min_searchers=min_searchers,
                           review_days=365, now=clock, encoder=(lambda: encoder.encode) if encoder else None)


def at(clock, t):
    clock.t = t
    return t


def seed(db, svc, clock) -> None:
    """Day A: "Pay day" by a (opened), b (opened, then "didn't find"), c (not opened); "vpn broken" by a
    (not answered). Day B: "pay day" by a (its second result opened), "nothing here" by d (zero
    results, no department). Today: "Pay Day" by e (opened). Views: pay 2 on A, vpn 1 on B, pay 1 today.
    One gap flag on day A."""
    at(clock, DAY_A)
    a, b, _c = (svc.record_search(page("Pay day", PAY), key) for key in ("a", "b", "c"))
    svc.record_search(page("vpn broken", ["it/vpn.md"], answered=False), "a")
    svc.record_view("payroll/pay.md")
    svc.record_view("payroll/pay.md")
    at(clock, DAY_A + timedelta(seconds=20))
    svc.record_click(a, 1, "payroll/pay.md")
    svc.record_click(b, 1, "payroll/pay.md")
    at(clock, DAY_A + timedelta(minutes=5))
    svc.record_didnt_find(b)
    at(clock, DAY_B)
    late = svc.record_search(page("pay day", PAY), "a")
    svc.record_search(page("nothing here", [], total=0), "d")
    svc.record_view("it/vpn.md")
    at(clock, DAY_B + timedelta(seconds=30))
    svc.record_click(late, 2, "it/vpn.md")
    at(clock, NOW - timedelta(hours=1))
    today = svc.record_search(page("Pay Day", PAY), "e")
    svc.record_view("payroll/pay.md")
    at(clock, NOW - timedelta(minutes=59))
    svc.record_click(today, 1, "payroll/pay.md")
    with db.session() as s:
        s.add(Flag(kind="gap", department="payroll", query="Pay day", status="new", created_at=DAY_A, updated_at=DAY_A))
    at(clock, NOW)


def reports(svc) -> dict:
    owner_of_two = Person("po@x", owns=frozenset({"payroll", "it"}))
    return {(who.email, section): svc.report(who, section, NOVEMBER)
            for who in (ADMIN, OWNER, owner_of_two) for section in ("search", "content", "gaps")}


def rows(db, table) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(table))


def test_every_figure_reads_the_same_rolled_up_or_not(db):
    clock = Clock(NOW)
    svc = make(db, clock, encoder=TrigramEncoder())
    seed(db, svc, clock)
    before = reports(svc)
    admin = before[(ADMIN.email, "search")]
    # 7 searches; 1 zero; 1 not answered; opened: a, b (A), a (B), e (today) = 4; successes: b said
    # "didn't find", so 3 of 7; no click: 7 - 1 - 4 = 2.
    assert admin["totals"] == {"searches": 7, "zero_answer": 1, "unanswered": 1, "clicked": 4, "no_click": 2,
                               "didnt_find": 1, "success_rate": round(3 / 7, 4), "zero_answer_rate": round(1 / 7, 4),
                               "unanswered_rate": round(1 / 7, 4), "no_click_rate": round(2 / 7, 4),
                               "didnt_find_rate": round(1 / 7, 4)}
    assert admin["per_day"] == {"2026-11-16": 4, "2026-11-18": 2, "2026-11-20": 1}
    # "pay day": a, b, c on A, a's new pseudonym on B, e today = 5 searchers; the rest typed by one each.
    assert [(q["query"], q["searches"], q["searchers"], q["clicked"]) for q in admin["top_queries"]] == [("pay day", 5, 5, 4)]
    assert admin["hidden_searches"] == 2 and admin["click_positions"] == {1: 3, 2: 1}
    grid = admin["heatmap"]  # Monday 09:00, Wednesday 14:00, Friday 09:00 UTC
    assert (grid[1][9], grid[3][14], grid[5][9], sum(map(sum, grid))) == (4, 2, 1, 7)
    mine = before[(OWNER.email, "search")]["totals"]
    assert (mine["searches"], mine["clicked"], mine["success_rate"]) == (5, 4, 0.6)  # 3 successes of 5 "pay day"
    gaps = before[(ADMIN.email, "gaps")]
    # Failed: b's (didn't find) and c's (not opened) "pay day", "vpn broken", "nothing here"; one report.
    assert gaps["failed_queries"] == 3
    pay = next(g for g in gaps["groups"] if g["examples"] == ["pay day"])  # 2 failed searchers: shown at 2
    assert (pay["searches"], pay["reports"]) == (2, 1)
    assert sorted(g["searches"] for g in gaps["groups"]) == [1, 1, 2]
    # An owner sees the searches about no department too: "pay day" and "nothing here".
    assert before[(OWNER.email, "gaps")]["failed_queries"] == 2
    content = before[(ADMIN.email, "content")]
    assert [(r["article"], r["views"]) for r in content["most_read"]] == [("payroll/pay.md", 3), ("it/vpn.md", 1)]

    report = svc.roll_up()
    assert (report.days, report.searches) == (4, 6)  # 16th to 19th; today is not over
    with db.session() as s:
        split = split_for(s, NOVEMBER)
    assert split.rolled == {date(2026, 11, d) for d in (16, 17, 18, 19)}
    assert reports(svc) == before
    counts = [rows(db, t) for t in TABLES]
    # (area, lang, query): 2 on A + 2 on B; (area, lang): the same; (query, area): the same; nobody
    # searched one query about two departments; (area, position): 1 + 1; (area, hour): 2 + 2; (article, day): 2.
    assert counts == [4, 4, 4, 0, 2, 4, 2]
    again = svc.roll_up()
    assert (again.days, again.searches) == (0, 0)
    assert [rows(db, t) for t in TABLES] == counts
    assert reports(svc) == before


def test_a_late_row_for_a_rolled_up_day_counts_once(db):
    clock = Clock(DAY_B)
    svc = make(db, clock)
    first = svc.record_search(page("pay day", PAY), "x")
    at(clock, NOW)
    assert svc.roll_up().days == 2  # the 18th and the 19th
    at(clock, DAY_B.replace(hour=23, minute=59, second=59))  # a writer flushing after midnight, or a slow clock
    svc.record_search(page("pay day", PAY), "y")
    at(clock, DAY_B + timedelta(hours=11))  # a click on the 18th's search, after its day was rolled up
    svc.record_click(first, 1, "payroll/pay.md")
    at(clock, NOW)
    svc.flush()
    with db.session() as s:
        assert date(2026, 11, 18) not in split_for(s, NOVEMBER).rolled  # read raw until rolled up again
    totals = svc.report(ADMIN, "search", NOVEMBER)["totals"]
    assert (totals["searches"], totals["clicked"], totals["success_rate"]) == (2, 1, 0.5)
    assert svc.roll_up().days == 1
    assert svc.report(ADMIN, "search", NOVEMBER)["totals"] == totals
    with db.session() as s:
        assert s.execute(select(func.sum(SearchDaily.searches), func.sum(SearchDaily.clicked))).one() == (2, 1)
        assert date(2026, 11, 18) in split_for(s, NOVEMBER).rolled


def test_k_anonymity_is_exact_across_departments_and_rolled_and_raw_days(db):
    clock = Clock(DAY_A)
    svc = make(db, clock, min_searchers=3, encoder=TrigramEncoder())
    both = Person("po@x", owns=frozenset({"payroll", "it"}))
    # One pseudonym searching it about two departments is one searcher, not two.
    svc.record_search(page("secret falcon", [], total=0, department="payroll"), "a")
    svc.record_search(page("secret falcon", [], total=0, department="it"), "a")
    svc.record_search(page("secret falcon", [], total=0, department="payroll"), "b")
    at(clock, NOW)

    def shown(who):
        r = svc.report(who, "search", NOVEMBER)
        examples = [e for g in svc.report(who, "gaps", NOVEMBER)["groups"] for e in g["examples"]]
        assert examples == [q["query"] for q in r["top_queries"]]  # the gap radar counts alike (zero answers)
        return [(q["query"], q["searchers"]) for q in r["top_queries"]], r["totals"]["searches"]

    for rolled in (False, True):
        assert shown(both) == ([], 3) and shown(ADMIN) == ([], 3) and shown(OWNER) == ([], 2)
        if not rolled:
            svc.roll_up()
            assert rows(db, QuerySearchers) == 2  # a's set {payroll, it}, of all and of failed searches; b is in query_daily
    svc.record_search(page("secret falcon", [], total=0, department="payroll"), "c")  # today, raw
    assert shown(both) == ([("secret falcon", 3)], 4) and shown(OWNER) == ([("secret falcon", 3)], 3)
    at(clock, NOW + timedelta(days=1))
    svc.roll_up()
    assert shown(both) == ([("secret falcon", 3)], 4) and shown(ADMIN) == ([("secret falcon", 3)], 4)


def test_a_didnt_find_makes_its_search_no_success_once_and_only_soon_after(db):
    clock = Clock(DAY_A)
    svc = make(db, clock)
    refs = [svc.record_search(page("pay day", PAY), key) for key in "abc"]
    at(clock, DAY_A + timedelta(seconds=10))
    for ref in refs:
        svc.record_click(ref, 1, "payroll/pay.md")
    at(clock, DAY_A + timedelta(minutes=10))
    svc.record_didnt_find(refs[0])
    svc.record_didnt_find(refs[0])  # twice: still one search
    svc.record_didnt_find("<script>")  # not a reference: ignored
    at(clock, DAY_A + timedelta(hours=3))
    svc.record_didnt_find(refs[1])  # hours later: another matter, not this search's
    at(clock, NOW)
    svc.flush()
    with db.session() as s:
        assert sorted(s.scalars(select(SearchLog.didnt_find))) == [False, False, True]
    for _ in range(2):  # raw, then rolled up
        totals = svc.report(ADMIN, "search", NOVEMBER)["totals"]
        assert (totals["clicked"], totals["success_rate"]) == (3, round(2 / 3, 4))
        svc.roll_up()


def test_the_gap_radar_encodes_each_failed_query_once(db):
    clock = Clock(DAY_A)
    encoder = TrigramEncoder()
    svc = make(db, clock, encoder=encoder)
    for query in ("vpn broken", "wifi down", "payslip missing"):
        svc.record_search(page(query, [], total=0), "a")
    at(clock, NOW)
    first = svc.report(ADMIN, "gaps", NOVEMBER)
    articles = len(library().articles)
    assert len(encoder.texts) == articles + 3 and first["failed_queries"] == 3
    assert svc.report(ADMIN, "gaps", NOVEMBER) == first and len(encoder.texts) == articles + 3  # all cached
    svc.record_search(page("expenses form", [], total=0), "b")
    assert svc.report(ADMIN, "gaps", NOVEMBER)["failed_queries"] == 4
    assert encoder.texts[articles + 3:] == ["expenses form"]  # only the new one
    # Another model's vectors are not this one's: it encodes the articles and the queries anew.
    other = TrigramEncoder()
    other.name = "trigram-other"
    svc.encoder = lambda: other.encode
    svc.report(ADMIN, "gaps", NOVEMBER)
    assert len(other.texts) == articles + 4


def test_the_search_pages_gap_form_names_its_search(tmp_path, bundled_index, models):
    """Through the web: a result opened, then "didn't find" from the same search page: opened, no success."""
    cfg = Config(articles_dir=PROJECT_ROOT / "articles", index_dir=bundled_index, secret_key="t", reload_seconds=0,
                 database_url=sqlite_url(tmp_path), trusted_proxies="127.0.0.1")
    search_app = create_app(KB(cfg, models=models))
    search_app.testing = True
    c = search_app.test_client()
    h = {"X-Forwarded-Email": "e@x.example"}
    html = c.get("/search?q=when+is+payday", headers=h).get_data(as_text=True)
    link = re.search(r'class="result-title"><a href="([^"]+)"', html).group(1).replace("&amp;", "&")
    ref = re.search(r"from=([\w-]{12})", link).group(1)
    assert f'name="from" value="{ref}"' in html  # the gap form carries the search it is on
    assert c.get(link, headers=h).status_code == 200  # the result opened
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    resp = c.post("/feedback/gap", headers=h, data={"csrf_token": csrf, "query": "when is payday", "department": "payroll",
                                                    "from": ref})
    assert resp.status_code == 302
    bad = c.post("/feedback/gap", headers=h, data={"csrf_token": csrf, "query": "x", "department": "payroll",
                                                   "from": "<script>" * 5})
    assert bad.status_code == 302  # a bad reference is ignored, the report still taken
    insights = search_app.extensions["kb"].insights
    insights.flush()
    with search_app.extensions["kb"].db.session() as s:
        row = s.scalar(select(SearchLog).where(SearchLog.ref == ref))
        assert (row.clicks, row.didnt_find) == (1, True)


def test_kb_insights_rollup_rolls_up_the_finished_days(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from kb.cli import main
    from kb.feedback.db import Database

    url = sqlite_url(tmp_path)
    monkeypatch.setenv("KB_DATABASE_URL", url)
    monkeypatch.setenv("KB_ARTICLES_DIR", str(PROJECT_ROOT / "articles"))
    yesterday = datetime.now(UTC) - timedelta(days=1)
    with Database(url).session() as s:
        s.add(SearchLog(at=yesterday, query="payslip", lang="en", results=2, area="payroll", shown=[], clicks=0))
    runner = CliRunner()
    first = runner.invoke(main, ["insights", "rollup"])
    assert first.exit_code == 0 and "rolled up 1 days (1 searches)" in first.output, first.output
    assert "rolled up 0 days" in runner.invoke(main, ["insights", "rollup"]).output
    with Database(url).session() as s:
        assert s.scalar(select(func.sum(SearchTotals.searches))) == 1 and s.scalar(select(func.count()).select_from(SearchLog)) == 1
