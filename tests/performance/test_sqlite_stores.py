"""rasa_addons.sqlite_stores writes and reads exactly what Rasa's SQL tracker store and SQL event
broker write and read (same rows, same order, same trackers), with WAL on, across a new session,
a second writer on the same database and events appended with an older timestamp."""
from __future__ import annotations

from pathlib import Path

from tests.performance.rasa_script import run_in_rasa_env


SCRIPT = r'''
import asyncio, json, sqlite3, sys, time
from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa.shared.core.events import (ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered,
                                     ActiveLoop, ConversationPaused, ConversationResumed)
from rasa_addons.sqlite_stores import SQLiteEventBroker, SQLiteTrackerStore
from rasa_addons import patches; assert set(patches.apply("all").values()) == {"applied"}, patches.status  # as the Rasa server runs (rasa_addons/launch.py)

tmp, kind = sys.argv[1], sys.argv[2]
domain = Domain.load("domain.yml")
if kind == "sqlite":
    where = {"dialect": "sqlite"}
    name = lambda db: f"{tmp}/{db}.db"
else:  # the same classes on PostgreSQL run their statements through SQLAlchemy sessions
    import sqlalchemy as sa
    where = {"dialect": "postgresql", "host": "127.0.0.1", "port": 5432, "username": "postgres"}
    name = lambda db: f"{tmp}_{db}"
ref = SQLTrackerStore(domain, db=name("ref_t"), event_broker=SQLEventBroker(db=name("ref_e"), **where), **where)
new = SQLiteTrackerStore(domain, db=name("new_t"), event_broker=SQLiteEventBroker(db=name("new_e"), **where), **where)
other = SQLiteTrackerStore(domain, db=name("new_t"), **where)  # a second Rasa process
plain = SQLTrackerStore(domain, db=name("new_t"), **where)     # Rasa's own reader
engines = {"ref_t": ref.engine, "new_t": new.engine, "ref_e": ref.event_broker.engine, "new_e": new.event_broker.engine}
clock = [1_700_000_000.0]

def ts():
    clock[0] += 1.0
    return clock[0]

def turn(n):
    text = f"where is my order BC-10000{n % 10}"
    parse = {"intent": {"name": "order_status", "confidence": 0.97}, "entities": [{"entity": "order_id", "value": f"BC-10000{n % 10}", "start": 18, "end": 27}],
             "text": text, "intent_ranking": [{"name": "order_status", "confidence": 0.97}]}
    return [UserUttered(text, parse["intent"], parse["entities"], parse, timestamp=ts(), input_channel="rest", message_id=f"m{n}"),
            SlotSet("order_id", f"BC-10000{n % 10}", timestamp=ts()), SlotSet("triage", {"turn": n, "signals": ["x"]}, timestamp=ts()),
            ActionExecuted("order_status_form", timestamp=ts()), ActiveLoop("order_status_form", timestamp=ts()),
            BotUttered(f"reply {n}", {"elements": None}, {"utter_action": "utter_ask_email"}, timestamp=ts()),
            ActionExecuted("action_listen", timestamp=ts())]

def state(tracker):
    return None if tracker is None else tracker.current_state(EventVerbosity.ALL)

def rows(db, sql):
    if kind == "sqlite":
        return sqlite3.connect(name(db)).execute(sql).fetchall()
    with engines[db].connect() as connection:
        return [tuple(row) for row in connection.execute(sa.text(sql)).fetchall()]

async def step(sender, events_fn, store=None):
    first = ts()
    for s in (ref, store or new):
        tracker = await s.retrieve(sender)
        if tracker is None:  # what get_or_create_tracker does, with a fixed clock
            tracker = DialogueStateTracker.from_events(sender, [ActionExecuted("action_listen", timestamp=first)], domain.slots)
        for event in events_fn():
            tracker.update(event)
        await s.save(tracker)

async def main():
    checks = 0
    async def compare(sender):
        nonlocal checks
        a, b, c = state(await ref.retrieve(sender)), state(await new.retrieve(sender)), state(await plain.retrieve(sender))
        assert b == c, ("cached and Rasa's reader differ", sender)
        assert a == b, ("Rasa's store and this one differ", sender, [(x, y) for x, y in zip(a["events"], b["events"]) if x != y][:2], {k: (a[k], b[k]) for k in a if a[k] != b[k] and k != "events"})
        checks += 1

    for sender in ("alice", "bob"):
        for n in range(6):
            saved = clock[0]
            await step(sender, lambda: (clock.__setitem__(0, saved), turn(n))[1])
            clock[0] = saved + 20
            await compare(sender)
    # a new session in the middle of a conversation
    start = ts()
    await step("alice", lambda: [ActionExecuted("action_session_start", timestamp=start), SessionStarted(timestamp=start),
                                 SlotSet("customer_id", "C0001", timestamp=start), ActionExecuted("action_listen", timestamp=start)])
    await compare("alice")
    for n in range(3):
        saved = clock[0]
        await step("alice", lambda: (clock.__setitem__(0, saved), turn(n))[1])
        clock[0] = saved + 20
        await compare("alice")
    # another process appends to the same conversation: the cache must notice
    tracker = await other.retrieve("bob")
    tracker.update(ConversationPaused(timestamp=ts()))
    await other.save(tracker)
    tracker = await ref.retrieve("bob")
    tracker.update(ConversationPaused(timestamp=clock[0]))
    await ref.save(tracker)
    await compare("bob")
    # events with an older timestamp than the session start (an API call) are not in the session
    await step("alice", lambda: [ConversationResumed(timestamp=start - 100.0), ActionExecuted("action_listen", timestamp=start - 99.0)])
    await compare("alice")
    # a tracker handled but not saved (an error half way) leaves the stored state untouched
    tracker = await new.retrieve("alice")
    tracker.update(SlotSet("order_id", "BC-999999"))
    await compare("alice")
    await compare("nobody")

    ref_rows = rows("ref_t", "SELECT sender_id, type_name, timestamp, intent_name, action_name, data FROM events ORDER BY id")
    new_rows = rows("new_t", "SELECT sender_id, type_name, timestamp, intent_name, action_name, data FROM events ORDER BY id")
    assert ref_rows == new_rows, "tracker store rows differ"
    ref_broker = rows("ref_e", "SELECT sender_id, data FROM events ORDER BY id")
    new_broker = rows("new_e", "SELECT sender_id, data FROM events ORDER BY id")
    # the second writer had no broker; Rasa's reference published its pause, so compare the rest
    assert [r for r in ref_broker if '"pause"' not in r[1]] == [r for r in new_broker if '"pause"' not in r[1]], "broker rows differ"
    modes = [rows(db, "PRAGMA journal_mode")[0][0] for db in ("new_t", "new_e")] if kind == "sqlite" else []
    print(json.dumps({"checks": checks, "rows": len(new_rows), "broker_rows": len(new_broker), "modes": modes, "cache": new.cache_stats}))

asyncio.run(main())
'''


def test_sqlite_stores_match_rasas_sql_stores(tmp_path: Path) -> None:
    result = run_in_rasa_env(SCRIPT, str(tmp_path), "sqlite")
    assert result["checks"] >= 18 and result["rows"] > 80 and result["broker_rows"] > 80
    assert result["modes"] == ["wal", "wal"]
    assert result["cache"]["hits"] >= 20, result["cache"]  # most reads came from the cache, and matched


def test_same_classes_match_rasas_on_postgresql() -> None:
    """With ``dialect: postgresql`` the classes run the same statements through SQLAlchemy sessions
    (no DBAPI shortcut, no pragmas): the same rows and trackers as Rasa's stores there too. Uses
    the PostgreSQL server on 127.0.0.1:5432 (.ci/run starts it); the databases are dropped after."""
    import subprocess
    import uuid

    prefix = f"stores_{uuid.uuid4().hex[:10]}"
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c"]
    try:
        for db in ("ref_t", "new_t", "ref_e", "new_e"):
            subprocess.run(psql + [f"CREATE DATABASE {prefix}_{db}"], capture_output=True, timeout=60, check=True)
        result = run_in_rasa_env(SCRIPT, prefix, "postgresql")
        assert result["checks"] >= 18 and result["rows"] > 80 and result["broker_rows"] > 80
        assert result["cache"]["hits"] >= 20, result["cache"]
    finally:
        for db in ("ref_t", "new_t", "ref_e", "new_e"):
            subprocess.run(psql + [f"DROP DATABASE IF EXISTS {prefix}_{db} WITH (FORCE)"], capture_output=True, timeout=60)
