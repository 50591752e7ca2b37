"""The assistant without the patch layer: one stack whose Rasa runs with RASA_PATCHES=none (Rasa's
own code everywhere rasa_addons/patches.py would replace it), and a representative set of
conversations through it: order status verified by an identity token and by email, a knowledge
question, a question inside a form, and a handoff to a person. The same conversations pass on the
patched stack (tests/e2e/test_order_status_flow.py, test_knowledge_and_digressions.py), so the
patches change no answer; `rasa test core` on tests/stories runs both ways in tests/rasa/."""
from __future__ import annotations

from pathlib import Path

import pytest

from scripts.stack import Stack
from tests.conftest import RestChat

pytestmark = pytest.mark.e2e


def test_rasa_runs_without_any_patch(patches_off_stack: Stack) -> None:
    log = Path(patches_off_stack.config.var_dir / "logs" / "rasa.log").read_text(errors="replace")
    assert "rasa_addons.launch: patches applied: none" in log
    assert "REFUSED" not in log


def test_order_status_for_a_customer_signed_in_by_token(patches_off_stack: Stack) -> None:
    jane = RestChat.for_stack(patches_off_stack, customer_id="C0001")
    reply = jane.say("where is my order BC-100002")
    assert "email" not in reply.lower()
    assert "on its way" in reply and "BC-100002" in reply
    reply = jane.say("status of BC-100010 please")
    assert "couldn't find order BC-100010 on your account" in reply and "Omar" not in reply


def test_order_status_verified_by_email(patches_off_stack: Stack) -> None:
    chat = RestChat.for_stack(patches_off_stack)
    assert "order number" in chat.say("where is my order?").lower()
    assert "email" in chat.say("BC-100002").lower()
    reply = chat.say("it's jane.doe@example.com")
    assert "verified" in reply.lower() and "UPS" in reply and "on its way" in reply


def test_knowledge_question_and_a_question_inside_a_form(patches_off_stack: Stack) -> None:
    chat = RestChat.for_stack(patches_off_stack)
    reply = chat.say("what's your return policy? how many days do i get")
    assert "days" in reply and "https://help.brightcart.example/articles/" in reply
    assert "email" in chat.say("i want to return my order BC-100003").lower()
    reply = chat.say("how long do refunds take to paypal?")
    assert "3-5 business days" in reply and "email" in reply.lower()
    assert "verified" in chat.say("jane.doe@example.com")


def test_handoff_to_a_person(patches_off_stack: Stack) -> None:
    chat = RestChat.for_stack(patches_off_stack)
    reply = chat.say("i want to talk to a human")
    assert "bringing in a person" in reply or "saved your case" in reply
    events = [e.get("name") for e in chat.tracker()["events"] if e.get("event") == "action"]
    assert "action_handoff_to_human" in events


def test_the_default_stack_runs_with_the_patches_rasa_patches_selects(stack: Stack) -> None:
    """The other e2e tests' stack: every patch applied (RASA_PATCHES unset or "all"), none refused."""
    import os

    from rasa_addons.patches import PATCHES, selected

    log = Path(stack.config.var_dir / "logs" / "rasa.log").read_text(errors="replace")
    expected = selected(os.environ.get("RASA_PATCHES", "all"))
    assert f"rasa_addons.launch: patches applied: {', '.join(expected) or 'none'}" in log
    assert "REFUSED" not in log and len(PATCHES) == 7
