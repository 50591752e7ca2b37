"""TwiML built from hostile text (channels/voice_format.py, channels/twiml_text.py): every text
is escaped by the XML builder, nothing becomes a verb or an attribute, and characters XML cannot
carry are dropped so the answer always parses (a malformed answer ends the call). SMS replies
are sent as message bodies through Twilio's REST API, never as TwiML: the webhook's own TwiML is
a constant."""
from __future__ import annotations

import ast
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from channels import sms_format, twiml_text, voice_format

BREAKOUTS = [
    "</Say><Dial>+19005550000</Dial><Say>",
    "]]><Dial>+19005550000</Dial><![CDATA[",
    '<?xml version="1.0"?><Response><Dial>+19005550000</Dial></Response>',
    "&lt;/Say&gt;&amp; <!-- comment --> <!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>&e;",
    '" action="https://evil.example/twiml" x="',
    "bad chars \x00\x01\x08\x0b\x0c\x1f\ufffe\uffff\ud800 end",
]


def parse(twiml) -> ET.Element:
    root = ET.fromstring(str(twiml).encode("utf-8"))
    assert root.tag == "Response"
    return root


def verbs(root: ET.Element) -> list:
    return [element.tag for element in root.iter()]


@pytest.mark.parametrize("text", BREAKOUTS)
def test_gather_says_the_text_and_nothing_else(text):
    root = parse(voice_format.gather_response([text, "Anything else?"], "/webhooks/twilio_voice/gather?silence=0&nomatch=0",
                                              hints=text))
    assert verbs(root) == ["Response", "Gather", "Say", "Say", "Redirect"]
    gather = root.find("Gather")
    assert gather.get("action") == "/webhooks/twilio_voice/gather?silence=0&nomatch=0"
    assert gather.get("hints") == twiml_text.clean(text)  # an attribute value, whole
    assert set(gather.attrib) == {"input", "action", "method", "timeout", "speechTimeout", "numDigits",
                                  "actionOnEmptyResult", "language", "hints"}
    assert [say.text for say in gather.iter("Say")] == [twiml_text.clean(text), "Anything else?"]


@pytest.mark.parametrize("text", BREAKOUTS)
def test_dial_goes_only_to_the_support_number(text):
    root = parse(voice_format.dial_response([text], "+15555550100", caller_id="+15550000000", action="/dial_status",
                                            unavailable_text=text))
    assert verbs(root) == ["Response", "Say", "Dial"]
    assert root.find("Dial").text == "+15555550100"
    assert root.find("Say").text == twiml_text.clean(text)
    nobody = parse(voice_format.dial_response([text], None, unavailable_text=text))
    assert verbs(nobody) == ["Response", "Say", "Say", "Hangup"]
    bye = parse(voice_format.goodbye_response([text]))
    assert verbs(bye) == ["Response", "Say", "Hangup"]


def test_speakable_then_twiml_for_a_hostile_bot_message():
    spoken, _ = voice_format.compose_speech([{"text": BREAKOUTS[0] + " \x01", "buttons": [{"title": BREAKOUTS[1], "payload": "/x"}]}])
    root = parse(voice_format.gather_response(spoken, "/g", hints=BREAKOUTS[1]))
    assert verbs(root) == ["Response", "Gather", "Say", "Redirect"]


def test_clean_keeps_every_character_xml_allows():
    text = "Tab\tnew\nline\r café 💳 \ue000 \ufffd"
    assert twiml_text.clean(text) == text
    assert twiml_text.clean("a\x00b\ud800c\uffffd") == "a b c d"
    assert twiml_text.clean(None) == "" and twiml_text.clean(12) == "12"


def test_the_sms_webhook_answers_with_constant_twiml_and_replies_are_plain_bodies():
    source = ast.parse((Path(__file__).parents[2] / "channels" / "twilio_sms.py").read_text())  # imports Rasa
    [empty] = [ast.literal_eval(node.value) for node in source.body
               if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "EMPTY_TWIML"]
    assert verbs(parse(empty)) == ["Response"]
    text, _ = sms_format.compose_turn([{"text": BREAKOUTS[0], "buttons": [{"title": BREAKOUTS[1], "payload": "/x"}]}])
    assert BREAKOUTS[0] in text  # a message body (form-encoded by Twilio's client), shown as written
