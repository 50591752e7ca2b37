"""Where Rasa's events come from: the SQL event broker's table, RabbitMQ, or the tracker store.

- ``SqlBrokerSource`` tails the ``events`` table (id, sender_id, data) that Rasa's SQL event broker
  appends to, by id. SQLite file or PostgreSQL URL.
- ``RabbitSource`` consumes the queue Rasa's pika broker publishes to (aio-pika, robust connection,
  manual acknowledgement after commit).
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
    """The queue Rasa's pika event broker publishes to (``rasa/core/brokers/pika.py``).

    Rasa declares a fanout exchange ``rasa-exchange`` and, for each name under ``queues:``, a
    durable queue bound to it; every event is one persistent message whose body is the event's
    JSON with ``sender_id``. This source declares the same queue (durable, no arguments: declaring
    it differently would fail), consumes it with manual acknowledgement and a prefetch limit, and
    hands the consumer batches of messages in queue order. The consumer acknowledges a batch only
    after the records it produced are committed (``ack``); until then the messages stay with it,
    unacknowledged (a batch that cannot be committed is retried, never skipped).

    The connection is aio-pika's robust connection: when the broker restarts or the network
    drops, it reconnects every ``reconnect_interval`` seconds and restores the channel, the prefetch
    limit, the queue and the consumer. Messages delivered on the lost channel can no longer be
    acknowledged; RabbitMQ delivers them again (``redelivered``), and the consumer skips those it
    had already committed.
    """

    def __init__(self, url: str, queue: str, prefetch: int = 500, reconnect_interval: float = 2.0) -> None:
        self.url = url
        self.queue_name = queue
        self.name = f"rabbitmq:{queue}"
        self.prefetch = max(1, int(prefetch))
        self.reconnect_interval = reconnect_interval
        self.connection_lost = 0  # times the connection dropped (tests, logs)
        self.reconnected = 0
        self._down = False
        self._connection: Any = None
        self._channel: Any = None
        self._queue: Any = None
        self._consumer_tag: Optional[str] = None
        self._inbox: "asyncio.Queue[Any]" = asyncio.Queue()

    def describe(self) -> str:
        from actions.audit.settings import redact_url

        return f"queue {self.queue_name!r} on {redact_url(self.url)}"

    async def open(self) -> None:
        """Connect, declare the queue as Rasa does and start consuming (raises if the broker is down)."""
        try:
            import aio_pika
            from yarl import URL
        except ImportError as error:  # pragma: no cover - depends on the environment
            raise RuntimeError(
                "AUDIT_SOURCE=rabbitmq needs the aio-pika package in the action server's environment"
            ) from error
        options: Dict[str, Any] = {"client_properties": {"connection_name": f"audit-consumer:{self.queue_name}"}}
        if "reconnect_interval" not in URL(self.url).query:
            options["reconnect_interval"] = self.reconnect_interval
        connection = await aio_pika.connect_robust(self.url, **options)
        try:
            connection.close_callbacks.add(self._on_connection_lost)
            connection.reconnect_callbacks.add(self._on_reconnected)
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=self.prefetch)  # restored with the channel on reconnect
            queue = await channel.declare_queue(self.queue_name, durable=True)
            self._consumer_tag = await queue.consume(self._on_message, no_ack=False)
        except BaseException:
            await connection.close()
            raise
        self._connection, self._channel, self._queue = connection, channel, queue

    def _on_connection_lost(self, _sender: Any, error: Any = None) -> None:
        if self._connection is None:
            return  # not open yet, or our own close()
        if self._down:  # another failed attempt while the broker is away
            logger.debug("audit: RabbitMQ still unreachable (%s)", error)
            return
        self._down = True
        self.connection_lost += 1
        logger.warning("audit: connection to RabbitMQ lost (%s); reconnecting every %ss",
                       error or "closed", self.reconnect_interval)

    def _on_reconnected(self, _sender: Any, *_args: Any) -> None:
        self._down = False
        self.reconnected += 1
        logger.info("audit: reconnected to RabbitMQ, consuming %s again", self.queue_name)

    async def _on_message(self, message: Any) -> None:
        # aio-pika starts one task per delivery, in delivery order; nothing is awaited before the
        # put, so the inbox keeps the queue's order
        self._inbox.put_nowait(message)

    @staticmethod
    def _live(message: Any) -> bool:
        """False for a message delivered on a channel that has since closed (it will come again)."""
        try:
            return not message.channel.is_closed
        except Exception:  # noqa: BLE001 - aio_pika.exceptions.ChannelInvalidStateError
            return False

    async def fetch(self, limit: int, wait: float, linger: float = 0.05) -> List[Any]:
        """Up to ``limit`` delivered messages, oldest first; waits up to ``wait`` seconds for the
        first, then ``linger`` seconds for the rest of a burst (Rasa publishes a turn at once)."""
        batch: List[Any] = []
        try:
            batch.append(await asyncio.wait_for(self._inbox.get(), timeout=wait))
        except asyncio.TimeoutError:
            return []
        deadline = asyncio.get_running_loop().time() + linger
        while len(batch) < limit:
            try:
                batch.append(self._inbox.get_nowait())
                continue
            except asyncio.QueueEmpty:
                pass
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._inbox.get(), timeout=remaining))
            except asyncio.TimeoutError:
                break
        live = [message for message in batch if self._live(message)]
        if len(live) < len(batch):
            logger.info("audit: %d message(s) from before the reconnect dropped; RabbitMQ delivers them again",
                        len(batch) - len(live))
        return live

    @staticmethod
    def decode(message: Any) -> Optional[Event]:
        """The Rasa event in a message, or None (logged) if it is not a JSON object."""
        try:
            event = json.loads(message.body)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            logger.warning("audit: a message that is not a Rasa event (JSON object) was skipped")
            return None
        return event

    async def ack(self, messages: List[Any]) -> int:
        """Acknowledge messages whose records are committed; return how many were acknowledged.

        A message whose channel has gone (the broker restarted between commit and ack) cannot be
        acknowledged: RabbitMQ delivers it again, flagged ``redelivered``, and the consumer skips it.
        """
        done = 0
        failed: Optional[BaseException] = None
        for message in messages:
            try:
                await message.ack()
                done += 1
            except Exception as error:  # noqa: BLE001 - ChannelInvalidStateError, AMQPError, ...
                failed = error
        if failed is not None:
            logger.info("audit: %d committed message(s) could not be acknowledged (%s: the connection dropped); "
                        "RabbitMQ delivers them again and they are skipped", len(messages) - done, type(failed).__name__)
        return done

    async def close(self) -> None:
        """Stop consuming; unacknowledged messages go back to the queue."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if self._queue is not None and self._consumer_tag and not connection.is_closed:
                await asyncio.wait_for(self._queue.cancel(self._consumer_tag), timeout=5)
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        try:
            await asyncio.wait_for(connection.close(), timeout=10)
        except Exception:  # noqa: BLE001
            logger.debug("audit: closing the RabbitMQ connection failed", exc_info=True)
        self._queue = self._channel = None


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
