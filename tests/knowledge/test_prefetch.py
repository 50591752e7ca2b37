"""actions/knowledge/prefetch.py: a question's embedding started by triage is the one the retriever
uses (the same vector as computing it then), used once, and only for the intents configured."""
from __future__ import annotations

import numpy as np
import pytest

from actions.knowledge import prefetch
from actions.knowledge.embeddings import get_embeddings
from rasa_addons.minilm import shared_encoder


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.delenv("KB_PREFETCH_INTENTS", raising=False)
    with prefetch._lock:
        prefetch._pending.clear()
    yield
    with prefetch._lock:
        prefetch._pending.clear()


def _message(text: str, intent: str) -> dict:
    return {"text": text, "intent": {"name": intent, "confidence": 0.97}}


def test_prefetched_vector_is_the_computed_one_and_used_once() -> None:
    question = "  do you ship to Canada?  "
    expected = shared_encoder().encode_one(question.strip())
    assert prefetch.start_for(_message(question, "ask_question"))
    assert not prefetch.start(question)  # already under way
    before = dict(prefetch.stats)
    vector = np.asarray(get_embeddings().embed_query(question.strip()))
    assert np.array_equal(vector, expected.astype(np.float32))
    assert prefetch.stats["used"] == before["used"] + 1
    # asked again: computed, the same vector
    again = np.asarray(get_embeddings().embed_query(question.strip()))
    assert np.array_equal(again, vector) and prefetch.stats["computed"] == before["computed"] + 1


def test_only_configured_intents_and_real_text(monkeypatch) -> None:
    assert prefetch.start_for(_message("what does the warranty cover?", "nlu_fallback"))
    assert not prefetch.start_for(_message("where is my order BC-100002", "order_status"))
    assert not prefetch.start_for(_message("   ", "ask_question"))
    assert not prefetch.start_for({})
    monkeypatch.setenv("KB_PREFETCH_INTENTS", "faq")
    assert not prefetch.start_for(_message("do you take paypal?", "ask_question"))
    assert prefetch.start_for(_message("do you take paypal?", "faq"))
    monkeypatch.setenv("KB_PREFETCH_INTENTS", "")
    assert not prefetch.start_for(_message("do you take paypal now?", "faq"))


def test_kept_questions_are_bounded() -> None:
    for number in range(prefetch._KEPT + 10):
        prefetch.start(f"question number {number}?")
    with prefetch._lock:
        kept = list(prefetch._pending)
    assert len(kept) == prefetch._KEPT and kept[-1] == f"question number {prefetch._KEPT + 9}?"
    assert "question number 0?" not in kept


def test_failed_prefetch_is_computed_again(monkeypatch) -> None:
    calls = []

    def failing(text: str):
        calls.append(text)
        if len(calls) == 1:
            raise RuntimeError("encoder busy")
        return shared_encoder().encode_one(text)

    monkeypatch.setattr(prefetch, "_encode", failing)
    prefetch.start("is my personal data safe with you?")
    vector = prefetch.vector("is my personal data safe with you?")
    assert len(calls) == 2 and vector.shape == (384,)
