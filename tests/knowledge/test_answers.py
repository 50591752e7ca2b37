"""Retrieval, refusals and extractive answers over the real knowledge base."""
from __future__ import annotations

import re

import pytest

from actions.knowledge import answer_question, draft_reply, index_version
from actions.knowledge.answer import NO_MATCH, NOT_COVERED
from actions.knowledge.evaluate import load_cases
from actions.knowledge.guards import ACCOUNT_DATA, COMPANY_MATTERS, EXCEPTION, OTHER_COMPANY, check
from actions.knowledge.retrieval import get_retriever
from actions.knowledge.store import all_records, get_store

pytestmark = pytest.mark.usefixtures("kb_index")

CITATION = re.compile(r"^Source: (.+) — (https://help\.brightcart\.example/\S+)$", re.MULTILINE)


def _internal_ids() -> set[str]:
    _, _, metas = all_records(get_store())
    return {m["article_id"] for m in metas if m["audience"] == "internal"}


async def test_answer_quotes_the_article_and_cites_it() -> None:
    answer = await answer_question("how much is express shipping to canada?")
    assert not answer.refused and answer.refusal_reason is None
    assert answer.citations[0]["article_id"] == "express-shipping"
    assert CITATION.findall(answer.text)[0] == (
        "Express shipping", "https://help.brightcart.example/articles/express-shipping")
    assert "$24.99" in answer.text
    # Extractive answers are verbatim: every quoted sentence is in a retrieved chunk.
    body = answer.text.split("\n\nSource:")[0]
    _, docs, _ = all_records(get_store())
    corpus = "\n".join(docs).replace("\n", " ")
    assert body in corpus or all(part.strip() in corpus for part in re.split(r"(?<=\.) ", body))
    assert answer.retrieved[0].keys() == {"chunk_id", "article_id", "section", "score"}
    assert answer.retrieved == sorted(answer.retrieved, key=lambda r: -r["score"])
    assert answer.index_version == index_version() != "empty"


@pytest.mark.parametrize("question, reason", [
    ("where is my order BC-123456?", ACCOUNT_DATA),
    ("why was I charged twice yesterday", ACCOUNT_DATA),
    ("has my refund been processed", ACCOUNT_DATA),
    ("can you make an exception and accept my return after 90 days", EXCEPTION),
    ("please waive the restocking fee", EXCEPTION),
    ("how do I return a package to amazon", OTHER_COMPANY),
    ("are you hiring warehouse staff?", COMPANY_MATTERS),
    ("what's the weather in Boston tomorrow", NO_MATCH),
    ("do you offer a military discount", NOT_COVERED),
])
async def test_refusals_are_honest_and_offer_a_person(question: str, reason: str) -> None:
    answer = await answer_question(question)
    assert answer.refused and answer.refusal_reason == reason
    assert answer.citations == []
    assert "support team" in answer.text and "Source:" not in answer.text


@pytest.mark.parametrize("question", [
    "walmart has it cheaper, will you match the price?",  # another retailer, but a price match
    "how do I check the balance on a gift card",  # "balance" in a how-to, not account data
    "how long will my refund take to show up on my card",  # general timing question
])
def test_guards_do_not_fire_on_policy_questions(question: str) -> None:
    assert check(question) is None


async def test_internal_articles_never_reach_customers() -> None:
    internal = _internal_ids()
    assert len(internal) >= 5
    questions = [c.question for c in load_cases()] + [
        "what goodwill credit can an agent give", "agent playbook refund exceptions approval limits",
        "chargeback open do not refund", "EXC-RET reason code", "Trust & Safety review lost package",
    ]
    retriever = get_retriever()
    for question in questions:
        result = retriever.retrieve(question, "public", k=15, threshold=0.0)
        assert not {c.article_id for c in result.chunks} & internal, question
    answer = await answer_question("how much goodwill credit can I give for a late delivery?")
    assert not {c["article_id"] for c in answer.citations} & internal
    assert "$10 store credit" not in answer.text


async def test_agent_drafts_may_use_internal_playbooks() -> None:
    draft = await draft_reply("how much goodwill credit can I give for a late delivery?")
    assert not draft.refused
    assert draft.citations[0]["article_id"] == "agent-goodwill-credits"
    assert "$10" in draft.text


async def test_empty_question_is_refused() -> None:
    answer = await answer_question("   ")
    assert answer.refused and answer.refusal_reason == "empty_question"


async def test_warm_up_is_idempotent() -> None:
    from actions.knowledge import warm_up

    await warm_up()
    await warm_up()
    assert not (await answer_question("do you ship to canada?")).refused
