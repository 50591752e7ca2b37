"""Twilio SMS connector: ``POST /webhooks/twilio_sms/webhook`` (Twilio's "A message comes in").

What it does, beyond Rasa's own ``twilio`` channel:

* refuses (403) any request without a valid ``X-Twilio-Signature`` (see ``twilio_common``);
* answers the webhook at once with empty TwiML and handles the message in the background, so a
  slow turn never runs into Twilio's 15 s webhook timeout; messages from one sender are handled
  one at a time, in order;
* passes the sender's number, signed as proven by Twilio's signature (``channels.customer_identity``),
  in the metadata, which the action server uses to
  recognise the customer; the conversation id is the sender's number;
* sends the reply through the Twilio REST API (``TWILIO_API_URL``, so tests use a local emulator)
  as one composed reply per turn, split into SMS-sized parts, buttons as numbered options; a reply
  that is just a number picks that option (the options are read back from the conversation's
  tracker, so nothing extra is stored and a restart loses nothing);
* STOP / START / HELP: opt-outs are kept in a small SQLite file and honoured for every message,
  including ones an agent sends through Rasa's API while the conversation is handed off;
* card numbers in a customer's text are replaced before Rasa sees them, with a warning;
* a text longer than ``max_message_chars`` (credentials.yml, else ``MAX_MESSAGE_CHARS``, else 2000;
  ``channels.limits``) is answered with a request to shorten it and never reaches Rasa.

Formatting rules are in ``sms_format``.
"""
from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels import customer_identity, sms_format
from channels.limits import TOO_LONG_REPLY, MessageLimit
from channels.redaction import CARD_WARNING, redact_card_numbers
from channels.twilio_common import TwilioSettings, verify_request, warn_if_unconfigured

logger = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
TWILIO_OPTED_OUT_ERROR = 21610  # "Attempt to send to unsubscribed recipient"


class OptOutStore:
    """Numbers that replied STOP, in SQLite so an opt-out survives restarts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as conn, conn:
            conn.execute("CREATE TABLE IF NOT EXISTS sms_opt_out (phone TEXT PRIMARY KEY, opted_out_at REAL NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(str(self.path), timeout=5)

    def is_opted_out(self, phone: str) -> bool:
        with closing(self._connect()) as conn:
            return conn.execute("SELECT 1 FROM sms_opt_out WHERE phone = ?", (phone,)).fetchone() is not None

    def opt_out(self, phone: str) -> None:
        with closing(self._connect()) as conn, conn:
            conn.execute("INSERT OR REPLACE INTO sms_opt_out (phone, opted_out_at) VALUES (?, ?)", (phone, time.time()))

    def opt_in(self, phone: str) -> None:
        with closing(self._connect()) as conn, conn:
            conn.execute("DELETE FROM sms_opt_out WHERE phone = ?", (phone,))


def default_state_db() -> Path:
    return Path(os.environ.get("TWILIO_SMS_STATE_DB") or Path(os.environ.get("VAR_DIR", "var")) / "twilio_sms.sqlite3")


class TwilioMessenger:
    """Sends messages with the Twilio library's async client, against ``settings.api_url``."""

    def __init__(self, settings: TwilioSettings, opt_outs: OptOutStore, timeout: float = 10.0) -> None:
        self.settings = settings
        self.opt_outs = opt_outs
        self.timeout = timeout
        self._client: Any = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        # Imported now, at start-up: imported by the first reply instead, they held up Rasa's
        # event loop (every conversation) for ~0.6 s (tests/limits/test_message_limits.py).
        import twilio.http.async_http_client  # noqa: F401
        import twilio.rest  # noqa: F401
        import twilio.rest.api.v2010.account.message  # noqa: F401

    def _get_client(self) -> Any:
        # Made here: aiohttp sessions belong to the event loop they were made in.
        from twilio.http.async_http_client import AsyncTwilioHttpClient
        from twilio.rest import Client

        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            client = Client(
                self.settings.account_sid,
                self.settings.auth_token,
                http_client=AsyncTwilioHttpClient(timeout=self.timeout),
            )
            client.api.base_url = self.settings.api_url
            self._client, self._loop = client, loop
        return self._client

    async def send(self, to: str, body: Optional[str] = None, media_url: Optional[str] = None) -> Optional[str]:
        """Send one message; returns its SID, or None when it could not be sent (logged)."""
        import aiohttp
        from twilio.base.exceptions import TwilioRestException

        settings = self.settings
        if not (settings.account_sid and settings.auth_token and settings.twilio_number):
            logger.error("cannot send SMS: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_NUMBER must be set")
            return None
        kwargs: Dict[str, Any] = {"to": to, "from_": settings.twilio_number}
        if body:
            kwargs["body"] = body
        if media_url:
            kwargs["media_url"] = [media_url]
        try:
            message = await self._get_client().messages.create_async(**kwargs)
        except TwilioRestException as error:
            if error.code == TWILIO_OPTED_OUT_ERROR:
                logger.info("Twilio reports that the recipient opted out; recording it")
                self.opt_outs.opt_out(to)
            else:
                logger.error("Twilio refused an SMS (HTTP %s, code %s): %s", error.status, error.code, error.msg)
            return None
        except (asyncio.TimeoutError, aiohttp.ClientError, OSError) as error:
            logger.error("could not reach the Twilio API at %s: %r", settings.api_url, error)
            return None
        return message.sid


class SmsReplyCollector(CollectingOutputChannel):
    """Collects one turn's bot messages; the input channel composes and sends them."""

    @classmethod
    def name(cls) -> Text:
        return TwilioSmsInput.name()


class TwilioSmsOutput(OutputChannel):
    """Sends bot messages outside a customer's turn (e.g. an agent's reply relayed through Rasa's
    API with ``output_channel=latest``). Each message is formatted like a turn's reply."""

    @classmethod
    def name(cls) -> Text:
        return TwilioSmsInput.name()

    def __init__(self, messenger: TwilioMessenger, opt_outs: OptOutStore, part_chars: int) -> None:
        self.messenger = messenger
        self.opt_outs = opt_outs
        self.part_chars = part_chars

    async def deliver(self, recipient_id: Text, messages: List[Dict[str, Any]]) -> None:
        await send_reply(self.messenger, self.opt_outs, recipient_id, messages, self.part_chars)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self.deliver(recipient_id, [{"text": text}])

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        await self.deliver(recipient_id, [{"text": text, "buttons": buttons}])

    async def send_quick_replies(
        self, recipient_id: Text, text: Text, quick_replies: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        await self.deliver(recipient_id, [{"text": text, "buttons": quick_replies}])

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        if not self.opt_outs.is_opted_out(recipient_id):
            await self.messenger.send(recipient_id, media_url=image)

    async def send_attachment(self, recipient_id: Text, attachment: Text, **kwargs: Any) -> None:  # type: ignore[override]
        await self.deliver(recipient_id, [{"text": str(attachment)}])

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any) -> None:
        if json_message.get("text"):
            await self.deliver(recipient_id, [{"text": str(json_message["text"])}])
        else:
            logger.debug("custom JSON without text is not sent by SMS")


async def send_reply(
    messenger: TwilioMessenger, opt_outs: OptOutStore, phone: str, messages: List[Dict[str, Any]], part_chars: int
) -> int:
    """Compose, split and send one reply; nothing goes to a number that opted out. Returns parts sent."""
    if opt_outs.is_opted_out(phone):
        logger.info("not texting a number that replied STOP")
        return 0
    text, _ = sms_format.compose_turn(messages)
    sent = 0
    for part in sms_format.split_message(text, part_chars):
        if await messenger.send(phone, part):
            sent += 1
    for message in messages:
        if message.get("image"):
            await messenger.send(phone, media_url=str(message["image"]))
    return sent


def last_buttons(tracker: Any) -> List[Dict[str, Any]]:
    """The buttons of the bot's latest message with buttons since the customer's last message."""
    if tracker is None:
        return []
    for event in reversed(tracker.events):
        name = type(event).__name__
        if name == "UserUttered":
            return []
        if name == "BotUttered":
            data = getattr(event, "data", None) or {}
            buttons = data.get("buttons") or data.get("quick_replies")
            if buttons:
                return list(buttons)
    return []


class TwilioSmsInput(InputChannel):
    """Rasa input channel for Twilio Programmable Messaging (SMS)."""

    @classmethod
    def name(cls) -> Text:
        return "twilio_sms"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        credentials = credentials or {}
        state_db = credentials.get("state_db")
        return cls(
            settings=TwilioSettings.from_credentials(credentials),
            part_chars=int(credentials.get("part_chars") or sms_format.DEFAULT_PART_CHARS),
            help_text=credentials.get("help_text") or sms_format.DEFAULT_HELP_TEXT,
            stop_text=credentials.get("stop_text") or sms_format.DEFAULT_STOP_TEXT,
            start_text=credentials.get("start_text") or sms_format.DEFAULT_START_TEXT,
            state_db=Path(state_db) if state_db else default_state_db(),
            message_limit=MessageLimit.resolve(credentials),
        )

    def __init__(
        self,
        settings: TwilioSettings,
        part_chars: int = sms_format.DEFAULT_PART_CHARS,
        help_text: str = sms_format.DEFAULT_HELP_TEXT,
        stop_text: str = sms_format.DEFAULT_STOP_TEXT,
        start_text: str = sms_format.DEFAULT_START_TEXT,
        state_db: Optional[Path] = None,
        message_limit: Optional[MessageLimit] = None,
    ) -> None:
        self.settings = settings
        self.message_limit = message_limit or MessageLimit.resolve()
        self.part_chars = part_chars
        self.help_text = help_text
        self.stop_text = stop_text
        self.start_text = start_text
        self.opt_outs = OptOutStore(state_db or default_state_db())
        self.messenger = TwilioMessenger(settings, self.opt_outs)
        self._locks: Dict[str, asyncio.Lock] = {}
        self._pending: Dict[str, int] = {}
        self._tasks: Set["asyncio.Task[None]"] = set()
        warn_if_unconfigured(self.name(), settings)

    def get_output_channel(self) -> OutputChannel:
        return TwilioSmsOutput(self.messenger, self.opt_outs, self.part_chars)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("twilio_sms_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not verify_request(request, self.settings):
                return response.text("invalid Twilio signature", status=403)
            sender = (request.form.get("From") or "").strip()
            body = request.form.get("Body") or ""
            if not sender:
                return response.text("missing From", status=400)
            agent = getattr(request.app.ctx, "agent", None)
            task = asyncio.ensure_future(self._handle(sender, body, on_new_message, agent))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return response.text(EMPTY_TWIML, content_type="text/xml")

        return webhook

    async def _handle(self, sender: str, body: str, on_new_message: Callable[[UserMessage], Awaitable[Any]], agent: Any) -> None:
        """One sender's messages are handled one at a time, in arrival order."""
        lock = self._locks.setdefault(sender, asyncio.Lock())
        self._pending[sender] = self._pending.get(sender, 0) + 1
        try:
            async with lock:
                await self._handle_in_order(sender, body, on_new_message, agent)
        except Exception:  # noqa: BLE001 - a background task must log its failure, not vanish
            logger.exception("failed to handle an SMS")
        finally:
            self._pending[sender] -= 1
            if not self._pending[sender]:
                del self._pending[sender]
                del self._locks[sender]

    async def _handle_in_order(
        self, sender: str, body: str, on_new_message: Callable[[UserMessage], Awaitable[Any]], agent: Any
    ) -> None:
        if self.message_limit.exceeds(body):  # before anything reads the text (keywords, redaction, Rasa)
            self.message_limit.log_refusal(self.name(), sender, len(body))
            if not self.opt_outs.is_opted_out(sender):
                await send_reply(self.messenger, self.opt_outs, sender, [{"text": TOO_LONG_REPLY}], self.part_chars)
            return
        keyword = sms_format.keyword_of(body)
        opted_out = self.opt_outs.is_opted_out(sender)
        if keyword in sms_format.OPT_OUT_KEYWORDS:
            if not opted_out:
                # The one message a carrier allows after STOP: the confirmation.
                await self.messenger.send(sender, self.stop_text)
                self.opt_outs.opt_out(sender)
            return
        if keyword in sms_format.OPT_IN_KEYWORDS or (opted_out and keyword in sms_format.OPT_IN_WHEN_OPTED_OUT):
            self.opt_outs.opt_in(sender)
            await self.messenger.send(sender, self.start_text)
            return
        if opted_out:
            logger.info("ignoring a text from a number that replied STOP (until it replies START)")
            return
        if keyword in sms_format.HELP_KEYWORDS:
            await self.messenger.send(sender, self.help_text)
            return
        if not body.strip():  # a picture or an empty message: nothing the assistant can read
            await send_reply(self.messenger, self.opt_outs, sender, [{"text": sms_format.NO_TEXT_REPLY}], self.part_chars)
            return

        tracker = await agent.tracker_store.retrieve(sender) if agent is not None else None
        payload = sms_format.choice_payload(body, last_buttons(tracker))
        text, redacted = (payload, 0) if payload else redact_card_numbers(body)
        # the number is proven by Twilio's signature on the webhook, so it is attested (a weaker
        # identity than a token: account changes still ask for a second factor)
        metadata: Dict[str, Any] = customer_identity.with_identity(
            {"channel": "sms"}, conversation_id=sender, channel=self.name(), phone=sender)
        if redacted:
            metadata["card_number_removed"] = True
        collector = SmsReplyCollector()
        await on_new_message(UserMessage(text, collector, sender, input_channel=self.name(), metadata=metadata))
        messages = [{"text": CARD_WARNING}] if redacted else []
        messages += [
            {"text": m.get("text"), "buttons": m.get("buttons") or m.get("quick_replies"), "image": m.get("image")}
            for m in collector.messages
        ]
        await send_reply(self.messenger, self.opt_outs, sender, messages, self.part_chars)
