"""Rasa's SQL tracker store and SQL event broker, tuned for the embedded SQLite default.

Referenced from endpoints.yml (``type: rasa_addons.sqlite_stores.SQLiteTrackerStore`` /
``SQLiteEventBroker``). They write exactly the rows Rasa's ``SQLTrackerStore`` and
``SQLEventBroker`` write (same tables, same columns, same order) and read them the same way; what
changes is what a turn costs (docs/performance.md has the measurements):

- **SQLite in WAL mode with ``synchronous=NORMAL``.** SQLite's default (rollback journal,
  ``synchronous=FULL``) syncs the disk on every commit: about 18 ms here. Rasa's SQL event broker
  commits once per event (10-15 events a turn), the tracker store once per turn, and both run
  inside Sanic's event loop, so every conversation waited for all of them. In WAL mode a commit
  appends to the log and ``NORMAL`` syncs only at checkpoints: a commit is durable against a crash
  of the process, and the last commits can be lost only if the machine itself loses power. Readers
  (the audit consumer, ``read_tracker_store``) work unchanged, also while Rasa writes.
- **A turn's events are published in one transaction** (``SQLiteEventBroker.publish_many``), in
  order, before the tracker store's own commit, instead of one transaction per event.
- **No second load of the tracker on save.** Rasa's ``TrackerStore.stream_events`` re-reads and
  rebuilds the whole stored session from the database just to find which events are new; the
  SQL store then counts the stored events again to know which rows to insert. Both need only the
  number of events already stored, so ``save`` counts once and uses it for both: the saved rows
  and the published events are the same.
- **Sessions are cached, and checked against the database.** Loading a tracker parses every
  stored row of the session and builds an event object from each (``Event.from_parameters``),
  a cost that grows with the conversation. ``SQLiteTrackerStore`` keeps the event objects of
  recently active sessions, built from the rows it wrote exactly as a load would build them, and
  reuses them when the session's row count and last row id in the database are still the ones
  it saw (one indexed query per retrieve). Another process writing to the conversation, a
  turn that failed before it was saved, a new session: each changes the count or the id, and the
  session is loaded from the database as before.
- **A bounded working window** (``working_window_turns``, off when 0). Rasa walks the whole session
  for every prediction (``past_states``, once per policy and per predicted action), replays it to
  rebuild the tracker, and serializes it to the action server on every call, so a turn gets slower
  the longer the conversation is. With a window, ``retrieve`` hands Rasa the state the
  conversation is in (every slot that is set, as ``SlotSet`` events) followed by the latest
  ``working_window_turns`` customer turns at least, instead of every event since the session
  started. It cuts only before a customer message where no form is active and no person has the
  conversation, so forms and handoffs always see their whole episode; the policies look at most
  a few turns back (max_history 4, rules a few turns long), so predictions do not change.
  Nothing is removed from the database: ``save`` stores only the new events, the full session
  stays in the database and ``GET /conversations/<id>/tracker`` (``retrieve_full_tracker``)
  returns all of it.
- **Connections stay open** (a pool instead of SQLAlchemy 1.4's connect-per-session for SQLite
  files), so WAL's log is not checkpointed and removed after every transaction.
- **Statements on the DBAPI connection** (``statements``): a turn runs six (two counts, the
  insert, the last id, the broker's insert, the commits), and an SQLAlchemy session cost 100-160
  us more per statement than SQLite took to run it. On SQLite they run on the pool's sqlite3
  connection with the same SQL and parameters; an index on (sender_id, type_name, timestamp)
  lets the latest session's start be found without reading the conversation's rows.

With another database the pragmas, the pool, the index and the DBAPI shortcut are skipped (the
statements go through SQLAlchemy sessions); the batched publishing, the single count and the cache
work the same there (tested on PostgreSQL; endpoints.prod.yml uses Rasa's own SQL store).
tests/performance/test_sqlite_stores.py compares both classes with Rasa's, row by row and tracker by
tracker.
"""
from __future__ import annotations

import contextlib
import itertools
import json
import logging
from collections import OrderedDict
from typing import Any, Dict, Iterable, Iterator, List, Optional, Text, Tuple

from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, SlotSet, UserUttered, deserialise_events
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from rasa_addons.continuation import remember

logger = logging.getLogger(__name__)

SYNCHRONOUS_LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")


def tune_sqlite(engine: Any, synchronous: Text = "NORMAL", journal_mode: Text = "WAL") -> None:
    """Set WAL journaling and the sync level on every SQLite connection ``engine`` opens."""
    if engine.dialect.name != "sqlite":
        return
    synchronous = str(synchronous).upper()
    if synchronous not in SYNCHRONOUS_LEVELS:
        raise ValueError(f"synchronous must be one of {SYNCHRONOUS_LEVELS}, not {synchronous!r}")
    journal_mode = str(journal_mode).upper()

    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA journal_mode={journal_mode}")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
        finally:
            cursor.close()

    engine.dispose()  # connections opened while the tables were created get the pragmas too


def pooled_engine(engine: Any) -> Any:
    """An SQLite file engine that keeps its connections open between sessions.

    SQLAlchemy 1.4 opens and closes a new SQLite connection for every session by default; in WAL
    mode closing the last connection also checkpoints and removes the log, so every turn would pay
    for that again. Other databases keep Rasa's engine as it is.
    """
    if engine.dialect.name != "sqlite" or str(engine.url.database or "") in ("", ":memory:"):
        return engine
    import sqlalchemy as sa

    pooled = sa.create_engine(engine.url, poolclass=sa.pool.QueuePool, pool_size=2, max_overflow=8,
                              connect_args={"check_same_thread": False})
    engine.dispose()
    return pooled


class SQLiteEventBroker(SQLEventBroker):
    """``SQLEventBroker`` with WAL/NORMAL on SQLite and one transaction per batch of events."""

    def __init__(self, dialect: Text = "sqlite", host: Optional[Text] = None, port: Optional[int] = None,
                 db: Text = "events.db", username: Optional[Text] = None, password: Optional[Text] = None,
                 synchronous: Text = "NORMAL", journal_mode: Text = "WAL") -> None:
        super().__init__(dialect=dialect, host=host, port=port, db=db, username=username, password=password)
        self.engine = pooled_engine(self.engine)
        tune_sqlite(self.engine, synchronous, journal_mode)
        self.sessionmaker = self.sessionmaker.__class__(bind=self.engine)

    def publish(self, event: Dict[Text, Any]) -> None:
        self.publish_many([event])

    def publish_many(self, events: Iterable[Dict[Text, Any]]) -> None:
        """Append ``events`` to the ``events`` table in one transaction, in order."""
        self._insert([{"sender_id": event.get("sender_id"), "data": json.dumps(event)} for event in events])

    def publish_serialised(self, sender_id: Text, serialised: List[Text]) -> None:
        """Publish events given as their ``json.dumps(event.as_dict())``, with the same rows as
        ``publish_many`` (``{"sender_id": ..., **event}``) without encoding each event again."""
        head = '{"sender_id": ' + json.dumps(sender_id) + ", "
        self._insert([{"sender_id": sender_id, "data": head + data[1:]} for data in serialised])

    def _insert(self, rows: List[Dict[Text, Any]]) -> None:
        # one executemany of a Core insert: the ORM's unit of work costs more than the rows
        if not rows:
            return
        with statements(self.engine, self.session_scope) as db:
            db.many(_INSERT_BROKER_EVENT_SQL, rows)
            db.commit()


# The latest session's rows, as SQLTrackerStore._event_query selects them, counted.
_POSITION_SQL = (
    "SELECT count(events.id), max(events.id) FROM events, "
    "(SELECT max(timestamp) AS session_start FROM events "
    " WHERE sender_id = :sender_id AND type_name = :session_started) AS latest "
    "WHERE events.sender_id = :sender_id "
    "AND (events.timestamp >= latest.session_start OR latest.session_start IS NULL)"
)
_LAST_ID_SQL = "SELECT max(id) FROM events WHERE sender_id = :sender_id"
# ... and the rows themselves, in the same order (a prepared statement: building the ORM query
# took 2-3 ms, ~4 % of Rasa's CPU, on the two misses of every conversation)
_ROWS_SQL = (
    "SELECT events.data FROM events, "
    "(SELECT max(timestamp) AS session_start FROM events "
    " WHERE sender_id = :sender_id AND type_name = :session_started) AS latest "
    "WHERE events.sender_id = :sender_id "
    "AND (events.timestamp >= latest.session_start OR latest.session_start IS NULL) "
    "ORDER BY events.id"
)
_INSERT_EVENT_SQL = ("INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
                     "VALUES (:sender_id, :type_name, :timestamp, :intent_name, :action_name, :data)")
_INSERT_BROKER_EVENT_SQL = "INSERT INTO events (sender_id, data) VALUES (:sender_id, :data)"
# the latest session's start is looked up on every retrieve and save: without this index SQLite
# reads every row of the conversation for it (Rasa's table only indexes sender_id)
_SESSION_START_INDEX_SQL = ("CREATE INDEX IF NOT EXISTS ix_events_sender_type_timestamp "
                            "ON events (sender_id, type_name, timestamp)")


class _DBAPIStatements:
    """The store's statements on a DBAPI connection (sqlite3 takes ``:name`` parameters)."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def one(self, sql: Text, params: Dict[Text, Any]) -> Tuple[Any, ...]:
        with contextlib.closing(self._connection.cursor()) as cursor:
            return cursor.execute(sql, params).fetchone()

    def all(self, sql: Text, params: Dict[Text, Any]) -> List[Tuple[Any, ...]]:
        with contextlib.closing(self._connection.cursor()) as cursor:
            return cursor.execute(sql, params).fetchall()

    def many(self, sql: Text, rows: List[Dict[Text, Any]]) -> None:
        with contextlib.closing(self._connection.cursor()) as cursor:
            cursor.executemany(sql, rows)

    def commit(self) -> None:
        self._connection.commit()


class _SessionStatements:
    """The same statements through an SQLAlchemy session (other databases)."""

    _texts: Dict[Text, Any] = {}

    def __init__(self, session: Any) -> None:
        self._session = session

    @classmethod
    def _text(cls, sql: Text) -> Any:
        text = cls._texts.get(sql)
        if text is None:
            import sqlalchemy as sa

            text = cls._texts[sql] = sa.text(sql)
        return text

    def one(self, sql: Text, params: Dict[Text, Any]) -> Tuple[Any, ...]:
        return tuple(self._session.execute(self._text(sql), params).one())

    def all(self, sql: Text, params: Dict[Text, Any]) -> List[Tuple[Any, ...]]:
        return [tuple(row) for row in self._session.execute(self._text(sql), params).all()]

    def many(self, sql: Text, rows: List[Dict[Text, Any]]) -> None:
        self._session.execute(self._text(sql), rows)

    def commit(self) -> None:
        self._session.commit()


@contextlib.contextmanager
def statements(engine: Any, session_scope: Any) -> Iterator[Any]:
    """What the stores run their statements on, for one transaction.

    SQLite: the pool's DBAPI connection itself. An SQLAlchemy session costs 100-160 us a statement
    more than the statement does (a turn runs six); the SQL, the parameters and the transactions
    are the same (pysqlite opens the transaction at the first write either way). Anything not
    committed is rolled back when the connection goes back to the pool. Other databases: a
    session, as before."""
    if engine.dialect.name == "sqlite":
        connection = engine.raw_connection()
        try:
            yield _DBAPIStatements(connection)
        finally:
            connection.close()
    else:
        with session_scope() as session:
            yield _SessionStatements(session)


class _Cached:
    """The deserialised events of a conversation's latest stored session, and where it ended.

    ``window``: what ``retrieve`` hands Rasa when the working window is on and the session is long
    (a state snapshot plus the latest turns), or None when Rasa gets the whole session.
    ``state``: a tracker replayed from the events ``retrieve`` hands out, kept up to date with the
    events each ``save`` adds; Rasa gets copies of it, never the tracker itself."""

    __slots__ = ("events", "count", "last_id", "session_start", "window", "state", "turns")

    def __init__(self, events: List[Event], count: int, last_id: Optional[int], session_start: Optional[float]) -> None:
        self.events = events
        self.count = count
        self.last_id = last_id
        self.session_start = session_start
        self.window: Optional[List[Event]] = None
        self.state: Optional[DialogueStateTracker] = None
        #: (event list, number of customer messages in it): counted once per list, not per retrieve
        self.turns: Optional[Tuple[List[Event], int]] = None

    def user_turns(self, events: List[Event]) -> int:
        """``len(_user_turns(events))``; the lists handed in are never changed in place (``save``
        builds a new list), so the count of the same list object stays right."""
        if self.turns is None or self.turns[0] is not events:
            self.turns = (events, len(_user_turns(events)))
        return self.turns[1]


def _user_turns(events: List[Event]) -> List[int]:
    return [index for index, event in enumerate(events) if isinstance(event, UserUttered)]


def working_window(sender_id: Text, events: List[Event], slots: List[Any], keep_turns: int) -> Optional[List[Event]]:
    """A shorter event list that leaves Rasa in the same state as ``events``, or None.

    The window starts at a customer message with at least ``keep_turns`` customer messages from
    there on, where no form was active and the conversation was not paused (the latest such
    message that keeps enough turns). Before it: ``SlotSet`` for every slot that differs from its
    initial value, then ``action_listen``, as if the conversation had just reached that point.
    """
    turns = _user_turns(events)
    if keep_turns <= 0 or len(turns) <= keep_turns:
        return None
    latest_cut = turns[-keep_turns]
    replay = DialogueStateTracker.from_events(sender_id, [], slots)
    cut: Optional[int] = None
    snapshot: List[Event] = []
    for index, event in enumerate(events[:latest_cut + 1]):
        if isinstance(event, UserUttered) and index > 0 and replay.active_loop_name is None and not replay.is_paused():
            cut = index
            stamp = events[index - 1].timestamp
            snapshot = [SlotSet(name, slot.value, timestamp=stamp) for name, slot in replay.slots.items()
                        if slot.value != slot.initial_value]
            snapshot.append(ActionExecuted(ACTION_LISTEN_NAME, timestamp=stamp))
        replay.update(event)
    if cut is None or len(snapshot) >= cut:
        return None  # no clean boundary, or nothing to gain
    return snapshot + list(events[cut:])


class SQLiteTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` with WAL/NORMAL on SQLite, one count per save, batched publishing and a
    cache of deserialised sessions.

    ``cache_size`` (default 2000, 0 turns it off): the latest session of that many recently active
    conversations is kept as Rasa event objects, built exactly as a load from the database builds
    them (each stored row's JSON through ``Event.from_parameters``). ``retrieve`` asks the
    database for the session's row count and last row id (one indexed query) and, when they
    match the cache, hands Rasa a copy of the tracker replayed from the cached events
    (``DialogueStateTracker.from_events``, as ``from_dict`` does after deserialising), kept up to
    date by ``save``, instead of reading, parsing and replaying every row again.
    Any other writer (another Rasa process, an API call that failed half way, a new session)
    changes the count or the last id, and the session is read from the database as before.
    """

    def __init__(self, *args: Any, synchronous: Text = "NORMAL", journal_mode: Text = "WAL", cache_size: int = 2000,
                 working_window_turns: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.engine = pooled_engine(self.engine)
        tune_sqlite(self.engine, synchronous, journal_mode)
        self.sessionmaker = self.sessionmaker.__class__(bind=self.engine)
        if self.engine.dialect.name == "sqlite":
            import sqlalchemy as sa

            with self.engine.begin() as connection:
                connection.execute(sa.text(_SESSION_START_INDEX_SQL))
        self.cache_size = int(cache_size)
        self._cache: "OrderedDict[Text, _Cached]" = OrderedDict()
        self.cache_stats = {"hits": 0, "misses": 0}
        # the window is recomputed when it has grown by half again, so the replay it needs happens
        # every few turns rather than on every turn
        self.working_window_turns = int(working_window_turns or 0)
        if self.working_window_turns and not self.cache_size:
            raise ValueError("working_window_turns needs the session cache (cache_size > 0)")

    # --- reading ----------------------------------------------------------------------------

    def _position(self, db: Any, sender_id: Text) -> Tuple[int, Optional[int]]:
        """Row count and last row id of the conversation's latest stored session.

        The rows of ``SQLTrackerStore._event_query(..., fetch_events_from_all_sessions=False)``
        (events from the latest ``session_started`` on, by timestamp), counted in one prepared
        statement: building that ORM query took 2-3 ms a call, two calls a turn."""
        count, last_id = db.one(_POSITION_SQL, {"sender_id": sender_id, "session_started": SessionStarted.type_name})
        return int(count or 0), last_id

    def _last_id(self, db: Any, sender_id: Text) -> Optional[int]:
        return db.one(_LAST_ID_SQL, {"sender_id": sender_id})[0]

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """The tracker of the latest session, as ``SQLTrackerStore.retrieve`` returns it."""
        if not self.cache_size or not self.domain:
            return await super().retrieve(sender_id)
        with statements(self.engine, self.session_scope) as db:
            count, last_id = self._position(db, sender_id)
            cached = self._cache.get(sender_id)
            if cached is not None and cached.count == count and cached.last_id == last_id and len(cached.events) == count:
                self._cache.move_to_end(sender_id)
                self.cache_stats["hits"] += 1
                if not count:
                    return None
                return self._tracker(sender_id, cached)
            self.cache_stats["misses"] += 1
            if not count:  # a new conversation: nothing to read (the conversation's lock keeps writers out)
                self._cache.pop(sender_id, None)
                return None
            rows = db.all(_ROWS_SQL, {"sender_id": sender_id, "session_started": SessionStarted.type_name})
        events = deserialise_events([json.loads(row[0]) for row in rows])
        if rows and len(events) == len(rows):
            # the position read above may be older than the rows: then the next retrieve misses
            entry = _Cached(events, count, last_id, _session_start(events))
            self._remember(sender_id, entry)
            return self._tracker(sender_id, entry)
        self._cache.pop(sender_id, None)
        if self.domain and events:
            return DialogueStateTracker.from_events(sender_id, list(events), self.domain.slots)
        return None

    def _tracker(self, sender_id: Text, entry: _Cached) -> DialogueStateTracker:
        """The tracker Rasa works with: the whole session, or the working window of a long one."""
        if self.working_window_turns:
            current = entry.window if entry.window is not None else entry.events
            if entry.user_turns(current) > self.working_window_turns + max(1, self.working_window_turns // 2):
                window = working_window(sender_id, current, self.domain.slots, self.working_window_turns)
                if window is not None:
                    entry.window = window
        served = entry.window if entry.window is not None else entry.events
        state = entry.state
        if state is None or len(state.events) != len(served) or (served and state.events[-1] is not served[-1]):
            state = entry.state = DialogueStateTracker.from_events(sender_id, list(served), self.domain.slots)
        # the replayed state, copied (rasa_runtime copies a tracker without replaying it again)
        tracker = state.copy()
        if entry.window is not None:
            # save() finds the new events after the window, not after the stored row count
            tracker._working_window = (len(served), served[-1], entry.count)
        return tracker

    def _new_events_start(self, tracker: DialogueStateTracker, stored: int) -> int:
        """Index of the first event of ``tracker`` not stored yet."""
        window = getattr(tracker, "_working_window", None)
        if window is None:
            cached = self._cache.get(tracker.sender_id)
            if cached is not None and cached.window is not None and len(tracker.events) < stored:
                # a copy of a windowed tracker that lost track of where its window ends: its new
                # events cannot be told apart, and slicing at the stored count would drop them
                raise RuntimeError(f"conversation {tracker.sender_id!r}: a windowed tracker without its window "
                                   "position cannot be saved")
            return stored
        length, last, count = window
        if count != stored or len(tracker.events) < length or tracker.events[length - 1] is not last:
            # a windowed tracker whose conversation changed underneath it: its events cannot be
            # lined up with the stored ones, and storing them would corrupt the history
            raise RuntimeError(f"conversation {tracker.sender_id!r} changed while a turn was handled; not saved")
        return length

    def _remember(self, sender_id: Text, entry: _Cached) -> None:
        remember(self._cache, sender_id, entry, self.cache_size)

    # --- writing ----------------------------------------------------------------------------

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Store (and publish) the events of ``tracker`` that are not stored yet.

        Same rows as ``SQLTrackerStore.save``; the new events are found once, from the number of
        events stored for the conversation's latest session, instead of by loading that session.
        """
        sender_id = tracker.sender_id
        with statements(self.engine, self.session_scope) as db:
            stored, last_id = self._position(db, sender_id)
            start = self._new_events_start(tracker, stored)
            new_events = list(itertools.islice(tracker.events, start, len(tracker.events)))
            rows = []
            for event in new_events:
                data = event.as_dict()
                intent = data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY)
                rows.append({"sender_id": sender_id, "type_name": event.type_name, "timestamp": data.get("timestamp"),
                             "intent_name": intent, "action_name": data.get("name"), "data": json.dumps(data)})
            serialised = [row["data"] for row in rows]
            timestamps = [row["timestamp"] for row in rows]
            if self.event_broker is not None:
                await self._stream_new_events(self.event_broker, new_events, sender_id, serialised)
            new_last_id = last_id
            if rows:
                # one executemany of a Core insert instead of the ORM's insert-per-row flush;
                # the conversation's lock keeps other writers out, so its newest id is ours
                db.many(_INSERT_EVENT_SQL, rows)
                new_last_id = self._last_id(db, sender_id)
            db.commit()
        logger.debug(f"Tracker with sender_id '{sender_id}' stored to database")
        if self.cache_size:
            self._update_cache(sender_id, stored, last_id, new_last_id, serialised, timestamps)

    def _update_cache(self, sender_id: Text, stored: int, last_id: Optional[int], new_last_id: Optional[int],
                      serialised: List[Text], timestamps: List[Optional[float]]) -> None:
        cached = self._cache.get(sender_id)
        if cached is None or cached.count != stored or cached.last_id != last_id or len(cached.events) != stored:
            self._cache.pop(sender_id, None)  # not known (or changed by someone else): next retrieve reads it
            return
        added = deserialise_events([json.loads(data) for data in serialised])
        starts_session = any(isinstance(event, SessionStarted) for event in added)
        before_session = cached.session_start is not None and any(
            ts is None or ts < cached.session_start for ts in timestamps
        )
        if starts_session or before_session or len(added) != len(serialised):
            self._cache.pop(sender_id, None)  # which rows the next load returns depends on timestamps
            return
        cached.events = cached.events + added
        if cached.window is not None:
            cached.window = cached.window + added
        if cached.state is not None:
            for event in added:  # what from_events would do with these events after the others
                cached.state.update(event)
        cached.count = stored + len(added)
        cached.last_id = new_last_id
        self._cache.move_to_end(sender_id)

    async def _stream_new_events(self, event_broker: Any, new_events: List[Event], sender_id: Text,
                                 serialised: List[Text]) -> None:
        publish_serialised = getattr(event_broker, "publish_serialised", None)
        if publish_serialised is not None:
            publish_serialised(sender_id, serialised)
            return
        bodies = [{"sender_id": sender_id, **event.as_dict()} for event in new_events]
        publish_many = getattr(event_broker, "publish_many", None)
        if publish_many is not None:
            publish_many(bodies)
        else:
            for body in bodies:
                event_broker.publish(body)


def _session_start(events: List[Event]) -> Optional[float]:
    starts = [event.timestamp for event in events if isinstance(event, SessionStarted)]
    return max(starts) if starts else None
