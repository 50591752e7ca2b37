"""Durable Slack outbox and the handoff case store (SQLite, ``VAR_DIR/handoff.sqlite3``).

Nothing meant for Slack is sent directly: it is written to ``slack_outbox`` first (in the same
transaction as the case it belongs to) and a delivery loop in the action server posts it. If
Slack is unreachable the items wait, and are delivered when it is back:

- **in order**: items go out strictly by id; an item that cannot be sent holds back the ones
  after it (a customer's message is never posted before the case it belongs to);
- **exactly once**: an attempt that may have reached Slack (timeout, dropped connection, 5xx)
  is marked ``uncertain``; before sending it again the loop reads the channel (or thread) back
  and looks for the message by the ``outbox_id`` it carries in Slack message metadata. An
  attempt that certainly did not reach Slack (connection refused, rate limit, bad token) is
  simply retried. Several action server processes can share the file: an item is claimed with
  a lease inside an immediate transaction before it is sent.
- Slack refusing one message (invalid blocks, too long) is retried once as plain text, then
  the item is parked as ``dead`` with the error (visible in /metrics and the table); it does not
  block the queue.

Tables (other modules and the audit/KPI work read them; columns are a stable interface):

``handoff_cases``  one row per handoff
    case_id, conversation_id, input_channel, customer_id, customer_name, tier, rule, reason,
    ticket_id, status (open|resolved), slack_channel, slack_ts (the case message = thread root),
    created_at, delivered_at (first time Slack had it), resolved_at, resolved_by,
    customer_told (live|queued: what the customer was told at handoff), queued_notice_sent,
    draft_text, draft_citations (JSON), draft_status (pending|ready|none|failed),
    draft_outcome (sent_as_is|edited|discarded|NULL), draft_outcome_at, draft_outcome_by,
    draft_similarity, context (JSON: triage, summary, transcript, orders)
``agent_replies``  every message an agent sent to the customer
    id, case_id, conversation_id, slack_ts (unique), agent, text, source (thread|suggested_reply|system),
    draft_similarity, status (pending|delivered|failed), delivered_via, error, seen (1 once the
    customer's channel has shown it), created_at, delivered_at
``slack_outbox``  id, kind (post|reply|update|delete: a bot message removed by an erasure), case_id, conversation_id, dedupe_key (unique), payload (JSON),
    status (pending|sending|uncertain|sent|dead), attempts, last_error, created_at,
    next_attempt_at, lease_until, sent_at, slack_channel, slack_ts
``slack_events``  event_id, received_at: Slack Events API retries are processed once
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Iterator, List, Optional, Tuple

from actions import slack_client
from actions.config import settings as app_settings

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS handoff_cases (
    case_id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    input_channel TEXT,
    customer_id TEXT,
    customer_name TEXT,
    tier TEXT,
    rule TEXT,
    reason TEXT,
    ticket_id TEXT,
    status TEXT NOT NULL DEFAULT 'open',
    slack_channel TEXT,
    slack_ts TEXT,
    created_at REAL NOT NULL,
    delivered_at REAL,
    resolved_at REAL,
    resolved_by TEXT,
    customer_told TEXT,
    queued_notice_sent INTEGER NOT NULL DEFAULT 0,
    draft_text TEXT,
    draft_citations TEXT,
    draft_status TEXT,
    draft_outcome TEXT,
    draft_outcome_at REAL,
    draft_outcome_by TEXT,
    draft_similarity REAL,
    context TEXT
);
CREATE INDEX IF NOT EXISTS handoff_cases_conversation ON handoff_cases (conversation_id, status);
CREATE INDEX IF NOT EXISTS handoff_cases_thread ON handoff_cases (slack_channel, slack_ts);

CREATE TABLE IF NOT EXISTS agent_replies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    slack_ts TEXT UNIQUE,
    agent TEXT,
    text TEXT NOT NULL,
    source TEXT NOT NULL,
    draft_similarity REAL,
    status TEXT NOT NULL DEFAULT 'pending',
    delivered_via TEXT,
    error TEXT,
    seen INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    delivered_at REAL
);
CREATE INDEX IF NOT EXISTS agent_replies_unseen ON agent_replies (conversation_id, seen);

CREATE TABLE IF NOT EXISTS slack_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    case_id TEXT,
    conversation_id TEXT,
    dedupe_key TEXT UNIQUE,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at REAL NOT NULL,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    lease_until REAL,
    sent_at REAL,
    slack_channel TEXT,
    slack_ts TEXT
);
CREATE INDEX IF NOT EXISTS slack_outbox_open ON slack_outbox (status, id);

CREATE TABLE IF NOT EXISTS slack_events (
    event_id TEXT PRIMARY KEY,
    received_at REAL NOT NULL
);
"""

FINAL = ("sent", "dead")
METADATA_EVENT_TYPE = "brightcart_handoff"


def db_path() -> Path:
    explicit = os.environ.get("HANDOFF_DB", "").strip()
    return Path(explicit) if explicit else Path(app_settings.var_dir) / "handoff.sqlite3"


def _json(value: Any) -> Optional[str]:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)


class HandoffStore:
    """Cases, agent replies and the Slack outbox in one SQLite file (WAL, short transactions)."""

    def __init__(self, path: Optional[Path] = None) -> None:
        self.path = Path(path or db_path())
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self.connect() as conn:
            conn.executescript(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        yield self._conn()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # --- cases ------------------------------------------------------------------------------

    def create_case(self, case: Dict[str, Any], post_payload: Dict[str, Any]) -> Tuple[str, int]:
        """Store a new case and queue its Slack message in one transaction: (case_id, outbox id)."""
        case_id = case.get("case_id") or f"H-{uuid.uuid4().hex[:10]}"
        now = time.time()
        with self.transaction() as conn:
            conn.execute(
                """INSERT INTO handoff_cases (case_id, conversation_id, input_channel, customer_id, customer_name, tier,
                       rule, reason, ticket_id, status, created_at, draft_text, draft_citations, draft_status, context)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?)""",
                (case_id, case["conversation_id"], case.get("input_channel"), case.get("customer_id"),
                 case.get("customer_name"), case.get("tier"), case.get("rule"), case.get("reason"),
                 case.get("ticket_id"), now, case.get("draft_text"), _json(case.get("draft_citations")),
                 case.get("draft_status"), _json(case.get("context"))),
            )
            outbox_id = self._enqueue(conn, "post", post_payload, case_id, case["conversation_id"], f"post:{case_id}")
        return case_id, outbox_id

    def get_case(self, case_id: str) -> Optional[Dict[str, Any]]:
        with self.connect() as conn:
            row = conn.execute("SELECT * FROM handoff_cases WHERE case_id = ?", (case_id,)).fetchone()
        return _case(row)

    def open_case_for(self, conversation_id: str) -> Optional[Dict[str, Any]]:
        with self.connect() as conn:
            row = conn.execute(
                "SELECT * FROM handoff_cases WHERE conversation_id = ? AND status = 'open' ORDER BY created_at DESC LIMIT 1",
                (conversation_id,),
            ).fetchone()
        return _case(row)

    def case_by_thread(self, channel: Optional[str], thread_ts: str) -> Optional[Dict[str, Any]]:
        with self.connect() as conn:
            row = conn.execute(
                "SELECT * FROM handoff_cases WHERE slack_ts = ? AND (? IS NULL OR slack_channel = ?) LIMIT 1",
                (thread_ts, channel, channel),
            ).fetchone()
        return _case(row)

    def set_case_message(self, case_id: str, channel: str, ts: str) -> None:
        with self.connect() as conn:
            conn.execute(
                "UPDATE handoff_cases SET slack_channel = ?, slack_ts = ?, delivered_at = COALESCE(delivered_at, ?) WHERE case_id = ?",
                (channel, ts, time.time(), case_id),
            )

    def update_case(self, case_id: str, **fields: Any) -> None:
        if not fields:
            return
        columns = ", ".join(f"{name} = ?" for name in fields)
        values = [_json(v) if name in ("draft_citations", "context") else v for name, v in fields.items()]
        with self.connect() as conn:
            conn.execute(f"UPDATE handoff_cases SET {columns} WHERE case_id = ?", (*values, case_id))

    def resolve_case(self, case_id: str, by: str) -> bool:
        """Mark resolved; False if it already was (a double click, a retried event)."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE handoff_cases SET status = 'resolved', resolved_at = ?, resolved_by = ? WHERE case_id = ? AND status = 'open'",
                (time.time(), by, case_id),
            )
            if cursor.rowcount:
                conn.execute(
                    """UPDATE handoff_cases SET draft_outcome = 'discarded', draft_outcome_at = ?, draft_outcome_by = ?
                       WHERE case_id = ? AND draft_outcome IS NULL AND draft_text IS NOT NULL""",
                    (time.time(), by, case_id),
                )
        return bool(cursor.rowcount)

    def record_draft_outcome(self, case_id: str, outcome: str, by: Optional[str], similarity: Optional[float] = None) -> bool:
        """Record sent_as_is / edited / discarded once; the first decision stands."""
        with self.connect() as conn:
            cursor = conn.execute(
                """UPDATE handoff_cases SET draft_outcome = ?, draft_outcome_at = ?, draft_outcome_by = ?, draft_similarity = ?
                   WHERE case_id = ? AND draft_outcome IS NULL AND draft_text IS NOT NULL""",
                (outcome, time.time(), by, similarity, case_id),
            )
        return bool(cursor.rowcount)

    # --- agent replies ----------------------------------------------------------------------

    def add_agent_reply(self, case: Dict[str, Any], text: str, agent: Optional[str], source: str,
                        slack_ts: Optional[str] = None, similarity: Optional[float] = None) -> Optional[int]:
        """Store a reply to deliver; None if this Slack message was already handled."""
        with self.connect() as conn:
            try:
                cursor = conn.execute(
                    """INSERT INTO agent_replies (case_id, conversation_id, slack_ts, agent, text, source, draft_similarity, created_at)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                    (case["case_id"], case["conversation_id"], slack_ts, agent, text, source, similarity, time.time()),
                )
            except sqlite3.IntegrityError:
                return None
        return int(cursor.lastrowid)

    def mark_reply(self, reply_id: int, status: str, via: Optional[str] = None, error: Optional[str] = None, seen: Optional[bool] = None) -> None:
        with self.connect() as conn:
            conn.execute(
                """UPDATE agent_replies SET status = ?, delivered_via = COALESCE(?, delivered_via), error = ?,
                       delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END,
                       seen = COALESCE(?, seen) WHERE id = ?""",
                (status, via, error, status, time.time(), None if seen is None else int(seen), reply_id),
            )

    def unseen_replies(self, conversation_id: str) -> List[Dict[str, Any]]:
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT * FROM agent_replies WHERE conversation_id = ? AND seen = 0 AND status = 'delivered' ORDER BY id",
                (conversation_id,),
            ).fetchall()
        return [dict(row) for row in rows]

    def mark_seen(self, reply_ids: List[int]) -> None:
        if not reply_ids:
            return
        with self.connect() as conn:
            conn.executemany("UPDATE agent_replies SET seen = 1 WHERE id = ?", [(i,) for i in reply_ids])

    def replies_for(self, case_id: str) -> List[Dict[str, Any]]:
        with self.connect() as conn:
            rows = conn.execute("SELECT * FROM agent_replies WHERE case_id = ? ORDER BY id", (case_id,)).fetchall()
        return [dict(row) for row in rows]

    # --- Slack events dedupe -----------------------------------------------------------------

    def first_time_event(self, event_id: str) -> bool:
        with self.connect() as conn:
            try:
                conn.execute("INSERT INTO slack_events (event_id, received_at) VALUES (?, ?)", (event_id, time.time()))
            except sqlite3.IntegrityError:
                return False
            conn.execute("DELETE FROM slack_events WHERE received_at < ?", (time.time() - 7 * 86400,))
        return True

    # --- outbox -------------------------------------------------------------------------------

    def _enqueue(self, conn: sqlite3.Connection, kind: str, payload: Dict[str, Any], case_id: Optional[str],
                 conversation_id: Optional[str], dedupe_key: Optional[str]) -> int:
        if dedupe_key:
            row = conn.execute("SELECT id FROM slack_outbox WHERE dedupe_key = ?", (dedupe_key,)).fetchone()
            if row:
                return int(row["id"])
        cursor = conn.execute(
            "INSERT INTO slack_outbox (kind, case_id, conversation_id, dedupe_key, payload, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (kind, case_id, conversation_id, dedupe_key, _json(payload), time.time()),
        )
        return int(cursor.lastrowid)

    def enqueue(self, kind: str, payload: Dict[str, Any], case_id: Optional[str] = None,
                conversation_id: Optional[str] = None, dedupe_key: Optional[str] = None) -> int:
        """Queue a Slack call; a repeated ``dedupe_key`` returns the existing item's id."""
        if kind not in ("post", "reply", "update"):
            raise ValueError(f"unknown outbox kind {kind!r}")
        with self.transaction() as conn:
            return self._enqueue(conn, kind, payload, case_id, conversation_id, dedupe_key)

    def claim_next(self, lease_seconds: float = 60.0) -> Tuple[Optional[Dict[str, Any]], Optional[float]]:
        """The head of the queue if it is due and nobody else holds it: (item, None), or
        (None, seconds to wait) when the head is not due yet / leased, or (None, None) if empty."""
        now = time.time()
        with self.transaction() as conn:
            row = conn.execute("SELECT * FROM slack_outbox WHERE status NOT IN ('sent', 'dead') ORDER BY id LIMIT 1").fetchone()
            if row is None:
                return None, None
            if row["status"] == "sending" and (row["lease_until"] or 0) > now:
                return None, max(0.05, row["lease_until"] - now)
            if row["next_attempt_at"] > now:
                return None, row["next_attempt_at"] - now
            # an expired lease means a worker died mid-call: the message may be in Slack already
            status = "uncertain" if row["status"] == "sending" else row["status"]
            conn.execute(
                "UPDATE slack_outbox SET status = 'sending', lease_until = ?, attempts = attempts + 1 WHERE id = ?",
                (now + lease_seconds, row["id"]),
            )
        item = dict(row)
        item["previous_status"] = status
        item["payload"] = json.loads(item["payload"])
        return item, None

    def mark_sent(self, item_id: int, channel: Optional[str], ts: Optional[str]) -> None:
        with self.connect() as conn:
            conn.execute(
                "UPDATE slack_outbox SET status = 'sent', sent_at = ?, slack_channel = ?, slack_ts = ?, lease_until = NULL, last_error = NULL WHERE id = ?",
                (time.time(), channel, ts, item_id),
            )

    def mark_retry(self, item_id: int, status: str, error: str, delay: float) -> None:
        with self.connect() as conn:
            conn.execute(
                "UPDATE slack_outbox SET status = ?, last_error = ?, next_attempt_at = ?, lease_until = NULL WHERE id = ?",
                (status, error, time.time() + delay, item_id),
            )

    def mark_dead(self, item_id: int, error: str) -> None:
        with self.connect() as conn:
            conn.execute("UPDATE slack_outbox SET status = 'dead', last_error = ?, lease_until = NULL WHERE id = ?", (error, item_id))

    def item(self, item_id: int) -> Optional[Dict[str, Any]]:
        with self.connect() as conn:
            row = conn.execute("SELECT * FROM slack_outbox WHERE id = ?", (item_id,)).fetchone()
        return dict(row) if row else None

    def outbox_items(self, status: Optional[str] = None) -> List[Dict[str, Any]]:
        with self.connect() as conn:
            if status:
                rows = conn.execute("SELECT * FROM slack_outbox WHERE status = ? ORDER BY id", (status,)).fetchall()
            else:
                rows = conn.execute("SELECT * FROM slack_outbox ORDER BY id").fetchall()
        return [dict(row) for row in rows]

    def backlog(self) -> Dict[str, int]:
        with self.connect() as conn:
            rows = conn.execute("SELECT status, COUNT(*) AS n FROM slack_outbox GROUP BY status").fetchall()
        return {row["status"]: row["n"] for row in rows}


def _case(row: Optional[sqlite3.Row]) -> Optional[Dict[str, Any]]:
    if row is None:
        return None
    case = dict(row)
    for key in ("draft_citations", "context"):
        if case.get(key):
            try:
                case[key] = json.loads(case[key])
            except ValueError:
                pass
    return case


# --- delivery ------------------------------------------------------------------------------------

DeliveredHook = Callable[[Dict[str, Any], Dict[str, Any]], Awaitable[None]]


class SlackOutbox:
    """Delivers the queue to Slack, in order, exactly once. One instance per process."""

    def __init__(self, store: HandoffStore) -> None:
        self.store = store
        self._lock = asyncio.Lock()
        self._wake: Optional[asyncio.Event] = None
        self._task: Optional[asyncio.Task] = None
        self.on_delivered: List[DeliveredHook] = []  # called after an item reached Slack
        self.max_backoff = float(os.environ.get("SLACK_RETRY_MAX_SECONDS", "").strip() or 60)
        self.connected: Optional[bool] = None  # last known state, for /metrics and logs

    # the loop ----------------------------------------------------------------------------------

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="slack-outbox")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None

    async def _run(self) -> None:
        assert self._wake is not None
        logger.info("slack outbox delivering from %s", self.store.path)
        while True:
            self._wake.clear()  # before delivering: a wake-up during delivery is not lost
            try:
                wait = await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("slack outbox loop failed; retrying")
                wait = 5.0
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=min(wait if wait is not None else 30.0, 30.0))
            except asyncio.TimeoutError:
                pass

    async def deliver_due(self, until_id: Optional[int] = None) -> Optional[float]:
        """Deliver due items in order; returns seconds until the head is due (None: queue empty).

        With ``until_id``, stops once that item is final (used by the handoff to know at once
        whether its case reached Slack)."""
        if not slack_client.settings().configured:
            # no bot token: never call Slack (tests and `make run` without Slack); items wait
            if self.connected is not False:
                logger.warning("SLACK_BOT_TOKEN is not set: handoffs are queued in %s until it is", self.store.path)
                self.connected = False
            return 30.0
        async with self._lock:
            while True:
                if until_id is not None:
                    current = self.store.item(until_id)
                    if current is None or current["status"] in FINAL:
                        return 0.0
                item, wait = self.store.claim_next()
                if item is None:
                    return wait
                outcome = await self._deliver(item)
                if outcome != "sent" and outcome != "dead":
                    return self.store.item(item["id"])["next_attempt_at"] - time.time()

    async def flush(self, item_id: int, timeout: float) -> str:
        """Try to deliver everything up to ``item_id`` now; its status afterwards."""
        try:
            await asyncio.wait_for(self.deliver_due(until_id=item_id), timeout=timeout)
        except asyncio.TimeoutError:
            pass
        item = self.store.item(item_id)
        return item["status"] if item else "missing"

    # one item ----------------------------------------------------------------------------------

    def _backoff(self, attempts: int) -> float:
        return min(self.max_backoff, 0.5 * (2 ** max(0, attempts - 1)))

    @staticmethod
    def _uncertain_delay() -> float:
        """Before reading back an uncertain post, give a request still in flight at Slack time to
        land (twice the client timeout); reading back too early would miss it and post twice."""
        return 2 * slack_client.settings().timeout

    async def _deliver(self, item: Dict[str, Any]) -> str:
        cfg = slack_client.settings()
        client = slack_client.get_slack()
        try:
            target = self._target(item, cfg.channel)
            if target is None:
                return "waiting"
            if item["previous_status"] == "uncertain" and item["kind"] in ("post", "reply"):
                found = await self._find_in_slack(client, item, target)
                if found:
                    self._sent(item, target["channel"], found)
                    logger.info("outbox %s was already in Slack (ts %s): not posting it again", item["id"], found)
                    return "sent"
            ts = await self._call(client, item, target, plain=False)
        except asyncio.CancelledError:
            # interrupted mid-call (a flush gave up, the server stops): it may have been posted
            self.store.mark_retry(item["id"], "uncertain", "interrupted", self._uncertain_delay())
            raise
        except _ParentFailed as parent:
            self.store.mark_dead(item["id"], f"parent case message failed: {parent}")
            return "dead"
        except Exception as error:  # every failure is classified; nothing is dropped
            return self._failed(item, error)
        self._sent(item, target["channel"], ts)
        await self._after_delivery(item)
        return "sent"

    def _target(self, item: Dict[str, Any], default_channel: str) -> Optional[Dict[str, Any]]:
        payload = item["payload"]
        if item["kind"] == "post":
            return {"channel": payload.get("channel") or default_channel, "thread_ts": None}
        if item["kind"] == "delete":  # {"channel", "ts"} of a message the bot posted (actions/privacy/erasure.py)
            return {"channel": payload["channel"], "thread_ts": payload["ts"]}
        case = self.store.get_case(item["case_id"]) if item.get("case_id") else None
        if case is None:
            raise _ParentFailed("no such case")
        if not case.get("slack_ts"):
            parent = self.store.item(self._post_id(item["case_id"]) or -1)
            if parent and parent["status"] == "dead":
                raise _ParentFailed(parent.get("last_error") or "dead")
            # the case message is ahead in the queue and has not gone out: wait (keeps order)
            self.store.mark_retry(item["id"], "pending", "waiting for the case message", self._backoff(1))
            return None
        return {"channel": case["slack_channel"], "thread_ts": case["slack_ts"]}

    def _post_id(self, case_id: str) -> Optional[int]:
        with self.store.connect() as conn:
            row = conn.execute("SELECT id FROM slack_outbox WHERE dedupe_key = ?", (f"post:{case_id}",)).fetchone()
        return int(row["id"]) if row else None

    async def _call(self, client, item: Dict[str, Any], target: Dict[str, Any], plain: bool) -> str:
        payload = item["payload"]
        text = payload.get("text") or " "
        blocks = None if plain else payload.get("blocks")
        metadata = {"event_type": METADATA_EVENT_TYPE, "event_payload": {"outbox_id": item["id"], "case_id": item.get("case_id") or ""}}
        if item["kind"] == "delete":
            response = await client.chat_delete(channel=target["channel"], ts=target["thread_ts"])
        elif item["kind"] == "update":
            response = await client.chat_update(channel=target["channel"], ts=target["thread_ts"], text=text, blocks=blocks)
        else:
            response = await client.chat_postMessage(
                channel=target["channel"], text=text, blocks=blocks, thread_ts=target["thread_ts"],
                metadata=metadata, unfurl_links=False, unfurl_media=False,
            )
        self.connected = True
        return str(response.get("ts") or "")

    async def _find_in_slack(self, client, item: Dict[str, Any], target: Dict[str, Any]) -> Optional[str]:
        """The ts of this item's message if an earlier, uncertain attempt did post it."""
        if target["thread_ts"]:
            response = await client.conversations_replies(channel=target["channel"], ts=target["thread_ts"],
                                                          include_all_metadata=True, limit=200)
        else:
            response = await client.conversations_history(channel=target["channel"], oldest=f"{item['created_at'] - 5:.6f}",
                                                          include_all_metadata=True, limit=200)
        for message in response.get("messages") or []:
            meta = message.get("metadata") or {}
            if meta.get("event_type") == METADATA_EVENT_TYPE and (meta.get("event_payload") or {}).get("outbox_id") == item["id"]:
                return str(message.get("ts"))
        return None

    def _sent(self, item: Dict[str, Any], channel: str, ts: str) -> None:
        self.store.mark_sent(item["id"], channel, ts)
        if item["kind"] == "post" and item.get("case_id"):
            self.store.set_case_message(item["case_id"], channel, ts)

    def _failed(self, item: Dict[str, Any], error: BaseException) -> str:
        kind = slack_client.classify(error)
        code = slack_client.error_code(error)
        if item["kind"] == "delete" and code in ("message_not_found", "cant_delete_message"):
            self.store.mark_dead(item["id"], code)  # gone already, or not the bot's to delete: nothing to retry
            return "dead"
        if kind == slack_client.REJECTED:
            if not item["payload"].get("_plain") and item["payload"].get("blocks"):
                # Slack refused the blocks: send the same content once more as plain text
                payload = dict(item["payload"], blocks=None, _plain=True)
                with self.store.connect() as conn:
                    conn.execute("UPDATE slack_outbox SET payload = ?, status = 'pending', last_error = ?, lease_until = NULL WHERE id = ?",
                                 (_json(payload), code, item["id"]))
                logger.warning("outbox %s: Slack refused the blocks (%s); retrying as plain text", item["id"], code)
                return "retry"
            logger.error("outbox %s: Slack refused the message (%s); parked as dead", item["id"], code)
            self.store.mark_dead(item["id"], code)
            return "dead"
        self.connected = False
        delay = slack_client.retry_after(error) or self._backoff(item["attempts"])
        status = "uncertain" if (kind == slack_client.UNCERTAIN or item["previous_status"] == "uncertain") else "pending"
        if kind == slack_client.UNCERTAIN:
            delay = max(delay, self._uncertain_delay())
        level = logging.ERROR if code in slack_client.CONFIG_ERRORS else logging.WARNING
        logger.log(level, "outbox %s (%s) not delivered (%s, %s); retry in %.1fs", item["id"], item["kind"], code, kind, delay)
        self.store.mark_retry(item["id"], status, code, delay)
        return "retry"

    async def _after_delivery(self, item: Dict[str, Any]) -> None:
        for hook in self.on_delivered:
            try:
                await hook(item, self.store.item(item["id"]) or {})
            except Exception:
                logger.exception("outbox delivery hook failed for item %s", item["id"])


class _ParentFailed(Exception):
    pass


_store: Optional[HandoffStore] = None
_outbox: Optional[SlackOutbox] = None


def get_store() -> HandoffStore:
    global _store
    if _store is None or _store.path != db_path():
        _store = HandoffStore()
    return _store


def get_outbox() -> SlackOutbox:
    global _outbox
    store = get_store()
    if _outbox is None or _outbox.store is not store:
        _outbox = SlackOutbox(store)
    return _outbox


def reset() -> None:
    """Forget the process-wide store and outbox (tests)."""
    global _store, _outbox
    _store, _outbox = None, None
