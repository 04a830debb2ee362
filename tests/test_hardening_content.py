"""Hostile content: links leading outside, renderer crashes, regex blow-ups, huge files, reloads."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb import KB, create_app
from kb.cli import main
from kb.config import Config
from kb.content import load_library

from .conftest import sqlite_url

SECRET = "KB_FAKE_SECRET=hunter2-do-not-publish"
BASE = {
    "departments.yml": "departments:\n  - id: people\n    name: People\n",
    "people/leave.md": "---\ntitle: Leave\n---\n## Asking\n\nAsk your manager.\n",
}


def run_check(root: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["check", "--articles", str(root), "--json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def problems_of(root: Path) -> list[dict]:
    _, out = run_check(root)
    return json.loads(out)["problems"]


def make_app(root: Path, tmp_path: Path, **settings):
    app = create_app(KB(Config(articles_dir=root, secret_key="t", reload_seconds=0,
                               database_url=sqlite_url(tmp_path), **settings)))
    app.testing = True
    return app


# --- 1. links leading outside the articles dir ---------------------------------


@pytest.fixture
def linked_tree(make_articles, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text(f"---\ntitle: Secret\n---\n{SECRET}\n", encoding="utf-8")
    (outside / "dir").mkdir()
    (outside / "dir" / "inner.md").write_text(f"# Inner\n\n{SECRET}\n", encoding="utf-8")
    (outside / "departments.yml").write_text(f"departments:\n  - id: x\n    name: '{SECRET}'\n", encoding="utf-8")
    root = make_articles(BASE)
    os.symlink(outside / "secret.md", root / "people" / "secret.md")
    os.symlink("/etc/passwd", root / "people" / "passwd.md")
    os.symlink(outside / "dir", root / "linked")
    os.symlink(outside / "departments.yml", root / "synonyms.yml")
    os.symlink(root / "people" / "leave.md", root / "people" / "alias.md")  # stays inside: keeps working
    return root


def test_links_outside_are_never_read_and_reported(linked_tree, tmp_path):
    lib = load_library(linked_tree, use_git=False)
    assert sorted(lib.articles) == ["people/alias.md", "people/leave.md"]
    everything = json.dumps([a.body + a.title for a in lib.articles.values()]) + repr(lib.synonyms)
    assert "hunter2" not in everything and "root:" not in everything
    code, out = run_check(linked_tree)
    assert code == 1
    outside = {p["file"] for p in json.loads(out)["problems"] if p["code"] == "outside-articles-dir"}
    assert outside == {"people/secret.md", "people/passwd.md", "linked", "synonyms.yml"}
    client = make_app(linked_tree, tmp_path).test_client()
    for url in ("/a/people/secret", "/a/people/passwd", "/a/linked/inner"):
        resp = client.get(url)
        assert resp.status_code == 404 and b"hunter2" not in resp.data and b"root:" not in resp.data
    assert client.get("/a/people/alias").status_code == 200


def test_departments_file_linked_outside_is_not_read(make_articles, tmp_path):
    outside = tmp_path / "deps.yml"
    outside.write_text(f"departments:\n  - id: people\n    name: '{SECRET}'\n", encoding="utf-8")
    root = make_articles({"people/leave.md": BASE["people/leave.md"]})
    os.symlink(outside, root / "departments.yml")
    lib = load_library(root, use_git=False)
    assert "hunter2" not in repr(lib.departments)
    assert [p.file for p in lib.problems if p.code == "outside-articles-dir"] == ["departments.yml"]


def test_change_detection_does_not_look_outside(linked_tree, monkeypatch):
    from kb.content import store as store_module

    store = store_module.ContentStore(linked_tree, reload_seconds=0, use_git=False)
    real_stat = Path.stat
    seen: list[str] = []

    def stat(self, *, follow_symlinks=True):
        if follow_symlinks:  # an lstat looks at the link, inside the dir
            seen.append(os.path.realpath(self))
        return real_stat(self, follow_symlinks=follow_symlinks)

    monkeypatch.setattr(Path, "stat", stat)
    store.library  # noqa: B018 (the first load, then a check for changes)
    store.library  # noqa: B018
    real_root = os.path.realpath(linked_tree)
    assert seen and all(p == real_root or p.startswith(real_root + os.sep) for p in seen)


# --- 2. one article the renderer cannot handle ----------------------------------

# Python-Markdown nests a list item under another by four spaces (two make one flat list).
DEEP = "---\ntitle: Deep\n---\n" + "".join("    " * i + "- x\n" for i in range(249))


def test_an_article_that_cannot_be_rendered_is_skipped_and_reported(make_articles, tmp_path):
    files = dict(BASE)
    files["people/deep.md"] = DEEP
    files["people/links.md"] = "---\ntitle: Links\n---\nSee [deep](deep.md).\n"
    root = make_articles(files)
    lib = load_library(root, use_git=False)
    assert sorted(lib.articles) == ["people/leave.md", "people/links.md"]
    assert lib.articles["people/leave.md"].html
    result = CliRunner().invoke(main, ["check", "--articles", str(root)])
    assert result.exit_code == 1 and result.exception is not None and isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "people/deep.md:4: error:" in result.output and "[render-error]" in result.output
    # The link to the skipped article is now simply broken, not a crash.
    assert "people/links.md" in result.output and "[broken-link]" in result.output
    client = make_app(root, tmp_path).test_client()
    assert client.get("/").status_code == 200
    assert client.get("/a/people/leave").status_code == 200
    assert client.get("/a/people/deep").status_code == 404
