"""Rasa's own checks, run by `make test`: the project data is consistent and the test stories
(tests/stories/) are predicted exactly by the trained model, with the patch layer on (as the
server runs) and off (RASA_PATCHES=none: Rasa's own code), so the patches predict what Rasa does."""
from __future__ import annotations

import os
import re
import subprocess

import pytest

from tests.conftest import REPORTS, ROOT, latest_model

# Rasa's CLI through the project entry point (rasa_addons/launch.py: the patch layer applied first)
RASA = [str(ROOT / ".venv-rasa" / "bin" / "python"), "-m", "rasa_addons.launch"]


def run_rasa(*args: str, timeout: int = 900, patches: str = "all") -> subprocess.CompletedProcess:
    # endpoints.yml names its stores through environment variables: point them at throwaway paths
    scratch = REPORTS / "rasa_scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "ACTION_SERVER_URL": os.environ.get("ACTION_SERVER_URL", "http://127.0.0.1:5055/webhook"),
        "ACTION_SERVER_TOKEN": os.environ.get("ACTION_SERVER_TOKEN", ""),
        "RASA_TRACKER_DB": str(scratch / "tracker.db"),
        "RASA_EVENTS_DB": str(scratch / "events.db"),
        "RASA_PATCHES": patches,
    }
    return subprocess.run([*RASA, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


def responses_used_by_code() -> set:
    """Responses the action server sends (Rasa's validator cannot see inside Python)."""
    used = set()
    for path in (ROOT / "actions").rglob("*.py"):
        used.update(re.findall(r"response=\"(utter_\w+)\"", path.read_text()))
    return used


def test_data_validates() -> None:
    """`rasa data validate` passes, and its only warnings are responses that forms ask with
    (utter_ask_*) or that actions send; any other warning fails with Rasa's own message."""
    result = run_rasa("data", "validate")
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"`rasa data validate` found problems (files named below):\n{output[-6000:]}"
    allowed = responses_used_by_code()
    problems = []
    for line in output.splitlines():
        if "UserWarning" not in line:
            continue
        unused = re.search(r"The utterance '(utter_\w+)' is not used in any story or rule", line)
        # utter_default is sent by Rasa's own action_default_fallback
        if unused and (unused.group(1).startswith("utter_ask_") or unused.group(1) in allowed | {"utter_default"}):
            continue
        problems.append(line.split("UserWarning:", 1)[-1].strip())
    assert not problems, "rasa data validate warnings:\n" + "\n".join(problems)


@pytest.mark.parametrize("patches", ["all", "none"], ids=["patches-on", "patches-off"])
def test_stories_are_predicted_exactly(patches: str) -> None:
    out = REPORTS / ("rasa_stories" if patches == "all" else f"rasa_stories_patches_{patches}")
    result = run_rasa(
        "test", "core", "--stories", "tests/stories", "--model", str(latest_model()),
        "--out", str(out), "--fail-on-prediction-errors", patches=patches,
    )
    applied = "patches applied: none" if patches == "none" else ("patches applied: action_validation, debug_log_copies, rasa_runtime, action_call, domain_digest, "
                                                             "rule_lookup, applied_events")
    assert applied in result.stderr, result.stderr[-3000:]
    failed = out / "failed_test_stories.yml"
    details = failed.read_text() if failed.exists() else ""
    assert result.returncode == 0, f"test stories failed (see {failed}):\n{details[-6000:]}\n{result.stderr[-3000:]}"
