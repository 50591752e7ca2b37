"""The Twilio Voice connector against the running stack: TwiML parsed and checked, transfers."""
from __future__ import annotations

import json
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from typing import Dict, Optional

import pytest

from tests.conftest import rasa_tracker
from tests.channels.conftest import ACCOUNT_SID, JANE_PHONE, SUPPORT_NUMBER, TWILIO_NUMBER, TwilioWebhook

pytestmark = pytest.mark.e2e


class Call:
    """One phone call, driven the way Twilio drives it: follow each <Gather>'s action URL."""

    def __init__(self, voice: TwilioWebhook, caller: str = JANE_PHONE) -> None:
        self.voice = voice
        self.sid = "CA" + uuid.uuid4().hex
        self.caller = caller
        self.next_action: Optional[str] = None

    def params(self, **extra: str) -> Dict[str, str]:
        return {"CallSid": self.sid, "AccountSid": ACCOUNT_SID, "From": self.caller, "To": TWILIO_NUMBER,
                "CallStatus": "in-progress", "Direction": "inbound", **extra}

    def _twiml(self, endpoint: str, params: Dict[str, str]) -> ET.Element:
        status, body, headers = self.voice.post(endpoint, params)
        assert status == 200, body
        assert headers.get("content-type", "").startswith("text/xml")
        root = ET.fromstring(body)
        assert root.tag == "Response"
        gather = root.find("Gather")
        self.next_action = gather.get("action") if gather is not None else None
        return root

    def answer(self) -> ET.Element:
        return self._twiml("webhook", self.params(CallStatus="ringing"))

    def respond(self, speech: str = "", digits: str = "") -> ET.Element:
        assert self.next_action, "the previous TwiML did not listen"
        endpoint = self.next_action.split("/webhooks/twilio_voice/", 1)[1]
        extra = {}
        if speech:
            extra.update(SpeechResult=speech, Confidence="0.92")
        if digits:
            extra["Digits"] = digits
        return self._twiml(endpoint, self.params(**extra))


def said(root: ET.Element) -> str:
    return " ".join(say.text or "" for say in root.iter("Say"))


@pytest.fixture
def voice(stack) -> TwilioWebhook:
    return TwilioWebhook(stack.config.rasa_url, "twilio_voice")


def tracker(stack, sid: str) -> dict:
    return rasa_tracker(stack.config.rasa_url, sid, stack.env["RASA_API_TOKEN"])


def test_unsigned_and_forged_requests_are_refused(voice):
    params = {"CallSid": "CA" + uuid.uuid4().hex, "From": JANE_PHONE, "To": TWILIO_NUMBER}
    assert voice.post("webhook", params, token=None)[0] == 403
    assert voice.post("webhook", params, token="wrong")[0] == 403
    assert voice.post("gather?silence=0&nomatch=0", {**params, "Digits": "0"}, token=None)[0] == 403
    assert voice.post("dial_status", {**params, "DialCallStatus": "completed"}, token=None)[0] == 403


def test_signature_honours_forwarded_proto(voice):
    params = {"CallSid": "CA" + uuid.uuid4().hex, "From": JANE_PHONE, "To": TWILIO_NUMBER, "CallStatus": "ringing"}
    public = "https://voice.brightcart.example/webhooks/twilio_voice/webhook"
    proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "voice.brightcart.example"}
    assert voice.post("webhook", params, signed_url=public, headers=proxy)[0] == 200
    assert voice.post("webhook", params, signed_url=public)[0] == 403


def test_a_call_greets_listens_and_answers_an_order_question(voice, stack):
    call = Call(voice)
    greeting = call.answer()
    gather = greeting.find("Gather")
    assert gather is not None, "the caller is listened to"
    assert set(gather.get("input").split()) == {"speech", "dtmf"}
    assert gather.get("action").startswith("/webhooks/twilio_voice/gather")
    assert gather.findall("Say") and "press 0" in said(greeting).lower()

    answer = call.respond(speech="where is my order BC 100002")
    spoken = said(answer)
    assert "UPS" in spoken and "on its way" in spoken
    assert "http" not in spoken and "*" not in spoken, "spoken replies carry no URLs or markdown"
    assert "B C 1 0 0 0 0 2" in spoken, "order numbers are read character by character"
    assert answer.find("Gather") is not None and answer.find("Dial") is None

    state = tracker(stack, call.sid)
    assert state["slots"].get("customer_id") == "C0001", "the caller's number identified the customer"
    assert state["latest_input_channel"] == "twilio_voice"


def test_buttons_are_read_as_numbered_choices_and_a_key_picks_one(voice, stack):
    call = Call(voice)
    call.answer()
    asked = said(call.respond(speech="I want to change my membership plan"))
    # the caller's number is a weaker identity: a plan change first confirms the account email
    assert "email address on your Brightcart account" in asked, asked
    menu = call.respond(speech="jane.doe@example.com")
    spoken = said(menu)
    assert "Press or say 1 for" in spoken and "Premium" in spoken, spoken
    number = next(i for i, part in enumerate(spoken.split("Press or say ")[1:], 1) if part.split(" for ", 1)[1].startswith("Premium"))
    call.respond(digits=str(number))
    user_texts = [e["text"] for e in tracker(stack, call.sid)["events"] if e["event"] == "user"]
    assert user_texts[-1] == '/inform{"plan": "premium"}'


def test_silence_reprompts_then_says_goodbye(voice):
    call = Call(voice)
    call.answer()
    first = call.respond()
    assert "didn't hear" in said(first) and first.find("Gather") is not None
    assert "silence=1" in call.next_action
    second = call.respond()
    assert second.find("Gather") is not None
    last = call.respond()
    assert last.find("Hangup") is not None and last.find("Gather") is None
    assert "goodbye" in said(last).lower()


def test_pressing_zero_records_the_handoff_then_dials_the_support_line(voice, stack):
    call = Call(voice)
    call.answer()
    transfer = call.respond(digits="0")
    dial = transfer.find("Dial")
    assert dial is not None and (dial.text or "").strip() == SUPPORT_NUMBER
    assert dial.get("callerId") == TWILIO_NUMBER
    assert transfer.find("Gather") is None
    # The handoff was recorded before the transfer: ticket created, bot paused.
    state = tracker(stack, call.sid)
    assert state["slots"].get("handoff_ticket_id"), "a handoff ticket exists"
    assert state["paused"] is True
    actions = [e.get("name") for e in state["events"] if e["event"] == "action"]
    assert "action_handoff_to_human" in actions
    assert state["slots"]["handoff_ticket_id"].replace("-", "") in said(transfer).replace(" ", "").replace("-", "")

    # If Twilio comes back (e.g. nobody answered), the caller is told and the call ends.
    status, body, _ = voice.post("dial_status", call.params(DialCallStatus="no-answer"))
    root = ET.fromstring(body)
    assert status == 200 and root.find("Hangup") is not None and "call you back" in said(root)


def test_asking_for_a_person_transfers(voice, stack):
    call = Call(voice)
    call.answer()
    transfer = call.respond(speech="I want to talk to a person")
    assert transfer.find("Dial") is not None and transfer.find("Dial").text == SUPPORT_NUMBER
    assert tracker(stack, call.sid)["slots"].get("handoff_ticket_id")


def test_an_escalation_rule_firing_ends_in_dial(voice, stack):
    call = Call(voice)
    call.answer()
    # A billing dispute always goes to a person (data/rules/escalation.yml).
    transfer = call.respond(speech="I was charged twice for my order and I want to dispute the charge")
    assert transfer.find("Dial") is not None, said(transfer)
    state = tracker(stack, call.sid)
    assert state["slots"].get("handoff_ticket_id") and state["paused"] is True


def test_a_spoken_card_number_is_not_stored(voice, stack):
    call = Call(voice)
    call.answer()
    reply = call.respond(speech="my card number is 4111 1111 1111 1111")
    assert "card numbers" in said(reply)
    stored = json.dumps(tracker(stack, call.sid)["events"])
    assert "4111 1111 1111 1111" not in stored and "[card ending 1111]" in stored
