"""The audit store: one row per customer turn, in SQLite (default) or PostgreSQL.

The same schema and queries serve both; nested facts (entities, triage, actions, knowledge) are
JSON text so the table reads the same in either database. The consumer's position in the event
stream and its per-conversation state are stored in the same database and committed in the same
transaction as the records they produced, so a restart neither loses nor duplicates a turn.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence

from actions.audit.settings import AuditSettings, is_postgres, sqlite_path

# column -> SQL type; JSON columns hold text. Order is the order of the table.
COLUMNS: Dict[str, str] = {
    "conversation_id": "TEXT NOT NULL",
    "turn_key": "TEXT NOT NULL",
    "turn_index": "INTEGER",
    "channel": "TEXT",
    "ts": "DOUBLE PRECISION NOT NULL",  # the customer's message (epoch seconds, Rasa's clock)
    "message": "TEXT",  # masked
    "intent": "TEXT",
    "confidence": "DOUBLE PRECISION",
    "intent_ranking": "TEXT",  # JSON [{name, confidence}] top 3
    "entities": "TEXT",  # JSON [{entity, value (masked), extractor}]
    "triage": "TEXT",  # JSON, masked
    "frustration": "DOUBLE PRECISION",
    "urgency": "TEXT",
    "risk_class": "TEXT",
    "actions": "TEXT",  # JSON [{name, policy, confidence}] in order, action_listen excluded
    "action": "TEXT",  # the first action the bot took for this message
    "policy": "TEXT",  # the policy that predicted it
    "escalation_rule": "TEXT",
    "escalation_reason": "TEXT",
    "handoff": "INTEGER NOT NULL DEFAULT 0",
    "handoff_ticket_id": "TEXT",
    "knowledge": "TEXT",  # JSON {query, retrieved, refused, reason, cited_articles, index_version}
    "kb_refused": "INTEGER",  # NULL when no knowledge answer was attempted
    "fallback": "INTEGER NOT NULL DEFAULT 0",
    "reply": "TEXT",  # masked
    "latency_ms": "DOUBLE PRECISION",
    "paused": "INTEGER NOT NULL DEFAULT 0",
    "customer_id": "TEXT",
    "order_id": "TEXT",
    "model_id": "TEXT",
    "assistant_id": "TEXT",
    "rules_version": "TEXT",
    "kb_index_version": "TEXT",
    "action_server_version": "TEXT",
    "closed_by": "TEXT",  # listen | next_message | timeout
    "recorded_at": "DOUBLE PRECISION",
}
JSON_COLUMNS = {"intent_ranking", "entities", "triage", "actions", "knowledge"}
BOOL_COLUMNS = {"handoff", "kb_refused", "fallback", "paused"}


class AuditStore:
    """Thin access to the audit tables; opens a connection per operation (cheap, thread-safe)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.postgres = is_postgres(url)
        if not self.postgres:
            sqlite_path(url).parent.mkdir(parents=True, exist_ok=True)
        self._ready = False
        # one SQLite connection per thread, kept open: the consumer commits every half second, and
        # opening a connection and setting WAL each time was a tenth of the action server's CPU
        self._local = threading.local()

    @classmethod
    def from_settings(cls, settings: Optional[AuditSettings] = None) -> "AuditStore":
        return cls((settings or AuditSettings.load()).db_url)

    def describe(self) -> str:
        if self.postgres:
            from psycopg.conninfo import conninfo_to_dict

            info = conninfo_to_dict(self.url)
            return f"postgresql {info.get('host', '')}:{info.get('port', 5432)}/{info.get('dbname', '')}"
        return f"sqlite {sqlite_path(self.url)}"

    # -- plumbing ------------------------------------------------------------------------------
    @contextmanager
    def connect(self) -> Iterator[Any]:
        if self.postgres:
            import psycopg
            from psycopg.rows import dict_row

            with psycopg.connect(self.url, row_factory=dict_row, connect_timeout=10) as conn:
                yield conn
        else:
            conn = getattr(self._local, "conn", None)
            if conn is None:
                conn = sqlite3.connect(sqlite_path(self.url), timeout=30)
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA journal_mode=WAL")
                self._local.conn = conn
            with conn:  # one transaction: committed on success, rolled back on an error
                yield conn

    def _q(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    def _exec(self, conn: Any, sql: str, params: Sequence[Any] = ()) -> Any:
        return conn.execute(self._q(sql), tuple(params))

    def init(self) -> None:
        if self._ready:
            return
        pk = "BIGSERIAL PRIMARY KEY" if self.postgres else "INTEGER PRIMARY KEY AUTOINCREMENT"
        cols = ",\n  ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
        statements = [
            f"CREATE TABLE IF NOT EXISTS audit_turns (\n  id {pk},\n  {cols},\n  UNIQUE (conversation_id, turn_key)\n)",
            "CREATE INDEX IF NOT EXISTS audit_turns_ts ON audit_turns (ts)",
            "CREATE INDEX IF NOT EXISTS audit_turns_intent ON audit_turns (intent)",
            "CREATE INDEX IF NOT EXISTS audit_turns_customer ON audit_turns (customer_id, order_id)",
            "CREATE TABLE IF NOT EXISTS audit_consumer (name TEXT PRIMARY KEY, position BIGINT NOT NULL, updated_at DOUBLE PRECISION)",
            "CREATE TABLE IF NOT EXISTS audit_conversation_state ("
            "conversation_id TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at DOUBLE PRECISION)",
        ]
        with self.connect() as conn:
            for statement in statements:
                self._exec(conn, statement)
            # columns added after a store was created: add them in place (never drop any)
            existing = self._columns(conn)
            for name, kind in COLUMNS.items():
                if name not in existing:
                    kind = kind.replace(" NOT NULL", "") if "DEFAULT" not in kind else kind
                    self._exec(conn, f"ALTER TABLE audit_turns ADD COLUMN {name} {kind}")
        self._ready = True

    def _columns(self, conn: Any) -> set:
        if self.postgres:
            rows = self._exec(
                conn, "SELECT column_name AS name FROM information_schema.columns WHERE table_name = 'audit_turns'"
            ).fetchall()
        else:
            rows = self._exec(conn, "PRAGMA table_info(audit_turns)").fetchall()
        return {row["name"] for row in rows}

    # -- writing -------------------------------------------------------------------------------
    def _insert_turn(self, conn: Any, record: Dict[str, Any]) -> None:
        names = list(COLUMNS)
        values = [encode(name, record.get(name)) for name in names]
        placeholders = ", ".join("?" for _ in names)
        self._exec(
            conn,
            f"INSERT INTO audit_turns ({', '.join(names)}) VALUES ({placeholders}) "
            "ON CONFLICT (conversation_id, turn_key) DO NOTHING",
            values,
        )

    def commit_batch(
        self,
        records: Iterable[Dict[str, Any]],
        states: Optional[Dict[str, Optional[Dict[str, Any]]]] = None,
        consumer: Optional[str] = None,
        position: Optional[int] = None,
    ) -> int:
        """Write turn records, conversation states (None deletes) and the stream position at once."""
        self.init()
        now = time.time()
        count = 0
        with self.connect() as conn:
            for record in records:
                self._insert_turn(conn, {**record, "recorded_at": record.get("recorded_at") or now})
                count += 1
            for conversation_id, state in (states or {}).items():
                if state is None:
                    self._exec(conn, "DELETE FROM audit_conversation_state WHERE conversation_id = ?", (conversation_id,))
                else:
                    self._exec(
                        conn,
                        "INSERT INTO audit_conversation_state (conversation_id, state, updated_at) VALUES (?, ?, ?) "
                        "ON CONFLICT (conversation_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
                        (conversation_id, json.dumps(state, default=str), now),
                    )
            if consumer is not None and position is not None:
                self._exec(
                    conn,
                    "INSERT INTO audit_consumer (name, position, updated_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at",
                    (consumer, int(position), now),
                )
        return count

    def insert_turns(self, records: Iterable[Dict[str, Any]]) -> int:
        return self.commit_batch(records)

    # -- reading -------------------------------------------------------------------------------
    def position(self, consumer: str) -> int:
        self.init()
        with self.connect() as conn:
            row = self._exec(conn, "SELECT position FROM audit_consumer WHERE name = ?", (consumer,)).fetchone()
        return int(row["position"]) if row else 0

    def states(self) -> Dict[str, Dict[str, Any]]:
        self.init()
        with self.connect() as conn:
            rows = self._exec(conn, "SELECT conversation_id, state FROM audit_conversation_state").fetchall()
        return {row["conversation_id"]: json.loads(row["state"]) for row in rows}

    def turns(
        self,
        conversation_id: Optional[str] = None,
        since: Optional[float] = None,
        until: Optional[float] = None,
        intent: Optional[str] = None,
        rule: Optional[str] = None,
        low_confidence: Optional[float] = None,
        refusals: bool = False,
        channel: Optional[str] = None,
        limit: Optional[int] = None,
    ) -> List[Dict[str, Any]]:
        """Turn records, oldest first, filtered; JSON columns decoded, flags as bools."""
        self.init()
        where: List[str] = []
        params: List[Any] = []
        for column, value in (("conversation_id", conversation_id), ("intent", intent), ("escalation_rule", rule), ("channel", channel)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("ts >= ?")
            params.append(since)
        if until is not None:
            where.append("ts < ?")
            params.append(until)
        if low_confidence is not None:
            where.append("confidence < ?")
            params.append(low_confidence)
        if refusals:
            where.append("kb_refused = 1")
        sql = "SELECT * FROM audit_turns" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY ts, id"
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self.connect() as conn:
            rows = self._exec(conn, sql, params).fetchall()
        return [decode(dict(row)) for row in rows]

    def count(self) -> int:
        self.init()
        with self.connect() as conn:
            row = self._exec(conn, "SELECT COUNT(*) AS n FROM audit_turns").fetchone()
        return int(row["n"])

    def delete_all(self) -> None:
        """Empty the audit tables (tests and the seed command only)."""
        self.init()
        with self.connect() as conn:
            for table in ("audit_turns", "audit_consumer", "audit_conversation_state"):
                self._exec(conn, f"DELETE FROM {table}")


def encode(name: str, value: Any) -> Any:
    if name in JSON_COLUMNS:
        return None if value is None else json.dumps(value, default=str, ensure_ascii=False)
    if name in BOOL_COLUMNS:
        return None if value is None else int(bool(value))
    return value


def decode(row: Dict[str, Any]) -> Dict[str, Any]:
    for name in JSON_COLUMNS:
        if row.get(name) is not None:
            row[name] = json.loads(row[name])
    for name in BOOL_COLUMNS:
        if row.get(name) is not None:
            row[name] = bool(row[name])
    return row


def open_store(path_or_url: Optional[str] = None) -> AuditStore:
    store = AuditStore(path_or_url) if path_or_url else AuditStore.from_settings()
    store.init()
    return store


def ensure_parent(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
