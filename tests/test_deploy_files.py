"""The deployment files under docs/deploy/ are valid for the tools that read them (nginx -t, systemd-analyze)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kb.config import PROJECT_ROOT, Config

DEPLOY = PROJECT_ROOT / "docs" / "deploy"


def _tool(name: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path


def test_the_nginx_snippet_passes_nginx_t(tmp_path):
    nginx = _tool("nginx")
    openssl = _tool("openssl")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=kb.example.com",
                    "-keyout", str(tmp_path / "privkey.pem"), "-out", str(tmp_path / "fullchain.pem")],
                   check=True, capture_output=True)
    snippet = (DEPLOY / "nginx-kb.conf").read_text(encoding="utf-8").replace("/etc/ssl/kb", str(tmp_path))
    # Unprivileged ports so the check can bind-test as any user; the rest is the file as shipped.
    snippet = snippet.replace("listen 80;", "listen 127.0.0.1:18080;").replace("listen 443 ssl", "listen 127.0.0.1:18443 ssl")
    (tmp_path / "kb.conf").write_text(snippet, encoding="utf-8")
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {tmp_path}/body;\n  proxy_temp_path {tmp_path}/proxy;\n"
        f"  include {tmp_path}/kb.conf;\n}}\n", encoding="utf-8")
    done = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True)
    assert done.returncode == 0 and "syntax is ok" in done.stderr, done.stderr


@pytest.mark.parametrize("unit", ["kb-serve.service", "kb-worker.service"])
def test_the_systemd_units_verify(tmp_path, unit):
    analyze = _tool("systemd-analyze")
    text = (DEPLOY / unit).read_text(encoding="utf-8")
    assert "ExecStart=/opt/kb/.venv/bin/kb " in text and "EnvironmentFile=/etc/kb/kb.env" in text
    # The kb binary is not installed at /opt/kb here: verify the unit around a command that exists.
    (tmp_path / unit).write_text(text.replace("/opt/kb/.venv/bin/kb", "/bin/true"), encoding="utf-8")
    done = subprocess.run([analyze, "verify", str(tmp_path / unit)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr


def test_the_example_environment_names_only_real_settings():
    names = {f"KB_{name.upper()}" for name in Config.__dataclass_fields__}
    names |= {"KB_WORKERS", "KB_THREADS"}  # the production server's settings (serving work)
    lines = [line.split("=", 1)[0] for line in (DEPLOY / "kb.env.example").read_text(encoding="utf-8").splitlines()
             if line and not line.startswith("#")]
    assert lines and set(lines) <= names, set(lines) - names


def test_the_benchmark_nginx_template_passes_nginx_t(tmp_path):
    nginx = _tool("nginx")
    conf = (PROJECT_ROOT / "benchmarks" / "nginx-replicas.conf").read_text(encoding="utf-8")
    conf = conf.replace("{upstreams}", "    server 127.0.0.1:18001;\n    server 127.0.0.1:18002;")
    conf = conf.replace("{port}", "18000").replace("{prefix}", str(tmp_path))
    (tmp_path / "logs").mkdir()
    (tmp_path / "nginx.conf").write_text(conf, encoding="utf-8")
    done = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True)
    assert done.returncode == 0 and "syntax is ok" in done.stderr, done.stderr
