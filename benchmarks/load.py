"""HTTP load on a running kb: wrk with a realistic mix, a fixed-rate run, and edit-to-searchable time. Run by hand.

    .venv/bin/python benchmarks/load.py                                   # Werkzeug `kb serve`, 8/32/128 connections
    .venv/bin/python benchmarks/load.py --rate 100 --duration 600         # 10 minutes at a fixed 100 requests/s
    .venv/bin/python benchmarks/load.py --replicas 2 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test --ratelimit-storage redis://127.0.0.1:6379/7
    .venv/bin/python benchmarks/load.py --server '{kb} serve --port {port}' --label production   # any server command
    .venv/bin/python benchmarks/load.py --reindex-only                    # one-article edit -> searchable, every replica
    .venv/bin/python benchmarks/load.py --reindex-only --follow --replicas 2   # ... through kb worker --publish

The 18F handbook is copied to ``--work-dir`` and indexed once there (``kb index --export``, the
shipping path: every replica imports the tarball into its own index dir, as on separate hosts).
With ``--follow``, a ``kb worker --publish`` on the builder's index publishes each build into a
shared dir and every replica runs with ``KB_INDEX_FOLLOW`` on it (the tested production path).
Servers start from ``--server`` (``{kb}`` is this Python running ``-m kb``, ``{port}`` a free port);
with ``--replicas 2`` or more a local nginx (config written to the work dir, high port, no root
needed) balances them. The mix (one list, walked round-robin by each wrk connection): 35% search
pages and 25% /api/search with the 205 dev questions (en, ja, ko, zh), 30% article pages, 5%
/api/suggest, 5% "Was this helpful? Yes" posts with a real session cookie and CSRF token.

wrk2 is not available, so ``--rate`` is an open-loop generator of our own (load_rate.py): request i is
due at start + i/rate, 64 threads (one keep-alive connection each) send each when due, and its
latency is counted from when it was due (a late send counts as slow, not as missing); requests
still unsent when the run's time is up count as errors ("unsent"), so an overloaded server
cannot stretch the run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from load_rate import EMAIL, run_rate  # beside this script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared" / "corpora" / "18f-handbook"
QUERIES = ROOT / "benchmarks" / "dev" / "18f" / "queries.jsonl"
LUA = ROOT / "benchmarks" / "load_mix.lua"
KB = [sys.executable, "-m", "kb"]
MARK = "quokkaflux"  # a word in no article: the edit adds it (with a fresh suffix: never cached), the poll looks for it


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kb(args: list[str], env: dict) -> str:
    done = subprocess.run(KB + args, env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"kb {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def base_env(opts: argparse.Namespace, articles: Path) -> dict:
    return {
        **os.environ, "PYTHONPATH": str(ROOT), "KB_ARTICLES_DIR": str(articles), "KB_SECRET_KEY": "load-test",
        "KB_DEV": "0", "KB_SITE_URL": "http://127.0.0.1", "KB_TRUSTED_PROXIES": "127.0.0.1",
        "KB_DATABASE_URL": opts.database_url or f"sqlite:///{opts.work_dir / 'load.sqlite3'}",
        "KB_RATELIMIT_STORAGE": opts.ratelimit_storage,
        # The load comes from one address and one person: the limits would measure themselves.
        "KB_SEARCH_LIMIT": "10000000/minute", "KB_FEEDBACK_LIMIT_PERSON": "10000000/minute",
        "KB_FEEDBACK_LIMIT_ADDRESS": "10000000/minute",
    }


def prepare(opts: argparse.Namespace) -> tuple[Path, dict, Path]:
    """The articles copy, the common environment, and the exported build tarball."""
    articles = opts.work_dir / "articles"
    if not articles.is_dir():
        shutil.copytree(opts.articles, articles)
        for p in articles.rglob("*"):
            p.chmod(p.stat().st_mode | 0o200)  # the shared corpora are read-only
    env = {**base_env(opts, articles), **dict(e.split("=", 1) for e in opts.env)}
    tarball = opts.work_dir / "build.tar.gz"
    started = time.monotonic()
    if not (opts.reuse_build and tarball.exists()):
        kb(["index", "--index", str(opts.work_dir / "builder" / "index"), "--export", str(tarball)], env)
        print(f"# index built (or up to date) and exported in {time.monotonic() - started:.1f}s", flush=True)
    kb(["db", "upgrade"], env)
    return articles, env, tarball


def wait_ready(url: str, proc: subprocess.Popen | None, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"server exited ({proc.returncode}) before answering {url}")
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} not answering after {timeout}s")
        time.sleep(0.5)


class Servers:
    """The replicas (each with its own index dir, imported from the tarball) and nginx in front of them."""

    def __init__(self, opts: argparse.Namespace, env: dict, tarball: Path) -> None:
        self.opts, self.env, self.tarball = opts, env, tarball
        self.procs: list[subprocess.Popen] = []
        self.urls: list[str] = []
        self.index_dirs: list[Path] = []
        self.front = ""
        # An imported index ships without the vector cache: a replica that built locally would embed
        # every chunk again, so --watch servers use the builder's index dir instead.
        self.watching = "--watch" in opts.server
        self.published = opts.work_dir / "published"
        self.publisher: subprocess.Popen | None = None

    def start_publisher(self) -> None:
        """``kb worker --publish``: builds in the builder's index dir (its vector cache) and publishes."""
        from search.publish import latest

        log = (self.opts.work_dir / "publisher.log").open("w")
        env = {**self.env, "KB_INDEX_DIR": str(self.opts.work_dir / "builder" / "index")}
        self.publisher = subprocess.Popen([*KB, "worker", "--publish", str(self.published)], env=env, cwd=ROOT,
                                          stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 600
        while latest(self.published) is None:
            if self.publisher.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("kb worker --publish published nothing (see publisher.log)")
            time.sleep(0.5)

    def start(self) -> str:
        if self.opts.follow:
            self.start_publisher()
        for i in range(self.opts.replicas):
            if self.watching:  # one box: the server reindexes its own index, built here with its vector cache
                index_dir = self.opts.work_dir / "builder" / "index"
            else:
                index_dir = self.opts.work_dir / f"replica-{i}" / "index"
                if not self.opts.follow:  # a follower takes the published build itself
                    kb(["index", "--index", str(index_dir), "--import", str(self.tarball)], self.env)
            env = {**self.env, "KB_INDEX_DIR": str(index_dir)}
            if self.opts.follow:
                env["KB_INDEX_FOLLOW"] = str(self.published)
            port = free_port()
            cmd = [part.replace("{port}", str(port)) for part in shlex.split(self.opts.server)]
            cmd = [*KB, *cmd[1:]] if cmd and cmd[0] == "{kb}" else cmd
            # One log per configuration and replica: a later run must not overwrite the one with an error in it.
            tag = re.sub(r"[^a-z0-9]+", "-", (self.opts.label or "run").lower()).strip("-")
            log = (self.opts.work_dir / f"replica-{i}-{tag}.log").open("w")
            proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log,
                                    stderr=subprocess.STDOUT)
            self.procs.append(proc)
            self.urls.append(f"http://127.0.0.1:{port}")
            self.index_dirs.append(index_dir)
        for proc, url in zip(self.procs, self.urls, strict=True):
            wait_ready(f"{url}/api/search?q=leave", proc)
        self.front = self.urls[0] if len(self.urls) == 1 else self._nginx()
        for url in self.urls:  # warm-up: models and index pages in memory
            for q in ("leave", "travel card", "休暇", "휴가", "请假"):
                urllib.request.urlopen(f"{url}/api/search?q={urllib.parse.quote(q)}", timeout=60).read()
        return self.front

    def _nginx(self) -> str:
        prefix = self.opts.work_dir / "nginx"
        (prefix / "logs").mkdir(parents=True, exist_ok=True)
        port = free_port()
        upstreams = "\n".join(f"    server {u.removeprefix('http://')};" for u in self.urls)
        conf = (ROOT / "benchmarks" / "nginx-replicas.conf").read_text(encoding="utf-8")
        conf = conf.replace("{upstreams}", upstreams).replace("{port}", str(port)).replace("{prefix}", str(prefix))
        (prefix / "nginx.conf").write_text(conf, encoding="utf-8")
        self.nginx = subprocess.Popen(["nginx", "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"])
        url = f"http://127.0.0.1:{port}"
        wait_ready(f"{url}/api/search?q=leave", self.nginx, timeout=30)
        return url

    def stop(self) -> None:
        for proc in [*self.procs, getattr(self, "nginx", None), self.publisher]:
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()


def session(front: str, slug: str) -> tuple[str, str]:
    """A session cookie and its CSRF token, from an article page (as a reader's browser gets them)."""
    req = urllib.request.Request(f"{front}/a/{slug}", headers={"X-Forwarded-Email": EMAIL})
    with urllib.request.urlopen(req, timeout=60) as resp:
        cookie = "; ".join(c.split(";", 1)[0] for c in resp.headers.get_all("Set-Cookie") or [])
        token = re.search(r'name="csrf_token" value="([^"]+)"', resp.read().decode()).group(1)
    # A first search adds the searcher key to the session, as a browser's would keep it: without it
    # every search of the run would send a fresh cookie back, which no browser causes.
    req = urllib.request.Request(f"{front}/search?q=leave", headers={"X-Forwarded-Email": EMAIL, "Cookie": cookie})
    with urllib.request.urlopen(req, timeout=60) as resp:
        cookie = "; ".join(c.split(";", 1)[0] for c in resp.headers.get_all("Set-Cookie") or []) or cookie
    return cookie, token


def articles_of(articles: Path) -> list:
    from kb import KB
    from kb.config import Config

    return sorted(KB(Config(articles_dir=articles)).library.articles.values(), key=lambda a: a.path)


# Words a person adds to a question: a "fresh" search is a dev question with two of them, a text
# no earlier request of the run had (so no cache has it), ranked the full way.
FILLERS = ["please", "thanks", "now", "today", "again", "exactly", "quickly", "still", "also", "really", "help",
           "question", "urgent", "policy", "rule", "info"]


def request_mix(arts: list, token: str, fresh: float = 0.5, n: int = 20000, seed: int = 7) -> list[tuple[str, str, str]]:
    """(method, path, body) in the mix's proportions, shuffled; a ``fresh`` share of searches never repeats."""
    questions = [json.loads(line)["text"] for line in QUERIES.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(seed)
    out, seen = [], set()
    for i in range(n):
        text = questions[i % len(questions)]
        if rng.random() < fresh:
            while text in seen:
                text = f"{questions[i % len(questions)]} {rng.choice(FILLERS)} {rng.choice(FILLERS)}"
            seen.add(text)
        q, art, r = urllib.parse.quote(text), arts[i % len(arts)], rng.random()
        if r < 0.35:
            out.append(("GET", f"/search?q={q}", ""))
        elif r < 0.60:
            out.append(("GET", f"/api/search?q={q}", ""))
        elif r < 0.90:
            out.append(("GET", f"/a/{urllib.parse.quote(art.slug)}", ""))
        elif r < 0.95:
            out.append(("GET", f"/api/suggest?q={urllib.parse.quote(questions[i % len(questions)][:4])}", ""))
        else:
            body = urllib.parse.urlencode({"csrf_token": token, "article": art.path, "helpful": "yes"})
            out.append(("POST", "/feedback/article", body))
    rng.shuffle(out)
    return out


def run_wrk(front: str, requests_file: Path, cookie: str, connections: int, seconds: int) -> dict:
    env = {**os.environ, "KB_LOAD_REQUESTS": str(requests_file), "KB_LOAD_EMAIL": EMAIL, "KB_LOAD_COOKIE": cookie}
    cmd = ["wrk", "-t", str(min(2, connections)), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
           "-s", str(LUA), front]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("KB_LOAD_RESULT "))
    result = json.loads(line.removeprefix("KB_LOAD_RESULT "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["errors"] = sum(result[k] for k in ("connect", "read", "write", "status", "timeout"))
    return result


def found(url: str, article: str, word: str) -> bool:
    """The edited article is the first hit for the word the edit added."""
    with urllib.request.urlopen(f"{url}/api/search?q={word}", timeout=30) as resp:
        return [r["article"] for r in json.load(resp)["results"][:1]] == [article]


def reindex(opts: argparse.Namespace, servers: Servers, articles: Path, env: dict) -> dict:
    """One article edited -> the edit found by /api/search on every replica (build, export, import on each)."""
    article = sorted(articles.rglob("*.md"))[20]
    article_id = article.relative_to(articles).as_posix()
    text = re.sub(rf"\n\nAsk about {MARK}[a-z]* here\.\n$", "", article.read_text(encoding="utf-8"))
    word = MARK + "".join(random.choices("abcdefghijklmnopqrstuvwxyz", k=8))  # new text: its vectors are in no cache
    started = time.monotonic()
    article.write_text(text + f"\n\nAsk about {word} here.\n", encoding="utf-8")
    marks = {}
    if opts.follow:  # kb worker sees the edit, builds, publishes; every replica follows
        marks |= published_and_followed(servers, started)
    elif not servers.watching:  # the shipping path: one build, imported by every replica
        tarball = opts.work_dir / "edit.tar.gz"
        kb(["index", "--index", str(opts.work_dir / "builder" / "index"), "--export", str(tarball)], env)
        marks["built and exported"] = time.monotonic() - started
        for d in servers.index_dirs:
            kb(["index", "--index", str(d), "--import", str(tarball)], env)
        marks["imported everywhere"] = time.monotonic() - started
    pending = set(servers.urls)
    while pending and time.monotonic() - started < 300:
        pending = {u for u in pending if not found(u, article_id, word)}
        time.sleep(0.1)
    marks["searchable on every replica"] = time.monotonic() - started if not pending else float("nan")
    article.write_text(text, encoding="utf-8")  # leave the copy as it was, for the next run
    if opts.follow or servers.watching:  # the restoring write is an edit too: wait until it is served
        undone = time.monotonic()
        while any(found(u, article_id, word) for u in servers.urls) and time.monotonic() - undone < 300:
            time.sleep(0.2)
    return marks


def published_and_followed(servers: Servers, started: float) -> dict:
    """When the publisher published a new build, and when every replica's ``current`` was switched to it."""
    from search.layout import IndexLayout
    from search.publish import latest

    before, marks = latest(servers.published), {}
    while (now := latest(servers.published)) == before and time.monotonic() - started < 300:
        time.sleep(0.05)
    marks["built and published"] = time.monotonic() - started
    layouts = [IndexLayout(d) for d in servers.index_dirs]
    while time.monotonic() - started < 300 and not all((c := x.current()) and c.dir.name == now for x in layouts):
        time.sleep(0.05)
    marks["switched on every replica"] = time.monotonic() - started
    return marks


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) used so far by these processes and their children (gunicorn's workers)."""
    tick, total, seen = os.sysconf("SC_CLK_TCK"), 0.0, set()
    todo = list(pids)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            # utime + stime, and for a server's own process its waited-for children's (a worker that exited mid-run)
            total += sum(int(f) for f in fields[11:15 if pid in pids else 13]) / tick
            for task in Path(f"/proc/{pid}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue  # a worker that exited between the listing and the read
    return total


def print_stages(urls: list[str]) -> None:
    """Mean milliseconds per search stage (``kb_search_stage_seconds`` of /metrics), summed over the replicas."""
    totals: dict[str, list[float]] = {}
    for url in urls:
        with urllib.request.urlopen(f"{url}/metrics", timeout=30) as resp:
            for line in resp.read().decode().splitlines():
                m = re.match(r'kb_search_stage_seconds_(count|sum)\{stage="([^"]+)"\} (\S+)', line)
                if m:
                    totals.setdefault(m.group(2), [0.0, 0.0])[m.group(1) == "sum"] += float(m.group(3))
    print("| stage | searches | mean ms |\n|---|---|---|")
    for stage, (count, seconds) in totals.items():
        print(f"| {stage} | {count:.0f} | {seconds / count * 1e3:.2f} |" if count else f"| {stage} | 0 | |")


def print_result(label: str, name: str, r: dict) -> None:
    print(f"| {label} | {name} | {r['rps']:.1f} | {r['p50'] / 1e3:.0f} | {r['p95'] / 1e3:.0f} | {r['p99'] / 1e3:.0f} "
          f"| {r['errors']} | {r.get('cpu_ms', float('nan')):.1f} | {json.dumps(r['statuses'], sort_keys=True)} |",
          flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", default="{kb} serve --port {port} --no-watch", help="server command ({kb}, {port})")
    ap.add_argument("--label", default=None, help="name of this configuration in the printed table")
    ap.add_argument("--replicas", type=int, default=1)
    ap.add_argument("--connections", default="8,32,128")
    ap.add_argument("--duration", type=int, default=30, help="seconds per wrk run (or of the --rate run)")
    ap.add_argument("--rate", type=float, default=0, help="instead of wrk: a fixed rate (requests/s), open loop")
    ap.add_argument("--reindex", action="store_true", help="also time one edit -> searchable on every replica")
    ap.add_argument("--reindex-only", action="store_true")
    ap.add_argument("--follow", action="store_true", help="replicas follow a `kb worker --publish` (KB_INDEX_FOLLOW)")
    ap.add_argument("--fresh", type=float, default=0.5,
                    help="share of searches whose text no earlier request had (the rest repeat the dev questions)")
    ap.add_argument("--env", action="append", default=[], metavar="KB_X=V", help="a setting for the servers")
    ap.add_argument("--runs", type=int, default=1, help="how many edits to time (--reindex)")
    ap.add_argument("--database-url", default=None, help="default: SQLite in the work dir (one replica)")
    ap.add_argument("--ratelimit-storage", default="memory://")
    ap.add_argument("--reuse-build", action="store_true", help="use the tarball of the last run as it is")
    ap.add_argument("--articles", type=Path, default=CORPUS, help="the corpus (copied once into the work dir)")
    ap.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "kb-load")
    opts = ap.parse_args()
    opts.work_dir.mkdir(parents=True, exist_ok=True)
    label = opts.label or f"{opts.server.split(' --port')[0].replace('{kb} ', 'kb ')} x{opts.replicas}"
    articles, env, tarball = prepare(opts)
    servers = Servers(opts, env, tarball)
    try:
        front = servers.start()
        print(f"# {label}: serving at {front} ({', '.join(servers.urls)})", flush=True)
        if not opts.reindex_only:
            arts = articles_of(articles)
            cookie, token = session(front, arts[0].slug)
            mix = request_mix(arts, token, opts.fresh)
            requests_file = opts.work_dir / "requests.tsv"
            requests_file.write_text("".join(f"{m}\t{p}\t{b}\n" for m, p, b in mix), encoding="utf-8")
            print("| server | load | requests/s | p50 ms | p95 ms | p99 ms | errors | server CPU ms/request | statuses |"
                  "\n|---|---|---|---|---|---|---|---|---|")
            pids = [p.pid for p in servers.procs]
            runs = [(f"{opts.rate:g}/s for {opts.duration}s", lambda: run_rate(front, mix, cookie, opts.rate, opts.duration))]
            if not opts.rate:
                runs = [(f"wrk {c} conns {opts.duration}s", lambda c=c: run_wrk(front, requests_file, cookie, c, opts.duration))
                        for c in (int(x) for x in opts.connections.split(","))]
            for name, run in runs:
                cpu = cpu_seconds(pids)
                r = run()
                answered = sum(n for k, n in r["statuses"].items() if k != "unsent")
                r["cpu_ms"] = (cpu_seconds(pids) - cpu) * 1e3 / max(1, answered)
                print_result(label, name, r)
            print_stages(servers.urls)
        for run in range(opts.runs if opts.reindex or opts.reindex_only else 0):
            marks = reindex(opts, servers, articles, env)
            load = os.getloadavg()[0]
            print(f"# run {run + 1}, load {load:.1f}: edit -> searchable: "
                  + ", ".join(f"{k} {v:.1f}s" for k, v in marks.items()), flush=True)
    finally:
        servers.stop()


if __name__ == "__main__":
    main()
