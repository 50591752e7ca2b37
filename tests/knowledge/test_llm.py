"""The LLM path against a local OpenAI-compatible server that records what it was sent."""
from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from actions.knowledge import answer_question
from actions.knowledge.answer import LLM_CONTEXT_CHUNKS
from actions.knowledge.store import get_store

pytestmark = pytest.mark.usefixtures("kb_index")

PASSAGE = re.compile(r"^\[(\d+)\] (.+?) — (.+?)\n(.*?)(?=\n\n\[\d+\] |\n\nCustomer question: )",
                     re.DOTALL | re.MULTILINE)


class FakeLLM:
    """POST /v1/chat/completions on 127.0.0.1; replies with ``reply(prompt)`` or an HTTP error."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.reply = "Express shipping to Canada costs $24.99 [1]."
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "body": body,
                                      "auth": self.headers.get("Authorization")})
                if fake.status != 200:
                    self.send_response(fake.status)
                    self.end_headers()
                    self.wfile.write(b'{"error": {"message": "boom"}}')
                    return
                payload = json.dumps({
                    "id": "chatcmpl-test", "object": "chat.completion", "created": 0,
                    "model": body.get("model"),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": fake.reply}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"


@pytest.fixture
def fake_llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLLM]:
    fake = FakeLLM()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("LLM_BASE_URL", fake.url)
    monkeypatch.setenv("LLM_MODEL", "local-test-model")
    monkeypatch.setenv("LLM_API_KEY", "test-key")
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()


def _prompt(request: dict[str, Any]) -> tuple[str, str]:
    messages = request["body"]["messages"]
    assert [m["role"] for m in messages] == ["system", "user"]
    return messages[0]["content"], messages[1]["content"]


async def test_prompt_holds_only_retrieved_chunks_and_answer_is_cited(fake_llm: FakeLLM) -> None:
    question = "how much does express shipping to canada cost?"
    answer = await answer_question(question)
    assert len(fake_llm.requests) == 1
    request = fake_llm.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["body"]["model"] == "local-test-model"
    assert request["auth"] == "Bearer test-key"
    system, user = _prompt(request)
    assert "ONLY" in system and "NO_ANSWER" in system
    assert user.endswith(f"Customer question: {question}")

    passages = PASSAGE.findall(user)
    assert 1 <= len(passages) <= LLM_CONTEXT_CHUNKS
    retrieved_ids = [r["chunk_id"] for r in answer.retrieved]
    stored = get_store().get(ids=retrieved_ids, include=["documents", "metadatas"])
    allowed = {(m["title"], m["section"], d.split("\n\n", 1)[1])
               for d, m in zip(stored["documents"], stored["metadatas"])}
    for _, title, section, body in passages:
        assert (title, section, body) in allowed  # every passage is a retrieved chunk, verbatim
    # Nothing else from the knowledge base leaked into the prompt.
    leftover = re.sub(r"\s+", " ", PASSAGE.sub("", user)).strip()
    assert leftover == f"Passages: Customer question: {question}"

    assert not answer.refused and answer.generator == "llm"
    assert answer.text.startswith("Express shipping to Canada costs $24.99.")
    first_title = passages[0][1]
    assert answer.citations[0]["title"] == first_title
    assert f"Source: {first_title} — {answer.citations[0]['url']}" in answer.text
    assert "[1]" not in answer.text


async def test_llm_failure_falls_back_to_extractive(fake_llm: FakeLLM) -> None:
    fake_llm.status = 500
    answer = await answer_question("how much does express shipping to canada cost?")
    assert len(fake_llm.requests) == 1  # no retries while the customer waits
    assert not answer.refused and answer.generator == "extractive"
    assert "$24.99" in answer.text and "Source: Express shipping" in answer.text


async def test_llm_declining_falls_back_to_extractive(fake_llm: FakeLLM) -> None:
    fake_llm.reply = "NO_ANSWER"
    answer = await answer_question("how much does express shipping to canada cost?")
    assert answer.generator == "extractive" and "Source:" in answer.text


async def test_refusals_never_call_the_llm(fake_llm: FakeLLM) -> None:
    answer = await answer_question("where is my order BC-123456")
    assert answer.refused and fake_llm.requests == []
