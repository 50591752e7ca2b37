"""Offline extractive answers: quote the 2-3 sentences of the retrieved chunks that best answer
the question, verbatim, so nothing is said that the help center does not say.

Sentences are scored by cosine similarity to the question (MiniLM) plus the relevance of the chunk
they come from; the follow-up sentences must come from the same article as the best one so the
answer reads as one coherent passage. Sentence vectors come from the file ingestion writes
(sentence_vectors.py); a chunk it does not cover is embedded here once and cached.
"""
from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .config import load_settings
from .embeddings import get_embeddings
from .lexical import tokenize
from .retrieval import RetrievalResult, RetrievedChunk, make_chunk
from .sentence_vectors import SentenceVectors, precomputed, texts_digest

logger = logging.getLogger(__name__)

MAX_SENTENCES = 3
MIN_WORDS = 4
# A follow-up sentence must score at least this fraction of the best one to be included.
FOLLOW_UP_RATIO = 0.8
# How many of the top chunks may contribute sentences, and how far below the relevance threshold
# a runner-up chunk may be: the best *sentence* is often in the second chunk (a price table row,
# "we don't offer annual billing") even when another section of the same topic ranks first.
SOURCE_CHUNKS = 3
SOURCE_MIN_FRACTION = 0.75
_CACHE_SIZE = 2048

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d+\.)\s+")


@dataclass(frozen=True)
class Sentence:
    chunk: RetrievedChunk
    index: int  # position within the chunk, to keep reading order
    text: str


@dataclass(frozen=True)
class Extract:
    sentences: list[Sentence]

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences)

    def chunks(self) -> list[RetrievedChunk]:
        seen: dict[str, RetrievedChunk] = {}
        for sentence in self.sentences:
            seen.setdefault(sentence.chunk.chunk_id, sentence.chunk)
        return list(seen.values())


def split_sentences(body: str) -> list[str]:
    """Sentences and list items of a chunk body, without list markers."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n", body):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if any(_LIST_MARKER.match(line) for line in lines):
            # Lists: one item per line; wrapped continuation lines join the item before them.
            items: list[str] = []
            for line in lines:
                if _LIST_MARKER.match(line) or not items:
                    items.append(_LIST_MARKER.sub("", line))
                else:
                    items[-1] += " " + line
            out.extend(items)
        else:
            out.extend(_SENTENCE_END.split(" ".join(lines)))
    return [s.strip() for s in out if s.strip()]


@dataclass(frozen=True)
class ChunkSentences:
    """What extract() embeds for one chunk; ingestion precomputes exactly this."""
    sentences: list[str]  # quotable sentences, in reading order
    texts: list[str]  # the same sentences in context, as embedded
    digest: str  # key of ``texts`` in the precomputed file

    @classmethod
    def of(cls, chunk: RetrievedChunk) -> ChunkSentences:
        sentences = [s for s in split_sentences(chunk.body) if len(s.split()) >= MIN_WORDS]
        texts = [_context_text(chunk, s) for s in sentences]
        return cls(sentences, texts, texts_digest(texts))


def embed_sentences(texts: list[str]) -> np.ndarray:
    """One chunk's sentence vectors. Ingestion calls this chunk by chunk too: the model pads a
    batch to its longest text, so embedding all chunks in one batch would give vectors that
    differ in the 7th decimal from the ones answering would compute, instead of the same bits."""
    return np.asarray(get_embeddings().embed_documents(texts), dtype=np.float32)


def stored_chunks(ids: list[str], texts: list[str], metas: list[dict]) -> list[RetrievedChunk]:
    """Collection records as the retriever returns them (same title, section and body), unscored."""
    return [make_chunk(chunk_id, meta, text, 0.0, 0.0, 0.0)
            for chunk_id, text, meta in zip(ids, texts, metas)]


class _SentenceCache:
    """Vectors of chunks the precomputed file does not cover; chunks repeat across questions,
    so embed each once."""

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self._size = size
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def vectors(self, key: str, texts: list[str]) -> np.ndarray:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        vectors = embed_sentences(texts)
        with self._lock:
            self._items[key] = vectors
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return vectors


_cache = _SentenceCache()
_uncovered_logged: set[str] = set()  # index versions whose missing chunks were logged


def _context_text(chunk: RetrievedChunk, sentence: str) -> str:
    # Embedding the sentence with its title keeps "It costs $12.99" attached to its topic.
    return f"{chunk.title} | {chunk.section}: {sentence}"


def _vectors(chunk: RetrievedChunk, prepared: ChunkSentences, table: SentenceVectors | None,
             index_version: str) -> np.ndarray:
    if table is not None:
        vectors = table.get(chunk.chunk_id, prepared.digest)
        if vectors is not None:
            return vectors
        if index_version not in _uncovered_logged:
            # Once per index: the file matches the index version but not this chunk's text, so
            # the sentence splitting changed since ingestion (re-run it) or the file is damaged.
            _uncovered_logged.add(index_version)
            logger.warning("no precomputed sentence vectors for chunk %s (index %s); embedding "
                           "uncovered chunks while answering", chunk.chunk_id, index_version)
    # The file's absence or staleness was logged once when it was looked up.
    return _cache.vectors(f"{chunk.chunk_id}:{prepared.digest}", prepared.texts)


def warm_up(chunks: list[RetrievedChunk], index_version: str) -> bool:
    """Load the precomputed sentence vectors now rather than on the first question. If they do
    not cover every chunk, load the embedding model now instead, since answering will need it.
    Returns whether the file covers every chunk."""
    table = precomputed(load_settings().sentence_vectors_path, index_version)
    uncovered = 0
    for chunk in chunks:
        prepared = ChunkSentences.of(chunk)
        if prepared.sentences and (table is None or table.get(chunk.chunk_id, prepared.digest) is None):
            uncovered += 1
    if uncovered:
        logger.warning("%d of %d chunks lack precomputed sentence vectors; loading the embedding "
                       "model for them", uncovered, len(chunks))
        embed_sentences(["warm up"])
    return not uncovered


def extract(result: RetrievalResult, max_sentences: int = MAX_SENTENCES) -> Extract:
    """Pick the sentences to quote. Blocking (reads the vector file once, may embed): run off
    the event loop."""
    if not result.relevant:
        return Extract([])
    floor = result.threshold * SOURCE_MIN_FRACTION
    chunks = [c for c in result.chunks[:SOURCE_CHUNKS] if c.score >= floor]
    if not chunks:
        return Extract([])
    query = np.asarray(result.query_vector, dtype=np.float32)
    query_terms = set(tokenize(result.query))
    table = precomputed(load_settings().sentence_vectors_path, result.index_version)
    candidates: list[tuple[float, Sentence]] = []
    for rank, chunk in enumerate(chunks):
        prepared = ChunkSentences.of(chunk)
        if not prepared.sentences:
            continue
        cosines = _vectors(chunk, prepared, table, result.index_version) @ query
        for i, (text, cosine) in enumerate(zip(prepared.sentences, cosines)):
            terms = set(tokenize(text))
            overlap = len(query_terms & terms) / len(query_terms) if query_terms else 0.0
            # Chunk relevance breaks ties between similar sentences of different sections.
            score = float(cosine) + 0.25 * overlap + 0.3 * chunk.score - 0.02 * rank
            candidates.append((score, Sentence(chunk, i, text)))
    if not candidates:
        return Extract([])
    candidates.sort(key=lambda item: item[0], reverse=True)
    best_score, best = candidates[0]
    chosen = [best]
    for score, sentence in candidates[1:]:
        if len(chosen) >= max_sentences:
            break
        same_article = sentence.chunk.article_id == best.chunk.article_id
        if same_article and score >= FOLLOW_UP_RATIO * best_score:
            chosen.append(sentence)
    order = {c.chunk_id: i for i, c in enumerate(chunks)}
    chosen.sort(key=lambda s: (order[s.chunk.chunk_id], s.index))
    return Extract(chosen)
