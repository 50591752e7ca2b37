"""Card numbers are replaced before Rasa stores a message; other numbers are not."""
from __future__ import annotations

import json

import pytest

from channels.redaction import redact_card_numbers


@pytest.mark.parametrize("text, expected, count", [
    ("my card is 4111 1111 1111 1111 thanks", "my card is [card ending 1111] thanks", 1),
    ("5500-0000-0000-0004", "[card ending 0004]", 1),
    ("amex 378282246310005 and visa 4012888888881881", "amex [card ending 0005] and visa [card ending 1881]", 2),
    ("4111 1111 1111 1112", "4111 1111 1111 1112", 0),  # fails the Luhn check
    ("where is my order BC-100002", "where is my order BC-100002", 0),
    ("call me on +1 555 555 0101", "call me on +1 555 555 0101", 0),
    ("", "", 0),
])
def test_redaction(text, expected, count):
    assert redact_card_numbers(text) == (expected, count)


def test_rest_channel_never_stores_a_pasted_card_number(chat) -> None:
    """credentials.yml enables channels.redacting.RedactingRestInput for /webhooks/rest/webhook."""
    reply = chat.say("my card 4111 1111 1111 1111 keeps getting declined")
    assert "removed a card number" in reply and "4111" not in reply
    stored = json.dumps(chat.tracker())
    assert "4111 1111 1111 1111" not in stored and "[card ending 1111]" in stored
