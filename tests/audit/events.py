"""Rasa events as the SQL event broker publishes them, for tests that need no running stack."""
from __future__ import annotations

import itertools
import json
import sqlite3
from pathlib import Path
from typing import Any, Dict, List, Optional

_clock = itertools.count()


def user(cid: str, text: str, intent: str, confidence: float, ts: float, entities: Optional[List[Dict[str, Any]]] = None,
         channel: str = "rest", message_id: Optional[str] = None) -> Dict[str, Any]:
    return {
        "sender_id": cid, "event": "user", "timestamp": ts, "text": text, "input_channel": channel,
        "message_id": message_id or f"m{next(_clock)}",
        "metadata": {"model_id": "model-1", "assistant_id": "brightcart", "customer_email": "leak@example.com"},
        "parse_data": {"intent": {"name": intent, "confidence": confidence}, "entities": entities or [], "text": text,
                       "intent_ranking": [{"name": intent, "confidence": confidence}]},
    }


def action(cid: str, name: str, ts: float, policy: str = "RulePolicy", confidence: float = 1.0) -> Dict[str, Any]:
    return {"sender_id": cid, "event": "action", "name": name, "timestamp": ts, "policy": policy, "confidence": confidence,
            "metadata": {"model_id": "model-1"}}


def slot(cid: str, name: str, value: Any, ts: float) -> Dict[str, Any]:
    return {"sender_id": cid, "event": "slot", "name": name, "value": value, "timestamp": ts}


def bot(cid: str, text: str, ts: float) -> Dict[str, Any]:
    return {"sender_id": cid, "event": "bot", "text": text, "timestamp": ts, "metadata": {}}


def simple(cid: str, kind: str, ts: float) -> Dict[str, Any]:
    return {"sender_id": cid, "event": kind, "timestamp": ts}


def write_broker_table(path: Path, events: List[Dict[str, Any]]) -> None:
    """Append events to an `events` table shaped like Rasa's SQL event broker's."""
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255), data TEXT)")
        conn.executemany("INSERT INTO events (sender_id, data) VALUES (?, ?)", [(e["sender_id"], json.dumps(e)) for e in events])
    conn.close()


def knowledge_conversation(cid: str, t: float) -> List[Dict[str, Any]]:
    """greet; a knowledge question with retrieval facts; ends listening."""
    return [
        action(cid, "action_session_start", t), simple(cid, "session_started", t), action(cid, "action_listen", t),
        user(cid, "hi, I'm jane.doe@example.com", "greet", 0.97, t + 1),
        action(cid, "utter_greet", t + 1.1), bot(cid, "Hello!", t + 1.2), action(cid, "action_listen", t + 1.3),
        user(cid, "what's the return window? call 415-555-0199", "ask_question", 0.88, t + 5),
        slot(cid, "triage", {"frustration": 0.2, "urgency": "normal", "risk_class": "low",
                             "summary": "call 415-555-0199", "reasoning": "the customer seems calm"}, t + 5.1),
        slot(cid, "frustration", 0.2, t + 5.1), slot(cid, "risk_class", "low", t + 5.1),
        action(cid, "action_answer_from_knowledge", t + 5.2, "RulePolicy", 1.0),
        bot(cid, "You can return most items within 30 days.", t + 5.6),
        slot(cid, "kb_last_retrieval", {"query": "what's the return window? call 415-555-0199",
                                        "retrieved": [{"chunk_id": "return-policy#00", "article_id": "return-policy", "section": "Window", "score": 0.81},
                                                      {"chunk_id": "exchanges#01", "article_id": "exchanges", "section": "", "score": 0.52}],
                                        "refused": False, "reason": None, "index_version": "kb-abc", "prompt": "SYSTEM: secret"}, t + 5.6),
        slot(cid, "kb_last_refused", False, t + 5.6),
        slot(cid, "kb_last_citations", [{"article_id": "return-policy", "title": "Return policy"}], t + 5.6),
        action(cid, "action_listen", t + 5.7),
    ]
