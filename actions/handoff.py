"""Hand the conversation to a person: a ticket in the backend carries the whole context.

The Slack side (posting the case, relaying agent replies) plugs in here; see issue notes.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend_client import BackendError, get_client
from actions.pii import mask

logger = logging.getLogger(__name__)

HIGH_PRIORITY_INTENTS = {"security_concern", "legal_request", "billing_dispute", "delete_account"}


def transcript(tracker: Tracker, limit: int = 30) -> List[Dict[str, str]]:
    """The conversation so far, personal data masked, oldest first."""
    lines: List[Dict[str, str]] = []
    for event in tracker.events:
        if event.get("event") == "user" and event.get("text"):
            lines.append({"from": "customer", "text": mask(event["text"])})
        elif event.get("event") == "bot" and event.get("text"):
            lines.append({"from": "bot", "text": mask(event["text"])})
    return lines[-limit:]


def handoff_reason(tracker: Tracker) -> str:
    return tracker.get_slot("escalation_rule") or (tracker.latest_message.get("intent") or {}).get("name") or "request_human"


class ActionHandoffToHuman(Action):
    def name(self) -> Text:
        return "action_handoff_to_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        reason = handoff_reason(tracker)
        context: Dict[str, Any] = {
            "reason": reason,
            "intent": intent,
            "order_id": tracker.get_slot("order_id"),
            "verified": bool(tracker.get_slot("verified")),
            "tier": tracker.get_slot("customer_tier"),
            "transcript": transcript(tracker),
        }
        try:
            ticket = await get_client().create_ticket(
                customer_id=tracker.get_slot("customer_id"),
                category=intent or "general",
                subject=f"Handoff from the assistant: {reason}",
                description=mask((tracker.latest_message or {}).get("text") or ""),
                priority="high" if intent in HIGH_PRIORITY_INTENTS or tracker.get_slot("customer_tier") == "vip" else "normal",
                conversation_id=tracker.sender_id,
                channel=tracker.get_latest_input_channel(),
                context=context,
            )
        except BackendError as error:
            logger.error("handoff ticket could not be created: %s", error)
            dispatcher.utter_message(
                text="I want to bring in a person, but our support system isn't responding right now. "
                "Please call us or try again in a few minutes; nothing you've told me is lost."
            )
            return []
        dispatcher.utter_message(response="utter_handoff_started")
        dispatcher.utter_message(text=f"Your reference is {ticket.get('id')}.")
        return [SlotSet("handoff_ticket_id", ticket.get("id")), ConversationPaused()]
