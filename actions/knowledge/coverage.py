"""Does the retrieved text mention the thing an "is there / do you offer X" question asks about?

Existence questions ("do you offer a student discount?", "is there a free trial?") are answered
by a passage only if it talks about X itself. Similarity scores cannot see that: the promo-code
article is *about* discounts, so it scores high even though it never mentions students. For this
question form every content word of X must appear in the top passages, as the same stem, as a
near-identical spelling (typos), or as a close synonym by word embedding (yearly ~ monthly/annual).
"""
from __future__ import annotations

import difflib
import re
import threading
from dataclasses import dataclass

import numpy as np

from .embeddings import get_embeddings
from .lexical import tokenize
from .retrieval import RetrievedChunk

_EXISTENCE = re.compile(
    r"^(?:so\s+)?(?:do|does|can|could|will|would)\s+(?:you|brightcart|u)\s+(?:guys\s+)?"
    r"(?:offer|have|provide|sell|do|support|accept|take)\s+(?P<x>.+)$"
    r"|^(?:so\s+)?(?:is|are)\s+there\s+(?P<y>.+)$",
    re.IGNORECASE,
)
SYNONYM_MIN_COSINE = 0.6
TYPO_MIN_RATIO = 0.8
PASSAGES = 3

_lock = threading.Lock()
_word_vectors: dict[str, np.ndarray] = {}


@dataclass(frozen=True)
class Coverage:
    applies: bool  # the question is an existence question
    missing: list[str]  # content words of X the passages never mention

    @property
    def covered(self) -> bool:
        return not self.missing


def _vectors(words: list[str]) -> np.ndarray:
    with _lock:
        missing = [w for w in words if w not in _word_vectors]
    if missing:
        vectors = get_embeddings().embed_documents(missing)
        with _lock:
            for word, vector in zip(missing, vectors):
                _word_vectors[word] = np.asarray(vector, dtype=np.float32)
    with _lock:
        return np.stack([_word_vectors[w] for w in words])


def asked_about(question: str) -> list[str] | None:
    """Content words of X in an existence question, or None for other question forms."""
    match = _EXISTENCE.match(question.strip().rstrip("?!. "))
    if not match:
        return None
    return tokenize(match.group("x") or match.group("y") or "")


def _missing_in(words: list[str], chunk: RetrievedChunk) -> list[str]:
    vocabulary = set(tokenize(f"{chunk.title} {chunk.section} {chunk.body}"))
    pending = [w for w in words if w not in vocabulary
               and not difflib.get_close_matches(w, vocabulary, n=1, cutoff=TYPO_MIN_RATIO)]
    if not pending or not vocabulary:
        return pending
    similarity = _vectors(pending) @ _vectors(sorted(vocabulary)).T
    return [w for w, row in zip(pending, similarity) if float(row.max()) < SYNONYM_MIN_COSINE]


def check(question: str, chunks: list[RetrievedChunk]) -> Coverage:
    """Covered when one of the top passages mentions every content word of X by itself:
    "military" in the shipping article plus "discount" in the promo article is not an answer
    to "do you offer a military discount". Blocking (may embed words): call off the loop."""
    words = asked_about(question)
    if not words:
        return Coverage(applies=False, missing=[])
    best: list[str] = list(words)
    for chunk in chunks[:PASSAGES]:
        missing = _missing_in(words, chunk)
        if len(missing) < len(best):
            best = missing
        if not best:
            break
    return Coverage(applies=True, missing=best)
