"""The platform's proof of the chain: REST channel -> Rasa -> action server -> demo backend."""
from __future__ import annotations

import pytest

from tests.conftest import RestChat

pytestmark = pytest.mark.e2e


def test_greeting(chat: RestChat) -> None:
    assert "assistant" in chat.say("hi there").lower()


def test_asks_for_order_number_then_email_then_reports_real_status(chat: RestChat) -> None:
    assert "order number" in chat.say("where is my order?").lower()
    assert "email" in chat.say("BC-100002").lower()
    reply = chat.say("it's jane.doe@example.com")
    assert "verified" in reply.lower()
    assert "BC-100002" in reply and "UPS" in reply and "on its way" in reply
    assert "November" in reply  # the ETA from the backend


def test_order_number_in_first_message_and_other_forms_of_it(chat: RestChat) -> None:
    reply = chat.say("hey can u tell me where my package bc 100004 is")
    assert "email" in reply.lower()
    reply = chat.say("jane.doe@example.com")
    assert "delayed" in reply.lower() and "BC-100004" in reply


def test_wrong_order_number_gets_a_second_chance(chat: RestChat) -> None:
    chat.say("where is my order")
    assert "couldn't find order BC-999999" in chat.say("BC-999999")
    assert "email" in chat.say("BC-100001").lower()
    assert "being prepared" in chat.say("jane.doe@example.com")


def test_wrong_email_gets_a_second_chance_and_reveals_nothing(chat: RestChat) -> None:
    chat.say("where's my order BC-100002")
    reply = chat.say("someone@example.org")
    assert "doesn't match" in reply
    assert "UPS" not in reply and "Jane" not in reply
    assert "on its way" in chat.say("jane.doe@example.com")


def test_repeated_wrong_email_stops_and_offers_a_person(chat: RestChat) -> None:
    chat.say("where's my order BC-100002")
    chat.say("a@example.org")
    chat.say("b@example.org")
    reply = chat.say("c@example.org")
    assert "person" in reply.lower()
    assert "UPS" not in reply


def test_logged_in_customer_is_not_asked_who_they_are(jane: RestChat) -> None:
    reply = jane.say("where is my order BC-100002")
    assert "email" not in reply.lower()
    assert "on its way" in reply


def test_logged_in_customer_cannot_see_someone_elses_order(jane: RestChat) -> None:
    reply = jane.say("status of BC-100010 please")
    assert "couldn't find order BC-100010 on your account" in reply
    assert "shipped" not in reply.lower() and "Omar" not in reply


def test_backend_down_gets_an_apology_and_a_person(stack, chat: RestChat, jane: RestChat) -> None:
    backend = stack.services[0]
    backend.stop()
    try:
        chat.say("where is my order")
        reply = chat.say("BC-100002")
        assert "can't reach our order system" in reply
        assert "person" in reply.lower()
    finally:
        backend.start()
        backend.wait_healthy()
    # and the conversation recovers once the backend is back
    reply = jane.say("where is my order BC-100002")
    assert "on its way" in reply
