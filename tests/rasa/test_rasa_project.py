"""Rasa's own checks, run by `make test`: the project data is consistent and the test stories
(tests/stories/) are predicted exactly by the trained model."""
from __future__ import annotations

import subprocess

import pytest

from tests.conftest import REPORTS, ROOT, latest_model

RASA = str(ROOT / ".venv-rasa" / "bin" / "rasa")


def run_rasa(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([RASA, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})


def test_data_validates_without_warnings() -> None:
    result = run_rasa("data", "validate", "--fail-on-warnings")
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"`rasa data validate` found problems (files named below):\n{output[-6000:]}"


def test_stories_are_predicted_exactly() -> None:
    out = REPORTS / "rasa_stories"
    result = run_rasa(
        "test", "core", "--stories", "tests/stories", "--model", str(latest_model()),
        "--out", str(out), "--fail-on-prediction-errors",
    )
    failed = out / "failed_test_stories.yml"
    details = failed.read_text() if failed.exists() else ""
    assert result.returncode == 0, f"test stories failed (see {failed}):\n{details[-6000:]}\n{result.stderr[-3000:]}"
