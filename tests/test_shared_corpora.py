"""Real handbooks from elsewhere load as they are (../shared/corpora)."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from kb.cli import main
from kb.content import load_library

from .conftest import corpus

pytestmark = pytest.mark.shared
_CODE = re.compile(r"<pre>.*?</pre>|<code>.*?</code>", re.S)


def outside_code(html: str) -> str:
    """Pages that document template tags show them in code: that is content."""
    return _CODE.sub("", html)


@pytest.mark.parametrize("name, expected, lang", [("18f-handbook", 237, "en"), ("gitlab-handbook-ja", 646, "ja")])
def test_kb_check_reports_only_warnings(name, expected, lang):
    root = corpus(name)
    result = CliRunner().invoke(main, ["check", "--articles", str(root), "--json"])
    assert result.exit_code == 0, result.output[-2000:]
    data = json.loads(result.output)
    assert data["errors"] == 0
    assert data["articles"] == expected
    codes = {p["code"] for p in data["problems"]}
    assert "no-departments-file" in codes  # told once that departments come from folders


def test_18f_handbook_content():
    lib = load_library(corpus("18f-handbook"), use_git=False)
    leave = lib.articles["travel-and-leave/leave.md"]
    assert leave.title == "Leave types" and leave.department == "travel-and-leave"
    assert "hrlinks" in leave.aliases  # 18F's `keywords` feed aliases
    for a in lib.articles.values():
        assert "{%" not in outside_code(a.html), a.path
    # {% page "..." %} links become site links to the article.
    assert 'href="/a/travel-and-leave/going-out-of-office"' in leave.html
    assert all(a.lang == "en" for a in lib.articles.values())
    assert lib.articles["about.md"].department == "general"


def test_gitlab_handbook_ja_content():
    lib = load_library(corpus("gitlab-handbook-ja"), use_git=False)
    langs = [a.lang for a in lib.articles.values()]
    assert langs.count("ja") >= 630
    for a in lib.articles.values():
        html = outside_code(a.html)
        assert "{{%" not in html and "{{<" not in html, a.path
    expenses = lib.articles["finance/expenses.md"]
    assert expenses.department == "finance" and expenses.title
    # Hugo custom heading ids ({#id}) are the anchors.
    ids = {h.anchor for a in lib.articles.values() for h in a.headings}
    assert "panel-interviews" in ids
