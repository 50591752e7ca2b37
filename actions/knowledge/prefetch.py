"""A question's embedding started when the question arrives, picked up when it is answered.

Most of a knowledge answer's time is the embedding of the question (MiniLM on one short text,
6-8 ms here, bound by reading the model's weights). Rasa calls ``action_validate_slot_mappings``
for every customer message before it predicts the next action; when the message's intent is one
the knowledge action answers (``KB_PREFETCH_INTENTS`` when set, else the intents marked
``knowledge_question`` in config/intents.yml: ``ask_question`` and ``nlu_fallback``), triage
starts the embedding on a background thread, and the knowledge action's retriever takes the
result (waiting for it if it is still running) instead of computing it again. The embedding
then overlaps with Rasa's prediction and the next action call. Same encoder, same text, so the
same vector; a question that is never answered (an escalation rule fired, a guard refused it)
leaves its vector unused until newer questions push it out.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Dict, Optional

import numpy as np

from rasa_addons.continuation import remember
from rasa_addons.minilm import shared_encoder

#: questions whose embedding is kept until asked for (oldest dropped first)
_KEPT = 64

_lock = threading.Lock()
_pending: "OrderedDict[str, Future]" = OrderedDict()
_executor: Optional[ThreadPoolExecutor] = None
stats: Dict[str, int] = {"started": 0, "used": 0, "computed": 0}


def prefetch_intents() -> frozenset:
    raw = os.environ.get("KB_PREFETCH_INTENTS")
    if raw is None:
        from actions.intent_catalog import get_catalog

        return get_catalog().knowledge_questions
    return frozenset(name.strip() for name in raw.split(",") if name.strip())


def _encode(text: str) -> np.ndarray:
    return shared_encoder().encode_one(text)


def start(text: str) -> bool:
    """Start embedding ``text`` (as the retriever will ask for it) unless that is under way."""
    global _executor
    text = (text or "").strip()
    if not text:
        return False
    with _lock:
        if text in _pending:
            return False
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb-prefetch")
        remember(_pending, text, _executor.submit(_encode, text), _KEPT)
        stats["started"] += 1
    return True


def start_for(message: Dict[str, Any]) -> bool:
    """``start`` for a tracker's latest message whose intent the knowledge action answers."""
    intent = ((message or {}).get("intent") or {}).get("name")
    if intent not in prefetch_intents():
        return False
    return start(str((message or {}).get("text") or ""))


def vector(text: str) -> np.ndarray:
    """The embedding of ``text``: the prefetched one if there is one (used once), else computed."""
    with _lock:
        future = _pending.pop(text.strip(), None)
    if future is not None:
        try:
            result = future.result()
            stats["used"] += 1
            return result
        except Exception:  # noqa: BLE001 - computed again below, where an error reaches the caller
            pass
    stats["computed"] += 1
    return _encode(text)


__all__ = ["start", "start_for", "vector", "prefetch_intents", "stats"]
