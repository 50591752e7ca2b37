"""EscalationPolicy (rasa_addons/) with Rasa's own trackers, domain and ensemble.

The policy lives in the Rasa environment (Python 3.10), so the checks run there
(tests/handoff/policy_probe.py) and report back as JSON.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RASA_PY = ROOT / ".venv-rasa" / "bin" / "python"


@pytest.fixture(scope="module")
def probe() -> dict:
    if not RASA_PY.exists():
        pytest.skip(".venv-rasa is not built (make envs)")
    result = subprocess.run([str(RASA_PY), str(Path(__file__).with_name("policy_probe.py"))], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_predicts_the_handoff_when_a_rule_fired_after_the_latest_message(probe):
    assert probe["fires_after_rule"] == {"action": "action_handoff_to_human", "confidence": 1.0, "priority": 5, "no_user": True}
    assert probe["set_by_an_action_this_turn"]["action"] == "action_handoff_to_human"


@pytest.mark.parametrize("case", ["not_twice", "not_twice_even_if_resumed", "rule_from_earlier_turn", "no_rule", "rule_cleared",
                                  "old_rule_still_in_slot", "paused"])
def test_abstains_otherwise(probe, case):
    assert probe[case]["action"] is None and probe[case]["confidence"] == 0.0


def test_overrules_a_form_in_progress(probe):
    assert probe["in_form"]["action"] == "action_handoff_to_human"
    assert probe["ensemble_in_form"] == {"policy": "EscalationPolicy", "action": "action_handoff_to_human"}
