"""Fixtures that start the real processes on free loopback ports.

The whole stack (demo backend, action server, Rasa) is started once per test session by the
``stack`` fixture; tests talk to it over HTTP like a channel would.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.stack import Stack, StackConfig, free_port  # noqa: E402

REPORTS = ROOT / "reports"


def latest_model() -> Path:
    explicit = os.environ.get("RASA_MODEL")
    if explicit:
        return Path(explicit)
    models = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        pytest.fail("no trained model in models/: run `make train` (make test does it for you)")
    return models[-1]


class RestChat:
    """Talks to Rasa's REST channel the way a client integration would."""

    def __init__(self, rasa_url: str, sender: Optional[str] = None) -> None:
        self.rasa_url = rasa_url
        self.sender = sender or f"test-{uuid.uuid4().hex[:10]}"

    def send(self, text: str, metadata: Optional[Dict[str, Any]] = None,
             input_channel: Optional[str] = None) -> List[Dict[str, Any]]:
        body: Dict[str, Any] = {"sender": self.sender, "message": text}
        if metadata:
            body["metadata"] = metadata
        if input_channel:  # Rasa's REST channel lets the client name its channel (tests/security)
            body["input_channel"] = input_channel
        request = urllib.request.Request(
            f"{self.rasa_url}/webhooks/rest/webhook",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def say(self, text: str, metadata: Optional[Dict[str, Any]] = None, input_channel: Optional[str] = None) -> str:
        """Send a message and return the bot's replies joined into one string."""
        return "\n".join(m.get("text", "") for m in self.send(text, metadata, input_channel) if m.get("text"))

    def tracker(self) -> Dict[str, Any]:
        with urllib.request.urlopen(f"{self.rasa_url}/conversations/{self.sender}/tracker", timeout=30) as response:
            return json.loads(response.read())


@pytest.fixture(scope="session")
def stack_var_dir(tmp_path_factory) -> Path:
    var = tmp_path_factory.mktemp("stack-var")
    # The knowledge index built by `make ingest` is copied so tests never write to var/.
    source = ROOT / "var" / "chroma"
    if source.exists():
        shutil.copytree(source, var / "chroma")
    return var


@pytest.fixture(scope="session")
def stack(stack_var_dir: Path) -> Iterator[Stack]:
    config = StackConfig(
        backend_port=free_port(),
        action_port=free_port(),
        rasa_port=free_port(),
        var_dir=stack_var_dir,
        model=latest_model(),
        extra_env={"CHROMA_PATH": str(stack_var_dir / "chroma")},
    )
    running = Stack(config)
    running.start(verbose=False)
    yield running
    running.stop()


@pytest.fixture
def chat(stack: Stack) -> RestChat:
    return RestChat(stack.config.rasa_url)
