"""The durable Slack outbox against the emulator: order, exactly once, Slack down and back."""
from __future__ import annotations

import asyncio
import time
from typing import List

import pytest

from actions import outbox
from actions.outbox import HandoffStore, SlackOutbox
from tests.handoff.conftest import CHANNEL


def new_case(store: HandoffStore, n: int) -> tuple:
    return store.create_case(
        {"conversation_id": f"conv-{n}", "input_channel": "rest", "rule": "customer_asks_for_human", "reason": "asked"},
        {"text": f"Handoff case {n}", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f"*case {n}*"}}]},
    )


def reply(store: HandoffStore, case_id: str, text: str) -> int:
    return store.enqueue("reply", {"text": text}, case_id=case_id, dedupe_key=f"reply:{case_id}:{text}")


def deliver(box: SlackOutbox, rounds: int = 50) -> None:
    """Run the delivery loop until the queue is empty (or rounds run out)."""

    async def go() -> None:
        for _ in range(rounds):
            wait = await box.deliver_due()
            if wait is None:
                return
            await asyncio.sleep(max(0.0, min(wait, 0.3)))

    asyncio.run(go())


def texts(slack) -> List[str]:
    return [m["text"] for m in slack.posts()]


def test_cases_and_their_threads_go_out_in_order(slack_env):
    store = outbox.get_store()
    box = outbox.get_outbox()
    first, _ = new_case(store, 1)
    reply(store, first, "customer: hello?")
    second, _ = new_case(store, 2)
    reply(store, first, "customer: anyone there?")
    deliver(box)
    assert texts(slack_env) == ["Handoff case 1", "customer: hello?", "Handoff case 2", "customer: anyone there?"]
    root = store.get_case(first)["slack_ts"]
    assert [m["text"] for m in slack_env.thread(root)] == ["customer: hello?", "customer: anyone there?"]
    assert store.get_case(second)["slack_channel"] == CHANNEL
    assert all(item["status"] == "sent" for item in store.outbox_items())
    # every message carries its outbox id in Slack message metadata
    assert [m["metadata"]["event_payload"]["outbox_id"] for m in slack_env.posts()] == [1, 2, 3, 4]


def test_slack_down_then_up_delivers_every_queued_item_exactly_once_in_order(slack_env):
    store = outbox.get_store()
    box = outbox.get_outbox()
    slack_env.set_mode("down")
    cases = [new_case(store, n)[0] for n in range(1, 4)]
    reply(store, cases[0], "customer: still there?")
    deliver(box, rounds=3)
    assert slack_env.posts() == []
    head = store.outbox_items()[0]
    assert head["status"] == "pending" and head["attempts"] >= 1 and head["last_error"] == "ClientConnectorError"
    assert box.connected is False
    slack_env.set_mode("ok")
    deliver(box)
    assert texts(slack_env) == ["Handoff case 1", "Handoff case 2", "Handoff case 3", "customer: still there?"]
    assert len(slack_env.calls_to("chat.postMessage")) == 4  # nothing was posted twice
    assert slack_env.thread(store.get_case(cases[0])["slack_ts"])[0]["text"] == "customer: still there?"


def test_an_answer_lost_on_the_way_back_is_not_posted_twice(slack_env):
    store = outbox.get_store()
    box = outbox.get_outbox()
    slack_env.set_mode("drop")  # Slack stores the message but the connection drops before the answer
    case_id, item_id = new_case(store, 1)
    deliver(box, rounds=1)
    assert store.item(item_id)["status"] == "uncertain"
    assert len(slack_env.case_messages()) == 1
    slack_env.set_mode("ok")
    deliver(box)
    assert len(slack_env.case_messages()) == 1
    assert len(slack_env.calls_to("chat.postMessage")) == 1
    assert len(slack_env.calls_to("conversations.history")) == 1  # it looked before posting again
    assert store.get_case(case_id)["slack_ts"] == slack_env.case_messages()[0]["ts"]


def test_an_uncertain_thread_reply_is_looked_up_in_the_thread(slack_env):
    store = outbox.get_store()
    box = outbox.get_outbox()
    case_id, _ = new_case(store, 1)
    deliver(box)
    slack_env.set_mode("drop")
    item = reply(store, case_id, "customer: hello?")
    deliver(box, rounds=1)
    assert store.item(item)["status"] == "uncertain"
    slack_env.set_mode("ok")
    deliver(box)
    assert [m["text"] for m in slack_env.thread(store.get_case(case_id)["slack_ts"])] == ["customer: hello?"]
    assert len(slack_env.calls_to("conversations.replies")) == 1


def test_a_server_error_is_uncertain_and_sent_once_when_slack_recovers(slack_env):
    store = outbox.get_store()
    box = outbox.get_outbox()
    slack_env.set_mode("error")  # 503: nothing stored
    _, item_id = new_case(store, 1)
    deliver(box, rounds=2)
    assert store.item(item_id)["status"] == "uncertain"
    slack_env.set_mode("ok")
    deliver(box)
    assert len(slack_env.case_messages()) == 1


def test_rate_limits_are_respected(slack_env):
    store = outbox.get_store()
    box = outbox.get_outbox()
    slack_env.set_mode("ratelimited")
    _, item_id = new_case(store, 1)
    deliver(box, rounds=1)
    item = store.item(item_id)
    assert item["status"] == "pending" and item["last_error"] == "ratelimited"
    assert item["next_attempt_at"] > time.time()  # Retry-After: 1 (longer than the 0.2 s backoff)
    slack_env.set_mode("ok")
    deliver(box)
    assert len(slack_env.case_messages()) == 1


def test_blocks_slack_refuses_are_sent_again_as_plain_text(slack_env):
    store = outbox.get_store()
    box = outbox.get_outbox()
    case_id, item_id = store.create_case({"conversation_id": "c"}, {"text": "Handoff case plain", "blocks": "not blocks"})
    deliver(box)
    assert store.item(item_id)["status"] == "sent"
    assert slack_env.case_messages()[0]["text"] == "Handoff case plain" and not slack_env.case_messages()[0]["blocks"]


def test_a_bad_token_keeps_everything_queued(slack_env, monkeypatch):
    from actions import slack_client

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-wrong")
    slack_client.reset()
    store = outbox.get_store()
    box = outbox.get_outbox()
    _, item_id = new_case(store, 1)
    deliver(box, rounds=1)
    assert store.item(item_id)["status"] == "pending" and store.item(item_id)["last_error"] == "invalid_auth"
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    slack_client.reset()
    deliver(box)
    assert store.item(item_id)["status"] == "sent"


def test_a_worker_that_died_mid_call_is_reconciled_by_the_next(slack_env):
    store = outbox.get_store()
    case_id, item_id = new_case(store, 1)
    item, _ = store.claim_next(lease_seconds=0.05)  # a worker claims it and dies
    assert item["id"] == item_id
    time.sleep(0.1)
    deliver(outbox.get_outbox())
    assert store.item(item_id)["status"] == "sent"
    assert len(slack_env.calls_to("conversations.history")) == 1
    assert len(slack_env.case_messages()) == 1


def test_two_processes_never_send_the_same_item(slack_env):
    path = outbox.get_store().path
    a, b = HandoffStore(path), HandoffStore(path)
    new_case(a, 1)
    item, wait = a.claim_next(lease_seconds=30)
    assert item is not None
    other, other_wait = b.claim_next()
    assert other is None and other_wait > 1  # held by the lease: b waits, in order


def test_the_enqueue_dedupe_key_makes_retries_harmless(slack_env):
    store = outbox.get_store()
    case_id, _ = new_case(store, 1)
    first = reply(store, case_id, "same message")
    assert reply(store, case_id, "same message") == first


def test_the_background_loop_delivers_when_woken(slack_env):
    async def go() -> None:
        box = outbox.get_outbox()
        box.start()
        store = box.store
        slack_env.set_mode("down")
        new_case(store, 1)
        box.wake()
        await asyncio.sleep(0.5)
        assert slack_env.posts() == []
        slack_env.set_mode("ok")
        for _ in range(50):
            if slack_env.posts():
                break
            await asyncio.sleep(0.1)
        await box.stop()

    asyncio.run(go())
    assert len(slack_env.case_messages()) == 1


def test_a_slow_slack_that_still_posts_after_the_timeout_is_not_posted_twice(slack_env):
    # SLACK_TIMEOUT is 2 s here: the call times out, Slack stores the message at 3 s anyway
    store = outbox.get_store()
    box = outbox.get_outbox()
    slack_env.slow_seconds = 3
    slack_env.set_mode("slow")
    case_id, item_id = new_case(store, 1)
    deliver(box, rounds=1)
    assert store.item(item_id)["status"] == "uncertain"
    slack_env.set_mode("ok")
    time.sleep(2)  # the slow request lands meanwhile
    deliver(box, rounds=60)
    assert len(slack_env.case_messages()) == 1
    assert store.get_case(case_id)["slack_ts"] == slack_env.case_messages()[0]["ts"]


def test_a_flush_that_gives_up_leaves_the_item_uncertain_not_stuck(slack_env):
    store = outbox.get_store()
    box = outbox.get_outbox()
    slack_env.slow_seconds = 1.5
    slack_env.set_mode("slow")
    _, item_id = new_case(store, 1)
    status = asyncio.run(box.flush(item_id, timeout=0.5))
    assert status == "uncertain"
    slack_env.set_mode("ok")
    time.sleep(1.5)
    deliver(box, rounds=60)
    assert len(slack_env.case_messages()) == 1
