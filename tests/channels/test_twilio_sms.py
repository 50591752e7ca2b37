"""The Twilio SMS connector against the running stack, with replies caught by the Twilio emulator."""
from __future__ import annotations

import json
import re
import urllib.request

import pytest

from tests.conftest import api_token_query, rasa_tracker
from tests.channels.conftest import ACCOUNT_SID, JANE_PHONE, OMAR_PHONE, TWILIO_NUMBER, TwilioWebhook, unknown_phone

pytestmark = pytest.mark.e2e


@pytest.fixture
def sms(stack) -> TwilioWebhook:
    return TwilioWebhook(stack.config.rasa_url, "twilio_sms")


def inbound(sender: str, body: str) -> dict:
    return {"From": sender, "To": TWILIO_NUMBER, "Body": body, "AccountSid": ACCOUNT_SID,
            "MessageSid": "SM" + re.sub(r"\D", "", sender) + str(abs(hash(body)) % 10**8), "NumMedia": "0"}


def text(sms, twilio, sender: str, body: str, expect: int = 1, timeout: float = 90) -> str:
    """Text the bot and return its reply (all parts joined)."""
    before = len(twilio.messages_to(sender))
    status, answer, headers = sms.post("webhook", inbound(sender, body))
    assert status == 200 and "<Response" in answer and "<Message" not in answer, answer
    assert headers.get("content-type", "").startswith("text/xml")
    twilio.wait_for_messages(sender, expect, timeout=timeout, since=before)
    received = twilio.wait_for_quiet(sender, quiet=1.5)[before:]
    assert all(m.from_ == TWILIO_NUMBER for m in received)
    return "\n".join(m.body for m in received)


def tracker(stack, sender: str) -> dict:
    return rasa_tracker(stack.config.rasa_url, sender, stack.env["RASA_API_TOKEN"])


def test_unsigned_and_forged_requests_are_refused(sms, twilio):
    sender = unknown_phone()
    assert sms.post("webhook", inbound(sender, "hi"), token=None)[0] == 403
    assert sms.post("webhook", inbound(sender, "hi"), token="not-the-auth-token")[0] == 403
    # Signed for another URL (a replay against a different endpoint) does not count either.
    assert sms.post("webhook", inbound(sender, "hi"), signed_url="http://127.0.0.1:1/other")[0] == 403
    assert twilio.messages_to(sender) == []


def test_signature_is_checked_against_the_public_url_behind_a_proxy(sms, twilio):
    sender = unknown_phone()
    public = "https://support.brightcart.example/webhooks/twilio_sms/webhook"
    proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "support.brightcart.example"}
    status, _, _ = sms.post("webhook", inbound(sender, "HELP"), signed_url=public, headers=proxy)
    assert status == 200
    assert "STOP" in twilio.wait_for_messages(sender, 1)[0].body
    # Without the proxy's headers the same signature is for a URL this request did not come to.
    assert sms.post("webhook", inbound(sender, "HELP"), signed_url=public)[0] == 403


def test_order_status_conversation_recognises_the_customer_by_phone(sms, twilio, stack):
    reply = text(sms, twilio, JANE_PHONE, "where is my order BC-100002")
    assert "UPS" in reply and "BC-100002" in reply
    assert "email" not in reply.lower(), "the phone number identified the customer: no verification asked"
    state = tracker(stack, JANE_PHONE)
    assert state["slots"].get("customer_id") == "C0001"
    user_events = [e for e in state["events"] if e["event"] == "user"]
    # the number is attested by the channel (signed), after Twilio's signature was checked
    assert user_events[-1]["metadata"]["identity"]["phone"] == JANE_PHONE
    assert user_events[-1]["metadata"]["identity"]["method"] == "phone"
    assert user_events[-1]["input_channel"] == "twilio_sms"


def test_buttons_become_numbered_options_and_a_digit_picks_one(sms, twilio, stack):
    sender = OMAR_PHONE  # a known customer, by phone: a plan change first confirms the account email
    reply = text(sms, twilio, sender, "I want to change my membership plan")
    assert "email address on your brightcart account" in reply.lower(), reply
    reply = text(sms, twilio, sender, "omar.haddad@example.com")
    options = dict(re.findall(r"^(\d)\) (.+)$", reply, flags=re.MULTILINE))
    assert "Reply with a number" in reply and len(options) >= 2, reply
    choice = next(number for number, title in options.items() if title.strip().lower() == "premium")
    text(sms, twilio, sender, choice)
    user_texts = [e["text"] for e in tracker(stack, sender)["events"] if e["event"] == "user"]
    assert user_texts[-1] == '/inform{"plan": "premium"}', "the digit was sent to Rasa as the button's payload"


def test_long_replies_are_split_into_numbered_parts(sms, twilio):
    sender = unknown_phone()
    reply_parts_before = len(twilio.messages_to(sender))
    text(sms, twilio, sender, "What is your return policy for items bought on sale and how do refunds work?")
    parts = twilio.messages_to(sender)[reply_parts_before:]
    assert all(len(p.body) <= 320 for p in parts)
    if len(parts) > 1:
        assert [p.body.split(" ", 1)[0] for p in parts] == [f"({i}/{len(parts)})" for i in range(1, len(parts) + 1)]


def test_stop_help_start(sms, twilio):
    sender = unknown_phone()
    assert "STOP" in text(sms, twilio, sender, "HELP")
    assert "unsubscribed" in text(sms, twilio, sender, "STOP").lower()
    # After STOP nothing is sent, whatever the customer writes.
    before = len(twilio.messages_to(sender))
    assert sms.post("webhook", inbound(sender, "where is my order BC-100002"))[0] == 200
    assert sms.post("webhook", inbound(sender, "STOP"))[0] == 200
    assert len(twilio.wait_for_quiet(sender, quiet=4)) == before
    assert "subscribed" in text(sms, twilio, sender, "START").lower()
    assert text(sms, twilio, sender, "hello")


def test_card_numbers_never_reach_the_tracker(sms, twilio, stack):
    sender = unknown_phone()
    reply = text(sms, twilio, sender, "my card 4111 1111 1111 1111 was declined")
    assert "card number" in reply.lower()
    stored = json.dumps(tracker(stack, sender)["events"])
    assert "4111 1111 1111 1111" not in stored and "[card ending 1111]" in stored


def test_messages_sent_later_through_rasas_api_go_out_by_sms(sms, twilio, stack):
    """An agent's reply or a follow-up sent with output_channel=latest reaches the phone."""
    sender = unknown_phone()
    text(sms, twilio, sender, "hello")
    before = len(twilio.messages_to(sender))
    request = urllib.request.Request(
        f"{stack.config.rasa_url}/conversations/{sender}/execute?output_channel=latest&{api_token_query(stack)}",
        data=json.dumps({"name": "utter_anything_else"}).encode(), headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200
    sent = twilio.wait_for_messages(sender, 1, since=before)
    assert "anything else" in sent[0].body.lower()


def test_a_picture_without_text_gets_a_polite_answer(sms, twilio):
    sender = unknown_phone()
    params = {**inbound(sender, ""), "NumMedia": "1", "MediaUrl0": "https://api.twilio.com/media/ME1"}
    assert sms.post("webhook", params)[0] == 200
    assert "only read text" in twilio.wait_for_messages(sender, 1)[0].body


def test_a_phone_number_alone_cannot_change_the_account(sms, twilio, stack):
    """The caller's number is a weaker identity: reading orders is fine, but an account change
    asks for the email on the account first, and a wrong one changes nothing."""
    sender = JANE_PHONE
    reply = text(sms, twilio, sender, "please cancel my order BC-100001")
    assert "email address on your brightcart account" in reply.lower(), reply
    reply = text(sms, twilio, sender, "someone.else@example.org")
    assert "isn't the email address on your account" in reply, reply
    slots = tracker(stack, sender)["slots"]
    assert not slots.get("second_factor") and not slots.get("confirmed")
    reply = text(sms, twilio, sender, "jane.doe@example.com")
    assert "matches your account" in reply, reply
    assert tracker(stack, sender)["slots"].get("second_factor") is True
    text(sms, twilio, sender, "never mind, forget it")  # leave the flow without cancelling anything
