"""Injection through the real stack: a customer on Rasa's REST channel puts Slack mentions,
disguised links, formatting and code-fence breakouts in everything they control (sender id,
channel name, metadata, an entity value, their messages before and during the handoff); what the
Slack emulator receives must show all of it literally and form none of it.

The stack is reached only through the shared fixtures (tests/handoff/conftest.py: ``slack_stack``,
``stack_slack``, ``customer``) so changes to how the stack is addressed are made in one place.
"""
from __future__ import annotations

import json
import uuid
from typing import Any, Dict, List

import pytest

from actions import slack_text
from tests.channels.conftest import SUPPORT_NUMBER, TwilioWebhook, unknown_phone
from tests.channels.test_twilio_voice import Call
from tests.handoff.conftest import CHANNEL, wait_for
from tests.security.conftest import posted_case_for
from tests.security.slack_checks import HOSTILE, assert_safe

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

HANDOFF_STARTED = "I'm bringing in a person from our support team"


def payloads_for(slack, ts: str) -> List[Dict[str, Any]]:
    """Every chat.postMessage / chat.update that Slack accepted for this case (message + thread)."""
    found = []
    for call in slack.calls_to("chat.postMessage") + slack.calls_to("chat.update"):
        params = dict(call.params)
        if isinstance(params.get("blocks"), str):
            params["blocks"] = json.loads(params["blocks"])
        response = call.response or {}
        if response.get("ok") and ts in (response.get("ts"), params.get("ts"), params.get("thread_ts")):
            found.append(params)
    return found


def test_hostile_customer_input_reaches_slack_escaped_and_inert(slack_stack, stack_slack, customer):
    stack_slack.set_mode("ok")
    token = uuid.uuid4().hex[:10]
    # The REST channel refuses sender ids with markup (tests/security/test_identity.py) and never
    # takes the client's input_channel; what is left a client controls goes in here.
    customer.sender = f"inj-{token}-@channel_x.y"
    channel = f"rest<!here>*x*```"
    metadata = {"customer_id": "<!channel>", "note": HOSTILE}

    replies = [customer.say(f"my parcel never arrived and nobody answers {HOSTILE}", metadata, input_channel=channel)]
    replies.append(customer.say('/inform{"order_id": "BC-1<!channel>*x*```"}', metadata, input_channel=channel))
    replies.append(customer.say(f"I want to talk to a person now {HOSTILE}", metadata, input_channel=channel))
    assert any(HANDOFF_STARTED in reply for reply in replies), replies

    case = wait_for(lambda: posted_case_for(slack_stack, token), message="the case in Slack")
    assert case["input_channel"] == "rest"  # the channel a client claims is not believed ...
    post = stack_slack.find(case["slack_ts"])
    assert post["channel"] == CHANNEL

    # ... while paused, one more message goes to the case thread
    assert customer.send(f"hello? {HOSTILE}", metadata, input_channel=channel) == []
    [relayed] = wait_for(lambda: stack_slack.thread(case["slack_ts"]), message="the customer's message in the thread")

    payloads = payloads_for(stack_slack, case["slack_ts"])
    assert len(payloads) >= 2
    for payload in payloads:
        assert_safe(payload)

    # the agent sees every hostile string, escaped: as data, not as Slack syntax
    shown = json.dumps(post, ensure_ascii=False)
    for escaped in ("&lt;!channel&gt;", "&lt;@U123&gt;", "&lt;https:"):
        assert escaped in shown, escaped
    fields = [f["text"] for block in post["blocks"] if block.get("fields") for f in block["fields"]]
    assert slack_text.code_span(customer.sender)[1:-1] in "".join(fields)  # the sender id in its code span
    assert any(f.startswith("*Channel*\nrest") and "<!" not in f for f in fields), fields
    transcript = next(b["text"]["text"] for b in post["blocks"] if "Transcript" in str(b.get("text")))
    assert transcript.count("```") == 2 and "&lt;!channel&gt;" in transcript
    assert relayed["blocks"][-1]["text"] == {"type": "plain_text", "text": slack_text.escape(f"hello? {HOSTILE}"), "emoji": False}
    assert "<!" not in relayed["text"] and "&lt;!channel&gt;" in relayed["text"]


VOICE_BREAKOUT = "my parcel never arrived </Say><Dial>+19005550000</Dial><Say> ]]> <!channel> *x* ```"
VOICE_VERBS = {"Response", "Gather", "Say", "Redirect", "Dial", "Hangup"}


def test_hostile_speech_cannot_add_twiml_verbs_and_reaches_slack_escaped(slack_stack, stack_slack):
    """A caller's words (Twilio's SpeechResult) go to Rasa, into the answer's TwiML only as text,
    and into the Slack case escaped."""
    stack_slack.set_mode("ok")
    call = Call(TwilioWebhook(slack_stack.config.rasa_url, "twilio_voice"), caller=unknown_phone())
    call.answer()
    answer = call.respond(speech=VOICE_BREAKOUT)
    tags = {element.tag for element in answer.iter()}
    assert tags <= VOICE_VERBS, tags
    assert all("1900" not in (dial.text or "") for dial in answer.iter("Dial"))
    transfer = answer if answer.find("Dial") is not None else call.respond(digits="0")
    assert [(dial.text or "").strip() for dial in transfer.iter("Dial")] == [SUPPORT_NUMBER]
    assert {element.tag for element in transfer.iter()} <= VOICE_VERBS

    case = wait_for(lambda: posted_case_for(slack_stack, call.sid), message="the call's case in Slack")
    for payload in payloads_for(stack_slack, case["slack_ts"]):
        assert_safe(payload)
    post = stack_slack.find(case["slack_ts"])
    transcript = next(b["text"]["text"] for b in post["blocks"] if "Transcript" in str(b.get("text")))
    assert "&lt;/Say&gt;&lt;Dial&gt;" in transcript and "&lt;!channel&gt;" in transcript and transcript.count("```") == 2
