"""The Chroma vector store (LangChain ``langchain_chroma.Chroma``), one per process and location.

Local default: a persistent directory (``CHROMA_PATH``, default ``var/chroma``). Production: a
Chroma server when ``CHROMA_HOST``/``CHROMA_PORT`` are set. Either way our own embedding function
is passed in, so Chroma never falls back to its default (downloading) embedder, and the
collection uses cosine distance to match the normalised MiniLM vectors.
"""
from __future__ import annotations

import logging
import threading
from typing import Any

from chromadb.config import Settings as ChromaSettings
from langchain_chroma import Chroma

from .config import KnowledgeSettings, load_settings
from .embeddings import get_embeddings

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_stores: dict[tuple[str, str], Chroma] = {}


def _location(settings: KnowledgeSettings) -> str:
    if settings.uses_server:
        return f"http://{settings.chroma_host}:{settings.chroma_port}"
    return str(settings.chroma_path)


def _open(settings: KnowledgeSettings) -> Chroma:
    # Telemetry off: the assistant must not talk to anything but its configured services.
    client_settings = ChromaSettings(anonymized_telemetry=False)
    common: dict[str, Any] = {
        "collection_name": settings.collection,
        "embedding_function": get_embeddings(),
        "client_settings": client_settings,
        "collection_configuration": {"hnsw": {"space": "cosine"}},
    }
    if settings.uses_server:
        logger.info("knowledge store: Chroma server %s", _location(settings))
        return Chroma(host=settings.chroma_host, port=settings.chroma_port, **common)
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    logger.info("knowledge store: persistent Chroma at %s", settings.chroma_path)
    return Chroma(persist_directory=str(settings.chroma_path), **common)


def get_store(settings: KnowledgeSettings | None = None) -> Chroma:
    """The shared store for the configured location (opened on first use, thread-safe)."""
    settings = settings or load_settings()
    key = (_location(settings), settings.collection)
    store = _stores.get(key)
    if store is None:
        with _lock:
            store = _stores.get(key)
            if store is None:
                store = _stores[key] = _open(settings)
    return store


def all_records(store: Chroma, batch: int = 1000) -> tuple[list[str], list[str], list[dict]]:
    """Every (id, document, metadata) in the collection, paged so big indexes stay cheap."""
    ids, docs, metas, _ = all_records_with_vectors(store, batch, vectors=False)
    return ids, docs, metas


def all_records_with_vectors(store: Chroma, batch: int = 1000, vectors: bool = True
                             ) -> tuple[list[str], list[str], list[dict], list[list[float]]]:
    """Every (id, document, metadata[, embedding]) in the collection, paged."""
    ids: list[str] = []
    docs: list[str] = []
    metas: list[dict] = []
    embeddings: list[list[float]] = []
    include = ["documents", "metadatas"] + (["embeddings"] if vectors else [])
    offset = 0
    while True:
        page = store.get(limit=batch, offset=offset, include=include)
        if not page["ids"]:
            break
        ids.extend(page["ids"])
        docs.extend(page["documents"])
        metas.extend(page["metadatas"])
        if vectors:
            embeddings.extend(list(v) for v in page["embeddings"])
        offset += len(page["ids"])
    return ids, docs, metas, embeddings
