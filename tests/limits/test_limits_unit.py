"""channels/limits.py on its own: where the limit comes from, and what the wrapper does."""
from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace

from channels.limits import DEFAULT_MAX_MESSAGE_CHARS, TOO_LONG_REPLY, MessageLimit, limit_length


def test_limit_comes_from_credentials_then_environment_then_default():
    assert MessageLimit.resolve({}, {}).max_chars == DEFAULT_MAX_MESSAGE_CHARS == 2000
    assert MessageLimit.resolve({}, {"MAX_MESSAGE_CHARS": "500"}) == MessageLimit(500, "MAX_MESSAGE_CHARS")
    assert MessageLimit.resolve({"max_message_chars": 300}, {"MAX_MESSAGE_CHARS": "500"}).max_chars == 300
    assert MessageLimit.resolve({}, {"MAX_MESSAGE_CHARS": "lots"}).max_chars == DEFAULT_MAX_MESSAGE_CHARS
    assert not MessageLimit(0).exceeds("a" * 10_000_000)  # 0: no limit
    assert MessageLimit(5).exceeds("abcdef") and not MessageLimit(5).exceeds("abcde")
    assert not MessageLimit(5).exceeds(None)


class Output:
    def __init__(self) -> None:
        self.sent = []

    async def send_text_message(self, recipient_id, text, **kwargs):
        self.sent.append((recipient_id, text))


def _message(text: str, sender: str = "c-1") -> SimpleNamespace:
    return SimpleNamespace(text=text, sender_id=sender, output_channel=Output(), input_channel="rest")


def test_a_long_message_gets_the_reply_and_never_reaches_rasa(caplog):
    reached = []

    async def on_new_message(message):
        reached.append(message.text)

    handler = limit_length(on_new_message, MessageLimit(10))
    short, long = _message("0123456789"), _message("0123456789x", sender="+15555550101")
    with caplog.at_level(logging.WARNING, logger="channels.limits"):
        asyncio.run(handler(short))
        asyncio.run(handler(long))
    assert reached == ["0123456789"]
    assert short.output_channel.sent == []
    assert long.output_channel.sent == [("+15555550101", TOO_LONG_REPLY)]
    line = caplog.records[-1].getMessage()
    assert "11-character message on rest" in line and "limit 10" in line
    assert "0101" in line and "5555550101" not in line  # a phone number is not logged whole
