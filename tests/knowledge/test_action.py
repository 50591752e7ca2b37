"""``action_answer_from_knowledge`` run the way rasa-sdk runs it."""
from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.knowledge import ActionAnswerFromKnowledge, index_version
from actions.knowledge.action import DIDNT_UNDERSTAND

pytestmark = pytest.mark.usefixtures("kb_index")


def tracker(text: str, intent: str = "ask_question", confidence: float = 0.9,
            slots: dict[str, Any] | None = None, active_loop: str | None = None) -> Tracker:
    latest = {"text": text, "intent": {"name": intent, "confidence": confidence},
              "entities": [], "intent_ranking": []}
    return Tracker.from_dict({
        "sender_id": "kb-test", "slots": slots or {}, "latest_message": latest,
        "events": [{"event": "user", "text": text, "parse_data": latest}],
        "paused": False, "followup_action": None,
        "active_loop": {"name": active_loop} if active_loop else {},
        "latest_action_name": "action_listen",
    })


async def run(t: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerFromKnowledge().run(dispatcher, t, {})
    return dispatcher.messages, events


def slots(events: list[dict[str, Any]]) -> dict[str, Any]:
    assert all(e["event"] == "slot" for e in events)
    return {e["name"]: e["value"] for e in events}


def test_action_name() -> None:
    assert ActionAnswerFromKnowledge().name() == "action_answer_from_knowledge"


async def test_answer_sets_citations_and_resets_failures() -> None:
    messages, events = await run(tracker("do brightcart gift cards expire?",
                                         slots={"kb_failed_count": 2.0}))
    assert len(messages) == 1
    assert "never expire" in messages[0]["text"]
    assert "Source: Brightcart gift cards — https://help.brightcart.example/articles/gift-cards" in messages[0]["text"]
    assert messages[0]["buttons"] == []
    values = slots(events)
    assert list(values) == ["kb_last_refused", "kb_failed_count", "kb_last_citations", "kb_last_retrieval"]
    assert values["kb_last_refused"] is False and values["kb_failed_count"] == 0
    assert values["kb_last_citations"] == [{
        "title": "Brightcart gift cards", "url": "https://help.brightcart.example/articles/gift-cards",
        "article_id": "gift-cards"}]
    facts = values["kb_last_retrieval"]
    assert facts["query"] == "do brightcart gift cards expire?"
    assert facts["refused"] is False and facts["reason"] is None
    assert facts["index_version"] == index_version()
    assert facts["retrieved"][0]["article_id"] == "gift-cards"
    assert facts["scores"] == [r["score"] for r in facts["retrieved"]]


async def test_refusal_counts_consecutive_failures_and_offers_a_person() -> None:
    messages, events = await run(tracker("can you recommend a good pizza place nearby",
                                         slots={"kb_failed_count": 1}))
    assert "couldn't find an answer" in messages[0]["text"]
    assert {"title": "Talk to a person", "payload": "/request_human"} in messages[0]["buttons"]
    values = slots(events)
    assert values["kb_last_refused"] is True and values["kb_failed_count"] == 2
    assert values["kb_last_citations"] == []
    assert values["kb_last_retrieval"]["reason"] == "no_relevant_article"


async def test_nlu_fallback_refusal_says_it_did_not_understand() -> None:
    messages, events = await run(tracker("blorp the flanges sideways", intent="nlu_fallback",
                                         confidence=0.3))
    assert messages[0]["text"] == DIDNT_UNDERSTAND
    assert messages[0]["buttons"][0]["payload"] == "/request_human"
    assert slots(events)["kb_failed_count"] == 1


async def test_nlu_fallback_that_kb_can_answer_is_answered() -> None:
    messages, events = await run(tracker("refund to paypal how many days", intent="nlu_fallback",
                                         confidence=0.4))
    assert "3-5 business days" in messages[0]["text"]
    assert slots(events)["kb_last_refused"] is False


async def test_answers_inside_an_active_form_without_reverting() -> None:
    messages, events = await run(tracker("how long do refunds take to paypal?",
                                         active_loop="return_form"))
    assert "3-5 business days" in messages[0]["text"]
    assert all(isinstance(e, dict) and e["event"] == "slot" for e in events)
    assert SlotSet("kb_last_refused", False) in events
