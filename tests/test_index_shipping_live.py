"""The shipping paths end to end, against live `kb serve`s: a tarball built on host A and imported on B and C;
a `kb worker` publishing into a shared dir that two replicas follow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from kb.config import PROJECT_ROOT
from search.layout import IndexLayout
from search.publish import latest

from .conftest import seed_vector_cache, sqlite_url
from .live import Process, Server, get, kb_env, run_kb, small_site
from .test_hostile_copy import free_port

WORD = "zorblattquux"  # in no article until the edit below


def kb(*args: str, env: dict) -> str:
    done = subprocess.run([sys.executable, "-m", "kb", *args], env=env, capture_output=True, text=True, timeout=600,
                          cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def start_server(env: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kb", "serve", "--port", str(port), "--no-watch"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=PROJECT_ROOT)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "serving on" in line:
            break
    else:
        pytest.fail("kb serve stopped before serving:\n" + "".join(lines))
    # Serving from the imported build: the server had nothing to build.
    assert any("search index unchanged" in line for line in lines), "".join(lines)
    threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep its pipe drained
    return proc, f"http://127.0.0.1:{port}"


def search(base: str, q: str) -> tuple[int, list[str]]:
    url = f"{base}/api/search?q={urllib.parse.quote(q)}"
    for _ in range(300):  # the socket listens just after "serving on"
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                return resp.status, [r["article"] for r in json.loads(resp.read())["results"]]
        except urllib.error.HTTPError as exc:
            return exc.code, []
        except ConnectionRefusedError:
            time.sleep(0.1)
        except urllib.error.URLError as exc:
            if not isinstance(exc.reason, ConnectionRefusedError):
                raise
            time.sleep(0.1)
    raise AssertionError(f"{base} never listened")


class Hammer(threading.Thread):
    """Searches a server without pause, recording every status (an exception counts as a failure)."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base, self.statuses, self.stop = base, [], threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.statuses.append(search(self.base, "parental leave weeks")[0])
            except Exception as exc:  # noqa: BLE001 - any failure is what this test looks for
                self.statuses.append(repr(exc))


def test_build_once_import_on_two_replicas_switches_both_without_a_failed_request(tmp_path, bundled_index):
    articles = tmp_path / "articles"
    shutil.copytree(PROJECT_ROOT / "articles", articles)
    base_env = {**os.environ, "KB_ARTICLES_DIR": str(articles), "KB_EMBEDDERS": "use-m3", "KB_SECRET_KEY": "t",
                "KB_SITE_URL": "http://127.0.0.1", "KB_SEARCH_LIMIT": "100000/minute", "PYTHONPATH": str(PROJECT_ROOT)}
    host = {}
    for name in "ABC":  # three hosts: A builds, B and C serve
        (tmp_path / name).mkdir()
        host[name] = {**base_env, "KB_INDEX_DIR": str(tmp_path / name / "index"),
                      "KB_DATABASE_URL": sqlite_url(tmp_path / name)}
    seed_vector_cache(tmp_path / "A" / "index", bundled_index)
    kb("index", "--export", str(tmp_path / "v1.tar.gz"), env=host["A"])
    for replica in "BC":
        assert "now live" in kb("index", "--import", str(tmp_path / "v1.tar.gz"), env=host[replica])
    servers = [start_server(host[r]) for r in "BC"]
    hammers = [Hammer(base) for _, base in servers]
    try:
        for _, base in servers:
            status, found = search(base, WORD)
            assert status == 200 and "people/parental-leave.md" not in found
        leave = articles / "people" / "parental-leave.md"
        leave.write_text(leave.read_text(encoding="utf-8") + f"\n\nAsk about the {WORD} allowance.\n", encoding="utf-8")
        assert "Index incremental" in kb("index", "--export", str(tmp_path / "v2.tar.gz"), env=host["A"])
        for h in hammers:
            h.start()
        time.sleep(1)
        for replica in "BC":
            kb("index", "--import", str(tmp_path / "v2.tar.gz"), env=host[replica])
        imported = time.monotonic()
        pending = {base for _, base in servers}
        while pending and time.monotonic() - imported < 10:
            pending = {b for b in pending if search(b, WORD)[1][:1] != ["people/parental-leave.md"]}
            time.sleep(0.2)
        assert not pending, f"not serving the new build 10 s after the import: {pending}"
        time.sleep(1)
    finally:
        for h in hammers:
            h.stop.set()
        for h in hammers:
            if h.ident:
                h.join(timeout=60)
        for proc, _ in servers:
            proc.terminate()
            proc.wait(timeout=30)
    for h in hammers:
        assert len(h.statuses) > 5 and set(h.statuses) == {200}, h.statuses


def _first_hit(base: str, q: str) -> str | None:
    status, found = search(base, q)
    assert status == 200
    return found[0] if found else None


def test_two_replicas_follow_one_publishing_worker_and_both_switch_to_an_edit(tmp_path):
    articles = small_site(tmp_path / "articles")
    published = tmp_path / "published"  # the shared directory (NFS or a synced volume in production)
    common = {"KB_ARTICLES_DIR": str(articles), "KB_DATABASE_URL": f"sqlite:///{tmp_path / 'kb.sqlite3'}",
              "KB_SEARCH_LIMIT": "100000/minute", "KB_WORKERS": "1", "KB_THREADS": "2"}
    run_kb("db", "upgrade", env=kb_env(**common))
    publisher = Process(["worker", "--publish", str(published)],
                        kb_env(**common, KB_INDEX_DIR=str(tmp_path / "builder")), tmp_path / "worker.log")
    replicas: list[Server] = []
    hammers: list[Hammer] = []
    try:
        replicas = [Server(kb_env(**common, KB_INDEX_DIR=str(tmp_path / f"replica-{i}"),
                                  KB_INDEX_FOLLOW=str(published)), tmp_path / f"serve-{i}.log") for i in range(2)]
        for r in replicas:  # each waits for the first publication, then serves it
            r.wait_ready(timeout=300)
        first = latest(published)
        assert first is not None
        for i, r in enumerate(replicas):
            assert IndexLayout(tmp_path / f"replica-{i}").current().dir.name == first
            assert _first_hit(r.base, "sixteen weeks") == "people/parental-leave.md"
            assert _first_hit(r.base, WORD) != "people/sick-leave.md"
        hammers = [Hammer(r.base) for r in replicas]
        for h in hammers:
            h.start()
        sick = articles / "people" / "sick-leave.md"
        sick.write_text(sick.read_text(encoding="utf-8") + f"\nAsk about the {WORD} allowance.\n", encoding="utf-8")
        deadline = time.monotonic() + 300  # a deadline for a stuck pipeline, not a timing assertion
        pending = list(replicas)
        while pending and time.monotonic() < deadline:
            pending = [r for r in pending if _first_hit(r.base, WORD) != "people/sick-leave.md"]
            time.sleep(0.2)
        assert not pending, [r.output() for r in pending] + [publisher.output()]
        second = latest(published)
        assert second != first and "published build " + second in publisher.output()
        for i, r in enumerate(replicas):
            assert IndexLayout(tmp_path / f"replica-{i}").current().dir.name == second
            # Only what the edit changed was copied; the rest came from the replica's previous build.
            [line] = [x for x in r.output().splitlines() if f"switched to published build {second}" in x]
            assert int(line.split(", ")[1].split(" unchanged")[0]) > 0, line
            assert f'kb_index_build_info{{build="{second}"}} 1.0' in get(r.base + "/metrics")[2]
    finally:
        for h in hammers:
            h.stop.set()
        for h in hammers:
            h.join(timeout=60)
        for p in [*replicas, publisher]:
            p.stop()
    # The old build answered every search until each replica switched: no failed request.
    for h in hammers:
        assert len(h.statuses) > 5 and set(h.statuses) == {200}, h.statuses
