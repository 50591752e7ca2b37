"""The background task that turns Rasa's event stream into audit records (runs in the action server).

One consumer writes at a time, however many Sanic workers or action-server replicas run: it holds a
lock (a file lock next to the SQLite audit database, or a PostgreSQL advisory lock) and the others
wait to take over. Each batch of events, the records it completed, the per-conversation state and
the stream position are committed together.

    python -m actions.audit.consumer --once      # drain what is there now and exit (cron / tests)
    python -m actions.audit.consumer --backfill-tracker-store var/rasa_tracker.db
"""
from __future__ import annotations

import argparse
import asyncio
import fcntl
import logging
import os
import time
from typing import Any, Dict, List, Optional

from actions.audit.settings import AuditSettings, is_postgres, sqlite_path
from actions.audit.sources import RabbitSource, SqlBrokerSource, read_tracker_store
from actions.audit.store import AuditStore
from actions.audit.turns import TurnAssembler
from actions.audit.versions import current_versions

logger = logging.getLogger(__name__)

LOCK_KEY = 0x6175646974  # "audit", the PostgreSQL advisory lock id
STATE_TTL_SECONDS = 24 * 3600
# RabbitMQ: fingerprints of each conversation's last events kept in its state, to skip redeliveries
REMEMBERED_EVENTS = 256


async def _stopped(stop: asyncio.Event, seconds: float) -> bool:
    """Wait up to ``seconds``; True if ``stop`` was set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        return False
    return True


class LeaderLock:
    """Held by the one process that consumes; released when it exits (even on a crash)."""

    def __init__(self, store_url: str) -> None:
        self.store_url = store_url
        self._handle: Any = None

    def try_acquire(self) -> bool:
        if self._handle is not None:
            return True
        if is_postgres(self.store_url):
            import psycopg

            conn = psycopg.connect(self.store_url, autocommit=True)
            if conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()[0]:
                self._handle = conn
                return True
            conn.close()
            return False
        path = sqlite_path(self.store_url).with_suffix(".consumer.lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._handle = handle
        return True

    def release(self) -> None:
        if self._handle is None:
            return
        if is_postgres(self.store_url):
            self._handle.close()
        else:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
        self._handle = None


class AuditConsumer:
    def __init__(self, settings: Optional[AuditSettings] = None, store: Optional[AuditStore] = None) -> None:
        self.settings = settings or AuditSettings.load()
        self.store = store or AuditStore(self.settings.db_url)
        self.assembler = TurnAssembler(
            versions=current_versions,
            ignore_prefixes=self.settings.ignore_sender_prefixes,
            turn_timeout=self.settings.turn_timeout_seconds,
        )
        self.lock = LeaderLock(self.settings.db_url)
        self.recorded = 0
        self.skipped_redeliveries = 0
        self.rabbit_source: Optional[RabbitSource] = None
        self.on_records: List[Any] = []  # callbacks(records), e.g. Prometheus counters

    # -- SQL broker -------------------------------------------------------------------------
    def drain_sql_once(self, source: SqlBrokerSource) -> int:
        """Read everything after the stored position, write completed turns; return events read."""
        position = self.store.position(source.name)
        batch = source.fetch(position, self.settings.batch_size)
        records: List[Dict[str, Any]] = []
        for row_id, event in batch:
            records.extend(self.assembler.feed(event))
            position = row_id
        records.extend(self.assembler.flush_idle())
        if batch or records:
            self._commit(records, source.name, position)
        return len(batch)

    def _commit(self, records: List[Dict[str, Any]], name: Optional[str], position: Optional[int]) -> None:
        states: Dict[str, Optional[Dict[str, Any]]] = dict(self.assembler.take_dirty())
        # forget conversations idle for a day with nothing open (their slots are stale by then)
        horizon = time.time() - STATE_TTL_SECONDS
        for cid, state in list(self.assembler.states.items()):
            if not state["open"] and state["last_ts"] < horizon:
                states[cid] = None
                del self.assembler.states[cid]
        self.store.commit_batch(records, states, name, position)
        self.recorded += len(records)
        for callback in self.on_records:
            try:
                callback(records)
            except Exception:  # noqa: BLE001 - metrics must never stop the audit
                logger.exception("audit record callback failed")

    def load_state(self) -> None:
        self.store.init()
        self.assembler.load(self.store.states())

    async def run_sql(self, stop: asyncio.Event) -> None:
        source = SqlBrokerSource(self.settings.events_url)
        await asyncio.to_thread(self.load_state)
        logger.info("audit: consuming %s into %s", source.name, self.store.describe())
        while not stop.is_set():
            try:
                read = await asyncio.to_thread(self.drain_sql_once, source)
            except Exception:  # noqa: BLE001 - keep consuming after a transient database error
                logger.exception("audit: reading or writing failed; retrying")
                read = 0
                await self._recover(stop)  # the events fed but not committed are read again
            if read < self.settings.batch_size:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self.settings.poll_seconds)
                except asyncio.TimeoutError:
                    pass

    # -- RabbitMQ ----------------------------------------------------------------------------
    def feed_messages(self, source: RabbitSource, messages: List[Any]) -> List[Dict[str, Any]]:
        """Feed a batch of queue messages to the assembler; return the records they completed.

        A redelivered message whose event this consumer already committed (the connection dropped
        between commit and ack) is skipped, so a broker restart never records a turn twice or
        shifts turn numbers. A message that is not an event, or an event the assembler cannot
        handle, is logged and skipped (acknowledged with its batch) rather than blocking the queue.
        """
        records: List[Dict[str, Any]] = []
        for message in messages:
            event = source.decode(message)
            if event is None:
                continue
            if message.redelivered and self.assembler.already_fed(event):
                self.skipped_redeliveries += 1
                continue
            try:
                records.extend(self.assembler.feed(event))
            except Exception:  # noqa: BLE001 - one bad event must not stop the audit
                logger.exception("audit: event %r of %s could not be recorded; skipped",
                                 event.get("event"), event.get("sender_id"))
        return records

    def reload_state(self) -> None:
        """Forget what was fed since the last commit: back to the committed per-conversation state."""
        self.assembler.load(self.store.states())
        self.assembler.dirty = set()

    async def _recover(self, stop: asyncio.Event) -> None:
        """After a failed batch: wait, then reload the committed state (retrying while the store is down)."""
        while not await _stopped(stop, 2.0):
            try:
                await asyncio.to_thread(self.reload_state)
                return
            except Exception as error:  # noqa: BLE001
                logger.warning("audit: the audit store is unavailable (%s); retrying", error)

    async def run_rabbit(self, stop: asyncio.Event) -> None:
        """Consume Rasa's pika broker queue; acknowledge each batch only after it is committed."""
        self.assembler.remember_events = REMEMBERED_EVENTS
        source = RabbitSource(
            self.settings.rabbitmq_url, self.settings.rabbitmq_queue, prefetch=self.settings.batch_size,
            reconnect_interval=self.settings.rabbitmq_reconnect_seconds,
        )
        self.rabbit_source = source
        await asyncio.to_thread(self.load_state)
        delay = 1.0
        while True:  # the broker may not be up yet when the action server starts
            if stop.is_set():
                return
            try:
                await source.open()
                break
            except Exception as error:  # noqa: BLE001 - connection refused, authentication, ...
                logger.warning("audit: cannot consume %s (%s); retrying in %.0fs", source.describe(), error, delay)
                if await _stopped(stop, delay):
                    return
                delay = min(delay * 2, 30.0)
        logger.info("audit: consuming %s into %s", source.describe(), self.store.describe())
        try:
            while not stop.is_set():
                messages = await source.fetch(self.settings.batch_size, self.settings.poll_seconds)
                while True:
                    try:
                        records = self.feed_messages(source, messages)
                        records.extend(self.assembler.flush_idle())
                        if messages or records:
                            await asyncio.to_thread(self._commit, records, None, None)
                        break
                    except Exception:  # noqa: BLE001 - the audit store is unavailable
                        # keep the batch (unacknowledged, so nothing is lost) and feed it again on the
                        # committed state once the store is back: later messages wait, order is kept
                        logger.exception("audit: committing a batch of %d message(s) failed; retrying it", len(messages))
                        await self._recover(stop)
                        if stop.is_set():
                            return  # unacknowledged: RabbitMQ gives the batch to the next consumer
                await source.ack(messages)
        finally:
            await source.close()

    # -- lifecycle ---------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if await asyncio.to_thread(self.lock.try_acquire):
                break
            try:  # another worker consumes; take over if it goes away
                await asyncio.wait_for(stop.wait(), timeout=5)
            except asyncio.TimeoutError:
                pass
        try:
            if self.settings.source == "rabbitmq":
                await self.run_rabbit(stop)
            elif self.settings.source == "sql":
                await self.run_sql(stop)
        finally:
            self.lock.release()


def attach(app: Any) -> None:
    """Start the consumer as a Sanic background task of the action server (AUDIT_SOURCE=none: off)."""
    settings = AuditSettings.load()
    if settings.source == "none":
        logger.info("audit: consumer disabled (AUDIT_SOURCE=none)")
        return
    consumer = AuditConsumer(settings)
    app.ctx.audit_consumer = consumer

    @app.after_server_start
    async def _start_audit(app_: Any, _loop: Any = None) -> None:
        app_.ctx.audit_stop = asyncio.Event()
        from actions import metrics

        consumer.on_records.append(metrics.observe_records)
        app_.add_task(consumer.run(app_.ctx.audit_stop), name="audit-consumer")

    @app.before_server_stop
    async def _stop_audit(app_: Any, _loop: Any = None) -> None:
        stop = getattr(app_.ctx, "audit_stop", None)
        if stop is not None:
            stop.set()


def backfill(tracker_store_url: str, settings: Optional[AuditSettings] = None) -> int:
    """Build audit records from the tracker store (conversations from before the broker existed)."""
    consumer = AuditConsumer(settings)
    consumer.store.init()
    records: List[Dict[str, Any]] = []
    for events in read_tracker_store(tracker_store_url).values():
        for event in events:
            records.extend(consumer.assembler.feed(event))
    records.extend(consumer.assembler.flush_all())
    consumer.assembler.take_dirty()
    return consumer.store.commit_batch(records)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--once", action="store_true", help="drain the SQL broker table once and exit")
    parser.add_argument("--backfill-tracker-store", metavar="DB", help="SQLite path or postgresql:// URL of Rasa's tracker store")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"))
    if args.backfill_tracker_store:
        print(f"{backfill(args.backfill_tracker_store)} turn records written")
        return 0
    consumer = AuditConsumer()
    if not consumer.lock.try_acquire():
        print("another audit consumer is running; nothing to do")
        return 1
    consumer.load_state()
    source = SqlBrokerSource(consumer.settings.events_url)
    started = time.time()
    while consumer.drain_sql_once(source):
        pass
    consumer.lock.release()
    print(f"{consumer.recorded} turn records written in {time.time() - started:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
