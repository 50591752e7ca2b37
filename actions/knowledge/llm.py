"""Optional generative answers from an OpenAI-compatible chat model (``LLM_BASE_URL``).

The model sees only the retrieved chunks and must answer from them alone, or reply NO_ANSWER.
Citations are not left to the model: it marks the passages it used as [1], [2]..., and we turn
those markers into the same "Source: <title> — <url>" lines as the extractive answerer.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from langchain_core.messages import HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI

from .config import KnowledgeSettings
from .retrieval import RetrievedChunk

logger = logging.getLogger(__name__)

NO_ANSWER = "NO_ANSWER"
_MARKER = re.compile(r"(?<!\s)\s*\[(\d+)\]")  # the lookbehind keeps it linear on long runs of spaces

SYSTEM_PROMPT = (
    "You are the customer-support assistant of Brightcart, an online retailer. Answer the "
    "customer's question using ONLY the numbered help-center passages provided. Do not use any "
    "other knowledge, do not guess, and do not promise anything the passages do not state. "
    "Answer in 2-3 short sentences in plain text. After each sentence, cite the passage(s) it "
    "comes from as [1], [2] and so on. If the passages do not answer the question, or the "
    f"question needs the customer's own account or order data, reply with exactly {NO_ANSWER}."
)


@dataclass(frozen=True)
class LLMAnswer:
    text: str  # without citation markers
    used: list[RetrievedChunk]  # passages the model cited (all passages if it cited none)
    declined: bool


def build_messages(question: str, chunks: list[RetrievedChunk]) -> list:
    passages = "\n\n".join(
        f"[{i}] {c.title} — {c.section}\n{c.body}" for i, c in enumerate(chunks, start=1)
    )
    return [
        SystemMessage(content=SYSTEM_PROMPT),
        HumanMessage(content=f"Passages:\n\n{passages}\n\nCustomer question: {question}"),
    ]


def make_client(settings: KnowledgeSettings) -> ChatOpenAI:
    return ChatOpenAI(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key or "none",
        temperature=0,
        timeout=settings.llm_timeout,
        # A failed call falls back to the extractive answer at once instead of retrying while
        # the customer waits.
        max_retries=0,
    )


async def generate(question: str, chunks: list[RetrievedChunk],
                   settings: KnowledgeSettings) -> LLMAnswer:
    """Ask the model (async HTTP, never blocks the loop). Errors propagate to the caller."""
    reply = await make_client(settings).ainvoke(build_messages(question, chunks))
    content = reply.content if isinstance(reply.content, str) else str(reply.content)
    content = content.strip()
    if not content or NO_ANSWER in content:
        return LLMAnswer("", [], declined=True)
    cited: list[RetrievedChunk] = []
    for number in _MARKER.findall(content):
        index = int(number) - 1
        if 0 <= index < len(chunks) and chunks[index] not in cited:
            cited.append(chunks[index])
    text = _MARKER.sub("", content).strip()
    return LLMAnswer(text, cited or list(chunks), declined=False)
