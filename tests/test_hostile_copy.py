"""The bundled handbook with hostile files added, through `kb check`, `kb index` and a live `kb serve`."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from kb.config import PROJECT_ROOT

from .conftest import seed_vector_cache, sqlite_url

SECRET = "KB_FAKE_SECRET=hunter2-do-not-publish"


def hostile_copy(tmp_path: Path) -> Path:
    root = tmp_path / "articles"
    shutil.copytree(PROJECT_ROOT / "articles", root)
    outside = tmp_path / "outside.md"
    outside.write_text(f"---\ntitle: Leaked\n---\n{SECRET}\n", encoding="utf-8")
    os.symlink(outside, root / "people" / "env.md")
    deep = "".join("    " * i + "- x\n" for i in range(249))
    (root / "people" / "deep.md").write_text(f"---\ntitle: Deep\n---\n{deep}", encoding="utf-8")
    (root / "people" / "spaces.md").write_text("# a" + " " * 4000 + "x\n\nBody.\n", encoding="utf-8")
    # Python-Markdown is quadratic on unmatched brackets: about 100 s to render without the time limit.
    brackets = ("[^" * 8000 + "\n") * 2
    (root / "people" / "brackets.md").write_text(f"---\ntitle: Brackets\n---\n{brackets}", encoding="utf-8")
    (root / "people" / "huge.md").write_text("---\ntitle: Huge\n---\n" + "word " * 300_000, encoding="utf-8")
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kb", *args], env=env, capture_output=True, text=True, timeout=600,
                          cwd=PROJECT_ROOT)


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_check_index_and_a_live_server_on_a_hostile_copy(tmp_path, bundled_index):
    root = hostile_copy(tmp_path)
    env = {**os.environ, "KB_ARTICLES_DIR": str(root), "KB_INDEX_DIR": str(tmp_path / "index"),
           "KB_DATABASE_URL": sqlite_url(tmp_path), "KB_EMBEDDERS": "use-m3", "KB_SECRET_KEY": "t",
           "KB_SITE_URL": "http://127.0.0.1", "PYTHONPATH": str(PROJECT_ROOT), "KB_RENDER_SECONDS": "2"}
    check = run("check", "-q", env=env)
    assert check.returncode == 1 and "Traceback" not in check.stderr + check.stdout
    for file, code in (("people/env.md", "outside-articles-dir"), ("people/deep.md", "render-error"),
                       ("people/brackets.md", "render-error"),
                       ("people/huge.md", "file-too-large")):
        assert any(file in line and f"[{code}]" in line for line in check.stdout.splitlines()), (file, check.stdout)
    seed_vector_cache(tmp_path / "index", bundled_index)
    index = run("index", env=env)
    # The bundled 62 and the one with the hostile heading (valid, only slow to match before).
    assert index.returncode == 0 and "Index full: 63 articles" in index.stdout, index.stdout + index.stderr
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "kb", "serve", "--port", str(port), "--no-watch"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=PROJECT_ROOT)
    try:
        for line in server.stdout:
            if "serving on" in line:
                break
        else:
            pytest.fail("kb serve stopped before serving")
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60  # "serving on" is printed just before the socket listens
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "kb serve did not start listening"
                time.sleep(0.1)
        assert get(base + "/")[0] == 200
        assert get(base + "/a/people/parental-leave")[0] == 200
        assert get(base + "/a/people/env")[0] == 404 and get(base + "/a/people/deep")[0] == 404
        assert get(base + "/a/people/brackets")[0] == 404
        status, body = get(base + "/api/search?q=hunter2+do+not+publish")
        results = json.loads(body)["results"]
        assert status == 200 and "hunter2" not in json.dumps(results) and "people/env.md" not in body
        started = time.monotonic()
        assert get(base + "/search?q=leave")[0] == 200
        assert time.monotonic() - started < 30  # answered, not stalled behind hostile files
    finally:
        server.terminate()
        server.wait(timeout=30)
