"""Voice formatting: speakable text, numbered choices, TwiML shape."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from channels.voice_format import (
    asks_for_person,
    choices_prompt,
    compose_speech,
    dial_response,
    gather_response,
    speakable,
    spoken_choice,
)

BUTTONS = [{"title": "Talk to a person", "payload": "/request_human"}, {"title": "No thanks", "payload": "/deny"}]


def test_speakable_drops_urls_markdown_and_citations():
    text = ("Returns are **free** within 30 days [1]. See [our policy](https://help.brightcart.example/returns) 🙂\n"
            "Source: Returns policy — https://help.brightcart.example/articles/returns")
    spoken = speakable(text)
    assert "http" not in spoken and "**" not in spoken and "[" not in spoken and "Source" not in spoken
    assert spoken == "Returns are free within 30 days. See our policy."


def test_order_numbers_are_spelled_and_tracking_numbers_shortened():
    spoken = speakable("Order BC-100002 is on its way with UPS, tracking number 1Z999AA10123456784.")
    assert "B C 1 0 0 0 0 2" in spoken and "ending in 6 7 8 4" in spoken


def test_long_text_is_cut_at_a_sentence():
    spoken = speakable(" ".join(f"Sentence {i} is here." for i in range(100)), max_chars=120)
    assert len(spoken) <= 120 and spoken.endswith(".")


def test_choices_are_numbered():
    assert choices_prompt(BUTTONS) == "Press or say 1 for Talk to a person. Press or say 2 for No thanks."
    spoken, buttons = compose_speech([{"text": "Anything else?", "buttons": BUTTONS}])
    assert spoken == ["Anything else?"] and buttons == BUTTONS


@pytest.mark.parametrize("speech, digits, payload", [
    (None, "2", "/deny"), ("two", None, "/deny"), ("Option 1.", None, "/request_human"), ("number two", None, "/deny"),
    ("No thanks.", None, "/deny"), (None, "5", None), ("I want to return a jacket", None, None),
])
def test_spoken_or_pressed_choice(speech, digits, payload):
    assert spoken_choice(speech, digits, BUTTONS) == payload


@pytest.mark.parametrize("speech, wanted", [
    ("agent", True), ("Representative, please.", True), ("I want to talk to a person", True),
    ("speak to a human", True), ("where is my order", False), ("my person shipment is late", False),
])
def test_short_requests_for_a_person(speech, wanted):
    assert asks_for_person(speech) is wanted


def test_gather_twiml_listens_for_speech_and_keys():
    root = ET.fromstring(str(gather_response(["Hello.", "Press 0 for a person."], "/webhooks/twilio_voice/gather?silence=0")))
    gather = root.find("Gather")
    assert gather is not None and gather.get("input") == "speech dtmf"
    assert gather.get("action") == "/webhooks/twilio_voice/gather?silence=0" and gather.get("actionOnEmptyResult") == "true"
    assert [say.text for say in gather.findall("Say")] == ["Hello.", "Press 0 for a person."]
    assert root.find("Redirect") is not None, "silence falls through to the same action"


def test_dial_twiml_and_missing_support_line():
    root = ET.fromstring(str(dial_response(["Connecting you."], "+15550001234", caller_id="+15550000000", action="/ds")))
    dial = root.find("Dial")
    assert dial is not None and dial.text == "+15550001234" and dial.get("callerId") == "+15550000000"
    root = ET.fromstring(str(dial_response(["Connecting you."], None, unavailable_text="We'll call you back.")))
    assert root.find("Dial") is None and root.find("Hangup") is not None
    assert [s.text for s in root.findall("Say")] == ["Connecting you.", "We'll call you back."]
