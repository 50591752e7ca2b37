"""Ingest help-center folders into the Chroma index, incrementally.

    python -m actions.knowledge.ingest [folders...] [--rebuild]

The index mirrors the given folders (default ``knowledge/``): an article is re-embedded only when
its content hash changed, articles that disappeared are deleted, and unchanged ones are left
alone. A file that fails to parse is reported and skipped; if an earlier good version of it is
indexed, that version is kept rather than wiping the article because of a typo. The extractive
answerer's sentence vectors are brought up to date the same way (sentence_vectors.py).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .chunking import Chunk, chunk_article
from .config import DEFAULT_KNOWLEDGE_DIR, KnowledgeSettings, load_settings
from .documents import Article, load_articles
from .embeddings import MODEL_NAME, torch_threads
from .extractive import ChunkSentences, embed_sentences, stored_chunks
from .manifest import compute_index_version, write_manifest
from .sentence_vectors import SentenceVectors, read_sentence_vectors, write_sentence_vectors
from .store import all_records, get_store

logger = logging.getLogger(__name__)

ProgressFn = Callable[[int, int, str], None]
EMBED_BATCH = 64


@dataclass
class IngestReport:
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept_on_error: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    chunks_total: int = 0
    chunks_embedded: int = 0
    sentence_chunks_embedded: int = 0  # chunks whose sentence vectors were (re)computed
    seconds: float = 0.0
    index_version: str = ""

    def summary(self) -> str:
        return (
            f"ingested {len(self.changed)} changed, {len(self.new)} new, "
            f"{len(self.removed)} removed, {len(self.unchanged)} unchanged; "
            f"{self.chunks_total} chunks; index version {self.index_version}"
        )


@dataclass
class _Indexed:
    """What the collection currently holds for one article."""
    content_hash: str
    source: str
    ids: list[str] = field(default_factory=list)


def _indexed_articles(ids: list[str], metas: list[dict]) -> dict[str, _Indexed]:
    indexed: dict[str, _Indexed] = {}
    for chunk_id, meta in zip(ids, metas):
        article_id = str(meta.get("article_id", ""))
        entry = indexed.setdefault(
            article_id, _Indexed(str(meta.get("content_hash", "")), str(meta.get("source", "")))
        )
        entry.ids.append(chunk_id)
    return indexed


def _manifest_entries(metas: Iterable[dict]) -> dict[str, dict]:
    entries: dict[str, dict] = {}
    counts: dict[str, int] = defaultdict(int)
    for meta in metas:
        article_id = str(meta["article_id"])
        counts[article_id] += 1
        entries[article_id] = {
            "title": meta.get("title"),
            "url": meta.get("url"),
            "audience": meta.get("audience"),
            "version": meta.get("version"),
            "content_hash": meta.get("content_hash"),
            "source": meta.get("source"),
        }
    for article_id, entry in entries.items():
        entry["chunks"] = counts[article_id]
    return entries


def _previous_sentence_vectors(settings: KnowledgeSettings) -> SentenceVectors | None:
    path = settings.sentence_vectors_path
    if not path.exists():
        return None
    try:
        previous = read_sentence_vectors(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("ignoring unreadable %s: %s", path, exc)
        return None
    return previous if previous.embedding_model == MODEL_NAME else None


def _update_sentence_vectors(settings: KnowledgeSettings, ids: list[str], docs: list[str],
                             metas: list[dict], index_version: str, reuse: bool,
                             progress: ProgressFn | None) -> int:
    """Write the sentence vectors of every chunk in the collection for ``index_version``; returns
    how many chunks had to be embedded. Built from the collection rather than from this run's
    articles so the file matches what the retriever will return, including articles kept on a
    parse error. Entries are keyed by the exact texts embedded, so any entry of the previous file
    (whatever its index version) whose key still matches is reused as it is."""
    previous = _previous_sentence_vectors(settings) if reuse else None
    rows: dict[str, tuple[str, np.ndarray]] = {}
    todo: list[tuple[str, ChunkSentences]] = []
    for chunk in stored_chunks(ids, docs, metas):
        prepared = ChunkSentences.of(chunk)
        if not prepared.sentences:
            continue  # nothing extract() could quote, so nothing it would embed
        vectors = previous.get(chunk.chunk_id, prepared.digest) if previous else None
        if vectors is None:
            todo.append((chunk.chunk_id, prepared))
        else:
            rows[chunk.chunk_id] = (prepared.digest, vectors)
    if previous is not None and not todo and previous.index_version == index_version \
            and previous.chunks.keys() == rows.keys():
        return 0  # a no-op ingestion leaves the file (and readers' cached copy) alone
    if todo:
        # One small batch per chunk, as answering embeds them (same vectors, to the bit). With
        # several torch threads such small batches stall whenever another process holds a core
        # (measured 21-41 s instead of 10-13 s for all 248 chunks on the 2-CPU host); the vectors
        # are identical either way.
        with torch_threads(1):
            for done, (chunk_id, prepared) in enumerate(todo, 1):
                rows[chunk_id] = (prepared.digest, embed_sentences(prepared.texts))
                if progress:
                    progress(done, len(todo), f"sentences of {chunk_id}")
    write_sentence_vectors(settings.sentence_vectors_path, index_version, rows)
    return len(todo)


def _print_progress(done: int, total: int, label: str) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} chunks {label[:40]:<40}",
          end="" if done < total else "\n", file=sys.stderr, flush=True)


def ingest(folders: Iterable[Path] | None = None, rebuild: bool = False,
           settings: KnowledgeSettings | None = None,
           progress: ProgressFn | None = None) -> IngestReport:
    """Bring the index in line with ``folders`` and write the manifest. Returns what changed."""
    started = time.perf_counter()
    settings = settings or load_settings()
    folders = [Path(f) for f in (folders or [DEFAULT_KNOWLEDGE_DIR])]
    for folder in folders:
        if not folder.exists():
            raise FileNotFoundError(f"knowledge folder not found: {folder}")
    loaded = load_articles(folders)
    report = IngestReport(errors=loaded.errors)
    store = get_store(settings)
    if rebuild:
        store.reset_collection()
    ids, _, metas = all_records(store)
    indexed = _indexed_articles(ids, metas)

    to_embed: list[Article] = []
    for article in loaded.articles:
        current = indexed.get(article.article_id)
        if current is None:
            report.new.append(article.article_id)
            to_embed.append(article)
        elif current.content_hash != article.content_hash:
            report.changed.append(article.article_id)
            to_embed.append(article)
        else:
            report.unchanged.append(article.article_id)

    loaded_ids = {a.article_id for a in loaded.articles}
    failed_sources = {path for path, _ in loaded.errors}
    stale_ids: list[str] = []
    for article_id, current in indexed.items():
        if article_id in loaded_ids:
            continue
        if current.source in failed_sources:
            report.kept_on_error.append(article_id)
            continue
        report.removed.append(article_id)
        stale_ids.extend(current.ids)

    pending: list[Chunk] = []
    for article in to_embed:
        chunks = chunk_article(article)
        pending.extend(chunks)
        previous = indexed.get(article.article_id)
        if previous:
            new_ids = {c.chunk_id for c in chunks}
            stale_ids.extend(i for i in previous.ids if i not in new_ids)
    # Upsert in batches (the model is much faster on a batch than chunk by chunk), then drop chunk
    # ids the new versions no longer have: an article is never missing while being replaced.
    for start in range(0, len(pending), EMBED_BATCH):
        batch = pending[start:start + EMBED_BATCH]
        store.add_texts([c.text for c in batch], metadatas=[c.metadata() for c in batch],
                        ids=[c.chunk_id for c in batch])
        report.chunks_embedded += len(batch)
        if progress:
            progress(report.chunks_embedded, len(pending), batch[-1].article_id)
    if stale_ids:
        store.delete(ids=stale_ids)

    ids, docs, metas = all_records(store)
    entries = _manifest_entries(metas)
    version = compute_index_version({a: e["content_hash"] for a, e in entries.items()})
    # Sentence vectors before the manifest: a reader that sees the new index version in the
    # manifest then always finds the sentence vectors written for it.
    report.sentence_chunks_embedded = _update_sentence_vectors(
        settings, ids, docs, metas, version, reuse=not rebuild, progress=progress)
    manifest = write_manifest(settings.manifest_path, entries, len(metas), MODEL_NAME)
    report.chunks_total = len(metas)
    report.index_version = manifest["index_version"]
    report.seconds = time.perf_counter() - started
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Ingest help-center articles into Chroma.")
    parser.add_argument("folders", nargs="*", type=Path,
                        help=f"folders or files to ingest (default: {DEFAULT_KNOWLEDGE_DIR})")
    parser.add_argument("--rebuild", action="store_true",
                        help="drop the collection and re-embed everything")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Ingestion embeds large batches, where several threads do help (queries use one).
    os.environ.setdefault("KB_TORCH_THREADS", str(os.cpu_count() or 1))
    try:
        report = ingest(args.folders or None, rebuild=args.rebuild,
                        progress=None if args.quiet else _print_progress)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path, reason in report.errors:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    for article_id in report.kept_on_error:
        print(f"kept previously indexed version of {article_id} (its file failed to parse)",
              file=sys.stderr)
    print(report.summary())
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
