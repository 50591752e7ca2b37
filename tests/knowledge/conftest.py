"""Knowledge tests run against a throw-away Chroma directory, never var/chroma.

``kb_index`` ingests the real knowledge/ folder once for the package (embedding ~50 articles
takes a while on CPU); tests that need their own index point CHROMA_PATH at ``tmp_path`` with
``chroma_dir``, and ``embedded`` records every text the embedding model is asked to embed.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from actions.knowledge.config import DEFAULT_KNOWLEDGE_DIR  # noqa: E402
from actions.knowledge.embeddings import MiniLMEmbeddings  # noqa: E402
from actions.knowledge.ingest import IngestReport, ingest  # noqa: E402

_ENV_KEYS = ("CHROMA_PATH", "CHROMA_HOST", "CHROMA_PORT", "LLM_BASE_URL", "LLM_MODEL",
             "LLM_API_KEY", "KB_MIN_RELEVANCE")


@pytest.fixture(scope="package")
def kb_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngestReport]:
    saved = {key: os.environ.get(key) for key in _ENV_KEYS}
    for key in _ENV_KEYS:
        os.environ.pop(key, None)
    os.environ["CHROMA_PATH"] = str(tmp_path_factory.mktemp("kb") / "chroma")
    try:
        yield ingest([DEFAULT_KNOWLEDGE_DIR])
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def chroma_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "chroma"
    monkeypatch.setenv("CHROMA_PATH", str(path))
    return path


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text sent to the embedding model, to prove what was (not) re-embedded."""
    texts: list[str] = []
    original = MiniLMEmbeddings.embed_documents

    def spy(self: MiniLMEmbeddings, batch: list[str]) -> list[list[float]]:
        texts.extend(batch)
        return original(self, batch)

    monkeypatch.setattr(MiniLMEmbeddings, "embed_documents", spy)
    return texts


def write_article(folder: Path, article_id: str, title: str, body: str,
                  audience: str = "public", version: int = 1) -> Path:
    path = folder / f"{article_id}.md"
    path.write_text(
        f"---\nid: {article_id}\ntitle: {title}\n"
        f"url: https://help.brightcart.example/articles/{article_id}\n"
        f"audience: {audience}\nproduct_area: test\nlast_reviewed: 2025-01-01\n"
        f"version: {version}\n---\n# {title}\n\n{body}\n",
        encoding="utf-8",
    )
    return path
