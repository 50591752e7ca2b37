"""The index manifest: which article versions are in the index, and the index version.

The collection's own chunk metadata (article_id + content_hash) is the source of truth; the
manifest JSON is a small readable summary of it written after each ingestion, so the action
server, audit records and tools can report ``index_version`` without scanning the collection.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from .config import load_settings

logger = logging.getLogger(__name__)

EMPTY_INDEX_VERSION = "empty"


def compute_index_version(article_hashes: Mapping[str, str]) -> str:
    """Hash of the ingested articles (id and content hash), independent of ingestion order."""
    if not article_hashes:
        return EMPTY_INDEX_VERSION
    payload = "\n".join(f"{aid}:{h}" for aid, h in sorted(article_hashes.items()))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:12]


def write_manifest(path: Path, articles: Mapping[str, Mapping[str, Any]], chunk_count: int,
                   embedding_model: str) -> dict[str, Any]:
    manifest = {
        "index_version": compute_index_version({a: v["content_hash"] for a, v in articles.items()}),
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "embedding_model": embedding_model,
        "article_count": len(articles),
        "chunk_count": chunk_count,
        "articles": dict(sorted(articles.items())),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write-then-rename so a reader never sees a half-written file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".manifest-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2)
    os.replace(tmp, path)
    return manifest


def read_manifest(path: Path | None = None) -> dict[str, Any] | None:
    path = path or load_settings().manifest_path
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        logger.warning("unreadable knowledge manifest %s: %s", path, exc)
        return None


# path -> (stat signature, index version): the audit asks on every turn, and re-reading and
# parsing the whole manifest each time was about 4% of the action server's CPU under load
_versions: dict[Path, tuple[tuple[int, int, int], str]] = {}


def index_version() -> str:
    """Version of the knowledge index currently on disk ("empty" when nothing is ingested).

    Re-read whenever the manifest file changes: ingestion replaces it by rename, which changes
    its inode, and any rewrite changes its modification time or size."""
    path = load_settings().manifest_path
    try:
        stat = path.stat()
    except OSError:
        stat = None
    signature = (stat.st_ino, stat.st_mtime_ns, stat.st_size) if stat else None
    known = _versions.get(path)
    if signature is not None and known is not None and known[0] == signature:
        return known[1]
    manifest = read_manifest(path)
    version = manifest["index_version"] if manifest else EMPTY_INDEX_VERSION
    if signature is not None and manifest:
        _versions[path] = (signature, version)
    return version
