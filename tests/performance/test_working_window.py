"""The tracker store's working window (rasa_addons/sqlite_stores.py, ``working_window_turns``).

A long conversation with forms, a handoff (pause / resume) and slots set along the way is stored
twice: by Rasa's own SQLTrackerStore and by SQLiteTrackerStore with a window of 3 turns. After
every turn:
- the windowed tracker Rasa would work with has the same slots, active form, paused state,
  latest message and latest action as the full one, and is shorter once the conversation is long;
- it never starts inside a form or a handoff;
- the rows in the database and the published events are exactly Rasa's (nothing lost, nothing
  written twice), and the full tracker (``retrieve_full_tracker``) is Rasa's.
A tracker whose conversation changed underneath it is refused rather than stored out of line.
"""
from __future__ import annotations

from pathlib import Path

from tests.performance.rasa_script import run_in_rasa_env


SCRIPT = r'''
import asyncio, json, sqlite3, sys
from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa.shared.core.events import (ActionExecuted, ActiveLoop, BotUttered, ConversationPaused, ConversationResumed,
                                     SessionStarted, SlotSet, UserUttered)
from rasa_addons.sqlite_stores import SQLiteEventBroker, SQLiteTrackerStore
from rasa_addons import patches; assert set(patches.apply("all").values()) == {"applied"}, patches.status  # as the Rasa server runs (rasa_addons/launch.py)

tmp = sys.argv[1]
domain = Domain.load("domain.yml")
ref = SQLTrackerStore(domain, dialect="sqlite", db=f"{tmp}/ref_t.db", event_broker=SQLEventBroker(db=f"{tmp}/ref_e.db"))
win = SQLiteTrackerStore(domain, dialect="sqlite", db=f"{tmp}/win_t.db", event_broker=SQLiteEventBroker(db=f"{tmp}/win_e.db"),
                         working_window_turns=3)
clock = [1_700_000_000.0]

def ts():
    clock[0] += 1.0
    return clock[0]

def user(n, intent, text):
    parse = {"intent": {"name": intent, "confidence": 0.9}, "entities": [], "text": text}
    return UserUttered(text, parse["intent"], [], parse, timestamp=ts(), input_channel="rest", message_id=f"m{n}")

def chitchat(n):
    return [user(n, "greet", f"hello {n}"), SlotSet("triage", {"turn": n}, timestamp=ts()),
            ActionExecuted("utter_greet", timestamp=ts()), BotUttered("Hi!", timestamp=ts()),
            ActionExecuted("action_listen", timestamp=ts())]

def form_start(n):
    return [user(n, "order_status", "where is my order"), ActionExecuted("order_status_form", timestamp=ts()),
            ActiveLoop("order_status_form", timestamp=ts()), SlotSet("requested_slot", "order_id", timestamp=ts()),
            BotUttered("Which order?", timestamp=ts()), ActionExecuted("action_listen", timestamp=ts())]

def form_end(n):
    return [user(n, "inform", "BC-100002"), SlotSet("order_id", "BC-100002", timestamp=ts()),
            ActionExecuted("order_status_form", timestamp=ts()), ActiveLoop(None, timestamp=ts()),
            SlotSet("requested_slot", None, timestamp=ts()), ActionExecuted("action_order_status", timestamp=ts()),
            BotUttered("It has shipped.", timestamp=ts()), SlotSet("verified", True, timestamp=ts()),
            ActionExecuted("action_listen", timestamp=ts())]

def handoff(n):
    return [user(n, "request_human", "a person please"), ActionExecuted("action_handoff_to_human", timestamp=ts()),
            SlotSet("handoff_case_id", f"case-{n}", timestamp=ts()), ConversationPaused(timestamp=ts()),
            BotUttered("A person will take over.", timestamp=ts()), ActionExecuted("action_listen", timestamp=ts())]

def while_paused(n):
    return [user(n, "inform", f"still there? {n}"), ActionExecuted("action_listen", timestamp=ts())]

def resume(n):
    return [ConversationResumed(timestamp=ts()), SlotSet("handoff_case_id", None, timestamp=ts()),
            ActionExecuted("action_listen", timestamp=ts())]

plan = []
for cycle in range(4):
    plan += [chitchat, form_start, chitchat, form_end, chitchat, handoff, while_paused, while_paused, resume, chitchat, chitchat]

def signature(tracker):
    return {"slots": tracker.current_slot_values(), "active_loop": tracker.active_loop_name,
            "paused": tracker.is_paused(), "latest_message": tracker.latest_message.text,
            "latest_action": tracker.latest_action_name}

async def main():
    first = ts()
    windowed_turns, inside_episode = [], 0
    for n, make in enumerate(plan):
        events = make(n)
        trackers = {}
        for store in (ref, win):
            tracker = await store.retrieve("alice")
            if tracker is None:
                tracker = DialogueStateTracker.from_events("alice", [
                    ActionExecuted("action_session_start", timestamp=first), SessionStarted(timestamp=first),
                    ActionExecuted("action_listen", timestamp=first)], domain.slots)
            trackers[store] = tracker
        full, windowed = trackers[ref], trackers[win]
        assert signature(full) == signature(windowed), (n, signature(full), signature(windowed))
        users = [e for e in windowed.events if isinstance(e, UserUttered)]
        windowed_turns.append(len(users))
        if len(windowed.events) < len(full.events):
            # the window starts as a conversation at rest: slots, then action_listen, then a message
            served = list(windowed.events)
            first_user = next(i for i, e in enumerate(served) if isinstance(e, UserUttered))
            assert all(isinstance(e, SlotSet) for e in served[:first_user - 1]), n
            assert served[first_user - 1] == ActionExecuted("action_listen"), n
            assert len(users) >= 3, (n, len(users))
        for tracker in (full, windowed):
            for event in events:
                tracker.update(event)
        await ref.save(full)
        await win.save(windowed)

    # the windowed store wrote and published exactly what Rasa's store did
    def rows(db, sql):
        return sqlite3.connect(db).execute(sql).fetchall()
    columns = "SELECT sender_id, type_name, timestamp, intent_name, action_name, data FROM events ORDER BY id"
    assert rows(f"{tmp}/ref_t.db", columns) == rows(f"{tmp}/win_t.db", columns), "tracker store rows differ"
    assert rows(f"{tmp}/ref_e.db", "SELECT data FROM events ORDER BY id") == rows(f"{tmp}/win_e.db", "SELECT data FROM events ORDER BY id")
    a = (await ref.retrieve_full_tracker("alice")).current_state(EventVerbosity.ALL)
    b = (await win.retrieve_full_tracker("alice")).current_state(EventVerbosity.ALL)
    assert a == b, "full trackers differ"

    # someone else wrote to the conversation while this turn was handled: refuse, keep the rows
    tracker = await win.retrieve("alice")
    other = SQLiteTrackerStore(domain, dialect="sqlite", db=f"{tmp}/win_t.db")
    theirs = await other.retrieve("alice")
    theirs.update(SlotSet("order_id", "BC-100003", timestamp=ts()))
    await other.save(theirs)
    before = rows(f"{tmp}/win_t.db", "SELECT count(*) FROM events")
    tracker.update(SlotSet("order_id", "BC-100004", timestamp=ts()))
    try:
        await win.save(tracker)
        refused = False
    except RuntimeError:
        refused = True
    after = rows(f"{tmp}/win_t.db", "SELECT count(*) FROM events")
    # a copy of a windowed tracker (no window position) is refused too, not stored short
    tracker = await win.retrieve("alice")
    copy = DialogueStateTracker.from_events("alice", list(tracker.events), domain.slots)
    copy.update(SlotSet("order_id", "BC-100005", timestamp=ts()))
    try:
        await win.save(copy)
        refused = refused and False
    except RuntimeError:
        pass
    after = rows(f"{tmp}/win_t.db", "SELECT count(*) FROM events")
    print(json.dumps({"turns": len(plan), "windowed_turns": windowed_turns, "full_users": len([e for e in full.events if isinstance(e, UserUttered)]),
                      "refused": refused, "rows_unchanged": before == after}))

asyncio.run(main())
'''


def test_working_window_keeps_rasas_state_and_rows(tmp_path: Path) -> None:
    result = run_in_rasa_env(SCRIPT, str(tmp_path))
    turns = result["windowed_turns"]
    assert result["full_users"] == 4 * 10  # every customer message is in the full tracker
    # the window kicked in and stays bounded: 3 + 1 turns at most, plus a form or handoff episode
    assert max(turns[20:]) <= 8 and min(turns[20:]) >= 3, turns
    assert turns[-1] < result["full_users"]
    assert result["refused"] and result["rows_unchanged"]
