"""`kb check`: messages that say exactly what to fix, and exit codes CI can use."""

from __future__ import annotations

import json
from datetime import date, timedelta

from click.testing import CliRunner

from kb.cli import main


def run_check(root, *args):
    result = CliRunner().invoke(main, ["check", "--articles", str(root), *args])
    return result.exit_code, result.output


GOOD = {
    "departments.yml": """
        departments:
          - id: payroll
            name: Payroll
            response_target: 2 business days
        """,
    "payroll/pay.md": "---\ntitle: Pay\nlast_reviewed: 2026-10-01\n---\n## Dates\n\nSee [stubs](stubs.md#reading-a-stub).\n",
    "payroll/stubs.md": "---\ntitle: Stubs\n---\n## Reading a stub\n",
}


def test_clean_articles_exit_zero(make_articles):
    code, out = run_check(make_articles(GOOD))
    assert code == 0, out
    assert "0 error(s), 0 warning(s)" in out


def test_errors_name_file_and_line_and_exit_one(make_articles):
    files = dict(GOOD)
    files.update({
        "payroll/broken.md": "---\ntitle: Broken\nowners: [a\n---\n",
        "payroll/links.md": "---\ntitle: Links\n---\nintro\n\nSee [gone](missing.md) and [old](../payroll/stubs.md#nope).\n",
        "payroll/pay.ja.md": "---\ntitle: 給与\nlang: ja\ntranslation_of: payroll/nowhere.md\n---\n",
        "marketing/ads.md": "---\ntitle: Ads\nlast_reviewed: March 5\n---\n",
        "payroll/untitled.md": "no title here\n",
    })
    code, out = run_check(make_articles(files))
    assert code == 1
    lines = out.splitlines()

    def line_for(code_name):
        return next(ln for ln in lines if f"[{code_name}]" in ln)

    assert "/payroll/broken.md:4: error: YAML syntax error" in line_for("yaml-error")
    assert "started on line 3" in line_for("yaml-error")
    assert ":6: error: link to 'missing.md' points to no article" in line_for("broken-link")
    assert "warning" in line_for("broken-anchor") and "#nope" in line_for("broken-anchor")
    assert ":4: error: translation_of points to 'payroll/nowhere.md'" in line_for("translation-missing")
    assert "department 'marketing' is not in departments.yml (known: payroll)" in line_for("unknown-department")
    assert ":3: error: last_reviewed 'March 5' is not a date" in line_for("bad-date")
    assert "payroll/untitled.md:1: error: no title" in line_for("missing-title")
    assert lines[-1].endswith("6 error(s), 1 warning(s)")


def test_warnings_only_exit_zero(make_articles):
    files = dict(GOOD)
    old = (date.today() - timedelta(days=400)).isoformat()
    files["payroll/old.md"] = f"---\ntitle: Old\nlast_reviewed: {old}\n---\n"
    code, out = run_check(make_articles(files))
    assert code == 0
    assert "payroll/old.md:3: warning: review overdue since" in out


def test_duplicate_slugs(make_articles):
    files = dict(GOOD)
    files["payroll/faq.md"] = "---\ntitle: FAQ\n---\n"
    files["payroll/faq/index.md"] = "---\ntitle: FAQ too\n---\n"
    code, out = run_check(make_articles(files))
    assert code == 1
    assert "error: has the same URL (/a/payroll/faq) as payroll/faq" in out


def test_json_output(make_articles):
    files = dict(GOOD)
    files["payroll/bad.md"] = "---\ntitle: [unclosed\n---\n"
    code, out = run_check(make_articles(files), "--json")
    assert code == 1
    data = json.loads(out)
    assert data["articles"] == 2 and data["errors"] == 1 and data["warnings"] == 0
    (problem,) = data["problems"]
    assert problem["file"] == "payroll/bad.md" and problem["line"] == 3
    assert problem["severity"] == "error" and problem["code"] == "yaml-error"


def test_bundled_articles_pass():
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 0, result.output


def test_an_unquoted_hash_that_cuts_a_front_matter_value_is_a_warning_with_its_line(make_articles):
    files = dict(GOOD)
    files["payroll/help.md"] = (
        "---\ntitle: Help\nsummary: Ask most often in #it-help for quick answers\n"
        "owners:\n  - a@x.example # the lead\nnote: 'quoted # is kept'\nchannel: a#b\n---\nBody.\n"
    )
    code, out = run_check(make_articles(files))
    cut = [line for line in out.splitlines() if "[comment-in-value]" in line]
    assert len(cut) == 2, out
    assert cut[0].startswith("payroll/help.md:3: warning: 'summary'") or ":3: warning: 'summary'" in cut[0]
    assert ":5: warning: 'owners'" in cut[1]
    assert code == 0  # a warning, not an error


def test_the_bundled_it_faq_summary_keeps_its_channel_name():
    from kb.config import PROJECT_ROOT
    from kb.content.loader import load_library

    lib = load_library(PROJECT_ROOT / "articles")
    assert lib.articles["it-security/it-security-faq.md"].summary.endswith("in #it-help.")
