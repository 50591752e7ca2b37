"""BM25 lexical scoring over the same chunks that are in Chroma.

Dense MiniLM vectors are good at paraphrase but weak on exact terms (``APO``, ``VAT``, ``2FA``,
``klarna``); BM25 catches those. The tokenizer is deliberately simple: lower-case words, a stop
list, and light suffix stripping so "returns"/"returned"/"returning" meet.
"""
from __future__ import annotations

import re
from typing import Sequence

from rank_bm25 import BM25Okapi

_TOKEN = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_STOP = frozenset(
    """a an and are as at be been but by can could do does did for from had has have how i i'm
    if in into is it it's its just me my of on or our so than that the their them then there
    these they this to too u up us was we were what when where which who why will with would
    you your yours i've im ive youre dont don't cant can't get got want need please hi hello
    thanks any some whats hows wheres""".split()
)
# Customer spellings that would otherwise never meet the article's wording.
_ALIASES = {
    "2fa": "two-factor", "2-factor": "two-factor", "mfa": "two-factor",
    "colour": "color", "cancelled": "cancel", "canceled": "cancel", "cancelling": "cancel",
    "canceling": "cancel", "refunded": "refund", "bday": "birthday", "pw": "password",
    "acct": "account", "addy": "address", "pkg": "package", "parcel": "package",
}


_SUFFIXES = ("ations", "ation", "ings", "ing", "edly", "ions", "ion", "ed", "es", "s", "ly", "e")


def _stem(token: str) -> str:
    """Crude suffix stripping; applied to queries and chunks alike, so it only has to be
    consistent ("delete", "deleted", "deletion" -> "delet"), not linguistically right."""
    for suffix in _SUFFIXES:
        if token.endswith(suffix) and len(token) - len(suffix) >= 4:
            return token[: -len(suffix)]
    return token


def tokenize(text: str) -> list[str]:
    tokens = []
    for word in _TOKEN.findall(text.lower()):
        word = _ALIASES.get(word, word)
        # Hyphenated words count as their parts: "two-factor" must meet "two factor".
        for raw in word.split("-"):
            token = _stem(raw.replace("'", ""))
            if raw and raw not in _STOP and token not in _STOP:
                tokens.append(token)
    return tokens


class LexicalIndex:
    """BM25Okapi over a fixed list of chunk texts; scores are raw BM25 (unbounded, >= 0)."""

    def __init__(self, texts: Sequence[str]) -> None:
        self._size = len(texts)
        # BM25Okapi divides by the corpus size, so an empty index gets no model at all.
        self._bm25 = BM25Okapi([tokenize(t) or ["_empty_"] for t in texts]) if texts else None

    def scores(self, query: str) -> list[float]:
        tokens = tokenize(query)
        if self._bm25 is None or not tokens:
            return [0.0] * self._size
        return [float(s) for s in self._bm25.get_scores(tokens)]
