"""Memory of `kb serve` in production (gunicorn, preloaded) with 1, 2 and 4 workers, after warm-up.

Run by hand (not a test): prints RSS, PSS and USS (from /proc/<pid>/smaps_rollup) of the master and of
each worker after every worker answered searches. PSS counts shared pages once across processes, USS
is what a process alone holds: the cost of one more worker is about its USS.

    PYTHONPATH=. python benchmarks/serving_memory.py [--articles DIR] [--embedders use-m3] [--workers 1,2,4]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ["parental leave", "育児休業は何週間", "연차 휴가", "报销差旅费", "vpn password reset", "expenses receipts"]


def rollup(pid: int) -> dict[str, int]:
    """kB figures of one process."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        values[key] = int(value.split()[0])
    return {"rss": values["Rss"], "pss": values["Pss"],
            "uss": values["Private_Clean"] + values["Private_Dirty"]}


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
            except OSError:
                continue
    return sorted(out)


def measure(workers: int, env: dict[str, str]) -> tuple[dict, list[dict]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "kb", "serve", "--port", str(port)], cwd=ROOT,
                            env={**env, "KB_WORKERS": str(workers)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while True:
            try:
                urllib.request.urlopen(base + "/readyz", timeout=5).read()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "kb serve did not start"
                time.sleep(0.5)
        for _ in range(10 * workers):  # every worker gets some: the kernel spreads the connections
            for q in QUERIES:
                urllib.request.urlopen(f"{base}/api/search?q={urllib.parse.quote(q)}", timeout=60).read()
        time.sleep(1)
        return rollup(proc.pid), [rollup(p) for p in children(proc.pid)]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def main() -> None:
    import urllib.parse  # noqa: F401 (used above)

    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", default=str(ROOT / "articles"))
    parser.add_argument("--embedders", default="minilm,use-m3")
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kb-mem-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KB_DEV": "0", "KB_SECRET_KEY": "bench", "KB_ARTICLES_DIR": args.articles,
           "KB_EMBEDDERS": args.embedders, "KB_DATABASE_URL": f"sqlite:///{tmp / 'kb.sqlite3'}",
           "KB_INDEX_DIR": os.environ.get("KB_INDEX_DIR", str(tmp / "index"))}
    subprocess.run([sys.executable, "-m", "kb", "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    print(f"articles {args.articles}, embedders {args.embedders}; kB from /proc/<pid>/smaps_rollup")
    print("workers | master RSS / PSS / USS | per worker RSS / PSS / USS (mean) | total PSS")
    for n in (int(w) for w in args.workers.split(",")):
        master, workers = measure(n, env)
        mean = {k: sum(w[k] for w in workers) // len(workers) for k in ("rss", "pss", "uss")}
        total = master["pss"] + sum(w["pss"] for w in workers)
        print(f"{n:7} | {master['rss']:>8} / {master['pss']:>8} / {master['uss']:>8} | "
              f"{mean['rss']:>8} / {mean['pss']:>8} / {mean['uss']:>8} | {total:>9}")


if __name__ == "__main__":
    main()
