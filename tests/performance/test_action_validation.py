"""rasa_addons.action_validation: action-server answers are validated as Rasa validates them.

For valid and invalid answers, Rasa's own ``RemoteAction._validate_action_result`` and the
installed replacement must agree: both accept, or both raise jsonschema's ValidationError with the
same message (Rasa's explanation appended). And the replacement must be the one Rasa uses once
rasa_addons is imported.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RASA_PY = ROOT / ".venv-rasa" / "bin" / "python"

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
    out = subprocess.run([str(RASA_PY), "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "RASA_TELEMETRY_ENABLED": "false"})
    assert out.returncode == 0, out.stderr[-3000:]
    results = json.loads(out.stdout.strip().splitlines()[-1])
    for rasa_outcome, ours in results:
        assert rasa_outcome == ours
    kinds = [rasa_outcome[0] for rasa_outcome, _ in results]
    assert kinds.count("ok") >= 3 and kinds.count("invalid") >= 4, kinds
    assert all("Failed to validate Action server response" in r[1] for r, _ in results if r[0] == "invalid")
