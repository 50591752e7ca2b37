"""rasa_addons.action_validation: action-server answers are validated as Rasa validates them.

For valid and invalid answers, Rasa's own ``RemoteAction._validate_action_result`` and the
installed replacement must agree: both accept, or both raise jsonschema's ValidationError with the
same message (Rasa's explanation appended). And the replacement must be the one Rasa uses once
the patch layer is applied (rasa_addons/patches.py).
"""
from __future__ import annotations

import pytest

from tests.performance.rasa_script import run_in_rasa_env


SCRIPT = r'''
import json
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
original = RemoteAction._validate_action_result
import rasa.server
rasa_events_check = rasa.server.validate_events_in_request_body
from rasa_addons import patches; assert set(patches.apply("all").values()) == {"applied"}, patches.status  # as the Rasa server runs (rasa_addons/launch.py)
from rasa_addons import action_validation
from rasa_addons.action_validation import validate_action_result
assert RemoteAction._validate_action_result is validate_action_result
assert rasa.server.validate_events_in_request_body is action_validation.validate_events_in_request_body

answers = [
    {"events": [{"event": "slot", "name": "order_id", "value": "BC-100001"}], "responses": [{"text": "hi"}]},
    {"events": [], "responses": []},
    {},
    {"events": [{"event": "slot", "name": "x", "value": None, "timestamp": 1.5}]},
    {"events": "not a list"},
    {"events": [{"event": "no_such_event"}]},
    {"events": [{"event": "slot"}]},
    {"responses": ["text instead of an object"]},
    {"events": [{"event": "user", "text": 5}]},
    ["not an object"],
    # one answer with every kind of event Rasa's schema names, as the action server sends them
    {"events": [
        {"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet", "confidence": 0.9},
                                                     "entities": [{"entity": "plan", "value": "free", "start": 0,
                                                                   "end": 4, "extractor": None}]}},
        {"event": "action", "name": "action_listen", "policy": None, "confidence": None, "timestamp": None},
        {"event": "bot", "text": "hello", "data": {"buttons": []}, "metadata": {"utter_action": "utter_greet"}},
        {"event": "entities", "entities": []},
        {"event": "active_loop", "name": "order_form"}, {"event": "form", "name": None},
        {"event": "followup", "name": "action_x"}, {"event": "pause"}, {"event": "resume"},
        {"event": "reset_slots"}, {"event": "restart"}, {"event": "undo"}, {"event": "rewind"},
        {"event": "session_started"}, {"event": "agent", "text": "x"}, {"event": "export"},
        {"event": "reminder", "intent": "x", "date_time": "2026-01-01T00:00:00"}, {"event": "cancel_reminder"},
        {"event": "action_execution_rejected", "name": "x"}, {"event": "form_validation", "validate": False},
        {"event": "loop_interrupted", "is_interrupted": True}, {"event": "user_featurization"},
    ], "responses": [{"text": "hi", "buttons": []}], "extra": 1},
    # invalid in one event among valid ones, in each of the places a value can be wrong
    {"events": [{"event": "slot", "name": "a", "value": 1}, {"event": "action", "confidence": "high"}]},
    {"events": [{"event": "slot", "name": "a", "value": 1, "timestamp": "noon"}]},
    {"events": [{"event": "bot", "metadata": "not an object"}]},
    {"events": [{"event": "entities", "entities": [{"entity": "plan"}]}]},
    {"events": [{"event": "user", "parse_data": {"intent": {"confidence": True}}}]},
    {"events": [{"event": ["user"]}]},
    {"events": [{"event": 7}]},
    {"events": [{"name": "x", "value": 1}]},
    {"events": ["slot"]},
    {"responses": {"text": "hi"}},
    {"events": [{"event": "slot", "name": "a", "value": 1}], "responses": [{"text": "a"}, "b"]},
]
results = []
for answer in answers:
    outcome = []
    for validate in (original, validate_action_result):
        try:
            outcome.append(["ok", validate(RemoteAction, answer)])
        except ValidationError as error:
            outcome.append(["invalid", error.message])
    results.append(outcome)

class Request:  # what the check reads of Sanic's request
    def __init__(self, body):
        self.json = body

# POST /conversations/<id>/tracker/events: the events of every answer above, as a list and alone
bodies = []
for answer in answers:
    events = answer.get("events") if isinstance(answer, dict) else answer
    bodies.append(events)
    if isinstance(events, list) and events:
        bodies.append(events[-1])
endpoint = []
for body in bodies:
    outcome = []
    for check in (rasa_events_check, action_validation.validate_events_in_request_body):
        try:
            check(Request(body))
            outcome.append(["ok"])
        except rasa.server.ErrorResponse as error:
            outcome.append(["invalid", error.status, error.error_info["message"]])
    endpoint.append(outcome)
print(json.dumps({"answers": results, "endpoint": endpoint}))
'''


@pytest.fixture(scope="module")
def outcomes() -> dict:
    """Rasa's and our outcome for every case of SCRIPT, from one run of it in the Rasa environment."""
    return run_in_rasa_env(SCRIPT, timeout=300)


def _kinds_if_same(results: list) -> list:
    """Asserts each case's outcome is Rasa's; returns the kinds ("ok" / "invalid") of the cases."""
    for rasa_outcome, ours in results:
        assert rasa_outcome == ours
    return [rasa_outcome[0] for rasa_outcome, _ in results]


def test_replacement_accepts_and_refuses_what_rasa_does(outcomes: dict) -> None:
    results = outcomes["answers"]
    kinds = _kinds_if_same(results)
    assert kinds.count("ok") >= 4 and kinds.count("invalid") >= 14, kinds
    assert all("Failed to validate Action server response" in r[1] for r, _ in results if r[0] == "invalid")


def test_tracker_events_endpoint_check_accepts_and_refuses_what_rasa_does(outcomes: dict) -> None:
    """``POST /conversations/<id>/tracker/events``: same 400 and message for invalid events."""
    kinds = _kinds_if_same(outcomes["endpoint"])
    assert kinds.count("ok") >= 8 and kinds.count("invalid") >= 10, kinds
