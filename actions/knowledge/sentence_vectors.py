"""Sentence vectors for the extractive answerer, computed at ingestion and stored beside the index.

``extract()`` scores every quotable sentence of the retrieved chunks against the question.
Embedding those sentences while answering was about a third of the action server's CPU under load
(every process starts with an empty cache) and was the only reason the action server loaded
PyTorch and sentence-transformers. A chunk's sentences change only when the chunk does, so
ingestion embeds them once and writes ``sentence_vectors.npz`` next to ``kb_manifest.json``.

The file is one ``.npz`` (written under a temporary name, then renamed, so a reader never sees
half of it, nor vectors from one build with keys from another):

- ``vectors``: float32 ``(sentences, dim)``, the rows of every chunk one after another;
- ``meta``: JSON ``{format, index_version, embedding_model, chunks: {chunk_id: [digest, start,
  count]}}``.

An entry applies to a chunk only if the chunk id *and* the sha1 of the exact texts that would be
embedded (title, section and every quotable sentence, see ``extractive.chunk_sentences``) match,
so a vector can never be used for other text, whether the article or the sentence splitter
changed. The file as a whole is used only for the index version it was written for.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from .embeddings import MODEL_NAME

logger = logging.getLogger(__name__)

FORMAT = 1


def texts_digest(texts: list[str]) -> str:
    """Stable key of the texts embedded for one chunk (sha1: Python's ``hash()`` is salted per
    process, so it cannot key a file shared between processes)."""
    return hashlib.sha1("\x00".join(texts).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SentenceVectors:
    """The sentence vectors of one index version, by chunk."""
    index_version: str
    embedding_model: str
    vectors: np.ndarray  # (sentences, dim) float32
    chunks: Mapping[str, tuple[str, int, int]]  # chunk_id -> (digest, first row, row count)

    def get(self, chunk_id: str, digest: str) -> np.ndarray | None:
        """The chunk's sentence vectors, or None if the file has none for exactly this text."""
        entry = self.chunks.get(chunk_id)
        if entry is None or entry[0] != digest:
            return None
        _, start, count = entry
        return self.vectors[start:start + count]


def write_sentence_vectors(path: Path, index_version: str,
                           rows: Mapping[str, tuple[str, np.ndarray]]) -> None:
    """Write ``{chunk_id: (digest, vectors)}`` for ``index_version`` atomically."""
    chunks: dict[str, tuple[str, int, int]] = {}
    blocks: list[np.ndarray] = []
    start = 0
    for chunk_id in sorted(rows):
        digest, vectors = rows[chunk_id]
        chunks[chunk_id] = (digest, start, len(vectors))
        blocks.append(np.asarray(vectors, dtype=np.float32))
        start += len(vectors)
    # Chunks without a quotable sentence have no entry (extract() skips them), so no block is empty.
    matrix = np.concatenate(blocks) if blocks else np.zeros((0, 0), np.float32)
    meta = {"format": FORMAT, "index_version": index_version, "embedding_model": MODEL_NAME,
            "chunks": chunks}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".sentence-vectors-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, vectors=matrix, meta=np.array(json.dumps(meta)))
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def read_sentence_vectors(path: Path) -> SentenceVectors:
    """Load the file; raises OSError/ValueError/KeyError if it is missing or unreadable."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        vectors = np.ascontiguousarray(data["vectors"], dtype=np.float32)
    if meta.get("format") != FORMAT:
        raise ValueError(f"format {meta.get('format')!r}, expected {FORMAT}")
    chunks = {cid: (str(d), int(s), int(n)) for cid, (d, s, n) in meta["chunks"].items()}
    return SentenceVectors(str(meta["index_version"]), str(meta["embedding_model"]), vectors, chunks)


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


@dataclass(frozen=True)
class _Loaded:
    path: Path
    index_version: str
    signature: tuple[int, int, int] | None
    table: SentenceVectors | None  # None: missing, unreadable or stale (logged once)


class SentenceVectorCache:
    """The file for the index version being answered from, loaded once (thread-safe).

    Re-read only when the version asked for or the file itself changes (a stat per question, a
    few microseconds): ingestion rewrites the file before the manifest, so a new index version
    always finds its file, and a file written after start-up is picked up without a restart.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None

    def get(self, path: Path, index_version: str) -> SentenceVectors | None:
        signature = _signature(path)
        loaded = self._loaded
        if loaded is not None and (loaded.path, loaded.index_version, loaded.signature) == (
                path, index_version, signature):
            return loaded.table
        with self._lock:
            loaded = self._loaded
            if loaded is None or (loaded.path, loaded.index_version, loaded.signature) != (
                    path, index_version, signature):
                loaded = self._loaded = _Loaded(path, index_version, signature,
                                                self._load(path, index_version, signature))
            return loaded.table

    @staticmethod
    def _load(path: Path, index_version: str,
              signature: tuple[int, int, int] | None) -> SentenceVectors | None:
        fallback = "sentences will be embedded while answering (loads the embedding model)"
        if signature is None:
            logger.warning("no precomputed sentence vectors at %s (run make ingest); %s", path, fallback)
            return None
        try:
            table = read_sentence_vectors(path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("unreadable sentence vectors %s (%s); %s", path, exc, fallback)
            return None
        if table.index_version != index_version or table.embedding_model != MODEL_NAME:
            logger.warning("sentence vectors %s are for index %s (%s), the index is %s (%s); %s",
                           path, table.index_version, table.embedding_model, index_version,
                           MODEL_NAME, fallback)
            return None
        logger.info("loaded %d precomputed sentence vectors for %d chunks (index %s)",
                    len(table.vectors), len(table.chunks), index_version)
        return table


_cache = SentenceVectorCache()


def precomputed(path: Path, index_version: str) -> SentenceVectors | None:
    """The process-wide sentence vectors for ``index_version``, or None if there are none."""
    return _cache.get(path, index_version)
