"""Turn Rasa's event stream into one audit record per customer turn.

A turn starts with the customer's message (a ``user`` event) and holds everything that follows:
the actions the policies chose, the slots the actions set (triage, escalation rule, knowledge
retrieval), the bot's replies. It is complete when the bot listens again (``action_listen``),
when the conversation is paused for a person, when the next customer message arrives, or after
``turn_timeout`` seconds of silence (a message while paused has nothing after it).

The assembler is a plain state machine over event dicts, so the live consumer (event broker),
the backfill from the tracker store and the tests all use the same code. Everything free-text
that reaches a record goes through ``actions.pii.mask``; reasoning-like fields are dropped.
"""
from __future__ import annotations

import hashlib
import time
from typing import Any, Callable, Dict, Iterable, List, Optional

from actions.intent_catalog import get_catalog
from actions.pii import mask

# slots whose current value the audit follows across turns
TRACKED_SLOTS = (
    "triage", "frustration", "risk_class", "escalation_rule", "escalation_reason", "kb_last_retrieval", "kb_last_refused",
    "kb_last_citations", "handoff_ticket_id", "customer_id", "verified", "order_id",
)
KNOWLEDGE_ACTION = "action_answer_from_knowledge"
HANDOFF_ACTION = "action_handoff_to_human"
FALLBACK_ACTIONS = {"action_default_fallback", "action_two_stage_fallback", "utter_default", "utter_ask_rephrase"}
# actions Rasa runs itself rather than predicts
NOT_PREDICTED = {"action_listen", "action_extract_slots", "action_session_start"}
# keys never copied into a record: facts only, no model reasoning or prompts
DROPPED_KEYS = ("reasoning", "rationale", "thought", "prompt", "chain", "explanation", "raw")
KB_KEYS = ("query", "retrieved", "refused", "reason", "index_version", "audience", "threshold", "top_score", "mode")


def mask_deep(value: Any) -> Any:
    """Mask personal data in every string of a JSON-like value; drop reasoning-like keys."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {
            key: mask_deep(item)
            for key, item in value.items()
            if not any(word in str(key).lower() for word in DROPPED_KEYS)
        }
    if isinstance(value, (list, tuple)):
        return [mask_deep(item) for item in value]
    return value


KEEP_AS_IS = {"event", "sender_id", "timestamp", "name", "message_id", "input_channel", "policy", "confidence"}
KEPT_METADATA = ("model_id", "assistant_id")


def sanitize_event(event: Dict[str, Any]) -> Dict[str, Any]:
    """A copy of a Rasa event with personal data masked in every free-text field.

    Channel metadata (which a client may fill with anything) is reduced to the model ids.
    """
    clean = {key: value if key in KEEP_AS_IS else mask_deep(value) for key, value in event.items()}
    if "metadata" in event:
        metadata = event.get("metadata") or {}
        clean["metadata"] = {key: metadata[key] for key in KEPT_METADATA if key in metadata}
    return clean


def _cited_article(citation: Any) -> Optional[str]:
    if isinstance(citation, dict):
        for key in ("article_id", "id", "url", "title"):
            if citation.get(key):
                return str(citation[key])
        return None
    return str(citation) if citation else None


def event_key(event: Dict[str, Any]) -> str:
    """A short fingerprint of one event (type, timestamp, name, message id: no free text), to
    recognise an event a message queue delivers a second time."""
    raw = "|".join(
        str(part) for part in (event.get("event"), repr(event.get("timestamp")), event.get("name") or "", event.get("message_id") or "")
    )
    return hashlib.blake2b(raw.encode("utf-8"), digest_size=8).hexdigest()


def new_state() -> Dict[str, Any]:
    return {"slots": {}, "open": None, "turn_index": 0, "paused": False, "last_ts": 0.0}


class TurnAssembler:
    """Feed events in stream order; collect finished turn records."""

    def __init__(
        self,
        versions: Optional[Callable[[], Dict[str, Optional[str]]]] = None,
        ignore_prefixes: Iterable[str] = (),
        turn_timeout: float = 20.0,
        remember_events: int = 0,
    ) -> None:
        self.versions = versions or (lambda: {})
        self.ignore_prefixes = tuple(ignore_prefixes)
        self.turn_timeout = turn_timeout
        # > 0: keep the fingerprints of each conversation's last N events in its (persisted) state,
        # so an event a queue redelivers after it was committed is recognised (``already_fed``)
        self.remember_events = remember_events
        self.states: Dict[str, Dict[str, Any]] = {}
        self.dirty: set = set()

    # -- state persistence ------------------------------------------------------------------
    def load(self, states: Dict[str, Dict[str, Any]]) -> None:
        self.states = {cid: {**new_state(), **state} for cid, state in states.items()}

    def take_dirty(self) -> Dict[str, Dict[str, Any]]:
        changed = {cid: self.states[cid] for cid in self.dirty if cid in self.states}
        self.dirty = set()
        return changed

    # -- feeding ------------------------------------------------------------------------------
    def already_fed(self, event: Dict[str, Any]) -> bool:
        """True if this event is among the last ``remember_events`` events of its conversation."""
        state = self.states.get(event.get("sender_id"))  # type: ignore[arg-type]
        return bool(state) and event_key(event) in (state.get("recent") or ())

    def feed(self, event: Dict[str, Any]) -> List[Dict[str, Any]]:
        """Apply one event (a dict with ``sender_id``); return the records it completed."""
        conversation_id = event.get("sender_id")
        if not conversation_id or str(conversation_id).startswith(self.ignore_prefixes):
            return []
        state = self.states.setdefault(conversation_id, new_state())
        self.dirty.add(conversation_id)
        if self.remember_events:
            recent = state.setdefault("recent", [])
            recent.append(event_key(event))
            del recent[: -self.remember_events]
        kind = event.get("event")
        ts = float(event.get("timestamp") or time.time())
        state["last_ts"] = max(state["last_ts"], ts)
        done: List[Dict[str, Any]] = []
        turn = state["open"]

        # the state is persisted between batches, so it only ever holds masked text
        event = sanitize_event(event)
        if kind == "user":
            if turn:
                done.append(self._close(conversation_id, state, "next_message"))
            state["open"] = {"user": event, "events": [], "paused": state["paused"]}
            return done
        if kind == "slot" and event.get("name") in TRACKED_SLOTS:
            state["slots"][event["name"]] = event.get("value")
        elif kind in ("restart", "session_started"):
            state["slots"] = {}
            state["paused"] = False
        elif kind == "pause":
            state["paused"] = True
        elif kind == "resume":
            state["paused"] = False

        if turn is None:
            return done
        if kind == "action" and event.get("name") == "action_listen":
            done.append(self._close(conversation_id, state, "listen"))
        else:
            turn["events"].append(event)
            if kind == "pause":  # the bot predicts nothing more until a person resumes it
                done.append(self._close(conversation_id, state, "pause"))
        return done

    def flush_idle(self, now: Optional[float] = None) -> List[Dict[str, Any]]:
        """Close turns that have seen no event for ``turn_timeout`` seconds."""
        now = time.time() if now is None else now
        done = []
        for conversation_id, state in self.states.items():
            if state["open"] and now - state["last_ts"] >= self.turn_timeout:
                done.append(self._close(conversation_id, state, "timeout"))
                self.dirty.add(conversation_id)
        return done

    def flush_all(self) -> List[Dict[str, Any]]:
        return self.flush_idle(now=float("inf"))

    # -- building a record ----------------------------------------------------------------------
    def _close(self, conversation_id: str, state: Dict[str, Any], closed_by: str) -> Dict[str, Any]:
        turn = state["open"]
        state["open"] = None
        state["turn_index"] += 1
        return build_record(conversation_id, turn, state["slots"], state["turn_index"], closed_by, self.versions())


def build_record(
    conversation_id: str,
    turn: Dict[str, Any],
    slots: Dict[str, Any],
    turn_index: int,
    closed_by: str,
    versions: Dict[str, Optional[str]],
) -> Dict[str, Any]:
    user = turn["user"]
    events: List[Dict[str, Any]] = turn["events"]
    parse = user.get("parse_data") or {}
    intent = parse.get("intent") or {}
    metadata = user.get("metadata") or {}
    user_ts = float(user.get("timestamp") or 0.0)

    actions = [
        {"name": e.get("name"), "policy": e.get("policy"), "confidence": e.get("confidence")}
        for e in events
        if e.get("event") == "action" and e.get("name") not in NOT_PREDICTED
    ]
    action_names = [a["name"] for a in actions]
    turn_slots: Dict[str, Any] = {}
    for e in events:
        if e.get("event") == "slot":
            turn_slots[e.get("name")] = e.get("value")
    bots = [e for e in events if e.get("event") == "bot"]
    model_id = metadata.get("model_id") or next(
        ((e.get("metadata") or {}).get("model_id") for e in events if (e.get("metadata") or {}).get("model_id")), None
    )

    knowledge = None
    kb_refused = None
    if KNOWLEDGE_ACTION in action_names:
        retrieval = turn_slots.get("kb_last_retrieval") or {}
        retrieval = {key: retrieval[key] for key in KB_KEYS if isinstance(retrieval, dict) and key in retrieval}
        refused = retrieval.get("refused")
        if refused is None:
            refused = turn_slots.get("kb_last_refused")
        citations = turn_slots.get("kb_last_citations") or []
        cited = [c for c in (_cited_article(item) for item in citations) if c]
        knowledge = mask_deep({**retrieval, "refused": bool(refused), "cited_articles": cited})
        kb_refused = bool(refused)

    triage = slots.get("triage") if isinstance(slots.get("triage"), dict) else None
    frustration = slots.get("frustration")
    if frustration is None and triage:
        frustration = triage.get("frustration")
    intent_name = intent.get("name")
    record: Dict[str, Any] = {
        "conversation_id": conversation_id,
        "turn_key": str(user.get("message_id") or f"{user_ts:.6f}"),
        "turn_index": turn_index,
        "channel": user.get("input_channel"),
        "ts": user_ts,
        "message": mask(user.get("text") or ""),
        "intent": intent_name,
        "confidence": intent.get("confidence"),
        "intent_ranking": [
            {"name": r.get("name"), "confidence": r.get("confidence")} for r in (parse.get("intent_ranking") or [])[:3]
        ],
        "entities": [
            {"entity": e.get("entity"), "value": mask(str(e.get("value"))), "extractor": e.get("extractor")}
            for e in (parse.get("entities") or user.get("entities") or [])
        ],
        "triage": mask_deep(triage) if triage else None,
        "frustration": float(frustration) if isinstance(frustration, (int, float)) else None,
        "urgency": (triage or {}).get("urgency"),
        "risk_class": slots.get("risk_class") or (triage or {}).get("risk_class"),
        "actions": actions,
        "action": actions[0]["name"] if actions else None,
        "policy": actions[0]["policy"] if actions else None,
        "escalation_rule": turn_slots.get("escalation_rule") or None,
        "escalation_reason": mask(str(turn_slots["escalation_reason"])) if turn_slots.get("escalation_rule") and turn_slots.get("escalation_reason") else None,
        "handoff": HANDOFF_ACTION in action_names,
        "handoff_ticket_id": turn_slots.get("handoff_ticket_id") or (slots.get("handoff_ticket_id") if HANDOFF_ACTION in action_names else None),
        "knowledge": knowledge,
        "kb_refused": kb_refused,
        "fallback": intent_name in get_catalog().fallbacks or any(name in FALLBACK_ACTIONS for name in action_names),
        "reply": "\n".join(mask(b.get("text") or "") for b in bots if b.get("text")),
        "latency_ms": round((float(bots[-1]["timestamp"]) - user_ts) * 1000, 1) if bots and user_ts and not turn.get("paused") else None,
        "paused": bool(turn.get("paused")),
        "customer_id": slots.get("customer_id"),
        "order_id": mask(str(slots["order_id"])) if slots.get("order_id") else None,
        "model_id": model_id,
        "assistant_id": metadata.get("assistant_id"),
        # the version triage used for this very turn, else the one loaded now
        "rules_version": (triage or {}).get("rules_version") or versions.get("rules_version"),
        "kb_index_version": (knowledge or {}).get("index_version") or versions.get("kb_index_version"),
        "action_server_version": versions.get("action_server_version"),
        "closed_by": closed_by,
    }
    return record
