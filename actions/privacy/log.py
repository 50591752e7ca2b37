"""The erasure log and the retention log: what was erased or removed, never the data itself.

SQLite, ``PRIVACY_DB`` or ``VAR_DIR/privacy.sqlite3``. Retention never touches this file.

``erasure_log``  erasure_id, case_id (the Slack case, a random id), status (running|done|failed),
    requested_at, completed_at, approved_by (the agent's Slack id), customer_hash (HMAC-SHA256 of
    the customer id with the salt), counts (JSON: rows per store), error (the failing step and the
    error's type, no message text)
``retention_log`` id, run_at, retention_days, cutoff, counts (JSON)

The salt is ``ERASURE_HASH_SALT``; without it a random salt is made once and kept in
``privacy_meta`` in the same file (set the variable in production: a salt stored beside the
hashes makes a short customer id easy to test against them).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import time
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any, Dict, List, Optional

from actions.config import settings as app_settings

SCHEMA = """
CREATE TABLE IF NOT EXISTS erasure_log (
    erasure_id TEXT PRIMARY KEY,
    case_id TEXT UNIQUE,
    status TEXT NOT NULL,
    requested_at REAL NOT NULL,
    completed_at REAL,
    approved_by TEXT,
    customer_hash TEXT,
    counts TEXT,
    error TEXT
);
CREATE TABLE IF NOT EXISTS retention_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_at REAL NOT NULL,
    retention_days REAL NOT NULL,
    cutoff REAL NOT NULL,
    counts TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS privacy_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


def db_path() -> Path:
    explicit = os.environ.get("PRIVACY_DB", "").strip()
    return Path(explicit) if explicit else Path(os.environ.get("VAR_DIR", "").strip() or app_settings.var_dir) / "privacy.sqlite3"


class PrivacyLog:
    def __init__(self, path: Optional[Path] = None) -> None:
        self.path = Path(path or db_path())
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        conn.row_factory = sqlite3.Row
        return conn

    # --- hashing ------------------------------------------------------------------------------

    def salt(self) -> bytes:
        explicit = os.environ.get("ERASURE_HASH_SALT", "").strip()
        if explicit:
            return explicit.encode()
        with closing(self._connect()) as conn:
            conn.execute("INSERT OR IGNORE INTO privacy_meta (key, value) VALUES ('salt', ?)", (secrets.token_hex(32),))
            return conn.execute("SELECT value FROM privacy_meta WHERE key = 'salt'").fetchone()["value"].encode()

    def customer_hash(self, customer_id: str) -> str:
        return hmac.new(self.salt(), customer_id.encode(), hashlib.sha256).hexdigest()

    # --- erasures -----------------------------------------------------------------------------

    def claim(self, case_id: str, approved_by: Optional[str], stale_seconds: float = 600.0) -> Optional[str]:
        """A new erasure id for this case, or None when it is done or running (a second click).
        A failed erasure, or one left running by a process that died, may be claimed again."""
        now = time.time()
        with closing(self._connect()) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT * FROM erasure_log WHERE case_id = ?", (case_id,)).fetchone()
                if row is not None:
                    stale = row["status"] == "running" and now - row["requested_at"] > stale_seconds
                    if row["status"] != "failed" and not stale:
                        conn.execute("COMMIT")
                        return None
                    conn.execute("UPDATE erasure_log SET status = 'running', requested_at = ?, approved_by = ?, error = NULL "
                                 "WHERE case_id = ?", (now, approved_by, case_id))
                    conn.execute("COMMIT")
                    return str(row["erasure_id"])
                erasure_id = f"E-{uuid.uuid4().hex[:12]}"
                conn.execute("INSERT INTO erasure_log (erasure_id, case_id, status, requested_at, approved_by) "
                             "VALUES (?, ?, 'running', ?, ?)", (erasure_id, case_id, now, approved_by))
                conn.execute("COMMIT")
                return erasure_id
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def finish(self, erasure_id: str, customer_hash: Optional[str], counts: Dict[str, Any]) -> None:
        with closing(self._connect()) as conn:
            conn.execute("UPDATE erasure_log SET status = 'done', completed_at = ?, customer_hash = COALESCE(?, customer_hash), "
                         "counts = ?, error = NULL WHERE erasure_id = ?",
                         (time.time(), customer_hash, json.dumps(counts, sort_keys=True), erasure_id))

    def fail(self, erasure_id: str, customer_hash: Optional[str], counts: Dict[str, Any], error: str) -> None:
        with closing(self._connect()) as conn:
            conn.execute("UPDATE erasure_log SET status = 'failed', customer_hash = COALESCE(?, customer_hash), counts = ?, "
                         "error = ? WHERE erasure_id = ?", (customer_hash, json.dumps(counts, sort_keys=True), error[:300], erasure_id))

    def erasure(self, erasure_id: str) -> Optional[Dict[str, Any]]:
        with closing(self._connect()) as conn:
            row = conn.execute("SELECT * FROM erasure_log WHERE erasure_id = ?", (erasure_id,)).fetchone()
        return _decoded(row)

    def erasure_for_case(self, case_id: str) -> Optional[Dict[str, Any]]:
        with closing(self._connect()) as conn:
            row = conn.execute("SELECT * FROM erasure_log WHERE case_id = ?", (case_id,)).fetchone()
        return _decoded(row)

    def erasures(self) -> List[Dict[str, Any]]:
        with closing(self._connect()) as conn:
            rows = conn.execute("SELECT * FROM erasure_log ORDER BY requested_at").fetchall()
        return [_decoded(r) for r in rows]  # type: ignore[misc]

    # --- retention ----------------------------------------------------------------------------

    def record_retention(self, retention_days: float, cutoff: float, counts: Dict[str, Any]) -> int:
        with closing(self._connect()) as conn:
            cursor = conn.execute("INSERT INTO retention_log (run_at, retention_days, cutoff, counts) VALUES (?, ?, ?, ?)",
                                  (time.time(), retention_days, cutoff, json.dumps(counts, sort_keys=True)))
        return int(cursor.lastrowid)

    def retention_runs(self) -> List[Dict[str, Any]]:
        with closing(self._connect()) as conn:
            rows = conn.execute("SELECT * FROM retention_log ORDER BY id").fetchall()
        return [_decoded(r) for r in rows]  # type: ignore[misc]


def _decoded(row: Optional[sqlite3.Row]) -> Optional[Dict[str, Any]]:
    if row is None:
        return None
    item = dict(row)
    if item.get("counts"):
        item["counts"] = json.loads(item["counts"])
    return item
