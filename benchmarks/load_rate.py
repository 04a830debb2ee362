"""The fixed-rate (open-loop) generator of ``load.py --rate``: wrk2 is not available here.

Request i is due at start + i/rate; 64 threads (one keep-alive connection each) send each when due,
and its latency counts from when it was due (a late send counts as slow, not as missing); requests
still unsent when the run's time is up count as errors ("unsent").
"""

from __future__ import annotations

import http.client
import statistics
import threading
import time
import urllib.parse

EMAIL = "load.tester@example.gov"  # the identity of every request (load.py uses it too)


def run_rate(front: str, mix: list[tuple[str, str, str]], cookie: str, rate: float, seconds: int) -> dict:
    """Open loop: request i is due at start + i/rate; latency counts from when it was due."""
    target = urllib.parse.urlsplit(front)
    total = int(rate * seconds)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    lock, next_i = threading.Lock(), iter(range(total))
    start = time.monotonic() + 0.5

    def worker() -> None:
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        while True:
            with lock:
                i = next(next_i, None)
            if i is None:
                return
            due = start + i / rate
            if time.monotonic() > start + seconds:  # the run is over: what was due and not sent counts as failed
                with lock:
                    statuses["unsent"] = statuses.get("unsent", 0) + 1
                continue
            time.sleep(max(0.0, due - time.monotonic()))
            method, path, body = mix[i % len(mix)]
            headers = {"X-Forwarded-Email": EMAIL, "Cookie": cookie}
            if method == "POST":
                headers |= {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
            try:
                conn.request(method, path, body=body or None, headers=headers)
                resp = conn.getresponse()
                resp.read()
                code = str(resp.status)
            except (OSError, http.client.HTTPException) as exc:
                code = type(exc).__name__
                conn.close()
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
            with lock:
                latencies.append(time.monotonic() - due)
                statuses[code] = statuses.get(code, 0) + 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = min(time.monotonic() - start, seconds)
    q = statistics.quantiles(latencies, n=100)
    errors = sum(n for code, n in statuses.items() if not code.isdigit() or int(code) >= 400)
    return {"requests": len(latencies), "rps": len(latencies) / elapsed, "p50": q[49] * 1e6, "p95": q[94] * 1e6,
            "p99": q[98] * 1e6, "max": max(latencies) * 1e6, "errors": errors, "statuses": statuses}
