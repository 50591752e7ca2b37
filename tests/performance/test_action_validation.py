"""rasa_addons.action_validation: action-server answers are validated as Rasa validates them.

For valid and invalid answers, Rasa's own ``RemoteAction._validate_action_result`` and the
installed replacement must agree: both accept, or both raise jsonschema's ValidationError with the
same message (Rasa's explanation appended). And the replacement must be the one Rasa uses once
rasa_addons is imported.
"""
from __future__ import annotations

from tests.performance.rasa_script import run_in_rasa_env


SCRIPT = r'''
import json
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
original = RemoteAction._validate_action_result
import rasa_addons  # installs the replacement
from rasa_addons.action_validation import validate_action_result
assert RemoteAction._validate_action_result is validate_action_result

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
print(json.dumps(results))
'''


def test_replacement_accepts_and_refuses_what_rasa_does() -> None:
    results = run_in_rasa_env(SCRIPT, timeout=300)
    for rasa_outcome, ours in results:
        assert rasa_outcome == ours
    kinds = [rasa_outcome[0] for rasa_outcome, _ in results]
    assert kinds.count("ok") >= 3 and kinds.count("invalid") >= 4, kinds
    assert all("Failed to validate Action server response" in r[1] for r, _ in results if r[0] == "invalid")
