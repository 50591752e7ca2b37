"""Conversation housekeeping and support tasks: session start, bug reports, service status,
and leaving a flow."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, FollowupAction, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend_client import BackendError, get_client
from actions.flow import SubmitAction, flow_reset_events
from actions.formatting import day
from actions.identity import IDENTITY_SLOTS, identity_from_metadata


class ActionSessionStart(Action):
    """Start a session; a customer a channel proved (identity token, Twilio-signed number) is verified."""

    def name(self) -> Text:
        return "action_session_start"

    async def run(self, dispatcher, tracker, domain) -> List[Dict[Text, Any]]:
        events: List[EventType] = [SessionStarted()]
        # carry_over_slots_to_new_session keeps earlier slots; the channel may vouch again
        for key in (*IDENTITY_SLOTS, "order_id", "customer_email"):
            value = tracker.get_slot(key)
            if value is not None:
                events.append(SlotSet(key, value))
        identity = await identity_from_metadata(tracker, include_session_start=True)
        events.extend(SlotSet(key, value) for key, value in (identity or {}).items())
        events.append(ActionExecuted("action_listen"))
        return events


class ActionResetFlow(Action):
    """The customer said stop / never mind: forget the half-finished flow's answers."""

    def name(self) -> Text:
        return "action_reset_flow"

    async def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(response="utter_flow_stopped")
        return flow_reset_events(tracker)


class ActionReportBug(SubmitAction):
    def name(self) -> Text:
        return "action_report_bug"

    async def submit(self, dispatcher, tracker, domain) -> List[EventType]:
        description = tracker.get_slot("bug_description") or ""
        device = tracker.get_slot("bug_device") or ""
        ticket = await get_client().create_ticket(
            customer_id=tracker.get_slot("customer_id"),
            category="bug",
            subject=(description[:70] + "…") if len(description) > 70 else description,
            description=f"{description}\n\nDevice/app: {device}",
            priority="normal",
            conversation_id=tracker.sender_id,
            channel=tracker.get_latest_input_channel(),
            context={"device": device},
        )
        dispatcher.utter_message(
            text=f"Thanks, I've logged this for our engineers as ticket {ticket.get('id')}. "
            "If you need a workaround meanwhile, the website usually works when the app doesn't (or the other way round)."
        )
        return []


class ActionServiceStatus(Action):
    """Say what is known about outages, from the status endpoint only."""

    def name(self) -> Text:
        return "action_service_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict):
        try:
            status = await get_client().service_status()
        except BackendError:
            dispatcher.utter_message(
                text="I can't reach our status page right now, which may itself mean something is wrong. "
                "I'm sorry; a person from our team can tell you more."
            )
            dispatcher.utter_message(response="utter_offer_human")
            return []
        incidents = [i for i in status.get("incidents", []) if i.get("status") != "resolved"]
        if not incidents:
            dispatcher.utter_message(
                text="All Brightcart systems are running normally right now. If something isn't working for you, tell me what you see and I can log it for our engineers."
            )
            return []
        for incident in incidents[:3]:
            affected = incident.get("affected") or []
            dispatcher.utter_message(
                text=f"Known issue: {incident.get('title')}"
                + (f" (affects {', '.join(affected)})" if affected else "")
                + f". {incident.get('message', '')} Last update: {day(incident.get('updated_at'))}.".replace(" .", ".")
            )
        dispatcher.utter_message(text="Our engineers are on it. Orders and payments already placed are safe.")
        return []


def _person_was_offered(tracker: Tracker) -> bool:
    """Did the bot's turn before the customer's latest message offer to bring in a person?"""
    events = list(tracker.events or [])
    latest_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=len(events))
    for event in reversed(events[:latest_user]):
        if event.get("event") == "user":
            return False
        if event.get("event") != "bot":
            continue
        data = event.get("data") or {}
        buttons = data.get("buttons") or []
        if any("/request_human" in str(button.get("payload", "")) for button in buttons):
            return True
        if (event.get("metadata") or {}).get("utter_action") == "utter_offer_human":
            return True
        text = (event.get("text") or "").lower()
        if any(phrase in text for phrase in ("connect you with someone", "bring in a person", "talk to a person", "from our support team?")):
            return True
    return False


class ActionYesNo(Action):
    """A bare yes or no outside any flow: the answer to whatever the bot last offered."""

    def name(self) -> Text:
        return "action_yes_no"

    async def run(self, dispatcher, tracker, domain):
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        offered = _person_was_offered(tracker)
        if intent == "affirm" and offered:
            return [FollowupAction("action_handoff_to_human")]
        if intent == "affirm":
            dispatcher.utter_message(response="utter_how_can_i_help")
        elif offered:
            dispatcher.utter_message(response="utter_anything_else")
        else:
            dispatcher.utter_message(response="utter_goodbye")
        return []
