"""Retention (``python -m actions.privacy.retention``, docs/privacy.md "Erasure and retention"):
what is older than the period goes from every store, what is newer stays, and the run is logged
without personal data.

The first test runs the command against the running stack (Rasa's tracker store and broker through
its privacy endpoint); the second runs it with Rasa stopped (``--direct``) on files of its own.
"""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List

import pytest

from tests.conftest import ROOT
from tests.handoff.conftest import rasa_tracker

pytestmark = [pytest.mark.timeout(600)]

DAY = 86400.0


def execute(path: Path, sql: str, params: tuple = ()) -> None:
    conn = sqlite3.connect(path, timeout=30)
    try:
        with conn:
            conn.execute(sql, params)
    finally:
        conn.close()


def query(path: Path, sql: str, params: tuple = ()) -> List[tuple]:
    conn = sqlite3.connect(path, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def tracker_event(path: Path, sender: str, kind: str, ts: float, **data: Any) -> None:
    event = {"event": kind, "timestamp": ts, **data}
    execute(path, "INSERT INTO events (sender_id, type_name, timestamp, action_name, data) VALUES (?, ?, ?, ?, ?)",
            (sender, kind, ts, data.get("name"), json.dumps(event)))


def broker_event(path: Path, sender: str, kind: str, ts: float, **data: Any) -> None:
    execute(path, "INSERT INTO events (sender_id, data) VALUES (?, ?)",
            (sender, json.dumps({"sender_id": sender, "event": kind, "timestamp": ts, **data})))


def seed_old_and_new(var: Path, now: float, tag: str) -> Dict[str, Any]:
    """Rows 100 days old and 10 days old in every store the command prunes (Rasa's tables exist)."""
    old, recent = now - 100 * DAY, now - 10 * DAY
    ids = {"old": f"replay-old-{tag}", "recent": f"replay-recent-{tag}"}  # replay-: the audit consumer skips them
    for name, ts in (("old", old), ("recent", recent)):
        sender = ids[name]
        tracker_event(var / "rasa_tracker.db", sender, "user", ts, text=f"{name} message {tag}")
        tracker_event(var / "rasa_tracker.db", sender, "slot", ts + 1, name="customer_id", value="C0009")
        broker_event(var / "rasa_events.db", sender, "user", ts, text=f"{name} message {tag}")
        execute(var / "audit.db", "INSERT INTO audit_turns (conversation_id, turn_key, ts, message, handoff, fallback, paused) "
                "VALUES (?, '1', ?, 'x', 0, 0, 0)", (sender, ts))
        execute(var / "audit.db", "INSERT INTO audit_conversation_state (conversation_id, state, updated_at) VALUES (?, '{}', ?)",
                (sender, ts))
        case_id = f"H-{name}-{tag}"
        execute(var / "handoff.sqlite3", "INSERT INTO handoff_cases (case_id, conversation_id, status, created_at, resolved_at) "
                "VALUES (?, ?, 'resolved', ?, ?)", (case_id, sender, ts, ts + 60))
        execute(var / "handoff.sqlite3", "INSERT INTO agent_replies (case_id, conversation_id, text, source, status, created_at) "
                "VALUES (?, ?, 'hello', 'thread', 'delivered', ?)", (case_id, sender, ts))
        execute(var / "handoff.sqlite3", "INSERT INTO slack_outbox (kind, case_id, conversation_id, payload, status, created_at) "
                "VALUES ('post', ?, ?, '{}', 'sent', ?)", (case_id, sender, ts))
        execute(var / "twilio_sms.sqlite3", "INSERT INTO sms_opt_out (phone, opted_out_at) VALUES (?, ?)",
                (f"+1555{name}{tag}", ts))
    return ids


def remaining(var: Path, ids: Dict[str, str], tag: str) -> Dict[str, Dict[str, int]]:
    found: Dict[str, Dict[str, int]] = {}
    for name, sender in ids.items():
        found[name] = {
            "tracker": query(var / "rasa_tracker.db", "SELECT count(*) FROM events WHERE sender_id = ?", (sender,))[0][0],
            "broker": query(var / "rasa_events.db", "SELECT count(*) FROM events WHERE sender_id = ?", (sender,))[0][0],
            "audit_turns": query(var / "audit.db", "SELECT count(*) FROM audit_turns WHERE conversation_id = ?", (sender,))[0][0],
            "audit_states": query(var / "audit.db", "SELECT count(*) FROM audit_conversation_state WHERE conversation_id = ?",
                                  (sender,))[0][0],
            "cases": query(var / "handoff.sqlite3", "SELECT count(*) FROM handoff_cases WHERE conversation_id = ?", (sender,))[0][0],
            "replies": query(var / "handoff.sqlite3", "SELECT count(*) FROM agent_replies WHERE conversation_id = ?", (sender,))[0][0],
            "outbox": query(var / "handoff.sqlite3", "SELECT count(*) FROM slack_outbox WHERE conversation_id = ?", (sender,))[0][0],
            "sms": query(var / "twilio_sms.sqlite3", "SELECT count(*) FROM sms_opt_out WHERE phone = ?", (f"+1555{name}{tag}",))[0][0],
        }
    return found


def run_retention(env: Dict[str, str], *args: str) -> Dict[str, Any]:
    result = subprocess.run([sys.executable, "-m", "actions.privacy.retention", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.mark.e2e
def test_retention_removes_what_is_older_than_the_period_and_keeps_the_rest(privacy_stack, customer):
    var = privacy_stack.config.var_dir
    customer.say("hi")  # a live conversation (today), and every store's tables exist
    execute(var / "twilio_sms.sqlite3", "CREATE TABLE IF NOT EXISTS sms_opt_out (phone TEXT PRIMARY KEY, opted_out_at REAL NOT NULL)")
    tag = uuid.uuid4().hex[:8]
    ids = seed_old_and_new(var, time.time(), tag)
    before = remaining(var, ids, tag)
    assert all(all(v >= 1 for v in counts.values()) for counts in before.values()), before

    env = {**privacy_stack.config.environment(), "RETENTION_DAYS": "90", "PYTHONPATH": str(ROOT)}
    result = run_retention(env)

    after = remaining(var, ids, tag)
    assert all(v == 0 for v in after["old"].values()), after["old"]
    assert after["recent"] == before["recent"]
    counts = result["counts"]
    assert result["retention_days"] == 90 and "rasa_direct" not in counts  # through Rasa's endpoint
    assert counts["conversations"] >= 1 and counts["tracker_events"] >= 2 and counts["broker_events"] >= 1
    assert counts["audit_turns"] >= 1 and counts["handoff_cases"] >= 1 and counts["sms_state"] >= 1
    # today's conversation is untouched and still answers
    assert rasa_tracker(privacy_stack, customer.sender)["events"]
    assert customer.say("thanks")
    # the run is logged: counts, no ids or content
    runs = query(var / "privacy.sqlite3", "SELECT retention_days, cutoff, counts FROM retention_log ORDER BY id")
    assert runs and runs[-1][0] == 90 and json.loads(runs[-1][2]) == counts
    assert tag not in json.dumps(runs)


def test_retention_without_rasa_running_deletes_directly(tmp_path, monkeypatch):
    """Rasa stopped: the command falls back to SQL on its SQLite files (and the broker's newest row
    stays as a tombstone, so SQLite never hands its id out again)."""
    var = tmp_path
    for name, ddl in (("rasa_tracker.db", "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, "
                                          "type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), "
                                          "action_name VARCHAR(255), data TEXT)"),
                      ("rasa_events.db", "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255), data TEXT)"),
                      ("twilio_sms.sqlite3", "CREATE TABLE sms_opt_out (phone TEXT PRIMARY KEY, opted_out_at REAL NOT NULL)")):
        execute(var / name, ddl)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("RASA_", "AUDIT_", "HANDOFF_", "TWILIO_SMS"))}
    env.update({"VAR_DIR": str(var), "RASA_URL": "http://127.0.0.1:9", "RASA_API_TOKEN": "t", "RETENTION_DAYS": "30",
                "PYTHONPATH": str(ROOT)})
    subprocess.run([sys.executable, "-c", "from actions.audit.store import open_store; open_store(); "
                    "from actions.outbox import HandoffStore; HandoffStore()"], cwd=ROOT, env=env, check=True)
    now = time.time()
    tag = "t"
    ids = {"old": "replay-old-t", "recent": "replay-recent-t"}
    for name, ts in (("old", now - 40 * DAY), ("recent", now - 20 * DAY)):
        seed_one = {"old": ts, "recent": ts}[name]
        tracker_event(var / "rasa_tracker.db", ids[name], "user", seed_one, text="x")
        broker_event(var / "rasa_events.db", ids[name], "user", seed_one, text="x")
        execute(var / "audit.db", "INSERT INTO audit_turns (conversation_id, turn_key, ts, handoff, fallback, paused) "
                "VALUES (?, '1', ?, 0, 0, 0)", (ids[name], seed_one))
        execute(var / "audit.db", "INSERT INTO audit_conversation_state (conversation_id, state, updated_at) VALUES (?, '{}', ?)",
                (ids[name], seed_one))
        execute(var / "handoff.sqlite3", "INSERT INTO handoff_cases (case_id, conversation_id, status, created_at) VALUES (?, ?, 'open', ?)",
                (f"H-{name}", ids[name], seed_one))
        execute(var / "handoff.sqlite3", "INSERT INTO agent_replies (case_id, conversation_id, text, source, status, created_at) "
                "VALUES (?, ?, 'x', 'thread', 'delivered', ?)", (f"H-{name}", ids[name], seed_one))
        execute(var / "handoff.sqlite3", "INSERT INTO slack_outbox (kind, case_id, conversation_id, payload, status, created_at) "
                "VALUES ('post', ?, ?, '{}', 'sent', ?)", (f"H-{name}", ids[name], seed_one))
        execute(var / "twilio_sms.sqlite3", "INSERT INTO sms_opt_out (phone, opted_out_at) VALUES (?, ?)", (f"+1555{name}{tag}", seed_one))
    # the broker's newest row is an old one: it becomes a tombstone instead of being deleted
    broker_event(var / "rasa_events.db", "replay-old-t", "bot", now - 40 * DAY, text="y")
    top = query(var / "rasa_events.db", "SELECT max(id) FROM events")[0][0]

    result = run_retention(env)

    assert result["counts"]["rasa_direct"] == 1 and result["retention_days"] == 30
    after = remaining(var, ids, tag)
    assert all(v == 0 for v in after["old"].values()), after["old"]
    assert all(v == 1 for v in after["recent"].values()), after["recent"]
    assert query(var / "rasa_events.db", "SELECT id, sender_id, data FROM events WHERE id = ?", (top,)) == [(top, None, '{"event": "erased"}')]
    assert len(query(var / "privacy.sqlite3", "SELECT * FROM retention_log")) == 1
