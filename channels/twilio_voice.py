"""Twilio Voice connector: phone calls answered by the assistant, with a real transfer to a person.

Webhooks (all ``POST``, all refused with 403 without a valid ``X-Twilio-Signature``):

* ``/webhooks/twilio_voice/webhook``  Twilio's "A call comes in": greets the caller (the bot's
  answer to ``initial_payload``, ``/greet`` by default) and listens.
* ``/webhooks/twilio_voice/gather``   where every ``<Gather>`` posts the caller's answer
  (``SpeechResult`` or ``Digits``). The query string carries the silence / no-match counters, so
  the connector keeps no per-call state of its own.
* ``/webhooks/twilio_voice/dial_status``  the ``<Dial>`` outcome: if nobody picked up, the caller
  is told the request is recorded and someone will call back.

One call is one conversation (conversation id = ``CallSid``); the caller's number goes to the
bot, signed as proven by Twilio's signature, so the action server recognises the customer.

A turn: the caller's speech (card numbers removed) or chosen option goes to Rasa; the bot's
messages are spoken (``voice_format.speakable``) inside a ``<Gather input="speech dtmf">``,
buttons read out as numbered choices. Silence: "Sorry, I didn't hear anything" and the last
question again, ``max_silence`` times, then goodbye. Not understood (``nlu_fallback`` or the
fallback responses) ``max_no_match`` times in a row: transfer.

Transfer: pressing 0, a short "agent / a person" (or anything the NLU reads as
``request_human``), or an escalation rule firing. The connector makes sure the handoff is
recorded first — it sends ``/request_human`` to Rasa itself unless ``action_handoff_to_human``
already ran in this turn — and then answers with ``<Dial>`` to the support line
(``SUPPORT_PHONE_NUMBER``). A call whose conversation is already handed off is dialled through.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence, Text, Tuple
from urllib.parse import urlencode

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels import customer_identity, voice_format
from channels.limits import MessageLimit
from channels.redaction import redact_card_numbers
from channels.twilio_common import TwilioSettings, verify_request, warn_if_unconfigured

logger = logging.getLogger(__name__)

HANDOFF_ACTION = "action_handoff_to_human"
REQUEST_HUMAN_PAYLOAD = "/request_human"
NO_MATCH_ACTIONS = frozenset({"action_default_fallback", "utter_default", "utter_ask_rephrase", "action_two_stage_fallback"})
GOODBYE_INTENTS = frozenset({"goodbye"})

DEFAULT_TEXTS = {
    "menu_hint": "You can press 0 at any time to talk to a person.",
    "silence": "Sorry, I didn't hear anything.",
    "silence_goodbye": "I still can't hear you, so I'll end the call now. Please call again or text us any time. Goodbye.",
    "no_match_option": "Sorry, that's not one of the options.",
    "transfer": "I'm connecting you with a person from our support team now.",
    "no_support_line": "Our support team will call you back as soon as possible. Goodbye.",
    "dial_failed": "Sorry, nobody from our team could take the call right now. Your request is recorded and we'll call you back. Goodbye.",
    "card_warning": "For your security, please don't read out card numbers on this call. I didn't keep it.",
    "too_long": "Sorry, that was too long for me to take in at once. Could you say just the key question? "
                "You can also press 0 to talk to a person.",
}


class VoiceReplyCollector(CollectingOutputChannel):
    @classmethod
    def name(cls) -> Text:
        return TwilioVoiceInput.name()


def _events_since_last_user(tracker: Any) -> List[Any]:
    events: List[Any] = []
    for event in reversed(getattr(tracker, "events", []) or []):
        if type(event).__name__ == "UserUttered":
            break
        events.append(event)
    return list(reversed(events))


def handoff_ran_this_turn(tracker: Any) -> bool:
    return any(getattr(e, "action_name", None) == HANDOFF_ACTION for e in _events_since_last_user(tracker))


def is_handed_off(tracker: Any) -> bool:
    """The conversation is with a person: the handoff ran this turn or the bot is paused."""
    if tracker is None:
        return False
    return handoff_ran_this_turn(tracker) or bool(tracker.is_paused())


def not_understood(tracker: Any) -> bool:
    if tracker is None:
        return False
    intent = ((tracker.latest_message.intent or {}).get("name")) if tracker.latest_message else None
    if intent == "nlu_fallback":
        return True
    return any(getattr(e, "action_name", None) in NO_MATCH_ACTIONS for e in _events_since_last_user(tracker))


def said_goodbye(tracker: Any) -> bool:
    if tracker is None or not tracker.latest_message:
        return False
    return (tracker.latest_message.intent or {}).get("name") in GOODBYE_INTENTS


def last_prompt(tracker: Any) -> List[Dict[str, Any]]:
    """The bot's messages of the latest turn, to repeat after silence."""
    messages = []
    for event in _events_since_last_user(tracker) if tracker is not None else []:
        if type(event).__name__ == "BotUttered":
            data = getattr(event, "data", None) or {}
            messages.append({"text": event.text, "buttons": data.get("buttons") or data.get("quick_replies")})
    return messages


class TwilioVoiceInput(InputChannel):
    """Rasa input channel for Twilio Programmable Voice."""

    @classmethod
    def name(cls) -> Text:
        return "twilio_voice"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        credentials = credentials or {}
        texts = dict(DEFAULT_TEXTS)
        texts.update({k: str(v) for k, v in (credentials.get("texts") or {}).items()})
        return cls(
            settings=TwilioSettings.from_credentials(credentials),
            support_number=credentials.get("support_number") or os.environ.get("SUPPORT_PHONE_NUMBER") or None,
            initial_payload=credentials.get("initial_payload") or "/greet",
            voice=credentials.get("assistant_voice") or voice_format.DEFAULT_VOICE,
            language=credentials.get("language") or voice_format.DEFAULT_LANGUAGE,
            speech_timeout=str(credentials.get("speech_timeout") or "auto"),
            speech_model=credentials.get("speech_model") or None,
            gather_timeout=int(credentials.get("gather_timeout") or 5),
            max_silence=int(credentials.get("max_silence") or 2),
            max_no_match=int(credentials.get("max_no_match") or 3),
            max_spoken_chars=int(credentials.get("max_spoken_chars") or voice_format.DEFAULT_MAX_SPOKEN_CHARS),
            texts=texts,
            message_limit=MessageLimit.resolve(credentials),
        )

    def __init__(
        self,
        settings: TwilioSettings,
        support_number: Optional[str] = None,
        initial_payload: str = "/greet",
        voice: str = voice_format.DEFAULT_VOICE,
        language: str = voice_format.DEFAULT_LANGUAGE,
        speech_timeout: str = "auto",
        speech_model: Optional[str] = None,
        gather_timeout: int = 5,
        max_silence: int = 2,
        max_no_match: int = 3,
        max_spoken_chars: int = voice_format.DEFAULT_MAX_SPOKEN_CHARS,
        texts: Optional[Dict[str, str]] = None,
        message_limit: Optional[MessageLimit] = None,
    ) -> None:
        self.settings = settings
        self.message_limit = message_limit or MessageLimit.resolve()
        self.support_number = support_number
        self.initial_payload = initial_payload
        self.voice = voice
        self.language = language
        self.speech_timeout = speech_timeout
        self.speech_model = speech_model
        self.gather_timeout = gather_timeout
        self.max_silence = max_silence
        self.max_no_match = max_no_match
        self.max_spoken_chars = max_spoken_chars
        self.texts = {**DEFAULT_TEXTS, **(texts or {})}
        warn_if_unconfigured(self.name(), settings)
        if not support_number:
            logger.warning("twilio_voice: SUPPORT_PHONE_NUMBER is not set; transfers end the call with a call-back promise")

    # --- URLs Twilio is told to come back to ---------------------------------------------------

    def _url(self, endpoint: str, **query: int) -> str:
        path = f"/webhooks/{self.name()}/{endpoint}"
        if query:
            path += "?" + urlencode(query)
        # Behind a proxy that adds a path prefix, only an absolute URL comes back to us.
        return f"{self.settings.public_url}{path}" if self.settings.public_url else path

    # --- TwiML ---------------------------------------------------------------------------------

    def _xml(self, twiml: Any) -> HTTPResponse:
        return response.text(str(twiml), content_type="text/xml")

    def _listen(self, messages: Sequence[Dict[str, Any]], *, prefix: Sequence[str] = (), suffix: Sequence[str] = (),
                silence: int = 0, no_match: int = 0) -> HTTPResponse:
        spoken, buttons = voice_format.compose_speech(messages, self.max_spoken_chars)
        sentences = [*prefix, *spoken]
        if buttons:
            sentences.append(voice_format.choices_prompt(buttons))
        sentences.extend(suffix)
        hints = ", ".join(str(b.get("title")) for b in buttons if b.get("title")) or None
        return self._xml(voice_format.gather_response(
            sentences, self._url("gather", silence=silence, nomatch=no_match),
            voice=self.voice, language=self.language, timeout=self.gather_timeout,
            speech_timeout=self.speech_timeout, speech_model=self.speech_model, hints=hints,
        ))

    def _transfer(self, messages: Sequence[Dict[str, Any]]) -> HTTPResponse:
        spoken, _ = voice_format.compose_speech(messages, self.max_spoken_chars)
        if self.support_number and not spoken:
            spoken.append(self.texts["transfer"])
        return self._xml(voice_format.dial_response(
            spoken, self.support_number, caller_id=self.settings.twilio_number, action=self._url("dial_status"),
            voice=self.voice, language=self.language, unavailable_text=self.texts["no_support_line"],
        ))

    def _goodbye(self, sentences: Sequence[str]) -> HTTPResponse:
        return self._xml(voice_format.goodbye_response(sentences, voice=self.voice, language=self.language))

    # --- talking to Rasa -----------------------------------------------------------------------

    async def _turn(self, on_new_message: Callable[[UserMessage], Awaitable[Any]], agent: Any, call_sid: str,
                    phone: Optional[str], text: str, redacted: bool = False) -> Tuple[List[Dict[str, Any]], Any]:
        collector = VoiceReplyCollector()
        metadata: Dict[str, Any] = {"channel": "voice", "call_sid": call_sid}
        if phone:  # proven by Twilio's signature on the webhook: attested as a phone identity
            metadata = customer_identity.with_identity(metadata, conversation_id=call_sid, channel=self.name(), phone=phone)
        if redacted:
            metadata["card_number_removed"] = True
        await on_new_message(UserMessage(text, collector, call_sid, input_channel=self.name(), metadata=metadata))
        messages = list(collector.messages)
        if redacted:
            messages.insert(0, {"text": self.texts["card_warning"]})
        return messages, await self._tracker(agent, call_sid)

    @staticmethod
    async def _tracker(agent: Any, call_sid: str) -> Any:
        if agent is None or getattr(agent, "tracker_store", None) is None:
            return None
        return await agent.tracker_store.retrieve(call_sid)

    async def _hand_over(self, on_new_message: Callable[[UserMessage], Awaitable[Any]], agent: Any, call_sid: str,
                         phone: Optional[str], messages: List[Dict[str, Any]], tracker: Any) -> HTTPResponse:
        """Record the handoff (unless it already is) and answer with <Dial>."""
        if not is_handed_off(tracker):
            more, tracker = await self._turn(on_new_message, agent, call_sid, phone, REQUEST_HUMAN_PAYLOAD)
            messages = [*messages, *more]
            if not is_handed_off(tracker):
                logger.error("call %s: the handoff did not run after %s; transferring anyway", call_sid, REQUEST_HUMAN_PAYLOAD)
        return self._transfer(messages)

    # --- webhooks ------------------------------------------------------------------------------

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("twilio_voice_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def incoming_call(request: Request) -> HTTPResponse:
            if not verify_request(request, self.settings):
                return response.text("invalid Twilio signature", status=403)
            call_sid, phone = request.form.get("CallSid"), request.form.get("From")
            if not call_sid:
                return response.text("missing CallSid", status=400)
            agent = getattr(request.app.ctx, "agent", None)
            tracker = await self._tracker(agent, call_sid)
            if tracker is not None and tracker.is_paused():
                return self._transfer([])
            messages, tracker = await self._turn(on_new_message, agent, call_sid, phone, self.initial_payload)
            if is_handed_off(tracker):
                return self._transfer(messages)
            return self._listen(messages, suffix=[self.texts["menu_hint"]])

        @webhook.route("/gather", methods=["POST"])
        async def gathered(request: Request) -> HTTPResponse:
            if not verify_request(request, self.settings):
                return response.text("invalid Twilio signature", status=403)
            call_sid, phone = request.form.get("CallSid"), request.form.get("From")
            if not call_sid:
                return response.text("missing CallSid", status=400)
            speech = request.form.get("SpeechResult") or ""
            digits = request.form.get("Digits") or ""
            silence = _int(request.args.get("silence"))
            no_match = _int(request.args.get("nomatch"))
            agent = getattr(request.app.ctx, "agent", None)
            tracker = await self._tracker(agent, call_sid)

            if tracker is not None and tracker.is_paused():
                return self._transfer([])
            if self.message_limit.exceeds(speech) or self.message_limit.exceeds(digits):
                # before anything reads it (transfer phrases, choices, redaction, Rasa): ask again
                self.message_limit.log_refusal(self.name(), call_sid, max(len(speech), len(digits)))
                return self._listen(last_prompt(tracker), prefix=[self.texts["too_long"]], silence=silence, no_match=no_match)
            speech, digits = speech.strip(), digits.strip()
            if digits == "0" or (not digits and voice_format.asks_for_person(speech)):
                return await self._hand_over(on_new_message, agent, call_sid, phone, [], tracker)

            if not speech and not digits:
                if silence + 1 > self.max_silence:
                    return self._goodbye([self.texts["silence_goodbye"]])
                return self._listen(last_prompt(tracker), prefix=[self.texts["silence"]], silence=silence + 1, no_match=no_match)

            choice = voice_format.spoken_choice(speech, digits, _last_buttons(tracker))
            if digits and not choice:  # a key that is not one of the options
                if no_match + 1 >= self.max_no_match:
                    return await self._hand_over(on_new_message, agent, call_sid, phone, [], tracker)
                return self._listen(last_prompt(tracker), prefix=[self.texts["no_match_option"]], no_match=no_match + 1)

            text, redacted = (choice, 0) if choice else redact_card_numbers(speech)
            messages, tracker = await self._turn(on_new_message, agent, call_sid, phone, text, bool(redacted))
            if is_handed_off(tracker):
                return self._transfer(messages)
            if not_understood(tracker):
                no_match += 1
                if no_match >= self.max_no_match:
                    return await self._hand_over(on_new_message, agent, call_sid, phone, messages, tracker)
            else:
                no_match = 0
            if said_goodbye(tracker):
                spoken, _ = voice_format.compose_speech(messages, self.max_spoken_chars)
                return self._goodbye(spoken)
            return self._listen(messages, no_match=no_match)

        @webhook.route("/dial_status", methods=["POST"])
        async def dial_status(request: Request) -> HTTPResponse:
            if not verify_request(request, self.settings):
                return response.text("invalid Twilio signature", status=403)
            if request.form.get("DialCallStatus") in ("completed", "answered"):
                return self._goodbye([])
            return self._goodbye([self.texts["dial_failed"]])

        return webhook


def _last_buttons(tracker: Any) -> List[Dict[str, Any]]:
    for message in reversed(last_prompt(tracker)):
        if message.get("buttons"):
            return list(message["buttons"])
    return []


def _int(value: Optional[str]) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0
