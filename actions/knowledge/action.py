"""The rasa-sdk action behind every knowledge answer or refusal: ``action_answer_from_knowledge``."""
from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from .answer import KnowledgeAnswer, answer_question

logger = logging.getLogger(__name__)

NLU_FALLBACK = "nlu_fallback"
# Slots declared in domain.yml by the dialogue engineer; names are part of the contract.
SLOT_REFUSED = "kb_last_refused"
SLOT_FAILED = "kb_failed_count"
SLOT_CITATIONS = "kb_last_citations"
SLOT_RETRIEVAL = "kb_last_retrieval"

DIDNT_UNDERSTAND = (
    "Sorry, I didn't quite understand that. You can rephrase your question, or I can connect you "
    "with someone from our support team."
)
# Buttons use contract intents, so they work on every channel that renders buttons; channels
# without buttons still get the sentence above.
OPTION_BUTTONS = [
    {"title": "Talk to a person", "payload": "/request_human"},
    {"title": "Ask something else", "payload": "/ask_question"},
]


def _previous_failures(tracker: Tracker) -> int:
    value = tracker.get_slot(SLOT_FAILED)
    try:
        return int(float(value)) if value is not None else 0
    except (TypeError, ValueError):
        return 0


def retrieval_facts(question: str, answer: KnowledgeAnswer) -> dict[str, Any]:
    """What the audit trail and dialogue need to know about this knowledge turn."""
    return {
        "query": question,
        "retrieved": answer.retrieved,
        "scores": [r["score"] for r in answer.retrieved],
        "refused": answer.refused,
        "reason": answer.refusal_reason,
        "index_version": answer.index_version,
        "generator": answer.generator,
    }


class ActionAnswerFromKnowledge(Action):
    def name(self) -> str:
        return "action_answer_from_knowledge"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        message = tracker.latest_message or {}
        question = message.get("text") or ""
        intent = (message.get("intent") or {}).get("name")
        answer = await answer_question(question, audience="public")

        if answer.refused and intent == NLU_FALLBACK:
            dispatcher.utter_message(text=DIDNT_UNDERSTAND, buttons=OPTION_BUTTONS)
        elif answer.refused:
            dispatcher.utter_message(text=answer.text, buttons=OPTION_BUTTONS)
        else:
            dispatcher.utter_message(text=answer.text)

        failures = _previous_failures(tracker) + 1 if answer.refused else 0
        logger.info("knowledge turn: refused=%s reason=%s top=%s", answer.refused,
                    answer.refusal_reason, answer.retrieved[:1])
        events: list[EventType] = [
            SlotSet(SLOT_REFUSED, answer.refused),
            SlotSet(SLOT_FAILED, failures),
            SlotSet(SLOT_CITATIONS, answer.citations),
            SlotSet(SLOT_RETRIEVAL, retrieval_facts(question, answer)),
        ]
        # A second refusal in a row is an escalation rule: decide it now, so the person is
        # brought in this turn rather than after the customer's next message.
        from actions.triage import escalation_after_action

        return events + escalation_after_action(tracker, events)
