"""The audit store, the consumer and its lock on the real local PostgreSQL (production column).

Each test works in its own schema of the `test` database (search_path), dropped afterwards.
"""
from __future__ import annotations

import json
import uuid
from typing import Iterator

import pytest

from actions.audit import seed
from actions.audit.consumer import AuditConsumer, LeaderLock
from actions.audit.kpis import load_kpis
from actions.audit.settings import AuditSettings
from actions.audit.sources import SqlBrokerSource
from actions.audit.store import AuditStore
from tests.audit import events as ev

psycopg = pytest.importorskip("psycopg")
BASE = "postgresql://postgres@127.0.0.1:5432/test"


def _available() -> bool:
    try:
        with psycopg.connect(BASE, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


pytestmark = pytest.mark.skipif(not _available(), reason="no PostgreSQL on 127.0.0.1:5432")


@pytest.fixture
def pg_url() -> Iterator[str]:
    schema = f"audit_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(BASE, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield f"{BASE}?options=-csearch_path%3D{schema}"
    with psycopg.connect(BASE, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def test_known_set_gives_the_same_kpis_in_postgres(pg_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIT_DRAFTS_DB", str(tmp_path / "none.db"))
    store = AuditStore(pg_url)
    assert store.postgres
    assert store.insert_turns(seed.known_set()) == 12
    assert store.insert_turns(seed.known_set()) == 12 and store.count() == 12  # idempotent
    kpis = load_kpis(store, seed.T0, seed.T0 + 12 * 86400)["overall"]
    assert (kpis["conversations"], kpis["containment_rate"], kpis["response_ms_p95"], kpis["reopen_rate"]) == (8, 0.625, 1200.0, 0.3333)
    assert [t["conversation_id"] for t in store.turns(rule="customer_asked")] == ["C3"]
    assert [t["conversation_id"] for t in store.turns(refusals=True)] == ["C3"]
    assert {t["conversation_id"] for t in store.turns(low_confidence=0.6)} == {"C4", "C5"}
    assert store.turns(conversation_id="C2")[0]["knowledge"]["cited_articles"] == ["return-policy"]


def test_consumer_writes_to_postgres_from_a_postgres_broker_table(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rasa's SQL event broker can write to PostgreSQL too; the consumer tails it there."""
    with psycopg.connect(pg_url) as conn:
        conn.execute("CREATE TABLE events (id SERIAL PRIMARY KEY, sender_id VARCHAR(255), data TEXT)")
        for event in ev.knowledge_conversation("pg-1", 1_700_000_000.0):
            conn.execute("INSERT INTO events (sender_id, data) VALUES (%s, %s)", (event["sender_id"], json.dumps(event)))
    monkeypatch.setenv("AUDIT_DB_URL", pg_url)
    monkeypatch.setenv("AUDIT_EVENTS_URL", pg_url)
    settings = AuditSettings.load()
    consumer = AuditConsumer(settings)
    consumer.load_state()
    assert consumer.drain_sql_once(SqlBrokerSource(settings.events_url)) == 17
    turns = consumer.store.turns(conversation_id="pg-1")
    assert [t["intent"] for t in turns] == ["greet", "ask_question"]
    assert turns[1]["knowledge"]["retrieved"][0]["chunk_id"] == "return-policy#00"
    with psycopg.connect(pg_url) as conn:
        dump = " ".join(
            str(row) for table in ("audit_turns", "audit_conversation_state", "audit_consumer")
            for row in conn.execute(f"SELECT * FROM {table}").fetchall()
        )
    for raw in ("jane.doe@example.com", "415-555-0199", "leak@example.com"):
        assert raw not in dump


def test_advisory_lock_lets_one_consumer_run(pg_url: str) -> None:
    one, two = LeaderLock(pg_url), LeaderLock(pg_url)
    try:
        assert one.try_acquire() and not two.try_acquire()
        one.release()
        assert two.try_acquire()
    finally:
        one.release()
        two.release()
