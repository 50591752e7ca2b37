"""Web chat sessions cannot be chosen, joined or carried over (the real Socket.IO channel,
driven by python-socketio from Rasa's environment: tests/security/socketio_attack.py)."""
from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import ROOT, rasa_tracker
from tests.support.identity import hs256_token


@pytest.fixture(scope="module")
def probe(stack):
    token = hs256_token(stack.env["IDENTITY_JWT_SECRET"], "C0001")
    out = subprocess.run(
        [str(ROOT / ".venv-rasa" / "bin" / "python"), str(ROOT / "tests" / "security" / "socketio_attack.py"),
         stack.config.rasa_url, stack.config.backend_url, token, stack.env["RASA_API_TOKEN"]],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_signed_in_customer_is_recognised_from_her_token(probe, stack):
    jane = probe["jane"]
    assert jane["conversation"].startswith("web-")
    said = " ".join(t or "" for t in jane["replies"])
    assert "on its way" in said and "email" not in said.lower()
    slots = rasa_tracker(stack.config.rasa_url, jane["conversation"], stack.env["RASA_API_TOKEN"])["slots"]
    assert slots["customer_id"] == "C0001" and slots["identity_method"] == "token"


def test_nobody_else_can_join_her_conversation(probe):
    jane_id = probe["jane"]["conversation"]
    got = probe["hijacker"]["got_ids"]
    for label, conversation in got.items():
        assert conversation != jane_id, label
        assert conversation.startswith("web-"), (label, conversation)
    assert got["sms_number"] != "+15555550101"


def test_a_reply_pushed_to_her_conversation_reaches_only_her(probe):
    assert probe["push_status"] == 200
    assert not probe["hijacker"]["received"], probe["hijacker"]["received"]
    assert any("anything else" in (t or "").lower() for t in probe["jane_after_push"])


def test_pages_from_other_sites_cannot_open_the_chat(probe):
    assert probe["evil_origin_connected"] is False


def test_customer_id_in_custom_data_does_not_identify_anyone(probe, stack):
    said = " ".join(t or "" for t in probe["custom_data"]["replies"]).lower()
    assert "email address on that order" in said and "on its way" not in said
    slots = rasa_tracker(stack.config.rasa_url, probe["custom_data"]["conversation"], stack.env["RASA_API_TOKEN"])["slots"]
    assert not slots.get("verified")


def test_malformed_events_are_ignored_and_the_chat_goes_on(probe):
    assert probe["after_garbage"] and any(probe["after_garbage"]), probe["after_garbage"]
