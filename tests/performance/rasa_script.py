"""Run a Python script in the Rasa environment (.venv-rasa) and read the JSON it prints last.

The tests here check rasa_addons against Rasa's own classes, which only import there; the tests
themselves run in the app environment."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RASA_PY = ROOT / ".venv-rasa" / "bin" / "python"


def run_in_rasa_env(script: str, *args: str, timeout: float = 600) -> Any:
    """Run ``script`` with ``args``, assert it succeeded, and return its last stdout line as JSON."""
    out = subprocess.run([str(RASA_PY), "-c", script, *args], cwd=ROOT, capture_output=True, text=True,
                         timeout=timeout,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "RASA_TELEMETRY_ENABLED": "false"})
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])
