"""Slack → assistant: the Events API and interactivity endpoints of the action server.

    POST /slack/events         Events API: url_verification, message events in case threads
    POST /slack/interactivity  Block Kit buttons: send suggested reply, discard draft, resolve,
                               approve deletion (actions/privacy/erasure.py)
    GET  /slack/outbox         delivery backlog by status (no message content)

Every POST is authenticated the way Slack signs requests: ``X-Slack-Signature`` must be the
HMAC-SHA256 (signing secret) of ``v0:{X-Slack-Request-Timestamp}:{raw body}``, and the
timestamp must be within five minutes of now. Otherwise: 401 (missing or wrong signature) or
403 (stale timestamp: a replay), with a short JSON message; no secret configured: 503.

Work is done after the 200 is sent (Slack wants an answer within 3 seconds and retries
otherwise); Events API retries are recognised by ``event_id`` and processed once.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Dict, Optional, Set
from urllib.parse import parse_qs

from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json as json_response
from slack_sdk.signature import SignatureVerifier

from actions import handoff, slack_client, slack_text
from actions.outbox import get_outbox, get_store
from actions.privacy import erasure

logger = logging.getLogger(__name__)

MAX_AGE_SECONDS = 5 * 60
_tasks: Set[asyncio.Task] = set()


def verify(request: Request) -> Optional[HTTPResponse]:
    """None if the request is from Slack, else the response refusing it."""
    secret = slack_client.settings().signing_secret
    if not secret:
        logger.error("SLACK_SIGNING_SECRET is not set: refusing Slack requests")
        return json_response({"ok": False, "error": "signing secret not configured"}, status=503)
    timestamp = request.headers.get("X-Slack-Request-Timestamp")
    signature = request.headers.get("X-Slack-Signature")
    if not timestamp or not signature:
        return json_response({"ok": False, "error": "missing Slack signature headers"}, status=401)
    try:
        age = abs(time.time() - int(timestamp))
    except ValueError:
        return json_response({"ok": False, "error": "invalid X-Slack-Request-Timestamp"}, status=401)
    verifier = SignatureVerifier(secret)
    expected = verifier.generate_signature(timestamp=timestamp, body=request.body)
    if expected is None or not _same(expected, signature):
        logger.warning("Slack request with a bad signature refused")
        return json_response({"ok": False, "error": "invalid signature"}, status=401)
    if age > MAX_AGE_SECONDS:
        logger.warning("Slack request refused: timestamp %ss old (replay?)", int(age))
        return json_response({"ok": False, "error": "stale request: timestamp is more than 5 minutes old"}, status=403)
    return None


def _same(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())


def _later(coro: Any) -> None:
    task = asyncio.get_running_loop().create_task(coro)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    task.add_done_callback(_log_failure)


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("Slack request handling failed", exc_info=task.exception())


async def events(request: Request) -> HTTPResponse:
    refused = verify(request)
    if refused is not None:
        return refused
    try:
        payload = json.loads(request.body or b"{}")
    except ValueError:
        return json_response({"ok": False, "error": "body is not JSON"}, status=400)
    kind = payload.get("type")
    if kind == "url_verification":
        return json_response({"challenge": payload.get("challenge")})
    if kind != "event_callback":
        return json_response({"ok": True, "ignored": kind})
    event_id = payload.get("event_id")
    if event_id and not get_store().first_time_event(str(event_id)):
        return json_response({"ok": True, "duplicate": True})
    event = payload.get("event") or {}
    if _is_agent_thread_message(event):
        _later(_handle_thread_message(event))
    return json_response({"ok": True})


def _is_agent_thread_message(event: Dict[str, Any]) -> bool:
    if event.get("type") != "message" or event.get("bot_id") or event.get("subtype"):
        return False  # our own posts, edits, deletions, joins ...
    return bool(event.get("thread_ts")) and event.get("thread_ts") != event.get("ts") and bool(event.get("text"))


async def _handle_thread_message(event: Dict[str, Any]) -> None:
    case = get_store().case_by_thread(event.get("channel"), str(event["thread_ts"]))
    if case is None or case.get("status") == "erased":
        return  # a thread that is not a handoff case, or one whose customer was erased (no one to deliver to)
    # Slack sends the agent's text in its own format (&lt; escapes, <url|label> links, <@U1> mentions):
    # the customer gets plain text, which their channel then escapes its own way
    await handoff.on_agent_message(case, slack_text.from_slack(event["text"]), event.get("user"), str(event.get("ts")))


async def interactivity(request: Request) -> HTTPResponse:
    refused = verify(request)
    if refused is not None:
        return refused
    try:
        form = parse_qs((request.body or b"").decode())
        payload = json.loads(form.get("payload", ["{}"])[0])
    except ValueError:
        return json_response({"ok": False, "error": "payload is not JSON"}, status=400)
    if payload.get("type") != "block_actions":
        return HTTPResponse(status=200)
    user = (payload.get("user") or {}).get("id")
    for action in payload.get("actions") or []:
        case = get_store().get_case(str(action.get("value") or ""))
        if case is None:
            continue
        action_id = action.get("action_id")
        action_ts = str(action.get("action_ts") or time.time())
        if action_id == handoff.ACTION_SEND_DRAFT:
            _later(handoff.send_draft(case, user, action_ts))
        elif action_id == handoff.ACTION_DISCARD_DRAFT:
            _later(handoff.discard_draft(case, user, action_ts))
        elif action_id == handoff.ACTION_RESOLVE:
            _later(handoff.resolve(case, user, via="button"))
        elif action_id == erasure.ACTION_APPROVE_DELETION:
            _later(erasure.approve_deletion(case, user, action_ts))
    return HTTPResponse(status=200)


async def outbox_status(request: Request) -> HTTPResponse:
    box = get_outbox()
    return json_response({"backlog": box.store.backlog(), "slack_reachable": box.connected})


def attach(app: Sanic) -> None:
    """Routes, and the outbox delivery loop for the life of the server."""
    app.add_route(events, "/slack/events", methods=["POST"], name="slack_events")
    app.add_route(interactivity, "/slack/interactivity", methods=["POST"], name="slack_interactivity")
    app.add_route(outbox_status, "/slack/outbox", methods=["GET"], name="slack_outbox")

    @app.after_server_start
    async def _start_outbox(app_: Any, _loop: Any = None) -> None:
        box = get_outbox()
        if handoff.notify_if_delivered_late not in box.on_delivered:
            box.on_delivered.append(handoff.notify_if_delivered_late)
        box.start()

    @app.before_server_stop
    async def _stop_outbox(app_: Any, _loop: Any = None) -> None:
        await get_outbox().stop()
