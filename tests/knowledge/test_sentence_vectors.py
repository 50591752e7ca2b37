"""Sentence vectors precomputed at ingestion (actions/knowledge/sentence_vectors.py).

extract() must quote exactly what it quoted when it embedded sentences while answering, without
calling the embedding model; the action server must not load PyTorch for it; a missing, stale or
partial file falls back to embedding (logged once); incremental ingestion keeps the file in step
with the index and re-embeds only the sentences of chunks that changed.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from actions.knowledge import extractive, sentence_vectors, warm_up
from actions.knowledge.config import PROJECT_ROOT, load_settings
from actions.knowledge.embeddings import MiniLMEmbeddings
from actions.knowledge.extractive import ChunkSentences, Extract, embed_sentences, extract, stored_chunks
from actions.knowledge.ingest import IngestReport, ingest
from actions.knowledge.retrieval import RetrievalResult, RetrievedChunk, get_retriever
from actions.knowledge.sentence_vectors import (SentenceVectorCache, SentenceVectors,
                                                read_sentence_vectors, write_sentence_vectors)
from actions.knowledge.store import all_records, get_store

from .conftest import write_article

QUESTIONS = ["how much is express shipping to canada?", "how long does a refund take",
             "can I pay with paypal", "how do I cancel my membership", "what is your return policy",
             "do you deliver on weekends?", "how do I reset my password"]


@pytest.fixture
def cold_cache(monkeypatch: pytest.MonkeyPatch) -> extractive._SentenceCache:
    """An empty in-process cache, so vectors embedded by earlier tests cannot stand in for the
    file (or hide a fallback), and the once-per-index warning can fire again."""
    cache = extractive._SentenceCache()
    monkeypatch.setattr(extractive, "_cache", cache)
    monkeypatch.setattr(extractive, "_uncovered_logged", set())
    return cache


def _forbid_model(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: MiniLMEmbeddings, texts: list[str]) -> list[list[float]]:
        raise AssertionError(f"the embedding model was asked to embed {texts[:2]}")

    monkeypatch.setattr(MiniLMEmbeddings, "embed_documents", refuse)


def _quoted(extracted: Extract) -> list[tuple[str, int, str]]:
    return [(s.chunk.chunk_id, s.index, s.text) for s in extracted.sentences]


def _indexed_chunks() -> list[RetrievedChunk]:
    return stored_chunks(*all_records(get_store()))


def _rows(table: SentenceVectors) -> dict[str, tuple[str, np.ndarray]]:
    return {cid: (digest, table.vectors[start:start + n])
            for cid, (digest, start, n) in table.chunks.items()}


def test_real_questions_quote_the_same_sentences_without_the_model(
        kb_index: IngestReport, cold_cache: extractive._SentenceCache,
        monkeypatch: pytest.MonkeyPatch) -> None:
    retriever = get_retriever()
    results = [retriever.retrieve(question) for question in QUESTIONS]
    assert all(r.relevant for r in results)
    # The answer as it was computed before: the same retrieval, but tagged with an index version
    # the file was not written for, so every sentence is embedded by the model while answering.
    on_the_fly = [extract(replace(r, index_version=f"other-{r.index_version}")) for r in results]
    assert len(cold_cache._items) >= len(QUESTIONS)

    monkeypatch.setattr(extractive, "_cache", extractive._SentenceCache())
    _forbid_model(monkeypatch)
    from_file = [extract(r) for r in results]
    for question, before, after in zip(QUESTIONS, on_the_fly, from_file):
        assert before.sentences and _quoted(after) == _quoted(before), question

    # Not merely close: the stored vectors are the bits answering computes.
    table = read_sentence_vectors(load_settings().sentence_vectors_path)
    assert table.index_version == kb_index.index_version
    for key, vectors in cold_cache._items.items():
        chunk_id, digest = key.rsplit(":", 1)
        stored = table.get(chunk_id, digest)
        assert stored is not None and np.array_equal(stored, vectors), chunk_id


async def test_file_covers_every_chunk_and_warm_up_does_not_load_the_model(
        kb_index: IngestReport, monkeypatch: pytest.MonkeyPatch) -> None:
    table = read_sentence_vectors(load_settings().sentence_vectors_path)
    quotable = [(c, ChunkSentences.of(c)) for c in _indexed_chunks()]
    quotable = [(c, p) for c, p in quotable if p.sentences]
    assert len(quotable) > 200 and len(table.chunks) == len(quotable)
    for chunk, prepared in quotable:
        vectors = table.get(chunk.chunk_id, prepared.digest)
        assert vectors is not None and vectors.shape == (len(prepared.sentences), 384), chunk.chunk_id
    _forbid_model(monkeypatch)
    await warm_up()
    corpus = get_retriever().snapshot()
    assert extractive.warm_up(stored_chunks(corpus.ids, corpus.texts, corpus.metas), corpus.version)


def test_action_server_answers_without_loading_torch(kb_index: IngestReport) -> None:
    # A fresh interpreter: the test process itself has long loaded torch for ingestion.
    script = (
        "import asyncio, sys\n"
        "from actions.knowledge import answer_question, warm_up\n"
        "asyncio.run(warm_up())\n"
        "loaded = [m for m in ('torch', 'sentence_transformers') if m in sys.modules]\n"
        "answer = asyncio.run(answer_question('how much is express shipping to canada?'))\n"
        "assert not answer.refused and '$24.99' in answer.text, answer.text\n"
        "print(loaded, [m for m in ('torch', 'sentence_transformers') if m in sys.modules])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    run = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "[] []"  # after warm-up, after an answer


def _small_kb(folder: Path) -> None:
    folder.mkdir()
    write_article(folder, "lockers", "Parcel lockers",
                  "## Pickup\n\nParcels wait in the locker for five days. Bring the code we send "
                  "you by text message.\n\n## Fees\n\nUsing a parcel locker costs nothing at all.")
    write_article(folder, "gift-cards", "Gift cards",
                  "## Balance\n\nYou can check a gift card balance on the account page. Gift cards "
                  "never expire and carry no fees.")


def test_missing_stale_or_partial_file_falls_back_to_embedding(
        tmp_path: Path, chroma_dir: Path, embedded: list[str],
        cold_cache: extractive._SentenceCache, caplog: pytest.LogCaptureFixture) -> None:
    _small_kb(tmp_path / "kb")
    report = ingest([tmp_path / "kb"])
    path = load_settings().sentence_vectors_path
    assert path.parent == chroma_dir and report.sentence_chunks_embedded == 3
    current = read_sentence_vectors(path)
    result: RetrievalResult = get_retriever().retrieve("how long do parcels wait in the locker",
                                                       threshold=0.0)
    assert result.index_version == report.index_version

    embedded.clear()
    reference = extract(result)
    assert reference.sentences and embedded == []  # the file covers it: no model call

    def fresh_fallback(expect_embedded: list[str] | None = None) -> None:
        """extract() embeds (only ``expect_embedded`` if given), quotes the same, and twice in a
        row embeds nothing more: the fallback caches like the old path did."""
        embedded.clear()
        extractive._cache._items.clear()
        assert _quoted(extract(result)) == _quoted(reference)
        assert embedded if expect_embedded is None else embedded == expect_embedded
        count = len(embedded)
        assert _quoted(extract(result)) == _quoted(reference) and len(embedded) == count

    # Stale: same vectors, but written for another index version, so never used.
    caplog.set_level(logging.INFO, logger="actions.knowledge")
    write_sentence_vectors(path, "someone-elses-version", _rows(current))
    fresh_fallback()
    stale = [r for r in caplog.records if "are for index someone-elses-version" in r.getMessage()]
    assert len(stale) == 1  # once, not per question

    caplog.clear()
    path.unlink()
    fresh_fallback()
    assert sum("no precomputed sentence vectors at" in r.getMessage() for r in caplog.records) == 1

    # Partial: current version, but one chunk of the answer is missing from the file.
    caplog.clear()
    dropped = reference.sentences[0].chunk
    rows = {cid: row for cid, row in _rows(current).items() if cid != dropped.chunk_id}
    write_sentence_vectors(path, report.index_version, rows)
    fresh_fallback(ChunkSentences.of(dropped).texts)
    assert sum(f"for chunk {dropped.chunk_id}" in r.getMessage() for r in caplog.records) == 1

    # A file written after start-up (an ingestion run by someone else) is picked up at once.
    write_sentence_vectors(path, report.index_version, _rows(current))
    embedded.clear()
    extractive._cache._items.clear()
    assert _quoted(extract(result)) == _quoted(reference) and embedded == []


def test_incremental_ingest_reembeds_only_changed_sentences(
        tmp_path: Path, chroma_dir: Path, embedded: list[str]) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    write_article(kb, "alpha", "Alpha policy", "## One\n\nAlpha first section text.\n\n## Two\n\nAlpha second section, a longer one.")
    write_article(kb, "beta", "Beta policy", "## One\n\nBeta text is here.\n\n## Two\n\nMore beta text here.")
    write_article(kb, "gamma", "Gamma policy", "## One\n\nGamma text is here.\n\n## Two\n\nShort.")
    path = load_settings().sentence_vectors_path

    first = ingest([kb])
    assert first.sentence_chunks_embedded == 5  # gamma#01 ("Short.") has nothing to quote
    before = read_sentence_vectors(path)
    assert before.index_version == first.index_version
    assert set(before.chunks) == {"alpha#00", "alpha#01", "beta#00", "beta#01", "gamma#00"}

    embedded.clear()
    stat = path.stat()
    assert ingest([kb]).sentence_chunks_embedded == 0 and embedded == []
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)

    write_article(kb, "beta", "Beta policy", "## One\n\nBeta text, now revised twice.", version=2)
    (kb / "gamma.md").unlink()
    embedded.clear()
    report = ingest([kb])
    assert (report.changed, report.removed) == (["beta"], ["gamma"])
    assert report.sentence_chunks_embedded == 1
    assert "Beta policy | One: Beta text, now revised twice." in embedded
    after = read_sentence_vectors(path)
    assert after.index_version == report.index_version != first.index_version
    chunks = {c.chunk_id: c for c in _indexed_chunks()}
    assert set(after.chunks) == set(chunks) == {"alpha#00", "alpha#01", "beta#00"}
    for chunk_id, chunk in chunks.items():
        prepared = ChunkSentences.of(chunk)
        assert np.array_equal(after.get(chunk_id, prepared.digest), embed_sentences(prepared.texts))
    for chunk_id in ("alpha#00", "alpha#01"):  # reused as they were
        digest = after.chunks[chunk_id][0]
        assert np.array_equal(after.get(chunk_id, digest), before.get(chunk_id, digest))

    assert ingest([kb], rebuild=True).sentence_chunks_embedded == 3


def test_concurrent_first_lookups_read_the_file_once(
        tmp_path: Path, chroma_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _small_kb(tmp_path / "kb")
    report = ingest([tmp_path / "kb"])
    reads: list[Path] = []
    original = sentence_vectors.read_sentence_vectors

    def counting(path: Path) -> SentenceVectors:
        reads.append(path)
        return original(path)

    monkeypatch.setattr(sentence_vectors, "read_sentence_vectors", counting)
    cache = SentenceVectorCache()
    start = threading.Barrier(8)
    tables: list[SentenceVectors | None] = []

    def lookup() -> None:
        start.wait()
        tables.append(cache.get(load_settings().sentence_vectors_path, report.index_version))

    threads = [threading.Thread(target=lookup) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(reads) == 1 and len(tables) == 8
    assert tables[0] is not None and all(t is tables[0] for t in tables)
