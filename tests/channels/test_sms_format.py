"""SMS formatting: parts, numbered options, digit answers, carrier keywords."""
from __future__ import annotations

import re

import pytest

from channels.sms_format import (
    MAX_MESSAGE_CHARS,
    choice_payload,
    compose_turn,
    keyword_of,
    split_message,
)

BUTTONS = [{"title": "Talk to a person", "payload": "/request_human"}, {"title": "No thanks", "payload": "/deny"}]


def test_short_reply_is_one_unnumbered_part():
    assert split_message("Your order shipped.") == ["Your order shipped."]
    assert split_message("   ") == []


def test_long_reply_splits_at_sentences_and_is_numbered():
    sentences = [f"This is sentence number {i} of a long knowledge answer." for i in range(20)]
    parts = split_message(" ".join(sentences))
    assert len(parts) > 1
    for index, part in enumerate(parts, 1):
        assert len(part) <= 320
        assert part.startswith(f"({index}/{len(parts)}) ")
        assert part.endswith(".")  # never cut inside a sentence
    rejoined = " ".join(re.sub(r"^\(\d+/\d+\) ", "", p) for p in parts)
    assert rejoined == " ".join(sentences)


def test_paragraphs_and_option_lists_survive_splitting():
    text = ("Intro sentence. " * 15).strip() + "\n\nReply with a number:\n1) Free\n2) Plus\n3) Premium"
    parts = split_message(text)
    assert parts[-1].endswith("Reply with a number:\n1) Free\n2) Plus\n3) Premium")


def test_part_size_is_configurable_but_capped_at_twilios_limit():
    text = "word " * 1000
    assert all(len(p) <= 160 for p in split_message(text, 160))
    assert all(len(p) <= MAX_MESSAGE_CHARS for p in split_message(text, 5000))
    assert all(len(p) <= 320 for p in split_message("x" * 2000))  # one unbreakable token


def test_compose_turn_numbers_the_buttons():
    text, buttons = compose_turn([{"text": "Sorry about that."}, {"text": "Want a person?", "buttons": BUTTONS}])
    assert text == "Sorry about that.\n\nWant a person?\n\nReply with a number:\n1) Talk to a person\n2) No thanks"
    assert buttons == BUTTONS


@pytest.mark.parametrize("reply, payload", [
    ("1", "/request_human"), (" 2 ", "/deny"), ("2.", "/deny"), ("#1", "/request_human"), ("option 2", "/deny"),
    ("no thanks", "/deny"), ("3", None), ("0", None), ("100002", None), ("where is my order", None),
])
def test_digit_or_title_picks_an_option(reply, payload):
    assert choice_payload(reply, BUTTONS) == payload


def test_digits_mean_nothing_without_options():
    assert choice_payload("1", []) is None


@pytest.mark.parametrize("text, keyword", [
    ("STOP", "stop"), ("stop.", "stop"), (" Unsubscribe ", "unsubscribe"), ("HELP", "help"), ("info", "info"),
    ("START", "start"), ("yes", "yes"), ("stop sending me order updates", None), ("help me with my order", None),
    ("", None),
])
def test_carrier_keywords_are_whole_messages(text, keyword):
    assert keyword_of(text) == keyword
