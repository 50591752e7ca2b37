"""Bounded work per message (issue 18): the longest customer message any channel hands to Rasa.

A message longer than the limit is not processed at all: Rasa is not asked to parse it (no NLU,
no tracker event, no action call). The customer gets ``TOO_LONG_REPLY`` on the same channel and
the operator a warning in Rasa's log::

    message limit: a 1000000-character message on rest from conversation 'c-42' was not processed (limit 2000 characters, MAX_MESSAGE_CHARS)

Why refuse rather than cut at a sentence boundary: a cut message is a different message (the
question is often at the end, after the story), and the bot would answer it confidently; asking
for the key question costs the customer one message and never answers the wrong thing.

Where the limit comes from, first found wins:

1. the channel's ``max_message_chars`` in credentials.yml (the Twilio SMS and voice channels read
   it; REST and Socket.IO keep Rasa's own ``from_credentials`` and take the next two);
2. the ``MAX_MESSAGE_CHARS`` environment variable of the Rasa process;
3. ``DEFAULT_MAX_MESSAGE_CHARS`` (2000).

0 turns the limit off (not recommended: see docs/operations.md, "Limits").

Usage: ``limit_length(on_new_message)`` wraps the handler a channel hands its messages to (REST,
Socket.IO), like ``channels.redacting.redact_before``; it must be the outermost wrapper, so card
redaction (a regex over the whole text) never sees an oversized message either. A channel that
reads the text before that handler (the Twilio connectors parse keywords and choices first)
calls ``MessageLimit.exceeds`` itself before touching the text.

No Rasa or Sanic import, so it runs (and is tested) in either environment.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping, Optional

logger = logging.getLogger(__name__)

DEFAULT_MAX_MESSAGE_CHARS = 2000
ENV_VAR = "MAX_MESSAGE_CHARS"
CREDENTIALS_KEY = "max_message_chars"

TOO_LONG_REPLY = (
    "That message is too long for me to read — could you shorten it to the key question? "
    "If you'd like to send us the full details, I can connect you with a person."
)


def _as_limit(value: Any, source: str) -> Optional[int]:
    if value in (None, ""):
        return None
    try:
        limit = int(value)
    except (TypeError, ValueError):
        logger.error("message limit: %s=%r is not a whole number; using the default %d", source, value,
                     DEFAULT_MAX_MESSAGE_CHARS)
        return None
    return max(0, limit)


@dataclass(frozen=True)
class MessageLimit:
    """The longest message (in characters) a channel hands to Rasa; 0 means no limit."""

    max_chars: int = DEFAULT_MAX_MESSAGE_CHARS
    source: str = "default"

    @classmethod
    def resolve(cls, credentials: Optional[Mapping[str, Any]] = None,
                environ: Optional[Mapping[str, str]] = None) -> "MessageLimit":
        environ = os.environ if environ is None else environ
        configured = _as_limit((credentials or {}).get(CREDENTIALS_KEY), f"credentials {CREDENTIALS_KEY}")
        if configured is not None:
            return cls(configured, f"credentials.yml {CREDENTIALS_KEY}")
        from_env = _as_limit(environ.get(ENV_VAR), ENV_VAR)
        if from_env is not None:
            return cls(from_env, ENV_VAR)
        return cls(DEFAULT_MAX_MESSAGE_CHARS, "default")

    def exceeds(self, text: Optional[str]) -> bool:
        return bool(self.max_chars) and len(text or "") > self.max_chars

    def log_refusal(self, channel: str, sender_id: Optional[str], length: int) -> None:
        logger.warning(
            "message limit: a %d-character message on %s from conversation %s was not processed "
            "(limit %d characters, %s)", length, channel, _printable_sender(sender_id), self.max_chars, self.source,
        )


def _printable_sender(sender_id: Optional[str]) -> str:
    """The conversation id for the log; a phone number (SMS) keeps only its last four digits."""
    sender = str(sender_id or "")
    if sender.startswith("+") and sender[1:].isdigit():
        return repr("+…" + sender[-4:])
    return repr(sender[:80])


MessageHandler = Callable[[Any], Awaitable[Any]]


def limit_length(on_new_message: MessageHandler, limit: Optional[MessageLimit] = None,
                 reply: str = TOO_LONG_REPLY) -> MessageHandler:
    """Wrap a channel's message handler: an over-long ``UserMessage`` gets ``reply`` on its output
    channel and never reaches ``on_new_message`` (so never Rasa)."""
    limit = limit or MessageLimit.resolve()

    async def handler(message: Any) -> Any:
        text = message.text or ""
        if not limit.exceeds(text):
            return await on_new_message(message)
        limit.log_refusal(message.input_channel or "?", message.sender_id, len(text))
        if message.output_channel is not None:
            await message.output_channel.send_text_message(message.sender_id, reply)
        return None

    return handler
