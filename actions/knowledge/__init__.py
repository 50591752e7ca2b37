"""Knowledge answers for the support assistant: help-center articles in Chroma, answered with
citations or honestly refused.

Public API (used by other actions, the audit trail and the tests):

- ``answer_question(question, audience="public") -> KnowledgeAnswer`` (async)
- ``draft_reply(question, audience="internal") -> KnowledgeAnswer`` (async, for agents)
- ``index_version() -> str``: version of the ingested index
- ``warm_up()`` (async): preload store, BM25, query encoder and sentence vectors at start-up
- ``ActionAnswerFromKnowledge``: the rasa-sdk action ``action_answer_from_knowledge``

Modules: documents (load files) -> chunking -> embeddings -> store -> ingest (CLI, also writes
sentence_vectors); lexical + retrieval (hybrid search) -> guards + extractive/llm -> answer -> action;
evaluate (CLI metrics).
"""
from .action import ActionAnswerFromKnowledge
from .answer import KnowledgeAnswer, answer_question, draft_reply, warm_up
from .manifest import index_version

__all__ = [
    "ActionAnswerFromKnowledge",
    "KnowledgeAnswer",
    "answer_question",
    "draft_reply",
    "index_version",
    "warm_up",
]
