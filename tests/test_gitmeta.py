"""Last change dates and authors from git, in one pass, with a fallback."""

from __future__ import annotations

import os
import subprocess

from kb.content import load_library
from kb.content.gitmeta import git_metadata


def git(cwd, *args, env=None):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env)


def commit(cwd, message, author, when):
    env = dict(os.environ, GIT_AUTHOR_NAME=author, GIT_AUTHOR_EMAIL=f"{author.lower()}@x.example",
               GIT_COMMITTER_NAME=author, GIT_COMMITTER_EMAIL="c@x.example",
               GIT_AUTHOR_DATE=when, GIT_COMMITTER_DATE=when)
    git(cwd, "add", "-A", env=env)
    git(cwd, "commit", "-q", "-m", message, env=env)


def test_git_dates_and_authors(tmp_path):
    repo = tmp_path / "repo"
    articles = repo / "content"
    (articles / "hr").mkdir(parents=True)
    git(repo, "init", "-q")
    (articles / "hr" / "a.md").write_text("---\ntitle: A\n---\n", encoding="utf-8")
    (articles / "hr" / "b.md").write_text("---\ntitle: B\n---\n", encoding="utf-8")
    (articles / "hr" / "日本語.md").write_text("---\ntitle: 日本語\n---\n", encoding="utf-8")
    commit(repo, "first", "Ana", "2026-01-05T10:00:00+00:00")
    (articles / "hr" / "b.md").write_text("---\ntitle: B2\n---\n", encoding="utf-8")
    commit(repo, "second", "Bo", "2026-03-07T10:00:00+00:00")

    info = git_metadata(articles)
    assert info["hr/a.md"].author == "Ana" and info["hr/a.md"].date.month == 1
    assert info["hr/b.md"].author == "Bo" and info["hr/b.md"].date.month == 3
    assert info["hr/日本語.md"].author == "Ana"  # non-ASCII paths are not quoted away

    lib = load_library(articles)
    assert lib.articles["hr/b.md"].modified.month == 3
    assert lib.articles["hr/b.md"].git.commit == info["hr/b.md"].commit


def test_without_git_falls_back_to_file_times(tmp_path):
    (tmp_path / "hr").mkdir()
    (tmp_path / "hr" / "a.md").write_text("---\ntitle: A\n---\n", encoding="utf-8")
    assert git_metadata(tmp_path) == {}
    a = load_library(tmp_path).articles["hr/a.md"]
    assert a.git is None and a.modified is not None
