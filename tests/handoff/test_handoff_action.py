"""action_handoff_to_human and the relay, in-process, against the Slack emulator.

The backend, the help center and Rasa's HTTP API are replaced by recorders here (they have
their own tests); tests/handoff/test_full_loop.py runs the same paths through the real stack.
"""
from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, Dict, List

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import handoff, outbox, rasa_conversations
from actions.handoff import ActionHandoffToHuman
from tests.handoff.conftest import CHANNEL, action_ids, block_text
from tests.triage.conversation import Conversation

ORDER = {
    "id": "BC-100234", "status": "delivered", "total": 84.5, "currency": "USD", "placed_at": "2024-05-02T10:00:00",
    "carrier": "UPS", "tracking_number": "1Z999", "items": [{"name": "Trail Running Shoes", "quantity": 1}],
}


class FakeBackend:
    def __init__(self) -> None:
        self.tickets: List[Dict[str, Any]] = []

    async def create_ticket(self, **fields: Any) -> Dict[str, Any]:
        self.tickets.append(fields)
        return {"id": f"T-1{len(self.tickets):04d}", **fields}

    async def get_order(self, order_id: str) -> Dict[str, Any]:
        return dict(ORDER, id=order_id)

    async def list_orders(self, customer_id: str) -> List[Dict[str, Any]]:
        return [dict(ORDER), dict(ORDER, id="BC-100111", status="shipped", total=12.0)]


class FakeRasa:
    def __init__(self) -> None:
        self.calls: List[Dict[str, Any]] = []
        self.down = False

    async def __call__(self, conversation_id: str, events: List[Dict[str, Any]], **kwargs: Any) -> Dict[str, Any]:
        if self.down:
            raise rasa_conversations.RasaUnavailable("ConnectError: connection refused")
        self.calls.append({"conversation_id": conversation_id, "events": events})
        return {}

    def texts(self) -> List[str]:
        return [e["text"] for call in self.calls for e in call["events"] if e.get("event") == "bot"]


DRAFT = "Refunds go back to the original payment method within 5-10 business days of us receiving the return."


@pytest.fixture
def world(slack_env, monkeypatch):
    from actions import backend_client

    backend = FakeBackend()
    monkeypatch.setattr(backend_client, "_client", backend, raising=False)
    rasa = FakeRasa()
    monkeypatch.setattr(rasa_conversations, "append_events", rasa)

    async def fake_draft(question):
        if not question:
            return {"status": "none", "text": None, "citations": [], "note": "no question"}
        return {"status": "ready", "text": DRAFT,
                "citations": [{"title": "Refund timing", "url": "https://help.brightcart.example/articles/refund-timing", "article_id": "refund-timing"}]}

    monkeypatch.setattr(handoff, "draft_for", fake_draft)
    return SimpleNamespace(slack=slack_env, backend=backend, rasa=rasa)


def run_handoff(conversation: Conversation) -> tuple:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionHandoffToHuman().run(dispatcher, conversation.tracker(), {}))
    for event in events:
        if event.get("event") == "pause":
            conversation.paused = True
        conversation.apply(event)
    return dispatcher.messages, events


def angry_customer() -> Conversation:
    c = Conversation(slots={"customer_id": "C0002", "customer_name": "Omar Haddad", "customer_tier": "vip", "verified": True,
                            "order_id": "BC-100234"})
    c.say("my refund for BC-100234 still hasn't arrived, my email is omar.h@example.com", "refund_status")
    c.bot("Your refund of $84.50 is pending.", action="action_refund_status").listen()
    c.say("THIS IS RIDICULOUS, I WANT A PERSON NOW!!! call me on +1 555 555 0102", "request_human")
    return c


def test_the_case_reaches_slack_with_everything_the_agent_needs(world):
    c = angry_customer()
    messages, events = run_handoff(c)
    assert [m.get("response") for m in messages][:1] == ["utter_handoff_started"]
    assert messages[1]["text"] == "Your reference is T-10001."
    assert events[-1] == {"event": "pause", "timestamp": None}
    case_id = c.slots["handoff_case_id"]
    [post] = world.slack.case_messages()
    assert post["channel"] == CHANNEL
    text = block_text(post)
    for expected in ["Omar Haddad (C0002)", "vip", "rest", "verified", c.sender_id, "T-10001",  # customer, channel, tier
                     "customer_asks_for_human", "The customer asked to talk to a person.",  # the rule and its reason
                     "frustration", "urgency", "risk high",  # triage
                     "Summary:", "BC-100234", "Trail Running Shoes", "UPS 1Z999", "BC-100111",  # summary and orders
                     "Suggested reply", DRAFT[:40], "Refund timing", "help.brightcart.example/articles/refund-timing"]:
        assert expected in text, expected
    # the transcript is there, with personal data masked
    assert "o***@example.com" in text and "omar.h@example.com" not in text
    assert "0102" not in text and "[phone ***02]" in text
    assert action_ids(post) == [handoff.ACTION_SEND_DRAFT, handoff.ACTION_DISCARD_DRAFT, handoff.ACTION_RESOLVE]
    case = outbox.get_store().get_case(case_id)
    assert case["slack_ts"] == post["ts"] and case["customer_told"] == "live" and case["rule"] == "customer_asks_for_human"
    ticket = world.backend.tickets[0]
    assert ticket["priority"] == "high" and ticket["conversation_id"] == c.sender_id
    assert ticket["context"]["rule"] == "customer_asks_for_human"


def test_slack_down_the_customer_is_told_the_truth_and_the_case_follows(world):
    world.slack.set_mode("down")
    c = angry_customer()
    messages, events = run_handoff(c)
    assert messages[0]["response"] == "utter_handoff_queued"
    assert events[-1]["event"] == "pause"  # the bot stops answering anyway: the case is safe
    case = outbox.get_store().get_case(c.slots["handoff_case_id"])
    assert case["customer_told"] == "queued" and case["slack_ts"] is None
    # the customer keeps writing; it is queued behind the case
    c.say("hello? is anyone there?", "greet")
    world.slack.set_mode("ok")
    box = outbox.get_outbox()
    box.on_delivered.append(handoff.notify_if_delivered_late)

    async def drain() -> None:
        for _ in range(40):
            if await box.deliver_due() is None:
                return
            await asyncio.sleep(0.25)

    asyncio.run(drain())
    [post] = world.slack.case_messages()
    assert [m["text"] for m in world.slack.thread(post["ts"])] == [":speech_balloon: *Customer:* hello? is anyone there?"]
    # and the customer hears that the team has the case now
    assert world.rasa.texts() == [handoff.DELIVERED_LATE_TEXT]


def test_messages_while_paused_go_to_the_thread_masked_and_once(world):
    c = angry_customer()
    run_handoff(c)
    events = c.say("my card is 4111 1111 1111 1111 if you need it", "inform")
    assert events == []  # no triage, no rule while a person has the conversation
    c.run_validation()  # Rasa may run slot extraction twice for one message
    asyncio.run(outbox.get_outbox().deliver_due())
    [post] = world.slack.case_messages()
    [relayed] = world.slack.thread(post["ts"])
    # the agent reads it as written (plain_text); the notification text cannot format ("*" -> "∗")
    assert relayed["blocks"][-1]["text"] == {"type": "plain_text", "text": "my card is [card ****1111] if you need it", "emoji": False}
    assert relayed["text"] == ":speech_balloon: *Customer:* my card is [card \u2217\u2217\u2217\u22171111] if you need it"


def test_agent_reply_resolve_and_draft_outcomes(world):
    c = angry_customer()
    run_handoff(c)
    store = outbox.get_store()
    case = store.get_case(c.slots["handoff_case_id"])
    asyncio.run(handoff.on_agent_message(case, "Hi Omar, I'm Alex. " + DRAFT + " I've also added a $10 credit.", "UAGENT01", "1700000000.000100"))
    asyncio.run(handoff.on_agent_message(case, "!note checked with billing, credit approved", "UAGENT01", "1700000000.000200"))
    assert world.rasa.texts() == ["Hi Omar, I'm Alex. " + DRAFT + " I've also added a $10 credit."]
    case = store.get_case(case["case_id"])
    assert case["draft_outcome"] == "edited" and case["draft_outcome_by"] == "UAGENT01"
    # REST cannot be pushed to: the reply comes back with the customer's next message, once
    c.say("thanks Alex", "thank")
    assert [m["text"] for m in c.messages] == ["Hi Omar, I'm Alex. " + DRAFT + " I've also added a $10 credit."]
    c.say("one more thing", "inform")
    assert c.messages == []
    # resolve from the thread: Rasa gets resume + reset slots + a message for the customer
    asyncio.run(handoff.on_agent_message(case, "resolve", "UAGENT01", "1700000000.000300"))
    resume = world.rasa.calls[-1]["events"]
    assert resume[0] == {"event": "resume"}
    assert {"event": "slot", "name": "escalation_rule", "value": None} in resume
    assert resume[-2]["text"] == handoff.RESUMED_TEXT and resume[-1] == {"event": "action", "name": "action_listen"}
    assert store.get_case(case["case_id"])["status"] == "resolved"
    assert not asyncio.run(handoff.resolve(case, "UAGENT02", via="button"))  # a second click does nothing


def test_send_suggested_reply_as_is_and_discard(world):
    c = angry_customer()
    run_handoff(c)
    store = outbox.get_store()
    case = store.get_case(c.slots["handoff_case_id"])
    asyncio.run(handoff.send_draft(case, "UAGENT01", "1.1"))
    asyncio.run(handoff.send_draft(store.get_case(case["case_id"]), "UAGENT01", "1.2"))  # double click
    assert world.rasa.texts() == [DRAFT]
    assert store.get_case(case["case_id"])["draft_outcome"] == "sent_as_is"
    # another case: resolved without using the draft -> discarded
    c2 = angry_customer()
    run_handoff(c2)
    case2 = store.get_case(c2.slots["handoff_case_id"])
    asyncio.run(handoff.on_agent_message(case2, "Let me look into this for you.", "UAGENT01", "1700000001.000100"))
    assert store.get_case(case2["case_id"])["draft_outcome"] is None
    asyncio.run(handoff.resolve(case2, "UAGENT01", via="button"))
    assert store.get_case(case2["case_id"])["draft_outcome"] == "discarded"


def test_a_failed_delivery_warns_the_agent_in_the_thread(world):
    c = angry_customer()
    run_handoff(c)
    store = outbox.get_store()
    case = store.get_case(c.slots["handoff_case_id"])
    world.rasa.down = True
    asyncio.run(handoff.on_agent_message(case, "Hello?", "UAGENT01", "1700000000.000900"))
    asyncio.run(outbox.get_outbox().deliver_due())
    thread = world.slack.thread(case["slack_ts"])
    assert "Not delivered to the customer" in thread[-1]["text"]
    assert store.replies_for(case["case_id"])[0]["status"] == "failed"


def test_handoff_in_a_form_closes_the_form(world):
    c = angry_customer()
    c.active_loop = "refund_status_form"
    _, events = run_handoff(c)
    assert {"event": "active_loop", "name": None, "timestamp": None} in events
    assert events[-1]["event"] == "pause"


def test_without_slack_configured_the_ticket_is_the_handoff_and_slack_is_never_called(world, monkeypatch):
    from actions import slack_client

    monkeypatch.setenv("SLACK_BOT_TOKEN", "")
    slack_client.reset()
    c = angry_customer()
    messages, events = run_handoff(c)
    assert messages[0]["response"] == "utter_handoff_started" and messages[1]["text"] == "Your reference is T-10001."
    assert events[-1]["event"] == "pause"
    assert asyncio.run(outbox.get_outbox().deliver_due()) == 30.0  # waits for a token, calls nothing
    assert world.slack.calls == []
    assert outbox.get_store().outbox_items()[0]["status"] == "pending"  # delivered once Slack is configured


def test_without_slack_and_without_a_ticket_the_customer_hears_it_is_queued(world, monkeypatch):
    from actions import slack_client
    from actions.backend_client import BackendUnavailable

    async def down(**fields):
        raise BackendUnavailable("backend down")

    monkeypatch.setattr(world.backend, "create_ticket", down)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "")
    slack_client.reset()
    messages, _ = run_handoff(angry_customer())
    assert messages[0]["response"] == "utter_handoff_queued"
    assert messages[1]["text"].startswith("Your reference is H-")


def test_similarity():
    assert handoff.similarity(DRAFT, DRAFT) == 1.0
    assert handoff.similarity("Hi Jane! " + DRAFT, DRAFT) >= 0.5
    assert handoff.similarity("Let me check that for you.", DRAFT) < 0.5
