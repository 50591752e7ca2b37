"""A small stand-in for Rasa's tracker bookkeeping, to drive triage turn by turn in-process.

``Conversation.say`` appends a user event the way Rasa logs it, runs
``action_validate_slot_mappings`` exactly as ``action_extract_slots`` would (same tracker
shape), and applies the returned slot events, so several turns build real history.
"""
from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.triage import ActionValidateSlotMappings

_clock = itertools.count()


class Conversation:
    def __init__(self, slots: Optional[Dict[str, Any]] = None, channel: str = "rest", sender_id: Optional[str] = None) -> None:
        self.sender_id = sender_id or f"triage-{uuid.uuid4().hex[:8]}"
        self.channel = channel
        self.slots: Dict[str, Any] = {"frustration": 0.0, "kb_failed_count": 0.0, "identity_failures": 0.0, "verified": False}
        self.slots.update(slots or {})
        self.events: List[Dict[str, Any]] = [
            {"event": "action", "name": "action_session_start", "timestamp": self._ts()},
            {"event": "session_started", "timestamp": self._ts()},
            {"event": "action", "name": "action_listen", "timestamp": self._ts()},
        ]
        self.latest: Dict[str, Any] = {}
        self.paused = False
        self.active_loop: Optional[str] = None
        self.messages: List[Dict[str, Any]] = []

    @staticmethod
    def _ts() -> float:
        return time.time() + next(_clock) * 0.001

    def tracker(self) -> Tracker:
        return Tracker(
            sender_id=self.sender_id,
            slots=dict(self.slots),
            latest_message=self.latest,
            events=list(self.events),
            paused=self.paused,
            followup_action=None,
            active_loop={"name": self.active_loop} if self.active_loop else {},
            latest_action_name="action_listen",
        )

    def user(self, text: str, intent: str, entities: Optional[List[Dict[str, Any]]] = None, confidence: float = 0.93) -> "Conversation":
        parse = {"intent": {"name": intent, "confidence": confidence}, "entities": entities or [], "text": text}
        self.latest = parse
        self.events.append(
            {"event": "user", "text": text, "parse_data": parse, "input_channel": self.channel,
             "message_id": uuid.uuid4().hex, "timestamp": self._ts(), "metadata": {}}
        )
        return self

    def run_validation(self) -> List[Dict[str, Any]]:
        dispatcher = CollectingDispatcher()
        events = asyncio.run(ActionValidateSlotMappings().run(dispatcher, self.tracker(), {"slots": {}}))
        self.messages = dispatcher.messages
        for event in events:
            self.apply(event)
        return events

    def say(self, text: str, intent: str, entities: Optional[List[Dict[str, Any]]] = None, confidence: float = 0.93) -> List[Dict[str, Any]]:
        self.user(text, intent, entities, confidence)
        return self.run_validation()

    def apply(self, event: Dict[str, Any]) -> None:
        event = dict(event, timestamp=self._ts())
        self.events.append(event)
        if event.get("event") == "slot":
            self.slots[event["name"]] = event["value"]

    def slot(self, name: str, value: Any) -> "Conversation":
        self.apply({"event": "slot", "name": name, "value": value})
        return self

    def bot(self, text: str, utter_action: Optional[str] = None, action: str = "action_answer_from_knowledge") -> "Conversation":
        self.apply({"event": "action", "name": action})
        self.apply({"event": "bot", "text": text, "metadata": {"utter_action": utter_action} if utter_action else {}})
        return self

    def knowledge_refused(self, reason: str = "no_match") -> "Conversation":
        """What action_answer_from_knowledge logs when it refuses."""
        self.bot("Sorry, I couldn't find that in our help center.")
        failures = int(float(self.slots.get("kb_failed_count") or 0)) + 1
        self.slot("kb_last_refused", True).slot("kb_failed_count", failures)
        self.slot("kb_last_retrieval", {"refused": True, "reason": reason, "query": "..."})
        return self

    def knowledge_answered(self) -> "Conversation":
        self.bot("Refunds go back to the original payment method within 5-10 business days.")
        self.slot("kb_last_refused", False).slot("kb_failed_count", 0)
        self.slot("kb_last_retrieval", {"refused": False, "reason": None})
        return self

    def listen(self) -> "Conversation":
        self.apply({"event": "action", "name": "action_listen"})
        return self

    @property
    def rule(self) -> Optional[str]:
        return self.slots.get("escalation_rule")

    @property
    def triage(self) -> Dict[str, Any]:
        return self.slots.get("triage") or {}
