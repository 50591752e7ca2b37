"""Hybrid retrieval: dense cosine fused with BM25 over the same chunks.

The dense scores are exact: the collection's vectors are held in memory with the BM25 index (one
matrix product per question, about a millisecond for thousands of chunks) as long as the
collection has at most ``exact_search_max_chunks`` chunks; a larger one is searched through
Chroma's approximate nearest-neighbour index instead. Chroma stays the store of record either way.

Fusion is a weighted sum of two absolute scores rather than reciprocal-rank fusion, because the
fused score doubles as the relevance gate: RRF only orders candidates and gives an unanswerable
question the same top score as a perfect match. The BM25 score is squashed to [0, 1) with
``s / (s + k)`` so it means the same for every query. Weights, k and the threshold were chosen on
the tuning half of tests/knowledge/eval_questions.yml (docs/knowledge.md has the figures).

Customers only ever see ``audience: public`` chunks; agent drafts may also use internal ones.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field, replace

import numpy as np

from .chunking import body_from_text
from .config import KnowledgeSettings, load_settings
from .embeddings import get_embeddings
from .lexical import LexicalIndex
from .manifest import index_version as current_index_version
from .store import all_records_with_vectors, get_store

logger = logging.getLogger(__name__)

PUBLIC = "public"
INTERNAL = "internal"


@dataclass(frozen=True)
class FusionParams:
    dense_weight: float = 0.8
    lexical_weight: float = 0.2
    bm25_k: float = 4.0  # BM25 score that maps to 0.5 after squashing
    candidates: int = 20  # per retriever, before fusion


DEFAULT_FUSION = FusionParams()


def fuse(cosine: float, bm25: float, fusion: FusionParams) -> tuple[float, float]:
    """(fused score, squashed lexical score) for one chunk."""
    lexical = bm25 / (bm25 + fusion.bm25_k) if bm25 > 0 else 0.0
    return fusion.dense_weight * cosine + fusion.lexical_weight * lexical, lexical


@dataclass(frozen=True)
class RetrievedChunk:
    chunk_id: str
    article_id: str
    title: str
    url: str
    section: str
    audience: str
    body: str
    score: float  # fused relevance in [0, 1]
    dense: float  # cosine similarity
    lexical: float  # squashed BM25

    def as_fact(self) -> dict[str, object]:
        return {"chunk_id": self.chunk_id, "article_id": self.article_id,
                "section": self.section, "score": round(self.score, 4)}


@dataclass
class RetrievalResult:
    query: str
    audience: str
    chunks: list[RetrievedChunk]
    threshold: float
    index_version: str
    query_vector: list[float] = field(default_factory=list, repr=False)

    @property
    def top_score(self) -> float:
        return self.chunks[0].score if self.chunks else 0.0

    @property
    def relevant(self) -> bool:
        return bool(self.chunks) and self.top_score >= self.threshold

    def articles(self) -> list[str]:
        """Article ids in rank order, each once."""
        seen: list[str] = []
        for chunk in self.chunks:
            if chunk.article_id not in seen:
                seen.append(chunk.article_id)
        return seen


@dataclass(frozen=True)
class _Corpus:
    """A snapshot of the collection for BM25, rebuilt when the index version changes."""
    version: str
    ids: list[str]
    texts: list[str]
    metas: list[dict]
    lexical: LexicalIndex
    position: dict[str, int]
    vectors: np.ndarray | None = None  # (chunks, dim), unit length; None above the exact-search size


def allowed_audiences(audience: str) -> tuple[str, ...]:
    if audience == PUBLIC:
        return (PUBLIC,)
    if audience == INTERNAL:
        return (PUBLIC, INTERNAL)
    raise ValueError(f"audience must be 'public' or 'internal', got {audience!r}")


def make_chunk(chunk_id: str, meta: dict, text: str, score: float, cosine: float,
               lexical: float) -> RetrievedChunk:
    return RetrievedChunk(
        chunk_id=chunk_id, article_id=str(meta["article_id"]), title=str(meta["title"]),
        url=str(meta["url"]), section=str(meta["section"]), audience=str(meta["audience"]),
        body=body_from_text(text), score=score, dense=cosine, lexical=lexical,
    )


class HybridRetriever:
    """Thread-safe; one instance per process (see :func:`get_retriever`)."""

    def __init__(self, settings: KnowledgeSettings, fusion: FusionParams = DEFAULT_FUSION) -> None:
        self.settings = settings
        self.fusion = fusion
        self._lock = threading.Lock()
        self._corpus: _Corpus | None = None

    def _load_corpus(self) -> _Corpus:
        version = current_index_version()
        corpus = self._corpus
        if corpus is not None and corpus.version == version:
            return corpus
        with self._lock:
            if self._corpus is None or self._corpus.version != version:
                store = get_store(self.settings)
                count = store._collection.count()
                exact = count <= self.settings.exact_search_max_chunks
                ids, texts, metas, vectors = all_records_with_vectors(store, vectors=exact)
                logger.info("building BM25 over %d chunks (index %s, %s dense search)", len(ids), version,
                            "exact" if exact else "approximate")
                matrix = np.asarray(vectors, dtype=np.float32).reshape(len(ids), -1) if exact and ids else None
                self._corpus = _Corpus(version, ids, texts, metas, LexicalIndex(texts),
                                       {chunk_id: i for i, chunk_id in enumerate(ids)}, matrix)
            return self._corpus

    def snapshot(self) -> _Corpus:
        """The chunk corpus currently indexed (ids, texts, metadata, BM25)."""
        return self._load_corpus()

    def warm_up(self) -> None:
        """Load the model, the store and the BM25 index now instead of on the first question."""
        self._load_corpus()
        get_embeddings().embed_query("warm up")

    def retrieve(self, query: str, audience: str = PUBLIC, k: int | None = None,
                 threshold: float | None = None, fusion: FusionParams | None = None
                 ) -> RetrievalResult:
        """Blocking: call through ``asyncio.to_thread`` from async code."""
        fusion = fusion or self.fusion
        k = k or self.settings.top_k
        threshold = self.settings.min_relevance if threshold is None else threshold
        audiences = allowed_audiences(audience)
        corpus = self._load_corpus()
        if corpus.ids:
            # the lexical half needs no vector: scored first, while the question's embedding,
            # started by triage (prefetch.py), may still be finishing on its own thread
            allowed = [i for i, meta in enumerate(corpus.metas) if meta.get("audience") in audiences]
            raw_bm25 = corpus.lexical.scores(query)
            lexical_top = sorted(allowed, key=lambda i: raw_bm25[i], reverse=True)[: fusion.candidates]
        vector = get_embeddings().embed_query(query)
        result = RetrievalResult(query, audience, [], threshold, corpus.version, vector)
        if not corpus.ids:
            return result

        if corpus.vectors is not None:
            cosines = corpus.vectors @ np.asarray(vector, dtype=np.float32)
            dense_top = sorted(allowed, key=lambda i: cosines[i], reverse=True)[: fusion.candidates]
            dense = {corpus.ids[i]: float(cosines[i]) for i in dense_top}
        else:
            where = {"audience": PUBLIC} if audiences == (PUBLIC,) else None
            dense_hits = get_store(self.settings).similarity_search_by_vector_with_relevance_scores(
                vector, k=min(fusion.candidates, len(corpus.ids)), filter=where
            )
            # Chroma returns cosine *distance* for our collection; similarity = 1 - distance.
            dense = {doc.id: 1.0 - float(distance) for doc, distance in dense_hits if doc.id}

        candidates = set(dense) | {corpus.ids[i] for i in lexical_top if raw_bm25[i] > 0}
        missing_dense = [c for c in candidates if c not in dense]
        if missing_dense:
            # A lexical-only candidate still needs a dense score to be fused fairly.
            if corpus.vectors is not None:
                dense.update({c: float(cosines[corpus.position[c]]) for c in missing_dense if c in corpus.position})
            else:
                dense.update(self._cosine_for(missing_dense, vector))

        scored: list[RetrievedChunk] = []
        for chunk_id in candidates:
            i = corpus.position.get(chunk_id)
            if i is None:  # the collection changed since the snapshot; skip until next reload
                continue
            meta = corpus.metas[i]
            if meta.get("audience") not in audiences:
                continue  # defence in depth: never trust the filter alone for internal content
            cosine = dense.get(chunk_id, 0.0)
            score, lexical = fuse(cosine, raw_bm25[i], fusion)
            scored.append(make_chunk(chunk_id, meta, corpus.texts[i], score, cosine, lexical))
        scored.sort(key=lambda c: c.score, reverse=True)
        result.chunks = scored[:k]
        return result

    def _cosine_for(self, chunk_ids: list[str], vector: list[float]) -> dict[str, float]:
        records = get_store(self.settings).get(ids=chunk_ids, include=["embeddings"])
        out: dict[str, float] = {}
        for chunk_id, emb in zip(records["ids"], records["embeddings"]):
            out[chunk_id] = float(sum(a * b for a, b in zip(vector, emb)))
        return out


_lock = threading.Lock()
_retrievers: dict[tuple, HybridRetriever] = {}


def get_retriever(settings: KnowledgeSettings | None = None) -> HybridRetriever:
    settings = settings or load_settings()
    key = (str(settings.chroma_path), settings.chroma_host, settings.chroma_port,
           settings.collection)
    retriever = _retrievers.get(key)
    if retriever is None:
        with _lock:
            retriever = _retrievers.get(key)
            if retriever is None:
                retriever = _retrievers[key] = HybridRetriever(settings)
    elif retriever.settings != settings:
        # Same index, new tuning knobs from the environment: keep the loaded corpus.
        retriever.settings = replace(settings)
    return retriever
