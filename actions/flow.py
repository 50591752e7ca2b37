"""The shape every task flow's final ("submit") action shares."""
from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any, Dict, List, Sequence, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend_client import BackendError, BackendUnavailable

logger = logging.getLogger(__name__)

# Answers that belong to one run of a flow; cleared when it ends so the next flow starts clean.
# order_id and the identity slots stay: "and can I return it?" refers to the same order.
FLOW_SLOTS = (
    "confirmed",
    "flow_blocked",
    "new_address",
    "issue_description",
    "resolution",
    "return_reason",
    "bug_description",
    "bug_device",
    "new_email",
    "verification_code",
    "account_email",
    "plan",
)


def _cleared(slot: Text) -> Any:
    return False if slot == "flow_blocked" else None


def flow_reset_events(tracker: Tracker, earlier: Sequence[EventType] = ()) -> List[EventType]:
    """``SlotSet`` events that clear the flow's answers, for those set now or by ``earlier``
    (events this action returns before these). A slot that is already clear gets no event: every
    event is carried, replayed and sent to the action server for the rest of the conversation."""
    values = {slot: tracker.get_slot(slot) for slot in FLOW_SLOTS}
    for event in earlier:
        if event.get("event") == "slot" and event.get("name") in values:
            values[event["name"]] = event.get("value")
    return [SlotSet(slot, _cleared(slot)) for slot in FLOW_SLOTS if values[slot] != _cleared(slot)]


class SubmitAction(Action, ABC):
    """Runs a flow's outcome once its form is complete, then clears the flow's answers.

    Subclasses implement :meth:`submit`. A flow blocked by its validator has already told the
    customer why, so nothing more is said. A backend outage becomes an honest apology with a
    way to reach a person, never a crash or silence.
    """

    #: a flow whose outcome changes something must have been confirmed by the customer
    needs_confirmation: bool = False

    @abstractmethod
    async def submit(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Do the flow's work and tell the customer; return extra events."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        events: List[EventType] = []
        if tracker.get_slot("flow_blocked"):
            return flow_reset_events(tracker)
        if self.needs_confirmation and tracker.get_slot("confirmed") is not True:
            dispatcher.utter_message(response="utter_not_changed")
            dispatcher.utter_message(response="utter_anything_else")
            return flow_reset_events(tracker)
        try:
            events = await self.submit(dispatcher, tracker, domain)
        except BackendUnavailable as error:
            logger.warning("%s: backend unavailable: %s", self.name(), error)
            dispatcher.utter_message(response="utter_backend_down")
        except BackendError as error:
            # The backend refused for a reason we did not foresee: say so plainly.
            logger.warning("%s: backend refused: %s", self.name(), error)
            dispatcher.utter_message(text=f"Sorry, I couldn't complete that: {error}")
            dispatcher.utter_message(response="utter_offer_human")
        return events + flow_reset_events(tracker, events)
