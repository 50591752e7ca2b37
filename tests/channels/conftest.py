"""The Twilio connectors' tests talk to the real stack (tests/conftest.py ``stack``) and a local
Twilio emulator.

The stack's processes take their environment from ``os.environ`` (scripts/stack.py), so the
Twilio settings are put there when this file is imported, during collection, before any stack
starts; the whole session then shares one stack. They are always the test values: a developer's
real Twilio credentials in the shell must never be used by tests.
"""
from __future__ import annotations

import os
import uuid
from typing import Dict, Iterator, Tuple

import pytest

from tests.support.twilio_emulator import TwilioEmulator, signed_post

ACCOUNT_SID = "AC" + "0" * 24 + "7e57c0de"
AUTH_TOKEN = "test-auth-token-" + uuid.uuid4().hex[:12]
TWILIO_NUMBER = "+15550000000"
SUPPORT_NUMBER = "+15555550100"  # the support line actions/config.py also defaults to
JANE_PHONE = "+15555550101"  # demo customer C0001 Jane Doe
OMAR_PHONE = "+15555550102"  # demo customer C0002 Omar Haddad

EMULATOR = TwilioEmulator(ACCOUNT_SID, AUTH_TOKEN).start()

os.environ.update({
    "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
    "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
    "TWILIO_NUMBER": TWILIO_NUMBER,
    "TWILIO_API_URL": EMULATOR.url,
    "SUPPORT_PHONE_NUMBER": SUPPORT_NUMBER,
})
os.environ.pop("TWILIO_PUBLIC_URL", None)


@pytest.fixture(scope="session")
def twilio() -> Iterator[TwilioEmulator]:
    yield EMULATOR


def unknown_phone() -> str:
    """A number no customer has, unique per test (SMS conversations are keyed by number)."""
    return "+1555" + str(uuid.uuid4().int)[:7]


class TwilioWebhook:
    """Posts to one of the stack's Twilio webhooks the way Twilio does (signed)."""

    def __init__(self, rasa_url: str, channel: str) -> None:
        self.base = f"{rasa_url}/webhooks/{channel}"

    def post(self, endpoint: str, params: Dict[str, str], *, token: str | None = AUTH_TOKEN,
             signed_url: str | None = None, headers: Dict[str, str] | None = None) -> Tuple[int, str, Dict[str, str]]:
        return signed_post(f"{self.base}/{endpoint}", params, token, signed_url=signed_url, headers=headers)
