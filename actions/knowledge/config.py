"""Knowledge-base settings, read from the environment in one place.

Defaults are for the local `make run` stack; tests point CHROMA_PATH at a temporary directory.
Settings are read on every call of :func:`load_settings` (cheap) so a test can change the
environment between cases; the heavy objects built from them are cached in their own modules.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_KNOWLEDGE_DIR = PROJECT_ROOT / "knowledge"
COLLECTION_NAME = "brightcart_kb"
MANIFEST_NAME = "kb_manifest.json"
SENTENCE_VECTORS_NAME = "sentence_vectors.npz"
# Fused-score threshold below which a question is refused; tuned on the eval tuning half
# (docs/knowledge.md records how).
DEFAULT_MIN_RELEVANCE = 0.40


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, "").strip() or default


@dataclass(frozen=True)
class KnowledgeSettings:
    chroma_path: Path
    chroma_host: str | None
    chroma_port: int
    collection: str
    manifest_path: Path
    llm_base_url: str | None
    llm_model: str
    llm_api_key: str
    llm_timeout: float
    # Retrieval tuning (measured values: see docs/knowledge.md). Overridable for experiments.
    min_relevance: float
    top_k: int
    # Up to this many chunks, dense scores come from the vectors held in memory (one matrix
    # product, exact); above it, from Chroma's approximate nearest-neighbour index.
    exact_search_max_chunks: int = 50_000

    @property
    def uses_server(self) -> bool:
        return self.chroma_host is not None

    @property
    def sentence_vectors_path(self) -> Path:
        """The extractive answerer's precomputed sentence vectors (sentence_vectors.py), written
        by ingestion beside the manifest: like it, a local file even with a Chroma server."""
        return self.manifest_path.parent / SENTENCE_VECTORS_NAME


def load_settings() -> KnowledgeSettings:
    chroma_path = Path(_env("CHROMA_PATH", str(PROJECT_ROOT / "var" / "chroma")))
    if not chroma_path.is_absolute():
        chroma_path = PROJECT_ROOT / chroma_path
    host = _env("CHROMA_HOST") or None
    return KnowledgeSettings(
        chroma_path=chroma_path,
        chroma_host=host,
        chroma_port=int(_env("CHROMA_PORT", "8000")),
        collection=_env("CHROMA_COLLECTION", COLLECTION_NAME),
        # The manifest lives next to the local index; with a Chroma server it stays on local disk
        # (CHROMA_PATH) because it is only a cache of what the collection itself records.
        manifest_path=chroma_path / MANIFEST_NAME,
        llm_base_url=_env("LLM_BASE_URL") or None,
        llm_model=_env("LLM_MODEL", "gpt-4o-mini"),
        llm_api_key=_env("LLM_API_KEY", "none"),
        llm_timeout=float(_env("LLM_TIMEOUT", "20")),
        min_relevance=float(_env("KB_MIN_RELEVANCE", str(DEFAULT_MIN_RELEVANCE))),
        top_k=int(_env("KB_TOP_K", "5")),
        exact_search_max_chunks=int(_env("KB_EXACT_SEARCH_MAX_CHUNKS", "50000")),
    )
