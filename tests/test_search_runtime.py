"""search/ changes no process-wide setting at import: the process owner calls runtime.configure."""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PROBE = """
import json, os, threading
import faiss
before = faiss.omp_get_max_threads()
import search.service, search.build, search.embedders, search.vectors, search.searcher  # noqa: F401
after_import = faiss.omp_get_max_threads()
env = sorted(k for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE") if k in os.environ)
threads = [t.name for t in threading.enumerate() if t.name.startswith("kb-")]
from search import runtime
runtime.configure(1)
import torch
print(json.dumps({"before": before, "after_import": after_import, "env": env, "threads": threads,
                  "configured": [faiss.omp_get_max_threads(), torch.get_num_threads()]}))
"""


def test_importing_search_changes_nothing_process_wide():
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "OMP_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    assert probe["after_import"] == probe["before"]  # no faiss thread count set at import
    assert probe["env"] == []  # offline settings are applied when a model is loaded
    assert probe["threads"] == []  # no thread pool started at import
    assert probe["configured"] == [1, 1]


def test_offline_settings_keep_what_was_set(monkeypatch):
    from search import runtime

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    runtime.offline_hub()
    assert os.environ["HF_HUB_OFFLINE"] == "0" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
