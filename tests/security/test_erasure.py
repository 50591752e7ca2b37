"""Right to erasure through the real processes (docs/privacy.md, "Erasure and retention").

A verified customer talks to the assistant on REST and by SMS (Twilio emulator), asks for their
account to be deleted, the case reaches the emulated Slack with an "Approve deletion" button, and
an agent clicks it (a signed interactivity request). Afterwards nothing of the customer is left in
any table of any store of the stack (tracker store, event broker, audit trail, handoff store and
outbox, SMS state, backend, knowledge index): only the erasure log, which holds no personal data.
Forged clicks are refused and erase nothing; a second click changes nothing.

The PostgreSQL test runs the same erasure code on Rasa's tracker and broker tables and the audit
store in a scratch schema of the local ``test`` database.
"""
from __future__ import annotations

import json
import re
import sqlite3
import time
import urllib.error
import urllib.request
import uuid
from typing import Any, Dict, List, Optional

import pytest

from actions.privacy.erasure import ACTION_APPROVE_DELETION
from tests.handoff.conftest import CHANNEL, action_ids, block_text, rasa_tracker, wait_for
from tests.security.conftest import (ACCOUNT_SID, ADMIN_KEY, TWILIO_NUMBER, TwilioWebhook, identity_needles,
                                     search_postgres, search_sqlite)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

HANDOFF_REPLIES = ("I'm bringing in a person from our support team", "I can't reach their live queue at this moment")


# --- helpers -------------------------------------------------------------------------------------


def pick_customer(stack, skip: int = 0) -> Dict[str, Any]:
    """A generated customer (not one of the well-known fixtures) whose name and phone are unique."""
    conn = sqlite3.connect(f"file:{stack.config.var_dir / 'backend.sqlite3'}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute(
            "SELECT * FROM customers WHERE id >= 'C0020' AND account_state = 'active' AND "
            "name IN (SELECT name FROM customers GROUP BY name HAVING count(*) = 1) AND "
            "phone IN (SELECT phone FROM customers GROUP BY phone HAVING count(*) = 1) ORDER BY id").fetchall()
    finally:
        conn.close()
    assert len(rows) > skip, "no suitable generated customer in the seeded backend"
    return dict(rows[skip])


def backend_customer(stack, customer_id: str) -> Optional[Dict[str, Any]]:
    try:
        request = urllib.request.Request(f"{stack.config.backend_url}/api/customers/{customer_id}",
                                         headers={"X-Api-Key": stack.env["BACKEND_API_KEY"]})
        with urllib.request.urlopen(request, timeout=10) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


def privacy_rows(stack) -> List[Dict[str, Any]]:
    path = stack.config.var_dir / "privacy.sqlite3"
    if not path.exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM erasure_log ORDER BY requested_at")]
    except sqlite3.OperationalError as error:  # the file is there, its tables not yet
        if "no such table" in str(error):
            return []
        raise
    finally:
        conn.close()


def sms_inbound(sender: str, body: str) -> Dict[str, str]:
    return {"From": sender, "To": TWILIO_NUMBER, "Body": body, "AccountSid": ACCOUNT_SID,
            "MessageSid": "SM" + uuid.uuid4().hex, "NumMedia": "0"}


def text_by_sms(stack, twilio, sender: str, body: str) -> str:
    sms = TwilioWebhook(stack.config.rasa_url, "twilio_sms")
    before = len(twilio.messages_to(sender))
    status, answer, _ = sms.post("webhook", sms_inbound(sender, body))
    assert status == 200, answer
    twilio.wait_for_messages(sender, 1, timeout=120, since=before)
    return "\n".join(m.body for m in twilio.wait_for_quiet(sender, quiet=1.5)[before:])


def case_post(slack, sender: str) -> Optional[Dict[str, Any]]:
    return next((m for m in slack.case_messages() if sender in block_text(m)), None)


def case_id_of(stack, sender: str) -> str:
    conn = sqlite3.connect(stack.config.var_dir / "handoff.sqlite3")
    try:
        return conn.execute("SELECT case_id FROM handoff_cases WHERE conversation_id = ? ORDER BY created_at DESC",
                            (sender,)).fetchone()[0]
    finally:
        conn.close()


def approve_button(post: Dict[str, Any]) -> Dict[str, Any]:
    for block in post.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == ACTION_APPROVE_DELETION:
                return element
    raise AssertionError("no Approve deletion button on the case")


def stored_events(stack, sender: str) -> List[Dict[str, Any]]:
    return rasa_tracker(stack, sender).get("events") or []


# --- the whole loop --------------------------------------------------------------------------------


def test_approved_deletion_erases_the_customer_from_every_store(privacy_stack, stack_slack, agent, customer, twilio):
    stack = privacy_stack
    stack_slack.set_mode("ok")
    person = pick_customer(stack)
    phrase = f"marmalade-{uuid.uuid4().hex[:8]}"
    needles = identity_needles(person, phrase)
    assert search_sqlite(stack.config.var_dir, {"phrase": phrase}) == []

    # SMS: recognised by the phone number, says the unique phrase, then opts out (SMS state)
    text_by_sms(stack, twilio, person["phone"], f"hi, where is my order? my cat is called {phrase}")
    sms_slots = rasa_tracker(stack, person["phone"])["slots"]
    assert sms_slots["customer_id"] == person["id"], "the SMS conversation should be verified by phone"
    text_by_sms(stack, twilio, person["phone"], "STOP")

    # REST, signed in (the site's identity token), then the deletion request
    from tests.support.identity import hs256_token

    customer.identity_token = hs256_token(stack.env["IDENTITY_JWT_SECRET"], person["id"])
    customer.say(f"hello, I love my {phrase} mug")
    reply = customer.say("please delete my account and erase all my personal data")
    assert any(text in reply for text in HANDOFF_REPLIES), reply
    tracker = rasa_tracker(stack, customer.sender)
    assert tracker["slots"]["customer_id"] == person["id"] and tracker["paused"] is True

    post = wait_for(lambda: case_post(stack_slack, customer.sender), message="the case in Slack")
    assert post["channel"] == CHANNEL
    button = approve_button(post)
    assert button["confirm"]["confirm"]["text"] == "Erase" and button["style"] == "danger"
    assert "handoff_resolve" in action_ids(post)
    case_id = case_id_of(stack, customer.sender)
    assert button["value"] == case_id
    # paused: what the customer says now is relayed into the case thread in Slack
    assert customer.send(f"are you still there? it's about {phrase}") == []
    wait_for(lambda: any(phrase in (m.get("text") or "") for m in stack_slack.thread(post["ts"])), message="the relayed message")
    # every store holds the customer now (the test below would prove nothing otherwise)
    before = search_sqlite(stack.config.var_dir, needles)
    for store in ("rasa_tracker.db", "rasa_events.db", "handoff.sqlite3", "twilio_sms.sqlite3", "backend.sqlite3"):
        assert any(hit.startswith(store) for hit in before), (store, before)
    wait_for(lambda: any(h.startswith("audit.db") for h in search_sqlite(stack.config.var_dir, needles)),
             message="the audit trail to record the customer's turns")

    # forged, unsigned and replayed clicks are refused and erase nothing
    assert agent.click(ACTION_APPROVE_DELETION, case_id, CHANNEL, post["ts"], signature="v0=" + "0" * 64).status == 401
    assert agent.click(ACTION_APPROVE_DELETION, case_id, CHANNEL, post["ts"], signature="").status == 401
    stale = str(int(time.time()) - 600)
    assert agent.click(ACTION_APPROVE_DELETION, case_id, CHANNEL, post["ts"], timestamp=stale).status == 403
    time.sleep(3)
    assert privacy_rows(stack) == []
    assert backend_customer(stack, person["id"]) is not None
    assert phrase in json.dumps(stored_events(stack, customer.sender))

    # the agent approves (signed like Slack signs it)
    assert agent.click(ACTION_APPROVE_DELETION, case_id, CHANNEL, post["ts"], user="UAGENT07").status == 200
    done = wait_for(lambda: [r for r in privacy_rows(stack) if r["status"] == "done"], timeout=120,
                    message="the erasure to complete")
    assert len(done) == 1
    log = done[0]
    counts = json.loads(log["counts"])
    assert log["approved_by"] == "UAGENT07" and log["case_id"] == case_id and log["erasure_id"].startswith("E-")
    assert re.fullmatch(r"[0-9a-f]{64}", log["customer_hash"]) and log["customer_hash"] != person["id"]
    assert counts["conversations"] >= 2 and counts["tracker_events"] > 0 and counts["broker_events"] > 0
    assert counts["audit_turns"] > 0 and counts["sms_state"] == 1 and counts["handoff_cases"] == 1
    assert counts["backend_tickets"] >= 1 and counts["backend_customer"] == 1
    # the orders stay for the books, under a pseudonym without name, email, phone or address
    backend = sqlite3.connect(f"file:{stack.config.var_dir / 'backend.sqlite3'}?mode=ro", uri=True)
    try:
        pseudonyms = backend.execute("SELECT id, name, email, phone, address FROM customers WHERE lock_reason = 'erased'").fetchall()
        assert len(pseudonyms) == 1 and pseudonyms[0][1:] == ("Erased customer", pseudonyms[0][0].lower() + "@erased.invalid", "", "{}")
        kept = backend.execute("SELECT count(*), max(shipping_address) FROM orders WHERE customer_id = ?", (pseudonyms[0][0],)).fetchone()
        assert kept == (counts["backend_orders"], "{}") and kept[0] >= 1
    finally:
        backend.close()

    # the Slack case says it was done, without personal data
    updated = wait_for(lambda: "Personal data erased" in block_text(stack_slack.find(post["ts"]) or {}) and stack_slack.find(post["ts"]),
                       message="the case message replaced")
    shown = block_text(updated)
    assert log["erasure_id"] in shown and "<@UAGENT07>" in shown
    assert ACTION_APPROVE_DELETION not in action_ids(updated)
    for label, value in needles.items():
        assert value.lower() not in shown.lower(), label

    # Slack: the bot's thread messages (the customer's relayed words) are deleted too
    wait_for(lambda: not [m for m in stack_slack.posts() if phrase in block_text(m)], message="the relayed messages deleted")
    assert counts["slack_thread_messages"] >= 1
    wait_for(lambda: [m for m in stack_slack.thread(post["ts"]) if "Erasure" in (m.get("text") or "")], message="the note")

    # a second click is idempotent: nothing more is done or logged
    updates_before = len(stack_slack.calls_to("chat.update"))
    assert agent.click(ACTION_APPROVE_DELETION, case_id, CHANNEL, post["ts"]).status == 200
    time.sleep(3)
    assert privacy_rows(stack) == [log]
    assert len(stack_slack.calls_to("chat.update")) == updates_before

    # an agent writing in the erased case's thread reaches no one and stores nothing
    assert agent.agent_reply(CHANNEL, post["ts"], f"noted, {person['name']}").status == 200
    time.sleep(2)
    assert not [h for h in search_sqlite(stack.config.var_dir, {"name": person["name"]})]

    # the running REST conversation does not come back: the next message starts from nothing
    # (the site issues no identity token for an erased account)
    customer.identity_token = None
    customer.say("hello again")
    events = stored_events(stack, customer.sender)
    assert phrase not in json.dumps(events)
    assert not any(e.get("event") == "slot" and e.get("name") == "customer_id" and e.get("value") == person["id"] for e in events)
    assert backend_customer(stack, person["id"]) is None

    # nothing of the customer anywhere; the erasure log holds no personal data either
    time.sleep(2)  # the audit consumer has recorded "hello again" by now
    assert search_sqlite(stack.config.var_dir, needles) == []
    assert len(privacy_rows(stack)) == 1


def test_only_deletion_requests_show_the_approve_button_and_an_erased_case_shows_no_personal_data():
    from actions.handoff import render_case

    case = {"case_id": "H-1", "conversation_id": "c1", "status": "open", "rule": "data_deletion", "reason": "r",
            "context": {"customer": {"id": "C0042", "name": "Ada Lovelace", "verified": True}, "triage": {"intent": "delete_account"}}}
    assert ACTION_APPROVE_DELETION in action_ids(render_case(case))
    other = {**case, "rule": "customer_asks_for_human", "context": {**case["context"], "triage": {"intent": "request_human"}}}
    assert ACTION_APPROVE_DELETION not in action_ids(render_case(other))
    erased = {"case_id": "H-1", "status": "erased", "rule": "data_deletion", "conversation_id": "erased",
              "context": {"erasure": {"erasure_id": "E-1", "approved_by": "UAGENT01", "counts": {"conversations": 2, "tracker_events": 5}}}}
    shown = render_case(erased)
    assert "E-1" in block_text(shown) and "<@UAGENT01>" in block_text(shown) and not action_ids(shown)


def test_the_backend_erasure_endpoint_needs_the_admin_key(privacy_stack):
    person = pick_customer(privacy_stack, skip=1)
    url = f"{privacy_stack.config.backend_url}/api/admin/customers/{person['id']}/erase"

    def post(headers: Dict[str, str], body: bytes = b"{}", target: str = url) -> int:
        request = urllib.request.Request(target, data=body, method="POST", headers={"Content-Type": "application/json", **headers})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    assert post({}) == 401
    assert post({"X-Admin-Key": "wrong"}) == 401
    assert post({"Authorization": "Bearer " + ADMIN_KEY[:-1]}) == 401
    # with the key, bad input is a 400 and erases nothing
    admin = {"X-Api-Key": ADMIN_KEY}
    for bad in (b'{"conversation_ids": "abc"}', b'{"conversation_ids": [1, 2]}', b"{not json", b"[]"):
        assert post(admin, bad) == 400, bad
    assert post(admin, target=url.replace(person["id"], "not-a-customer")) == 400
    assert backend_customer(privacy_stack, person["id"]) is not None


def test_rasas_privacy_endpoint_needs_the_token(privacy_stack, customer):
    customer.say("hello there")
    url = f"{privacy_stack.config.rasa_url}/webhooks/privacy/erase"
    for headers in ({}, {"Authorization": "Bearer not-the-token"}):
        request = urllib.request.Request(url, data=json.dumps({"conversation_ids": [customer.sender]}).encode(), method="POST",
                                         headers={"Content-Type": "application/json", **headers})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 401
    assert stored_events(privacy_stack, customer.sender)


@pytest.mark.parametrize("path, body", [
    ("erase", {}), ("erase", {"phones": 5}), ("erase", {"conversation_ids": "abc"}), ("erase", {"conversation_ids": [1]}),
    ("retention", {}), ("retention", {"before": "yesterday"}), ("erase", "not an object"),
])
def test_rasas_privacy_endpoint_answers_bad_input_with_a_400(privacy_stack, customer, path, body):
    customer.say("hello there")
    url = f"{privacy_stack.config.rasa_url}/webhooks/privacy/{path}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {privacy_stack.env['RASA_API_TOKEN']}"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400 and b"error" in refused.value.read()
    assert stored_events(privacy_stack, customer.sender)


# --- PostgreSQL: the same code on Rasa's tables and the audit store ---------------------------------

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def pg_schema():
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL is not available: {error}")
    schema = f"erasure_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


def test_postgres_tracker_broker_and_audit_are_erased(pg_schema, monkeypatch, tmp_path):
    import psycopg

    from actions.privacy import erasure, sqlstores
    from actions.audit.store import AuditStore

    url = f"{PG_URL}?options=-csearch_path%3D{pg_schema}"
    person = {"id": "C0777", "name": "Pat Example", "email": "pat.example@example.com", "phone": "+15555550777"}
    phrase = f"quokka-{uuid.uuid4().hex[:8]}"
    needles = identity_needles(person, phrase)
    now = time.time()

    def event(kind: str, **data: Any) -> Dict[str, Any]:
        return {"event": kind, "timestamp": now, **data}

    conversations = {
        "rest-pat": [event("user", text=f"I like {phrase}", metadata={"customer_id": person["id"]}),
                     event("slot", name="customer_id", value=person["id"]), event("slot", name="customer_name", value=person["name"]),
                     event("slot", name="customer_email", value=person["email"])],
        person["phone"]: [event("user", text=f"sms {phrase}", metadata={"phone": person["phone"]})],
        "CA-call-1": [event("user", text="a call", metadata={"phone": person["phone"]})],
        "rest-other": [event("user", text="someone else"), event("slot", name="customer_id", value="C0778")],
    }
    with psycopg.connect(url, autocommit=True) as conn:
        # Rasa's SQLTrackerStore and SQLEventBroker tables, as Rasa creates them
        conn.execute("CREATE TABLE events (id SERIAL PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, type_name VARCHAR(255) NOT NULL, "
                     "timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)")
        conn.execute("CREATE TABLE broker_events (id SERIAL PRIMARY KEY, sender_id VARCHAR(255), data TEXT)")
        for sender, events in conversations.items():
            for e in events:
                conn.execute("INSERT INTO events (sender_id, type_name, timestamp, action_name, data) VALUES (%s, %s, %s, %s, %s)",
                             (sender, e["event"], e["timestamp"], e.get("name"), json.dumps(e)))
                conn.execute("INSERT INTO broker_events (sender_id, data) VALUES (%s, %s)", (sender, json.dumps({"sender_id": sender, **e})))
    monkeypatch.setenv("AUDIT_DB_URL", url)
    audit = AuditStore(url)
    flags = {"handoff": False, "fallback": False, "paused": False}
    audit.insert_turns([
        {"conversation_id": "rest-pat", "turn_key": "1", "ts": now, "message": f"I like {phrase}", "customer_id": person["id"], **flags},
        {"conversation_id": "unrelated", "turn_key": "1", "ts": now, "message": "hello", "customer_id": person["id"], **flags},
        {"conversation_id": "rest-other", "turn_key": "1", "ts": now, "message": "someone else", "customer_id": "C0778", **flags},
    ])
    assert search_postgres(PG_URL, pg_schema, needles)

    with psycopg.connect(url) as conn:
        db = sqlstores.Sql(conn)
        found = sqlstores.tracker_conversations(db, person["id"], [person["phone"]])
        assert found == {"rest-pat", person["phone"], "CA-call-1"}
        assert sqlstores.delete_tracker_conversations(db, found) == 6
    with psycopg.connect(url) as conn:
        # Rasa's broker table is called events too, in its own database: swap the names to reach it
        conn.execute("ALTER TABLE events RENAME TO tracker_events")
        conn.execute("ALTER TABLE broker_events RENAME TO events")
        db = sqlstores.Sql(conn)
        assert sqlstores.broker_conversations(db, person["id"], [person["phone"]]) == found
        assert sqlstores.delete_broker_conversations(db, found) == 6
    counts = erasure.erase_audit(found, person["id"])
    assert counts["audit_turns"] == 2

    assert search_postgres(PG_URL, pg_schema, needles) == []
    with psycopg.connect(url) as conn:  # the other customer's data is untouched
        assert conn.execute("SELECT count(*) FROM tracker_events WHERE sender_id = 'rest-other'").fetchone()[0] == 2
        assert conn.execute("SELECT count(*) FROM events WHERE sender_id = 'rest-other'").fetchone()[0] == 2
        assert conn.execute("SELECT count(*) FROM audit_turns").fetchone()[0] == 1


RASA_PROBE = r'''
import asyncio, json, sys, types
from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.tracker_store import AwaitableTrackerStore, SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa_addons import patches, privacy_endpoint

tracker_db, broker_db, customer_id, phone, patch_setting = sys.argv[1:6]
patches.apply(patch_setting)  # the erasure works with Rasa's own code and with the patch layer
domain = Domain.from_yaml("slots:\n  customer_id:\n    type: text\n    mappings:\n    - type: custom\n")
pg = dict(dialect="postgresql", host="127.0.0.1", port=5432, username="postgres")
broker = SQLEventBroker(db=broker_db, **pg)
store = SQLTrackerStore(domain=domain, db=tracker_db, event_broker=broker, **pg)
agent = types.SimpleNamespace(tracker_store=AwaitableTrackerStore(store), lock_store=InMemoryLockStore())

def events(text, metadata=None, slot=None):
    out = [SessionStarted(), ActionExecuted("action_listen"), UserUttered(text, {"name": "greet"}, metadata=metadata)]
    return out + ([SlotSet("customer_id", slot)] if slot else [])

async def main():
    for sender, evs in {"rest-pat": events("hi from pat", {"customer_id": customer_id}, customer_id),
                        phone: events("sms from pat", {"phone": phone}),
                        "rest-other": events("someone else", slot="C0778")}.items():
        await agent.tracker_store.save(DialogueStateTracker.from_events(sender, evs, domain.slots))

    async def running_turn():  # a turn of rest-pat holds the lock while the erasure starts
        async with agent.lock_store.lock("rest-pat"):
            tracker = await agent.tracker_store.retrieve("rest-pat")
            await asyncio.sleep(1.5)
            tracker.update(UserUttered("one more message", {"name": "greet"}))
            await agent.tracker_store.save(tracker)

    turn = asyncio.create_task(running_turn())
    await asyncio.sleep(0.2)
    result = await privacy_endpoint.erase(agent, customer_id, [phone], [])
    await turn
    left = {s: len((await agent.tracker_store.retrieve(s) or types.SimpleNamespace(events=[])).events)
            for s in ("rest-pat", phone, "rest-other")}
    with broker.engine.connect() as conn:
        broker_left = dict(conn.exec_driver_sql("SELECT sender_id, count(*) FROM events GROUP BY sender_id").fetchall())
    print(json.dumps({"result": result, "left": left, "broker_left": broker_left}))

asyncio.run(main())
'''


@pytest.fixture
def pg_databases():
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL is not available: {error}")
    names = [f"erasure_{kind}_{uuid.uuid4().hex[:8]}" for kind in ("tracker", "broker")]
    for name in names:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield names
    finally:
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.mark.parametrize("patch_setting", ["all", "none"], ids=["patches-on", "patches-off"])
def test_rasas_endpoint_erases_rasas_own_postgres_rows_after_a_running_turn(pg_databases, patch_setting):
    """Rasa's SQLTrackerStore and SQLEventBroker on PostgreSQL (endpoints.prod.yml's tracker store):
    the erasure waits for a running turn of the conversation to save, then deletes, so the turn does
    not write the conversation back; the other customer's conversation stays."""
    from tests.performance.rasa_script import run_in_rasa_env

    out = run_in_rasa_env(RASA_PROBE, *pg_databases, "C0777", "+15555550777", patch_setting, timeout=600)
    assert sorted(out["result"]["conversation_ids"]) == sorted(["rest-pat", "+15555550777"])
    assert out["result"]["counts"]["tracker_events"] == 4 + 3 + 1 and out["result"]["broker_erased"] is True
    assert out["left"] == {"rest-pat": 0, "+15555550777": 0, "rest-other": 4}
    assert out["broker_left"] == {"rest-other": 4}


def test_without_the_keys_the_click_erases_nothing_and_says_why(tmp_path, monkeypatch):
    import asyncio

    from actions import outbox
    from actions.privacy import erasure

    monkeypatch.setenv("HANDOFF_DB", str(tmp_path / "handoff.sqlite3"))
    monkeypatch.setenv("PRIVACY_DB", str(tmp_path / "privacy.sqlite3"))
    monkeypatch.delenv("BACKEND_ADMIN_KEY", raising=False)
    monkeypatch.setattr(erasure, "privacy_token", lambda: "")
    outbox.reset()
    try:
        store = outbox.get_store()
        case = {"case_id": "H-keys", "conversation_id": "c-keys", "customer_id": "C0042", "rule": "data_deletion",
                "context": {"triage": {"intent": "delete_account"}}}
        store.create_case(case, {"text": "case"})
        assert asyncio.run(erasure.approve_deletion(store.get_case("H-keys"), "UAGENT01", "1.0")) is None
        notes = [json.loads(item["payload"])["text"] for item in store.outbox_items() if item["kind"] == "reply"]
        assert any("not configured" in note and "BACKEND_ADMIN_KEY" in note for note in notes)
        assert not (tmp_path / "privacy.sqlite3").exists()
        assert store.get_case("H-keys")["status"] == "open"
    finally:
        outbox.reset()
