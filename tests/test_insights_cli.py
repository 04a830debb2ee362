"""``kb insights`` and ``kb insights prune`` on a real database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import func, select

from kb.cli import main
from kb.config import PROJECT_ROOT
from kb.feedback.db import Database
from kb.feedback.models import SearchDaily, SearchLog

from .conftest import sqlite_url


def test_kb_insights_prints_json_and_text_and_prunes(tmp_path, monkeypatch):
    url = sqlite_url(tmp_path)
    monkeypatch.setenv("KB_DATABASE_URL", url)
    monkeypatch.setenv("KB_ARTICLES_DIR", str(PROJECT_ROOT / "articles"))
    monkeypatch.setenv("KB_INSIGHTS_MIN_SEARCHERS", "1")
    db = Database(url)
    now = datetime.now(UTC)
    with db.session() as s:
        s.add(SearchLog(at=now - timedelta(hours=1), query="payslip", lang="en", results=2, area="payroll",
                        shown=["payroll/pay-schedule.md"], searcher="x" * 32, clicks=0))
        s.add(SearchLog(at=now - timedelta(days=400), query="old", lang="en", results=0, area="payroll", shown=[], clicks=0))
    runner = CliRunner()
    out = runner.invoke(main, ["insights", "--json", "--department", "payroll", "--days", "7"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["search"]["totals"]["searches"] == 1 and data["search"]["top_queries"][0]["query"] == "payslip"
    text = runner.invoke(main, ["insights"])
    assert text.exit_code == 0 and "payslip" in text.output and "Top queries" in text.output
    assert runner.invoke(main, ["insights", "--department", "nope"]).exit_code == 2
    pruned = runner.invoke(main, ["insights", "prune"])
    assert pruned.exit_code == 0 and "1 searches" in pruned.output
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(SearchLog)) == 1
        assert s.scalar(select(SearchDaily.query)) == "old"
