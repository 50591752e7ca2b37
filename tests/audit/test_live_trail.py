"""The decision trail of real conversations driven through the running stack.

REST channel -> Rasa (SQL event broker) -> the action server's audit consumer -> var/audit.db;
then the CLI, /metrics and the replay command read what was recorded.
"""
from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

from actions.audit.store import AuditStore
from scripts.stack import Stack
from tests.conftest import RestChat, api_token_query

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]

PERSONAL = [
    "john.smith@gmail.com", "mary_ann@example.co.uk", "+1 (415) 555-0142", "415-555-0142", "020 7946 0958",
    "4242 4242 4242 4242", "4000-0566-5566-5556", "5555555555554444",
]


def audit_store(stack: Stack) -> AuditStore:
    return AuditStore(str(stack.config.var_dir / "audit.db"))


def wait_for_turns(stack: Stack, conversation_id: str, count: int, timeout: float = 40.0) -> List[Dict[str, Any]]:
    store = audit_store(stack)
    deadline = time.monotonic() + timeout
    turns: List[Dict[str, Any]] = []
    while time.monotonic() < deadline:
        turns = store.turns(conversation_id=conversation_id)
        if len(turns) >= count:
            return turns
        time.sleep(0.3)
    raise AssertionError(f"only {len(turns)} of {count} turns recorded for {conversation_id}: {turns}")


def get(url: str, bearer: str = "") -> str:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as response:
        return response.read().decode()


def cli(stack: Stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**stack.config.environment()})


@pytest.fixture(scope="module")
def stack_model(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the model the stack runs (`make train` may replace models/ while tests run)."""
    if not Path(stack.config.model).exists():
        pytest.skip("the stack's model file was replaced while the tests ran")
    copy = tmp_path_factory.mktemp("model") / Path(stack.config.model).name
    shutil.copy(stack.config.model, copy)
    return copy


@pytest.fixture(scope="module")
def recorded(stack: Stack, stack_model: Path) -> Dict[str, Any]:
    """One conversation: a greeting, a knowledge question, an order check with an email."""
    chat = RestChat.for_stack(stack)
    chat.say("hi")
    chat.say("what is your return policy?")
    chat.say("where is my order BC-100002")
    chat.say("jane.doe@example.com")
    turns = wait_for_turns(stack, chat.sender, 4)
    return {"id": chat.sender, "turns": turns, "status": json.loads(get(f"{stack.config.rasa_url}/status?{api_token_query(stack)}"))}


def test_every_turn_has_its_facts_versions_and_latency(recorded: Dict[str, Any]) -> None:
    turns = recorded["turns"]
    assert [t["intent"] for t in turns] == ["greet", "ask_question", "order_status", "inform"]
    rules_version = str(yaml.safe_load((ROOT / "config" / "escalation_rules.yml").read_text())["version"])
    for turn in turns:
        assert turn["channel"] == "rest" and turn["ts"] > 0
        assert 0 < turn["confidence"] <= 1 and turn["intent_ranking"]
        assert turn["actions"] and turn["action"] and turn["policy"]
        assert turn["reply"], turn
        assert turn["latency_ms"] > 0
        assert turn["model_id"] == recorded["status"]["model_id"]
        assert turn["rules_version"] == rules_version
        assert turn["kb_index_version"] and turn["kb_index_version"] != "empty"
        assert turn["action_server_version"].startswith("actions-")
        assert turn["triage"] and turn["risk_class"] in ("low", "high")
    question = turns[1]
    assert question["action"] == "action_answer_from_knowledge"
    kb = question["knowledge"]
    assert kb["query"] == "what is your return policy?" and not kb["refused"] and question["kb_refused"] is False
    assert kb["retrieved"] and all(c["chunk_id"] and isinstance(c["score"], float) for c in kb["retrieved"])
    assert "return-policy" in kb["cited_articles"]
    assert turns[2]["entities"][0] == {"entity": "order_id", "value": "BC-100002", "extractor": turns[2]["entities"][0]["extractor"]}
    assert turns[3]["message"] == "j***@example.com"
    assert turns[3]["order_id"] == "BC-100002"


def test_trail_and_list_commands(stack: Stack, recorded: Dict[str, Any]) -> None:
    db = str(stack.config.var_dir / "audit.db")
    trail = cli(stack, "actions.audit.cli", "--db", db, "trail", recorded["id"])
    assert trail.returncode == 0, trail.stderr
    out = trail.stdout
    assert "4 turn(s)" in out and "#1" in out and "#4" in out
    assert "intent   : ask_question" in out and "knowledge: query='what is your return policy?' answered" in out
    assert f"model={recorded['status']['model_id']}" in out and "j***@example.com" in out
    listing = cli(stack, "actions.audit.cli", "--db", db, "list", "--intent", "ask_question", "--json")
    rows = json.loads(listing.stdout)
    assert recorded["id"] in {r["conversation_id"] for r in rows} and {r["intent"] for r in rows} == {"ask_question"}
    low = json.loads(cli(stack, "actions.audit.cli", "--db", db, "list", "--low-confidence", "0.0001", "--json").stdout)
    assert low == []
    since = cli(stack, "actions.audit.cli", "--db", db, "list", "--since", "1h", "--until", "2099-01-01")
    assert recorded["id"][:24] in since.stdout
    missing = cli(stack, "actions.audit.cli", "--db", db, "trail", "no-such-conversation")
    assert missing.returncode == 1


def test_personal_data_never_reaches_the_audit_store_metrics_or_audit_logs(stack: Stack) -> None:
    chat = RestChat.for_stack(stack)
    messages = [
        "my email is john.smith@gmail.com and my phone is +1 (415) 555-0142",
        "I was charged twice on card 4242 4242 4242 4242, call me on 415-555-0142",
        "card 4000-0566-5566-5556 was declined, write to mary_ann@example.co.uk or ring 020 7946 0958",
        "what is the refund policy for 5555555555554444",
    ]
    for message in messages:
        chat.say(message)
    turns = wait_for_turns(stack, chat.sender, len(messages))
    trail = json.dumps(turns)
    assert "j***@gmail.com" in trail
    # the REST channel already replaced the card numbers (channels/redacting.py); the audit's own
    # masking of raw numbers is tested in test_consumer.py
    assert "[card ending 4242]" in trail and "[card ending 5556]" in trail
    var = stack.config.var_dir
    stores = sorted(var.glob("audit.db*"))
    assert stores
    # raw bytes of the database files (and the WAL), then the logical content of every table
    blobs = [path.read_bytes().decode("latin-1") for path in stores]
    conn = sqlite3.connect(var / "audit.db")
    blobs.append("\n".join(conn.iterdump()))
    conn.close()
    blobs.append(get(f"http://127.0.0.1:{stack.config.action_port}/metrics", stack.env["OPS_TOKEN"]))
    log = (var / "logs" / "actions.log").read_text(errors="replace")
    blobs.append("\n".join(line for line in log.splitlines() if "actions.audit" in line or "actions.metrics" in line))
    for blob in blobs:
        for raw in PERSONAL:
            assert raw not in blob


def test_metrics_endpoint_exposes_action_and_decision_counters(stack: Stack, recorded: Dict[str, Any]) -> None:
    chat = RestChat.for_stack(stack)
    chat.say("I'm disputing a charge on my bank statement, I was billed twice")
    wait_for_turns(stack, chat.sender, 1)
    text = get(f"http://127.0.0.1:{stack.config.action_port}/metrics", stack.env["OPS_TOKEN"])
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    assert values['action_server_requests_total{action="action_answer_from_knowledge",outcome="ok"}'] >= 1
    assert values['action_server_request_duration_seconds_count{action="action_answer_from_knowledge"}'] >= 1
    assert any(k.startswith('action_server_request_duration_seconds_bucket{action="action_validate_slot_mappings"') for k in values)
    assert values['assistant_knowledge_answers_total{outcome="answered"}'] >= 1
    assert "assistant_knowledge_refusals_total" in values
    assert values['assistant_turns_total{channel="rest",intent="ask_question"}'] >= 1
    assert values['assistant_bot_response_seconds_count{channel="rest"}'] >= 4
    assert "# TYPE assistant_backend_errors_total counter" in text
    assert "# TYPE assistant_escalations_total counter" in text
    fired = audit_store(stack).turns(conversation_id=chat.sender)[0]["escalation_rule"]
    if fired:  # the rules decide; when one fires, the counter has seen it
        assert values[f'assistant_escalations_total{{rule="{fired}"}}'] >= 1


def _tracker_copy(stack: Stack, target: Path) -> Path:
    source = sqlite3.connect(stack.config.var_dir / "rasa_tracker.db")
    dest = sqlite3.connect(target)
    source.backup(dest)
    source.close()
    dest.close()
    return target


def test_replay_of_the_same_model_finds_no_difference(stack: Stack, recorded: Dict[str, Any], tmp_path: Path) -> None:
    tracker = _tracker_copy(stack, tmp_path / "tracker.db")
    out = cli(stack, "actions.audit.replay", "--rasa-url", stack.config.rasa_url, "--from-tracker-store", str(tracker),
              "--conversation", recorded["id"])
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 conversations, 4 customer turns" in out.stdout and "0 intent, 0 action, 0 escalation, 0 rule" in out.stdout


def test_replay_reports_an_altered_intent_and_action(stack: Stack, recorded: Dict[str, Any], tmp_path: Path) -> None:
    tracker = _tracker_copy(stack, tmp_path / "tracker.db")
    conn = sqlite3.connect(tracker)
    rows = conn.execute("SELECT id, type_name, data FROM events WHERE sender_id = ? ORDER BY id", (recorded["id"],)).fetchall()
    user_row = next(r for r in rows if r[1] == "user" and json.loads(r[2])["parse_data"]["intent"]["name"] == "ask_question")
    data = json.loads(user_row[2])
    data["parse_data"]["intent"]["name"] = "greet"
    conn.execute("UPDATE events SET data = ? WHERE id = ?", (json.dumps(data), user_row[0]))
    action_row = next(r for r in rows if r[1] == "action" and json.loads(r[2])["name"] == "utter_greet")
    data = json.loads(action_row[2])
    data["name"] = "utter_goodbye"
    conn.execute("UPDATE events SET data = ? WHERE id = ?", (json.dumps(data), action_row[0]))
    conn.commit()
    conn.close()
    out = cli(stack, "actions.audit.replay", "--rasa-url", stack.config.rasa_url, "--from-tracker-store", str(tracker),
              "--conversation", recorded["id"], "--json")
    assert out.returncode == 1, out.stdout + out.stderr
    diffs = json.loads(out.stdout)["differences"]
    assert {"kind": "intent", "recorded": "greet", "replayed": "ask_question"} in [
        {k: d[k] for k in ("kind", "recorded", "replayed")} for d in diffs]
    assert {"kind": "action", "recorded": "utter_goodbye", "replayed": "utter_greet"} in [
        {k: d[k] for k in ("kind", "recorded", "replayed")} for d in diffs]


def test_replay_starts_its_own_rasa_for_a_model_file(stack: Stack, recorded: Dict[str, Any], stack_model: Path,
                                                     tmp_path: Path) -> None:
    tracker = _tracker_copy(stack, tmp_path / "tracker.db")
    story = tmp_path / "stories.yml"
    story.write_text(
        "version: '3.1'\nstories:\n- story: greet then a question\n  steps:\n  - user: hi\n    intent: greet\n"
        "  - action: utter_greet\n  - user: what is your return policy?\n    intent: ask_question\n"
        "  - action: utter_goodbye\n"
    )
    started = time.monotonic()
    out = cli(stack, "actions.audit.replay", "--model", str(stack_model), "--from-tracker-store", str(tracker),
              "--conversation", recorded["id"])
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 intent, 0 action, 0 escalation" in out.stdout
    stories = cli(stack, "actions.audit.replay", "--rasa-url", stack.config.rasa_url, "--stories", str(story))
    assert stories.returncode == 1 and "recorded utter_goodbye" in stories.stdout and "replayed action_answer_from_knowledge" in stories.stdout
    assert time.monotonic() - started < 600
