"""The whole loop through the real processes: customer (REST) -> Rasa -> action server -> Slack
emulator -> signed agent events -> Rasa -> customer -> resolve -> the bot answers again.
"""
from __future__ import annotations

import json
import sqlite3
import time
from typing import Any, Dict, List, Optional

import pytest

from actions.handoff import DELIVERED_LATE_TEXT, RESUMED_TEXT
from tests.conftest import RestChat
from tests.handoff.conftest import CHANNEL, action_ids, block_text, rasa_tracker, wait_for
from tests.support.slack_emulator import SlackEmulator, SlackSigner

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

HANDOFF_STARTED = "I'm bringing in a person from our support team"
HANDOFF_QUEUED = "I can't reach their live queue at this moment"


def case_message(slack: SlackEmulator, sender: str) -> Optional[Dict[str, Any]]:
    return next((m for m in slack.case_messages() if sender in block_text(m)), None)


def bot_texts(tracker: Dict[str, Any]) -> List[str]:
    return [e.get("text") or "" for e in tracker["events"] if e["event"] == "bot"]


def handoff_db(stack) -> sqlite3.Connection:
    conn = sqlite3.connect(stack.config.var_dir / "handoff.sqlite3")
    conn.row_factory = sqlite3.Row
    return conn


def case_row(stack, sender: str) -> Dict[str, Any]:
    with handoff_db(stack) as conn:
        return dict(conn.execute("SELECT * FROM handoff_cases WHERE conversation_id = ? ORDER BY created_at DESC", (sender,)).fetchone())


def test_customer_to_slack_to_agent_and_back_then_the_bot_answers_again(slack_stack, stack_slack, agent, customer):
    stack_slack.set_mode("ok")
    customer.say("hi")
    reply = customer.say("I'd like to talk to a real person please")
    assert HANDOFF_STARTED in reply and "Your reference is" in reply
    tracker = rasa_tracker(slack_stack, customer.sender)
    assert tracker["paused"] is True
    assert tracker["slots"]["escalation_rule"] == "customer_asks_for_human"

    post = wait_for(lambda: case_message(stack_slack, customer.sender), message="the case in Slack")
    assert post["channel"] == CHANNEL
    text = block_text(post)
    assert "customer_asks_for_human" in text and "rest" in text and "Transcript" in text
    assert handoff_action_ids(post)

    # paused: the bot says nothing, the message goes to the case thread
    assert customer.send("my order BC-100002 never arrived, my email is jane@example.com") == []
    relayed = wait_for(lambda: stack_slack.thread(post["ts"]), message="the customer's message in the thread")
    assert relayed[0]["blocks"][-1]["text"]["text"] == "my order BC-100002 never arrived, my email is j***@example.com"
    assert relayed[0]["text"] == ":speech_balloon: *Customer:* my order BC-100002 never arrived, my email is j\u2217\u2217\u2217@example.com"

    # the agent answers in the thread (a signed Events API request)
    answer = "Hi, this is Alex from Brightcart. I can see BC-100002; I've asked the courier to call you today."
    assert agent.agent_reply(CHANNEL, post["ts"], answer).status == 200
    wait_for(lambda: answer in bot_texts(rasa_tracker(slack_stack, customer.sender)), message="the agent reply in the tracker")
    # a REST client cannot be pushed to: the reply comes with its next message, once
    assert customer.say("ok, thank you") == answer
    assert customer.say("still there?") == ""
    assert rasa_tracker(slack_stack, customer.sender)["paused"] is True

    # resolve with the button: the conversation resumes and the bot answers by itself again
    assert agent.click("handoff_resolve", case_row(slack_stack, customer.sender)["case_id"], CHANNEL, post["ts"]).status == 200
    wait_for(lambda: not rasa_tracker(slack_stack, customer.sender)["paused"], message="the conversation to resume")
    reply = customer.say("where is my order?")
    assert RESUMED_TEXT in reply
    assert reply.replace(RESUMED_TEXT, "").strip(), "the bot should answer again after the handoff"
    tracker = rasa_tracker(slack_stack, customer.sender)
    assert tracker["paused"] is False and tracker["latest_action_name"] == "action_listen"
    row = case_row(slack_stack, customer.sender)
    assert row["status"] == "resolved" and row["resolved_by"] == "UAGENT01" and row["customer_told"] == "live"
    updated = wait_for(lambda: "Resolved by" in block_text(stack_slack.find(post["ts"]) or {}), message="the case marked resolved")
    assert updated


def handoff_action_ids(post: Dict[str, Any]) -> List[str]:
    ids = action_ids(post)
    assert "handoff_resolve" in ids
    return ids


def test_an_escalation_rule_makes_rasa_hand_off_even_without_asking(slack_stack, stack_slack, customer):
    stack_slack.set_mode("ok")
    reply = customer.say("where is my order BC-100002")
    assert HANDOFF_STARTED not in reply
    tracker = rasa_tracker(slack_stack, customer.sender)
    assert tracker["paused"] is False and tracker["slots"]["escalation_rule"] is None
    reply = customer.say("THIS IS RIDICULOUS!!! THIRD TIME I'M ASKING, WHERE IS MY ORDER???")
    assert HANDOFF_STARTED in reply
    tracker = rasa_tracker(slack_stack, customer.sender)
    assert tracker["paused"] is True
    assert tracker["slots"]["escalation_rule"] == "frustrated_customer"
    handoffs = [e for e in tracker["events"] if e["event"] == "action" and e.get("name") == "action_handoff_to_human"]
    assert handoffs and handoffs[-1]["policy"].endswith("EscalationPolicy")
    post = wait_for(lambda: case_message(stack_slack, customer.sender), message="the case in Slack")
    assert "frustrated_customer" in block_text(post) and "The customer is very frustrated." in block_text(post)


def test_the_agent_sees_the_start_of_a_conversation_longer_than_rasas_window(slack_stack, stack_slack, customer):
    """Rasa works with the latest 6-9 turns of a long conversation (endpoints.yml); the case must
    still carry the conversation from its first message."""
    stack_slack.set_mode("ok")
    first = "hi, my rain jacket order is the reason I'm here"
    customer.say(first)
    for turn in range(9):
        customer.say("hello" if turn % 2 == 0 else "thank you")
    reply = customer.say("can I talk to a human please")
    assert HANDOFF_STARTED in reply
    context = json.loads(case_row(slack_stack, customer.sender)["context"])
    texts = [line["text"] for line in context["transcript"] if line["from"] == "customer"]
    assert texts[0] == first and texts[-1] == "can I talk to a human please"
    assert len(texts) == 11


def test_send_suggested_reply_sends_the_draft_as_is(slack_stack, stack_slack, agent, customer):
    stack_slack.set_mode("ok")
    customer.say("how long does a refund take to reach my card?")
    assert HANDOFF_STARTED in customer.say("can I speak to a human agent")
    post = wait_for(lambda: case_message(stack_slack, customer.sender), message="the case in Slack")
    # the draft comes with the case, or a moment later as an update (first use loads the index)
    drafted = wait_for(lambda: (lambda m: m if m and "handoff_send_draft" in action_ids(m) else None)(stack_slack.find(post["ts"])),
                       timeout=240, interval=1.0, message="the suggested reply")
    row = case_row(slack_stack, customer.sender)
    assert row["draft_text"] and "Source:" in row["draft_text"] and json.loads(row["draft_citations"])
    assert "Suggested reply" in block_text(drafted)
    assert agent.click("handoff_send_draft", row["case_id"], CHANNEL, post["ts"]).status == 200
    wait_for(lambda: row["draft_text"] in bot_texts(rasa_tracker(slack_stack, customer.sender)), message="the draft at the customer")
    assert wait_for(lambda: case_row(slack_stack, customer.sender)["draft_outcome"] == "sent_as_is", message="the outcome")
    # (Rasa's REST channel splits a message at blank lines; RestChat joins the parts with newlines)
    assert customer.say("great") == row["draft_text"].replace("\n\n", "\n")


def test_requests_without_a_valid_recent_signature_are_refused(slack_stack, stack_slack, agent, customer):
    stack_slack.set_mode("ok")
    assert HANDOFF_STARTED in customer.say("I want to talk to a person")
    post = wait_for(lambda: case_message(stack_slack, customer.sender), message="the case in Slack")
    case_id = case_row(slack_stack, customer.sender)["case_id"]

    bad = agent.agent_reply(CHANNEL, post["ts"], "forged reply", signature="v0=" + "0" * 64)
    assert bad.status == 401 and bad.json()["error"] == "invalid signature"
    wrong_secret = SlackSigner(agent.base_url, "not-the-secret").agent_reply(CHANNEL, post["ts"], "forged reply 2")
    assert wrong_secret.status == 401
    stale = str(int(time.time()) - 6 * 60)
    replay = agent.agent_reply(CHANNEL, post["ts"], "replayed reply", timestamp=stale)
    assert replay.status == 403 and "more than 5 minutes" in replay.json()["error"]
    future = agent.agent_reply(CHANNEL, post["ts"], "future reply", timestamp=str(int(time.time()) + 6 * 60))
    assert future.status == 403
    stale_click = agent.click("handoff_resolve", case_id, CHANNEL, post["ts"], timestamp=stale)
    assert stale_click.status == 403
    unsigned = agent.send("/slack/events", b'{"type": "url_verification", "challenge": "x"}', "application/json", signature="")
    assert unsigned.status == 401 and unsigned.json()["error"] == "missing Slack signature headers"

    challenge = agent.send("/slack/events", json.dumps({"type": "url_verification", "challenge": "c-123"}).encode(), "application/json")
    assert challenge.status == 200 and challenge.json() == {"challenge": "c-123"}

    # Slack retries an event it thinks was lost: same event_id, handled once
    for _ in range(2):
        assert agent.agent_reply(CHANNEL, post["ts"], "genuine reply, sent once", event_id="EvRETRY0001").status == 200
    wait_for(lambda: "genuine reply, sent once" in bot_texts(rasa_tracker(slack_stack, customer.sender)), message="the genuine reply")

    time.sleep(1.5)
    tracker = rasa_tracker(slack_stack, customer.sender)
    assert tracker["paused"] is True  # the forged resolve did nothing
    assert not any("forged" in t or "replayed" in t or "future" in t for t in bot_texts(tracker))
    assert bot_texts(tracker).count("genuine reply, sent once") == 1


def test_slack_down_then_up_delivers_every_queued_handoff_exactly_once_in_order(slack_stack, stack_slack):
    customers = [RestChat.for_stack(slack_stack) for _ in range(3)]
    before = len(stack_slack.calls_to("chat.postMessage"))
    stack_slack.set_mode("down")
    try:
        for n, chat in enumerate(customers):
            reply = chat.say(f"I need to speak to a person about order BC-10000{n + 2}")
            assert HANDOFF_QUEUED in reply, reply  # the truth: saved, not yet with the team
            assert rasa_tracker(slack_stack, chat.sender)["paused"] is True
            assert chat.send(f"follow-up {n}: it's about a refund") == []
        time.sleep(2)
        assert all(case_message(stack_slack, c.sender) is None for c in customers)
    finally:
        stack_slack.set_mode("ok")
    posts = wait_for(lambda: all(case_message(stack_slack, c.sender) for c in customers) and
                     [case_message(stack_slack, c.sender) for c in customers], timeout=60, message="the queued cases")
    for n, (chat, post) in enumerate(zip(customers, posts)):
        thread = wait_for(lambda: stack_slack.thread(post["ts"]), message="the follow-up in its thread")
        assert [m["text"] for m in thread] == [f":speech_balloon: *Customer:* follow-up {n}: it's about a refund"]
    # in order, each exactly once
    assert [float(p["ts"]) for p in posts] == sorted(float(p["ts"]) for p in posts)
    ours = [c for c in stack_slack.calls_to("chat.postMessage")[before:] if c.status == 200 and c.response and c.response.get("ok")]
    assert len(ours) == 6  # three cases + three follow-ups, nothing twice
    with handoff_db(slack_stack) as conn:
        statuses = {row["status"] for row in conn.execute("SELECT status FROM slack_outbox")}
    assert statuses == {"sent"}
    # and each customer hears that the team has the case now
    for chat in customers:
        wait_for(lambda: DELIVERED_LATE_TEXT in bot_texts(rasa_tracker(slack_stack, chat.sender)), message="the late notice")
        assert DELIVERED_LATE_TEXT in chat.say("ok")


def test_a_web_widget_customer_gets_the_agent_reply_pushed_live(slack_stack, stack_slack, agent):
    """socketio: Rasa pushes the agent's message through the customer's open socket."""
    import subprocess
    import uuid
    from pathlib import Path

    from tests.conftest import ROOT

    stack_slack.set_mode("ok")
    session = f"widget-{uuid.uuid4().hex[:10]}"
    answer = f"Hi from Alex, a person, on the web widget ({session[-4:]})."
    probe = subprocess.Popen(
        [str(ROOT / ".venv-rasa" / "bin" / "python"), str(Path(__file__).with_name("socketio_probe.py")),
         slack_stack.config.rasa_url, session, "I want to talk to a human please", answer, slack_stack.config.backend_url],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        ready = probe.stdout.readline().split()
        assert ready and ready[0] == "READY", probe.stderr.read()[-2000:]
        session = ready[1]  # the server issued its own conversation id, not the one asked for
        assert session.startswith("web-")
        post = wait_for(lambda: case_message(stack_slack, session), message="the widget case in Slack")
        assert "socketio" in block_text(post)
        assert agent.agent_reply(CHANNEL, post["ts"], answer).status == 200
        out, err = probe.communicate(timeout=120)
    finally:
        if probe.poll() is None:
            probe.kill()
    received = json.loads(out.strip().splitlines()[-1])
    texts = [m.get("text") for m in received]
    assert any(HANDOFF_STARTED in (t or "") for t in texts)
    assert answer in texts, (texts, err[-2000:])
    assert probe.returncode == 0
