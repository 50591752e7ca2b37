"""Answer a customer question from the help center, with citations, or refuse honestly.

Order of decisions:
1. guards: questions about the customer's own data, policy exceptions or other companies are
   refused without retrieval (see guards.py);
2. hybrid retrieval; if the best chunk is below the relevance threshold, refuse;
3. with ``LLM_BASE_URL`` set, a chat model answers from the retrieved chunks only; if that call
   fails or the model declines, or without an LLM, the extractive answerer quotes the best
   sentences verbatim.
All blocking work runs in a worker thread: the action server's event loop is shared by every
conversation.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from actions.pii import mask  # logs get the customer's question with personal data masked

from . import coverage, extractive, guards
from .config import load_settings
from .extractive import extract
from .llm import generate
from .manifest import index_version
from .retrieval import INTERNAL, PUBLIC, RetrievalResult, RetrievedChunk, get_retriever

logger = logging.getLogger(__name__)

NO_MATCH = "no_relevant_article"
NOT_COVERED = "topic_not_covered"
EMPTY = "empty_question"
UNAVAILABLE = "knowledge_unavailable"
LLM_CONTEXT_CHUNKS = 4

OFFER_PERSON = "Would you like me to connect you with someone from our support team?"
REFUSALS = {
    NO_MATCH: "I'm sorry, I couldn't find an answer to that in our help center, and I'd rather "
              "not guess. You could try rephrasing your question. " + OFFER_PERSON,
    guards.ACCOUNT_DATA: "That depends on the details of your own account or order, which I can't "
                         "look up from the help center. " + OFFER_PERSON,
    NOT_COVERED: "I'm sorry, I couldn't find anything about that in our help center, so I can't "
                 "say for sure. " + OFFER_PERSON,
    guards.COMPANY_MATTERS: "I can help with shopping, orders and accounts, but not with questions "
                            "about Brightcart as a company, such as careers, investors, press or "
                            "selling through Brightcart. " + OFFER_PERSON,
    guards.EXCEPTION: "I'm not able to make exceptions to our policies myself, but a member of our "
                      "support team can look at your situation. " + OFFER_PERSON,
    guards.OTHER_COMPANY: "I can only help with Brightcart orders, accounts and policies, so I "
                          "can't answer questions about other companies. " + OFFER_PERSON,
    EMPTY: "I didn't catch a question there. What would you like to know?",
    UNAVAILABLE: "I'm sorry, our help center is temporarily unavailable to me, so I can't answer "
                 "that right now. " + OFFER_PERSON,
}


@dataclass
class KnowledgeAnswer:
    text: str
    citations: list[dict[str, str]] = field(default_factory=list)  # {title, url, article_id}
    retrieved: list[dict[str, Any]] = field(default_factory=list)  # {chunk_id, article_id, section, score}
    refused: bool = False
    refusal_reason: str | None = None
    index_version: str = ""
    generator: str = "extractive"  # "extractive", "llm" or "none" (refused)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def citations_for(chunks: list[RetrievedChunk]) -> list[dict[str, str]]:
    seen: dict[str, dict[str, str]] = {}
    for chunk in chunks:
        seen.setdefault(chunk.article_id, {"title": chunk.title, "url": chunk.url,
                                           "article_id": chunk.article_id})
    return list(seen.values())


def format_citations(citations: list[dict[str, str]]) -> str:
    return "\n".join(f"Source: {c['title']} — {c['url']}" for c in citations)


def _refusal(reason: str, version: str, result: RetrievalResult | None = None) -> KnowledgeAnswer:
    retrieved = [c.as_fact() for c in result.chunks] if result else []
    return KnowledgeAnswer(REFUSALS[reason], [], retrieved, True, reason, version, "none")


def _answer(text: str, used: list[RetrievedChunk], result: RetrievalResult,
            generator: str) -> KnowledgeAnswer:
    citations = citations_for(used)
    return KnowledgeAnswer(
        text=f"{text}\n\n{format_citations(citations)}",
        citations=citations,
        retrieved=[c.as_fact() for c in result.chunks],
        index_version=result.index_version,
        generator=generator,
    )


async def _llm_answer(question: str, result: RetrievalResult) -> KnowledgeAnswer | None:
    settings = load_settings()
    context = [c for c in result.chunks if c.score >= result.threshold][:LLM_CONTEXT_CHUNKS]
    try:
        reply = await generate(question, context, settings)
    except Exception:  # any client/HTTP/parse failure: the extractive answer is the fallback
        logger.warning("LLM answer failed, falling back to extractive", exc_info=True)
        return None
    if reply.declined:
        logger.info("LLM found no answer in the passages for %r; using extractive", mask(question))
        return None
    return _answer(reply.text, reply.used, result, "llm")


async def answer_question(question: str, audience: str = PUBLIC) -> KnowledgeAnswer:
    """The help center's answer to ``question`` for ``audience`` ("public" or "internal")."""
    question = (question or "").strip()
    if not question:
        return _refusal(EMPTY, await asyncio.to_thread(index_version))
    hit = guards.check(question, audience)
    if hit:
        logger.info("refusing %r: %s (%s)", mask(question), hit.reason, hit.pattern)
        return _refusal(hit.reason, await asyncio.to_thread(index_version))
    retriever = get_retriever()
    try:
        result = await asyncio.to_thread(retriever.retrieve, question, audience)
    except Exception:  # Chroma down/corrupt: refuse politely, keep the conversation alive
        logger.exception("knowledge retrieval failed for %r", mask(question))
        return _refusal(UNAVAILABLE, await asyncio.to_thread(index_version))
    if not result.relevant:
        return _refusal(NO_MATCH, result.index_version, result)
    covered = coverage.check(question, result.chunks)  # a few word lookups: no thread hop
    if not covered.covered:
        logger.info("refusing %r: passages never mention %s", mask(question), covered.missing)
        return _refusal(NOT_COVERED, result.index_version, result)
    if load_settings().llm_base_url:
        generated = await _llm_answer(question, result)
        if generated:
            return generated
    extracted = await asyncio.to_thread(extract, result)
    if not extracted.sentences:
        return _refusal(NO_MATCH, result.index_version, result)
    return _answer(extracted.text, extracted.chunks(), result, "extractive")


def _warm_up() -> None:
    retriever = get_retriever()
    retriever.warm_up()
    corpus = retriever.snapshot()
    extractive.warm_up(extractive.stored_chunks(corpus.ids, corpus.texts, corpus.metas),
                       corpus.version)


async def warm_up() -> None:
    """Open the store, build BM25 and load the query encoder and the precomputed sentence vectors
    now (a few seconds), so the first customer question does not pay for it. PyTorch is loaded
    only if those vectors are missing or stale. Call once at action-server start-up; safe to call
    again."""
    await asyncio.to_thread(_warm_up)


async def draft_reply(question: str, audience: str = INTERNAL) -> KnowledgeAnswer:
    """A draft for a human agent: may use internal playbooks as well as public articles."""
    return await answer_question(question, audience=audience)
