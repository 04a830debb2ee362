"""A commit saying ``Resolves-Feedback: <id>`` resolves the flag when `kb index` runs."""

from __future__ import annotations

import subprocess

from click.testing import CliRunner

from kb.cli import main
from kb.config import Config
from kb.content import load_library
from kb.content.urls import SiteUrls
from kb.feedback import Channels, Database, FeedbackService
from kb.feedback.identity import person_for

from .conftest import sqlite_url


def git(cwd, *args):
    subprocess.run(["git", "-c", "user.name=Dana Writer", "-c", "user.email=dana@x.example", *args],
                   cwd=cwd, check=True, capture_output=True)


def test_commit_resolves_flag_on_index(tmp_path):
    repo = tmp_path / "articles"
    (repo / "payroll").mkdir(parents=True)
    (repo / "departments.yml").write_text("departments:\n  - id: payroll\n    name: Payroll\n    response_target: 2 business days\n")
    page = repo / "payroll" / "pay.md"
    page.write_text("---\ntitle: Pay dates\n---\n## Dates\n\nThe 15th and the last day.\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "First version")

    url = sqlite_url(tmp_path)
    db = Database(url)
    lib = load_library(repo)
    svc = FeedbackService(db, lambda: lib, SiteUrls("http://kb.test"), Channels.from_config(Config(webhook_allow="127.0.0.1")))
    flag = svc.vote(voter="e", reporter="e@x.example", article=lib.articles["payroll/pay.md"], helpful=False,
                    reason="outdated", notify=True).flag_id
    other = svc.flag_gap(reporter=None, query="bonus", department="payroll").flag_id

    page.write_text("---\ntitle: Pay dates\n---\n## Dates\n\nThe 15th and the last business day.\n")
    git(repo, "commit", "-qam", f"Fix pay dates\n\nResolves-Feedback: {flag}")
    env = {"KB_DATABASE_URL": url, "KB_EMBEDDERS": "use-m3"}
    result = CliRunner(env=env).invoke(main, ["index", "--articles", str(repo), "--index", str(tmp_path / "index")])
    assert result.exit_code == 0, result.output
    assert f"Resolved feedback from commits: #{flag}" in result.output

    admin = person_for("a@x.example", lib.departments, {"a@x.example"})
    resolved = svc.get_flag(admin, flag)
    assert resolved.status == "resolved" and "Fix pay dates" in resolved.resolution_note
    assert resolved.events[-1].actor.startswith("commit ") and "author as written in git: Dana Writer" in resolved.resolution_note
    assert svc.get_flag(admin, other).status == "new"
    # Running again changes nothing.
    again = CliRunner(env=env).invoke(main, ["index", "--articles", str(repo), "--index", str(tmp_path / "index")])
    assert "Resolved feedback" not in again.output


def test_index_without_a_database_builds_and_says_flags_stay_open(tmp_path):
    repo = tmp_path / "articles"
    (repo / "payroll").mkdir(parents=True)
    (repo / "payroll" / "pay.md").write_text("---\ntitle: Pay dates\n---\nThe 15th.\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Pay dates\n\nResolves-Feedback: 1")
    env = {"KB_DATABASE_URL": f"sqlite:///{tmp_path / 'never-migrated.sqlite3'}", "KB_EMBEDDERS": "use-m3"}
    result = CliRunner(env=env).invoke(main, ["index", "--articles", str(repo), "--index", str(tmp_path / "index")])
    assert result.exit_code == 0, result.output
    assert "Index full: 1 articles" in result.output and "flags named in commits stay open" in result.output


def test_a_trailer_in_a_commit_to_another_department_is_refused_and_reported(tmp_path):
    repo = tmp_path / "articles"
    for d in ("payroll", "people"):
        (repo / d).mkdir(parents=True)
    (repo / "departments.yml").write_text("departments:\n  - id: payroll\n    name: Payroll\n  - id: people\n    name: People\n")
    (repo / "payroll" / "pay.md").write_text("---\ntitle: Pay dates\n---\nThe 15th.\n")
    (repo / "people" / "leave.md").write_text("---\ntitle: Leave\n---\n20 days.\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "First version")
    url = sqlite_url(tmp_path)
    lib = load_library(repo)
    svc = FeedbackService(Database(url), lambda: lib, SiteUrls("http://kb.test"), Channels.from_config(Config(webhook_allow="127.0.0.1")))
    flag = svc.flag_gap(reporter=None, query="bonus dates", department="payroll").flag_id
    (repo / "people" / "leave.md").write_text("---\ntitle: Leave\n---\n25 days.\n")
    git(repo, "commit", "-qam", f"More leave\n\nResolves-Feedback: {flag}")
    env = {"KB_DATABASE_URL": url, "KB_EMBEDDERS": "use-m3"}
    result = CliRunner(env=env).invoke(main, ["index", "--articles", str(repo), "--index", str(tmp_path / "index")])
    assert result.exit_code == 0, result.output
    assert f"not resolved: #{flag}" in result.output and "Resolved feedback" not in result.output
    admin = person_for("a@x.example", lib.departments, {"a@x.example"})
    assert svc.get_flag(admin, flag).status == "new"
