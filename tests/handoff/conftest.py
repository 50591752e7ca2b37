"""Fixtures for the handoff tests: a local Slack emulator, and a full stack wired to it.

``slack`` is a fresh emulator per test for in-process tests; ``slack_stack`` starts the demo
backend, the action server and Rasa once per session with SLACK_API_URL pointing at a
session-wide emulator (``stack_slack``) and a signing secret, so tests can play the agent.
"""
from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

from scripts.stack import Stack, StackConfig, free_port
from tests.conftest import RestChat, latest_model
from tests.support.slack_emulator import SlackEmulator, SlackSigner

TOKEN = "xoxb-test-token"
SIGNING_SECRET = "test-signing-secret-8f2b"
CHANNEL = "C0HANDOFF"
RASA_TOKEN = "rasa-test-token"
BACKEND_ADMIN_KEY = "test-backend-admin-key-51c3"


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    emulator = SlackEmulator(token=TOKEN).start()
    yield emulator
    emulator.stop()


@pytest.fixture
def slack_env(slack: SlackEmulator, tmp_path: Path, monkeypatch) -> SlackEmulator:
    """In-process settings: the Slack client and the handoff store point at test resources."""
    from actions import outbox, slack_client

    monkeypatch.setenv("SLACK_API_URL", slack.api_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_HANDOFF_CHANNEL", CHANNEL)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("SLACK_TIMEOUT", "2")
    monkeypatch.setenv("SLACK_RETRY_MAX_SECONDS", "0.2")
    monkeypatch.setenv("HANDOFF_DB", str(tmp_path / "handoff.sqlite3"))
    slack_client.reset()
    outbox.reset()
    yield slack
    slack_client.reset()
    outbox.reset()


@pytest.fixture(scope="session")
def stack_slack() -> Iterator[SlackEmulator]:
    emulator = SlackEmulator(token=TOKEN).start()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def slack_stack(tmp_path_factory, stack_slack: SlackEmulator) -> Iterator[Stack]:
    import shutil

    from tests.conftest import ROOT

    var = tmp_path_factory.mktemp("slack-stack-var")
    source = ROOT / "var" / "chroma"
    if source.exists():
        shutil.copytree(source, var / "chroma")
    config = StackConfig(
        backend_port=free_port(), action_port=free_port(), rasa_port=free_port(), var_dir=var, model=latest_model(),
        extra_env={
            "CHROMA_PATH": str(var / "chroma"),
            "SLACK_API_URL": stack_slack.api_url,
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_HANDOFF_CHANNEL": CHANNEL,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_TIMEOUT": "2",
            "SLACK_RETRY_MAX_SECONDS": "0.5",
            "RASA_API_TOKEN": RASA_TOKEN,
            # erasure (tests/security): a known admin key and salt, and a quick second audit sweep
            "BACKEND_ADMIN_KEY": BACKEND_ADMIN_KEY,
            "ERASURE_HASH_SALT": "test-erasure-salt",
            "ERASURE_AUDIT_RESWEEP": "1",
        },
    )
    running = Stack(config)
    running.start(verbose=False)
    yield running
    running.stop()


@pytest.fixture
def agent(slack_stack: Stack) -> SlackSigner:
    return SlackSigner(f"http://127.0.0.1:{slack_stack.config.action_port}", SIGNING_SECRET)


@pytest.fixture
def customer(slack_stack: Stack) -> RestChat:
    return RestChat.for_stack(slack_stack)


def rasa_tracker(stack: Stack, sender: str) -> Dict[str, Any]:
    url = f"{stack.config.rasa_url}/conversations/{sender}/tracker?token={RASA_TOKEN}"
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.2, message: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {message}")


def block_text(message: Dict[str, Any]) -> str:
    """All text in a Block Kit message, for assertions."""
    parts: List[str] = [message.get("text") or ""]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    parts.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.get("blocks") or [])
    return "\n".join(parts)


def action_ids(message: Dict[str, Any]) -> List[str]:
    ids: List[str] = []
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id"):
                ids.append(element["action_id"])
    return ids
