"""From Rasa events to turn records: the assembler, the consumer's bookkeeping, the leader lock."""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from actions.audit.consumer import AuditConsumer, LeaderLock, backfill
from actions.audit.settings import AuditSettings
from actions.audit.sources import SqlBrokerSource
from actions.audit.store import AuditStore
from actions.audit.turns import TurnAssembler
from tests.audit import events as ev

T = 1_700_000_000.0
RAW = ["jane.doe@example.com", "415-555-0199", "leak@example.com", "4111 1111 1111 1111"]


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AuditSettings:
    monkeypatch.setenv("AUDIT_DB_URL", str(tmp_path / "audit.db"))
    monkeypatch.setenv("RASA_EVENTS_DB", str(tmp_path / "events.db"))
    monkeypatch.setenv("AUDIT_TURN_TIMEOUT", "5")
    return AuditSettings.load()


def test_one_record_per_turn_with_the_facts_of_that_turn() -> None:
    assembler = TurnAssembler(versions=lambda: {"rules_version": "r1", "action_server_version": "a1", "kb_index_version": "k0"})
    records = []
    for event in ev.knowledge_conversation("c1", T):
        records += assembler.feed(event)
    assert [r["intent"] for r in records] == ["greet", "ask_question"]
    greet, question = records
    assert greet["message"] == "hi, I'm j***@example.com"
    assert greet["actions"] == [{"name": "utter_greet", "policy": "RulePolicy", "confidence": 1.0}]
    assert greet["latency_ms"] == pytest.approx(200.0, abs=0.5)
    assert greet["knowledge"] is None and greet["kb_refused"] is None
    assert question["action"] == "action_answer_from_knowledge" and question["closed_by"] == "listen"
    kb = question["knowledge"]
    assert [c["chunk_id"] for c in kb["retrieved"]] == ["return-policy#00", "exchanges#01"]
    assert kb["retrieved"][0]["score"] == 0.81 and kb["cited_articles"] == ["return-policy"]
    assert kb["refused"] is False and question["kb_refused"] is False
    assert "prompt" not in kb and "reasoning" not in question["triage"]  # facts only
    assert question["kb_index_version"] == "kb-abc"  # the index the answer actually used
    assert question["rules_version"] == "r1" and question["model_id"] == "model-1"
    assert question["frustration"] == 0.2 and question["risk_class"] == "low" and question["urgency"] == "normal"
    assert "415-555-0199" not in str(question) and "[phone ***99]" in question["message"]


def test_turn_closes_on_pause_next_message_and_timeout() -> None:
    assembler = TurnAssembler(turn_timeout=5)
    out = []
    for event in [
        ev.user("c2", "I want a person", "request_human", 0.9, T),
        ev.action("c2", "action_handoff_to_human", T + 0.1), ev.bot("c2", "Connecting you", T + 0.3),
        ev.slot("c2", "handoff_ticket_id", "T-9", T + 0.3), ev.simple("c2", "pause", T + 0.3),
        ev.user("c2", "hello?", "greet", 0.8, T + 30),  # while paused: nothing follows
        ev.user("c2", "anyone?", "greet", 0.7, T + 40),
    ]:
        out += assembler.feed(event)
    assert [(r["closed_by"], r["handoff"], r["paused"]) for r in out] == [("pause", True, False), ("next_message", False, True)]
    assert out[0]["handoff_ticket_id"] == "T-9" and out[1]["latency_ms"] is None
    assert assembler.flush_idle(now=T + 42) == []
    late = assembler.flush_idle(now=T + 46)
    assert [(r["message"], r["closed_by"]) for r in late] == [("anyone?", "timeout")]


def test_consumer_resumes_where_it_stopped_and_never_duplicates(settings: AuditSettings, tmp_path: Path) -> None:
    conversation = ev.knowledge_conversation("c3", time.time())  # recent: no turn times out here
    ev.write_broker_table(tmp_path / "events.db", conversation[:6])  # stops before the greeting's action_listen
    first = AuditConsumer(settings)
    first.load_state()
    source = SqlBrokerSource(settings.events_url)
    first.drain_sql_once(source)
    assert first.store.count() == 0  # the greeting turn is still open
    # the action server restarts: a new consumer picks up the open turn from the stored state
    ev.write_broker_table(tmp_path / "events.db", conversation[6:])
    second = AuditConsumer(settings)
    second.load_state()
    second.drain_sql_once(source)
    second.drain_sql_once(source)
    turns = second.store.turns(conversation_id="c3")
    assert [t["intent"] for t in turns] == ["greet", "ask_question"]
    assert [t["turn_index"] for t in turns] == [1, 2]
    # replaying the same stream from the start does not duplicate a turn
    third = AuditConsumer(settings)
    third.store.commit_batch([], {}, source.name, 0)
    third.drain_sql_once(source)
    third.drain_sql_once(source)
    assert third.store.count() == 2


def test_no_raw_personal_data_in_any_table_of_the_audit_store(settings: AuditSettings, tmp_path: Path) -> None:
    conversation = ev.knowledge_conversation("c4", T)
    # a card number in an open turn: the consumer persists the open turn between batches
    conversation.append(ev.user("c4", "my card is 4111 1111 1111 1111", "payment_failed", 0.9, T + 20))
    ev.write_broker_table(tmp_path / "events.db", conversation)
    consumer = AuditConsumer(settings)
    consumer.load_state()
    consumer.drain_sql_once(SqlBrokerSource(settings.events_url))
    conn = sqlite3.connect(tmp_path / "audit.db")
    dump = "\n".join(conn.iterdump())
    conn.close()
    assert "[card ****1111]" in dump  # the open turn is stored, masked
    for raw in RAW:
        assert raw not in dump


def test_only_one_consumer_holds_the_lock(tmp_path: Path) -> None:
    url = str(tmp_path / "audit.db")
    one, two = LeaderLock(url), LeaderLock(url)
    assert one.try_acquire() and not two.try_acquire()
    one.release()
    assert two.try_acquire()
    two.release()


def test_backfill_from_a_tracker_store(settings: AuditSettings, tmp_path: Path) -> None:
    tracker = tmp_path / "tracker.db"
    conn = sqlite3.connect(tracker)
    conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, type_name VARCHAR(255) NOT NULL,"
                 " timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)")
    import json

    for e in ev.knowledge_conversation("old-1", T):
        data = {k: v for k, v in e.items() if k != "sender_id"}
        conn.execute("INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, ?, ?, ?)",
                     (e["sender_id"], e["event"], e["timestamp"], json.dumps(data)))
    conn.commit()
    conn.close()
    assert backfill(str(tracker), settings) == 2
    assert [t["intent"] for t in AuditStore(settings.db_url).turns(conversation_id="old-1")] == ["greet", "ask_question"]
