"""actions.flow.flow_reset_events: a finished flow clears its answers, and only the ones that are set."""
from __future__ import annotations

from rasa_sdk.events import SlotSet

from actions.flow import FLOW_SLOTS, flow_reset_events
from tests.actions.conftest import make_tracker

CLEAR = {slot: (False if slot == "flow_blocked" else None) for slot in FLOW_SLOTS}


def test_only_set_answers_are_cleared():
    tracker = make_tracker({**CLEAR, "order_id": "BC-100003", "return_reason": "too small", "confirmed": True})
    assert flow_reset_events(tracker) == [SlotSet("confirmed", None), SlotSet("return_reason", None)]


def test_a_blocked_flow_is_unblocked():
    tracker = make_tracker({**CLEAR, "flow_blocked": True})
    assert flow_reset_events(tracker) == [SlotSet("flow_blocked", False)]


def test_an_idle_flow_adds_no_events():
    assert flow_reset_events(make_tracker(dict(CLEAR))) == []


def test_answers_set_by_the_same_action_are_cleared_too():
    tracker = make_tracker({**CLEAR, "confirmed": True})
    earlier = [SlotSet("plan", "premium"), SlotSet("order_id", "BC-100001"), SlotSet("confirmed", None)]
    assert flow_reset_events(tracker, earlier) == [SlotSet("plan", None)]


def test_a_slot_missing_from_the_tracker_counts_as_not_cleared():
    # order_id is not a flow slot; flow_blocked missing (None) is not its cleared value False
    assert flow_reset_events(make_tracker({"order_id": "BC-100001"})) == [SlotSet("flow_blocked", False)]
