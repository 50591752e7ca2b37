"""Offline extractive answers: quote the 2-3 sentences of the retrieved chunks that best answer
the question, verbatim, so nothing is said that the help center does not say.

Sentences are scored by cosine similarity to the question (MiniLM, cached per chunk) plus the
relevance of the chunk they come from; the follow-up sentences must come from the same article
as the best one so the answer reads as one coherent passage.
"""
from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .embeddings import get_embeddings
from .lexical import tokenize
from .retrieval import RetrievalResult, RetrievedChunk

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


class _SentenceCache:
    """Sentence vectors per chunk body; bodies repeat across questions, so embed each once."""

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
        vectors = np.asarray(get_embeddings().embed_documents(texts), dtype=np.float32)
        with self._lock:
            self._items[key] = vectors
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return vectors


_cache = _SentenceCache()


def _context_text(chunk: RetrievedChunk, sentence: str) -> str:
    # Embedding the sentence with its title keeps "It costs $12.99" attached to its topic.
    return f"{chunk.title} | {chunk.section}: {sentence}"


def extract(result: RetrievalResult, max_sentences: int = MAX_SENTENCES) -> Extract:
    """Pick the sentences to quote. Blocking (may embed): run off the event loop."""
    if not result.relevant:
        return Extract([])
    floor = result.threshold * SOURCE_MIN_FRACTION
    chunks = [c for c in result.chunks[:SOURCE_CHUNKS] if c.score >= floor]
    if not chunks:
        return Extract([])
    query = np.asarray(result.query_vector, dtype=np.float32)
    query_terms = set(tokenize(result.query))
    candidates: list[tuple[float, Sentence]] = []
    for rank, chunk in enumerate(chunks):
        sentences = [s for s in split_sentences(chunk.body) if len(s.split()) >= MIN_WORDS]
        if not sentences:
            continue
        key = f"{chunk.chunk_id}:{hash(chunk.body)}"
        vectors = _cache.vectors(key, [_context_text(chunk, s) for s in sentences])
        cosines = vectors @ query
        for i, (text, cosine) in enumerate(zip(sentences, cosines)):
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
