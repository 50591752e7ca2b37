"""Knowledge answers through the whole stack (REST -> Rasa -> action server -> Chroma), the
refusal path, and questions asked in the middle of a flow."""
from __future__ import annotations

import pytest

from tests.conftest import RestChat

pytestmark = pytest.mark.e2e


def test_policy_question_is_answered_with_a_citation(chat: RestChat) -> None:
    reply = chat.say("what's your return policy? how many days do i get")
    assert "days" in reply
    assert "https://help.brightcart.example/articles/" in reply


def test_shipping_question(chat: RestChat) -> None:
    reply = chat.say("do you ship to canada")
    assert "Canada" in reply and "Source:" in reply


def test_unanswerable_question_is_refused_and_a_person_offered(chat: RestChat) -> None:
    reply = chat.say("what's the best recipe for banana bread with walnuts")
    assert "https://help.brightcart.example" not in reply
    assert "support team" in reply.lower() or "person" in reply.lower()
    # "yes" to that offer brings in a person
    assert "bringing in a person" in chat.say("yes please")


def test_question_in_the_middle_of_a_form_is_answered_and_the_form_resumes(chat: RestChat) -> None:
    assert "email" in chat.say("i want to return my order BC-100003").lower()
    reply = chat.say("how long do refunds take to paypal?")
    assert "3-5 business days" in reply
    assert "email" in reply.lower()  # and it asks for what it still needs
    assert "verified" in chat.say("jane.doe@example.com")


def test_stop_leaves_the_form(chat: RestChat) -> None:
    chat.say("cancel my order please")
    assert "stopped" in chat.say("never mind").lower()
    assert "assistant" in chat.say("hello").lower()
