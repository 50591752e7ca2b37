"""Where Rasa's events come from: the SQL event broker's table, RabbitMQ, or the tracker store.

- ``SqlBrokerSource`` tails the ``events`` table (id, sender_id, data) that Rasa's SQL event broker
  appends to, by id. SQLite file or PostgreSQL URL.
- ``RabbitSource`` consumes the queue Rasa's pika broker publishes to (needs ``aio-pika``).
- ``read_tracker_store`` reads whole conversations from Rasa's SQL tracker store (its own
  ``events`` table: id, sender_id, type_name, timestamp, intent_name, action_name, data), for the
  backfill, KPIs that need full conversations, and the replay command.
"""
from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Tuple

from actions.audit.settings import is_postgres, sqlite_path

logger = logging.getLogger(__name__)

Event = Dict[str, Any]


def _query(url: str, sql: str, params: Tuple[Any, ...]) -> List[Tuple[Any, ...]]:
    if is_postgres(url):
        import psycopg

        with psycopg.connect(url, connect_timeout=10) as conn:
            try:
                return conn.execute(sql.replace("?", "%s"), params).fetchall()
            except psycopg.errors.UndefinedTable:
                return []
    path = sqlite_path(url)
    if not path.exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            return []
        raise
    finally:
        conn.close()


class SqlBrokerSource:
    """Events Rasa's SQL event broker wrote, read in id order after a position."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.name = "sql:" + ("postgres" if is_postgres(url) else str(sqlite_path(url)))

    def fetch(self, after: int, limit: int) -> List[Tuple[int, Event]]:
        rows = _query(self.url, "SELECT id, sender_id, data FROM events WHERE id > ? ORDER BY id LIMIT ?", (after, limit))
        batch = []
        for row_id, sender_id, data in rows:
            try:
                event = json.loads(data)
            except (TypeError, ValueError):
                logger.warning("event %s in the broker table is not JSON; skipped", row_id)
                continue
            event.setdefault("sender_id", sender_id)
            batch.append((int(row_id), event))
        return batch


class RabbitSource:
    """Rasa's pika event broker queue. Messages are acknowledged after their turns are stored."""

    def __init__(self, url: str, queue: str) -> None:
        self.url = url
        self.queue_name = queue
        self.name = f"rabbitmq:{queue}"
        self._connection: Any = None
        self._queue: Any = None
        self._pending: List[Any] = []

    async def open(self) -> None:
        try:
            import aio_pika
        except ImportError as error:  # pragma: no cover - depends on the environment
            raise RuntimeError(
                "AUDIT_SOURCE=rabbitmq needs the aio-pika package in the action server's environment"
            ) from error
        self._connection = await aio_pika.connect_robust(self.url)
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=1000)
        self._queue = await channel.declare_queue(self.queue_name, durable=True)

    async def fetch(self, limit: int, wait: float) -> List[Event]:
        batch: List[Event] = []
        deadline = asyncio.get_running_loop().time() + wait
        while len(batch) < limit:
            message = await self._queue.get(no_ack=False, fail=False)
            if message is None:
                if asyncio.get_running_loop().time() >= deadline or batch:
                    break
                await asyncio.sleep(0.1)
                continue
            self._pending.append(message)
            try:
                batch.append(json.loads(message.body))
            except ValueError:
                logger.warning("non-JSON message on %s skipped", self.queue_name)
        return batch

    async def ack(self) -> None:
        for message in self._pending:
            await message.ack()
        self._pending = []

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()


def read_tracker_store(
    url: str,
    conversation_ids: Optional[List[str]] = None,
    since: Optional[float] = None,
    until: Optional[float] = None,
) -> "OrderedDict[str, List[Event]]":
    """Conversations from Rasa's SQL tracker store: {sender_id: [event dicts in order]}.

    ``since``/``until`` select conversations with any event in the range; whole conversations are
    returned either way.
    """
    where, params = [], []
    if conversation_ids:
        where.append("sender_id IN (" + ", ".join("?" for _ in conversation_ids) + ")")
        params.extend(conversation_ids)
    if since is not None or until is not None:
        inner = ["timestamp >= ?" if since is not None else "1=1", "timestamp < ?" if until is not None else "1=1"]
        where.append(f"sender_id IN (SELECT sender_id FROM events WHERE {' AND '.join(inner)})")
        params.extend(p for p in (since, until) if p is not None)
    sql = "SELECT sender_id, data FROM events" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
    conversations: "OrderedDict[str, List[Event]]" = OrderedDict()
    for sender_id, data in _query(url, sql, tuple(params)):
        event = json.loads(data)
        event.setdefault("sender_id", sender_id)
        conversations.setdefault(sender_id, []).append(event)
    return conversations
