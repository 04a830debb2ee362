"""Live `kb serve` (production: gunicorn) and `kb worker` processes for tests, on a small site."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

from kb.config import PROJECT_ROOT

from .conftest import write_tree

SMALL_SITE = {
    "departments.yml": """
        departments:
          - id: people
            name: People Team
            owners: [owner@x.example]
            response_target: "3 business days"
            notify:
              email: [people-kb@x.example]
    """,
    "people/parental-leave.md": """
        ---
        title: Parental leave
        ---
        # Parental leave

        Employees get sixteen weeks of paid parental leave after a birth or an adoption.
    """,
    "people/sick-leave.md": """
        ---
        title: Sick leave
        ---
        # Sick leave

        Tell your manager before your shift when you are ill. A doctor's note is needed after three days.
    """,
    "people/expenses.md": """
        ---
        title: Travel expenses
        ---
        # Travel expenses

        Submit receipts within thirty days of travel; hotel costs are reimbursed up to the city rate.
    """,
}


def small_site(root: Path) -> Path:
    return write_tree(root, SMALL_SITE)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kb_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KB_", "PROMETHEUS_"))}
    return {**env, "PYTHONPATH": str(PROJECT_ROOT), "KB_EMBEDDERS": "use-m3", "KB_SECRET_KEY": "test-secret",
            "KB_SITE_URL": "http://127.0.0.1", "KB_DEV": "0", **settings}


def run_kb(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "kb", *args], env=env, capture_output=True, text=True,
                            timeout=timeout, cwd=PROJECT_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


class Process:
    """A kb command running in the background, its output collected in a file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = open(log, "w")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen([sys.executable, "-m", "kb", *args], env=env, stdout=self._out,
                                     stderr=subprocess.STDOUT, cwd=PROJECT_ROOT, start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 40) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._out.close()
        return self.proc.returncode


class Server(Process):
    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        super().__init__(["serve", "--port", str(self.port), *args], env, log)

    def wait_ready(self, timeout: float = 120) -> Server:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "kb serve stopped:\n" + self.output()
            try:
                if get(self.base + "/readyz")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError("kb serve did not become ready:\n" + self.output())


def get(url: str, headers: dict[str, str] | None = None, timeout: float = 30) -> tuple[int, dict, str]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


class Browser:
    """A reader's cookies and CSRF token, usable against any replica (they share KB_SECRET_KEY)."""

    def __init__(self, email: str) -> None:
        self.email = email
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        self.token = ""

    def open(self, req: urllib.request.Request) -> tuple[int, str]:
        req.add_header("X-Forwarded-Email", self.email)
        try:
            with self.opener.open(req, timeout=30) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def load_token(self, base: str) -> None:
        status, body = self.open(urllib.request.Request(base + "/a/people/sick-leave"))
        assert status == 200, body
        self.token = re.search(r'name="csrf_token" value="([^"]+)"', body).group(1)

    def post(self, url: str, fields: dict[str, str]) -> tuple[int, str]:
        from urllib.parse import urlencode

        data = urlencode({"csrf_token": self.token, **fields}).encode()
        req = urllib.request.Request(url, data=data, method="POST",
                                     headers={"X-Requested-With": "fetch", "Accept": "application/json"})
        return self.open(req)
