"""Exact dense scores from the vectors held in memory rank and score like Chroma's index.

The retriever keeps the collection's vectors next to BM25 (up to ``exact_search_max_chunks``) and
scores every chunk with one matrix product; above that size it asks Chroma's approximate index.
On the real knowledge base both must give the same chunks, in the same order, with the same fused
scores, for public and internal audiences; and the question's vector must be the one the
ingested documents were embedded with (sentence-transformers) even though questions are embedded
by the NumPy encoder."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from actions.knowledge.config import load_settings
from actions.knowledge.embeddings import get_embeddings
from actions.knowledge.retrieval import INTERNAL, PUBLIC, HybridRetriever

pytestmark = pytest.mark.usefixtures("kb_index")

QUESTIONS = ["do you deliver on weekends?", "what is your return policy", "how long does a refund take",
             "can I pay with paypal", "how do I cancel my membership", "my package was stolen from the porch",
             "is there a fee for express shipping", "how do I reset my password"]


def test_exact_and_approximate_dense_search_agree() -> None:
    settings = load_settings()
    exact = HybridRetriever(settings)
    approximate = HybridRetriever(replace(settings, exact_search_max_chunks=0))
    assert exact.snapshot().vectors is not None and approximate.snapshot().vectors is None
    for audience in (PUBLIC, INTERNAL):
        for question in QUESTIONS:
            a = exact.retrieve(question, audience=audience)
            b = approximate.retrieve(question, audience=audience)
            assert [c.chunk_id for c in a.chunks] == [c.chunk_id for c in b.chunks], question
            assert np.allclose([c.score for c in a.chunks], [c.score for c in b.chunks], atol=1e-4), question


def test_question_vectors_match_the_document_model() -> None:
    embeddings = get_embeddings()
    for question in QUESTIONS:
        ours = np.asarray(embeddings.embed_query(question))
        reference = np.asarray(embeddings.embed_documents([question])[0])
        assert float(ours @ reference) > 0.9999
