"""Conversations longer than the tracker store's working window (endpoints.yml:
working_window_turns 6: Rasa works with the state plus the latest 6-9 customer turns).

What a customer or an agent would notice if the window lost something: verification asked for
again, a form forgotten half way, the escalation rule for long conversations counting from the
cut instead of from the hand-back, or history missing from the tracker API. None of it may happen.
A handoff and the agent's hand-back (what Slack's "Resolve" appends) sit in the middle, as in a
real long conversation: the long-thread rule counts turns since the bot got the conversation back.
"""
from __future__ import annotations

import json
import urllib.request

import pytest

from bench.loadgen import AGENT_HAND_BACK
from tests.conftest import RestChat

pytestmark = pytest.mark.e2e

ROUTINE = ["hello", "thank you"]


def hand_back(chat: RestChat) -> None:
    request = urllib.request.Request(
        f"{chat.rasa_url}/conversations/{chat.sender}/tracker/events?include_events=NONE&token={chat.api_token}",
        data=json.dumps(AGENT_HAND_BACK).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


def user_texts(tracker):
    return [e.get("text") for e in tracker["events"] if e.get("event") == "user"]


def escalation_rules(tracker):
    return [e.get("value") for e in tracker["events"]
            if e.get("event") == "slot" and e.get("name") == "escalation_rule" and e.get("value")]


class Customer:
    def __init__(self, chat: RestChat) -> None:
        self.chat = chat
        self.sent = []

    def say(self, text: str) -> str:
        self.sent.append(text)
        return self.chat.say(text)

    def routine(self, turns: int) -> None:
        for turn in range(turns):
            assert self.say(ROUTINE[turn % 2])


def test_verification_and_forms_survive_the_window(chat: RestChat) -> None:
    customer = Customer(chat)
    assert "email" in customer.say("where is my order BC-100002").lower()
    assert "on its way" in customer.say("jane.doe@example.com")
    customer.routine(6)
    customer.say("can I talk to a human please")
    hand_back(chat)
    customer.routine(6)  # 15 turns stored: the session has been cut
    reply = customer.say("and what about order BC-100004?")
    assert "email" not in reply.lower(), reply  # verified 14 turns ago, before the cut
    assert "BC-100004" in reply and "delayed" in reply.lower()
    # a form whose questions are answered over more turns than the window keeps
    assert "what happened" in customer.say("the app crashes every time I tap checkout").lower()
    for _ in range(2):  # 12 turns since the hand-back at the end: under the long-thread rule's 14
        assert "what happened" in customer.say("hello").lower()  # asked again after each digression
    assert "device" in customer.say("I add something to the cart, tap checkout and it closes").lower()
    assert "ticket" in customer.say("iphone app").lower()
    tracker = chat.tracker()
    assert user_texts(tracker) == customer.sent  # the API still returns every message
    assert "long_unresolved_thread" not in escalation_rules(tracker)


def test_long_thread_rule_counts_from_the_hand_back_across_the_cut(chat: RestChat) -> None:
    customer = Customer(chat)
    customer.routine(8)
    customer.say("can I talk to a human please")
    hand_back(chat)
    customer.routine(13)  # 22 turns stored: the window was cut after the hand-back
    assert "long_unresolved_thread" not in escalation_rules(chat.tracker())
    customer.say("hello")  # the 14th since the hand-back
    assert escalation_rules(chat.tracker())[-1] == "long_unresolved_thread"
