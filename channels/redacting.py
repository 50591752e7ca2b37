"""Card-number redaction for any Rasa input channel, and a redacting REST channel.

``redact_before(on_new_message)`` wraps the handler a channel hands its messages to: a customer
text with a payment card number in it reaches Rasa (and so the tracker store, the event broker
and the action server) with the number replaced by ``[card ending 1234]``, carries
``card_number_removed: true`` in its metadata, and the customer is told first, on the same
channel, not to share card numbers.

``RedactingRestInput`` is Rasa's REST channel (same name, same URL ``/webhooks/rest/webhook``)
with that wrapper; credentials.yml enables it in place of ``rest:``.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint

from channels.limits import limit_length
from channels.redaction import CARD_WARNING, redact_card_numbers

MessageHandler = Callable[[UserMessage], Awaitable[Any]]


def redact_message(message: UserMessage) -> int:
    """Replace card numbers in the message in place; how many were replaced."""
    text, count = redact_card_numbers(message.text or "")
    if count:
        message.text = text
        message.metadata = {**(message.metadata or {}), "card_number_removed": True}
    return count


def redact_before(on_new_message: MessageHandler) -> MessageHandler:
    async def handler(message: UserMessage) -> Any:
        if redact_message(message) and message.output_channel is not None:
            await message.output_channel.send_text_message(message.sender_id, CARD_WARNING)
        return await on_new_message(message)

    return handler


class RedactingRestInput(RestInput):
    """Rasa's REST channel, with card numbers removed before Rasa stores the message."""

    @classmethod
    def name(cls) -> Text:
        return "rest"

    def blueprint(self, on_new_message: MessageHandler) -> Blueprint:
        return super().blueprint(limit_length(redact_before(on_new_message)))  # limits: channels/limits.py
