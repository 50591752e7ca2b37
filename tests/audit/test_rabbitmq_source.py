"""The audit consumer's production source: the queue Rasa's pika event broker publishes to.

- ``test_rasa_pika_broker_to_audit_records_through_a_broker_restart`` (running stack): Rasa with
  the ``event_broker`` block of endpoints.prod.yml publishes to RabbitMQ, the action server
  consumes with AUDIT_SOURCE=rabbitmq; a 3-turn REST conversation is recorded exactly once per
  turn, the third turn while the consumer was cut off from the broker (as in a broker restart),
  and every message is acknowledged.
- ``test_redelivery_after_commit_is_skipped``: the connection drops after a batch is committed
  and before it is acknowledged; RabbitMQ redelivers it and the consumer neither records a turn
  twice nor shifts turn numbers, and goes on consuming after reconnecting.

Each run uses its own queue (and, for Rasa, its own exchange), deleted at the end. The consumer
reaches RabbitMQ through a loopback TCP relay in this process: cutting the relay resets and then
refuses the consumer's connections like a broker restart would, without touching the shared
broker or Rasa's own connection.
"""
from __future__ import annotations

import asyncio
import json
import shutil
import socket
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

import pytest

from actions.audit.consumer import AuditConsumer
from actions.audit.settings import AuditSettings, rabbitmq_url, redact_url
from actions.audit.sources import RabbitSource
from actions.audit.store import AuditStore
from scripts.stack import Stack, StackConfig, free_port
from tests.audit import events as ev
from tests.conftest import RestChat, api_token_query, latest_model

ROOT = Path(__file__).resolve().parents[2]
RABBIT = ("127.0.0.1", 5672)
RABBIT_URL = "amqp://guest:guest@127.0.0.1:5672/"


def _rabbit_up() -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(RABBIT) == 0


needs_rabbit = pytest.mark.skipif(not _rabbit_up(), reason="RabbitMQ is not running on 127.0.0.1:5672")


# -- helpers -----------------------------------------------------------------------------------
class TcpRelay:
    """Loopback TCP relay to RabbitMQ. ``cut()`` resets the relayed connections and refuses new
    ones until ``restore()``: to the client, the broker went down and came back."""

    def __init__(self, target: Tuple[str, int] = RABBIT) -> None:
        self.target = target
        self.port = free_port()
        self.accepted = 0
        self._listener: Optional[socket.socket] = None
        self._sockets: Set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    start = restore

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update((client, upstream))
                self.accepted += 1
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            self._close(src, dst)

    def _close(self, *sockets: socket.socket) -> None:
        for sock in sockets:
            with self._lock:
                self._sockets.discard(sock)
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def drop(self) -> None:
        """Reset the relayed connections (new ones are still accepted)."""
        with self._lock:
            live = list(self._sockets)
        self._close(*live)

    def cut(self) -> None:
        """Reset the relayed connections and refuse new ones."""
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() thread
            except OSError:
                pass
            listener.close()
        self.drop()

    stop = cut


async def _with_channel(fn: Any) -> Any:
    import aio_pika

    connection = await aio_pika.connect(RABBIT_URL)
    async with connection:
        channel = await connection.channel()
        return await fn(channel)


def queue_depth(name: str) -> int:
    """Messages ready in the queue (unacknowledged ones are counted once their consumer is gone)."""

    async def depth(channel: Any) -> int:
        queue = await channel.declare_queue(name, passive=True)
        return int(queue.declaration_result.message_count)

    return asyncio.run(_with_channel(depth))


def delete_queue_and_exchange(queue: str, exchange: Optional[str] = None) -> None:
    async def delete(channel: Any) -> None:
        await channel.queue_delete(queue)
        if exchange:
            await channel.exchange_delete(exchange)

    asyncio.run(_with_channel(delete))


async def publish(queue: str, events: List[Dict[str, Any]]) -> None:
    """Publish events as Rasa's pika broker does: persistent JSON messages, one per event."""
    import aio_pika

    connection = await aio_pika.connect(RABBIT_URL)
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(queue, durable=True)
        for event in events:
            await channel.default_exchange.publish(
                aio_pika.Message(json.dumps(event).encode(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=queue,
            )


def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


async def await_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


# -- settings ----------------------------------------------------------------------------------
def test_consumer_url_comes_from_the_variables_rasa_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AUDIT_RABBITMQ_URL", "RABBITMQ_URL", "RABBITMQ_HOST", "RABBITMQ_PORT", "RABBITMQ_USERNAME", "RABBITMQ_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    assert rabbitmq_url() == "amqp://guest:guest@127.0.0.1:5672/"
    monkeypatch.setenv("RABBITMQ_HOST", "rabbit.internal")
    monkeypatch.setenv("RABBITMQ_PORT", "5673")
    monkeypatch.setenv("RABBITMQ_USERNAME", "rasa")
    monkeypatch.setenv("RABBITMQ_PASSWORD", "p@ss:word")
    assert rabbitmq_url() == "amqp://rasa:p%40ss%3Aword@rabbit.internal:5673/"
    assert "p%40ss" not in redact_url(rabbitmq_url())
    monkeypatch.setenv("RABBITMQ_HOST", "amqps://rabbit.internal/prod")
    assert rabbitmq_url() == "amqps://rasa:p%40ss%3Aword@rabbit.internal:5673/prod"
    monkeypatch.setenv("AUDIT_RABBITMQ_URL", "amqp://other@h:1/")
    assert rabbitmq_url() == "amqp://other@h:1/"
    monkeypatch.setenv("RABBITMQ_QUEUE", "q1")
    assert AuditSettings.load().rabbitmq_queue == "q1"


# -- the consumer against RabbitMQ, without Rasa ----------------------------------------------------
@needs_rabbit
async def test_redelivery_after_commit_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    queue = f"audit_test_{uuid.uuid4().hex[:12]}"
    relay = TcpRelay()
    relay.start()
    monkeypatch.setenv("AUDIT_DB_URL", str(tmp_path / "audit.db"))
    monkeypatch.setenv("AUDIT_SOURCE", "rabbitmq")
    monkeypatch.setenv("AUDIT_RABBITMQ_URL", relay.url)
    monkeypatch.setenv("RABBITMQ_QUEUE", queue)
    monkeypatch.setenv("AUDIT_RABBITMQ_RECONNECT_SECONDS", "0.5")
    monkeypatch.setenv("AUDIT_TURN_TIMEOUT", "600")

    # the first acknowledgement never reaches the broker: the connection drops just before it
    original_ack = RabbitSource.ack
    acks: List[int] = []

    async def ack_after_drop(self: RabbitSource, messages: List[Any]) -> int:
        acks.append(len(messages))
        if len(acks) == 1:
            relay.drop()
            await await_until(lambda: self.connection_lost > 0, 10, "the consumer to notice the dropped connection")
        return await original_ack(self, messages)

    monkeypatch.setattr(RabbitSource, "ack", ack_after_drop)
    cid = f"rmq-{uuid.uuid4().hex[:8]}"
    t = time.time()
    conversation = ev.knowledge_conversation(cid, t)  # two turns, ends listening
    consumer = AuditConsumer(AuditSettings.load())
    store = AuditStore(str(tmp_path / "audit.db"))
    stop = asyncio.Event()
    task: Optional[asyncio.Task] = None
    try:
        await publish(queue, conversation)
        task = asyncio.create_task(consumer.run(stop))
        await await_until(lambda: bool(acks) and consumer.rabbit_source.reconnected > 0, 30, "the consumer to reconnect")
        await await_until(lambda: consumer.skipped_redeliveries >= acks[0], 30, "the redelivered batch to be skipped")
        # consuming goes on after the reconnect
        await publish(queue, [
            ev.user(cid, "thanks, bye", "goodbye", 0.95, t + 20), ev.action(cid, "utter_goodbye", t + 20.1),
            ev.bot(cid, "Bye!", t + 20.2), ev.action(cid, "action_listen", t + 20.3),
        ])
        await await_until(lambda: store.count() >= 3, 30, "the third turn")
        await asyncio.sleep(1.0)  # nothing more arrives late
        stop.set()
        await asyncio.wait_for(task, timeout=20)

        turns = store.turns(conversation_id=cid)
        assert [(t_["turn_index"], t_["intent"]) for t_ in turns] == [(1, "greet"), (2, "ask_question"), (3, "goodbye")]
        assert len({t_["turn_key"] for t_ in turns}) == 3
        assert consumer.rabbit_source.connection_lost >= 1 and consumer.rabbit_source.reconnected >= 1
        assert consumer.skipped_redeliveries == acks[0] > 0  # exactly the batch that was committed, not acked
        assert await asyncio.to_thread(queue_depth, queue) == 0  # every message acknowledged
    finally:
        stop.set()
        if task is not None and not task.done():
            await asyncio.wait_for(task, timeout=20)
        relay.stop()
        await asyncio.to_thread(delete_queue_and_exchange, queue)


@needs_rabbit
async def test_a_batch_that_cannot_be_committed_is_retried_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    queue = f"audit_test_{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("AUDIT_DB_URL", str(tmp_path / "audit.db"))
    monkeypatch.setenv("AUDIT_SOURCE", "rabbitmq")
    monkeypatch.setenv("AUDIT_RABBITMQ_URL", RABBIT_URL)
    monkeypatch.setenv("RABBITMQ_QUEUE", queue)
    monkeypatch.setenv("AUDIT_TURN_TIMEOUT", "600")
    consumer = AuditConsumer(AuditSettings.load())
    store = consumer.store
    original_commit = store.commit_batch
    failures: List[int] = []

    def commit_fails_once(records: Any, *args: Any, **kwargs: Any) -> int:
        records = list(records)
        if not failures and records:
            failures.append(len(records))
            raise sqlite3.OperationalError("database is locked")
        return original_commit(records, *args, **kwargs)

    monkeypatch.setattr(store, "commit_batch", commit_fails_once)
    cid = f"rmq-{uuid.uuid4().hex[:8]}"
    t = time.time()
    first, second = ev.knowledge_conversation(cid, t)[:7], ev.knowledge_conversation(cid, t)[7:]
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        await publish(queue, first)  # greet turn: its commit fails
        await await_until(lambda: bool(failures), 30, "the failing commit")
        await publish(queue, second)  # arrives while the first batch waits to be retried
        await await_until(lambda: store.count() >= 2, 30, "both turns")
        await asyncio.sleep(1.0)
        stop.set()
        await asyncio.wait_for(task, timeout=20)
        turns = store.turns(conversation_id=cid)
        assert [(t_["turn_index"], t_["intent"], t_["closed_by"]) for t_ in turns] == [
            (1, "greet", "listen"), (2, "ask_question", "listen")]
        assert await asyncio.to_thread(queue_depth, queue) == 0
    finally:
        stop.set()
        if not task.done():
            await asyncio.wait_for(task, timeout=20)
        await asyncio.to_thread(delete_queue_and_exchange, queue)


# -- Rasa -> RabbitMQ -> the action server's consumer ---------------------------------------------
def prod_event_broker_block() -> str:
    """The ``event_broker:`` block of endpoints.prod.yml, verbatim (its ${VAR}s unquoted)."""
    lines = (ROOT / "endpoints.prod.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("event_broker:"))
    block = [lines[start]]
    for line in lines[start + 1:]:
        if line and not line.startswith((" ", "#")):
            break
        block.append(line)
    return "\n".join(block).rstrip() + "\n"


@pytest.mark.e2e
@needs_rabbit
def test_rasa_pika_broker_to_audit_records_through_a_broker_restart(tmp_path: Path) -> None:
    run_id = uuid.uuid4().hex[:12]
    queue, exchange = f"audit_test_{run_id}", f"rasa-exchange-test-{run_id}"
    var = tmp_path / "var"
    var.mkdir()
    if (ROOT / "var" / "chroma").exists():
        shutil.copytree(ROOT / "var" / "chroma", var / "chroma")
    broker = prod_event_broker_block()
    assert "type: pika" in broker and "${RABBITMQ_QUEUE}" in broker
    endpoints = tmp_path / "endpoints.rabbitmq.yml"
    endpoints.write_text(
        "# test-only: SQLite tracker store, production pika broker block (own exchange per run)\n"
        "action_endpoint:\n  url: ${ACTION_SERVER_URL}\n  headers:\n    X-Action-Token: ${ACTION_SERVER_TOKEN}\n\n"
        "tracker_store:\n  type: SQL\n  dialect: \"sqlite\"\n  db: ${RASA_TRACKER_DB}\n\n"
        + broker + f"  exchange_name: {exchange}\n"
    )
    relay = TcpRelay()
    relay.start()
    config = StackConfig(
        backend_port=free_port(), action_port=free_port(), rasa_port=free_port(), var_dir=var, model=latest_model(),
        extra_env={
            "RASA_ENDPOINTS": str(endpoints), "CHROMA_PATH": str(var / "chroma"),
            # Rasa's pika broker, as endpoints.prod.yml reads them
            "RABBITMQ_HOST": RABBIT[0], "RABBITMQ_PORT": str(RABBIT[1]), "RABBITMQ_USERNAME": "guest",
            "RABBITMQ_PASSWORD": "guest", "RABBITMQ_QUEUE": queue,
            # the action server's consumer, through the relay
            "AUDIT_SOURCE": "rabbitmq", "AUDIT_RABBITMQ_URL": relay.url, "AUDIT_RABBITMQ_RECONNECT_SECONDS": "1",
            "AUDIT_DB_URL": str(var / "audit.db"), "AUDIT_EVENTS_URL": "", "RASA_EVENTS_DB": str(var / "unused_events.db"),
        },
    )
    stack = Stack(config)
    store = AuditStore(str(var / "audit.db"))
    actions_log = var / "logs" / "actions.log"
    try:
        stack.start(verbose=False)
        chat = RestChat.for_stack(stack)

        def recorded() -> List[Dict[str, Any]]:
            return store.turns(conversation_id=chat.sender)

        assert chat.say("hi")
        assert chat.say("where is my order BC-100002")
        wait_until(lambda: len(recorded()) >= 2, 90, "turns 1-2 in the audit store")
        assert not (var / "unused_events.db").exists()  # no SQL broker: the events went through RabbitMQ

        # the broker "restarts" for the consumer: connection reset, reconnects refused meanwhile
        relay.cut()
        wait_until(lambda: "connection to RabbitMQ lost" in actions_log.read_text(errors="replace"), 30,
                   "the consumer to notice the lost connection")
        assert chat.say("jane.doe@example.com")
        wait_until(lambda: queue_depth(queue) > 0, 30, "turn 3's events to wait in the queue")
        time.sleep(2)
        assert len(recorded()) == 2
        relay.restore()
        wait_until(lambda: len(recorded()) >= 3, 90, "turn 3 after the reconnect")
        time.sleep(3)  # late duplicates would show up now

        turns = recorded()
        tracker_ids = [e["message_id"] for e in chat.tracker()["events"] if e["event"] == "user"]
        assert [t["turn_key"] for t in turns] == tracker_ids  # one record per customer turn, none twice
        assert [t["turn_index"] for t in turns] == [1, 2, 3]
        assert [t["intent"] for t in turns] == ["greet", "order_status", "inform"]
        assert all(t["channel"] == "rest" and t["actions"] and t["reply"] and t["latency_ms"] > 0 for t in turns)
        assert all(t["closed_by"] == "listen" for t in turns)
        assert turns[2]["message"] == "j***@example.com" and turns[2]["order_id"] == "BC-100002"
        status = json.loads(urllib_get(f"{config.rasa_url}/status?{api_token_query(stack)}"))
        assert {t["model_id"] for t in turns} == {status["model_id"]}
        log = actions_log.read_text(errors="replace")
        assert f"consuming queue '{queue}'" in log and "reconnected to RabbitMQ" in log
        assert "guest:guest" not in log  # the broker password never reaches the log
    finally:
        stack.stop()
        relay.stop()
    try:
        assert queue_depth(queue) == 0  # everything acknowledged (unacked messages are back once the consumer left)
    finally:
        delete_queue_and_exchange(queue, exchange)


def urllib_get(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode()
