"""Process-wide settings, applied by whoever owns the process, never at import.

Thread counts of faiss (OpenMP) and torch are settings of the whole process:
a library that changed them in passing would slow down, or speed up, whatever
else the process is doing (the dev-mode watcher builds inside the server).
So search/ changes them in one place, ``configure``, which the process owner
calls once: ``kb serve`` with 1 thread (queries: one short vector each, where
a second thread costs more than it saves on 2 cores), ``kb index`` with more
(batch embedding and HNSW building).
"""

from __future__ import annotations

import importlib.util
import os

#: For the Hugging Face libraries, read when they are imported: even a
#: misconfigured model name must not reach for the network.
HUB_OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
}


def configure(threads: int) -> None:
    """Use ``threads`` threads in faiss and torch (intra-op) from now on."""
    import faiss

    faiss.omp_set_num_threads(threads)
    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.set_num_threads(threads)


def offline_hub() -> None:
    """Keep the Hugging Face libraries offline and quiet (settings already made win).

    Called by a backend before it first imports sentence_transformers.
    """
    for key, value in HUB_OFFLINE.items():
        os.environ.setdefault(key, value)
