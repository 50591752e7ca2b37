"""Every server authenticates its callers: probes of Rasa's HTTP API, the action server and the
backend without (and with wrong) credentials, against the real stack. Each must be refused with
a 4xx and a message, and must have no effect."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Dict, Optional, Tuple

import pytest

from tests.conftest import RestChat


def call(url: str, method: str = "GET", body: Any = None, headers: Optional[Dict[str, str]] = None) -> Tuple[int, Dict[str, str], str]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode(errors="replace")


# --------------------------------------------------------------------------- Rasa's HTTP API
RASA_PROTECTED = [
    ("GET", "/conversations/{cid}/tracker", None),
    ("PUT", "/conversations/{cid}/tracker/events", [{"event": "slot", "name": "verified", "value": True}]),
    ("POST", "/conversations/{cid}/tracker/events", {"event": "slot", "name": "verified", "value": True}),
    ("POST", "/conversations/{cid}/execute", {"name": "action_cancel_order"}),
    ("POST", "/conversations/{cid}/trigger_intent", {"name": "cancel_order", "entities": {"order_id": "BC-100001"}}),
    ("POST", "/conversations/{cid}/messages", {"text": "hi", "sender": "user"}),
    ("GET", "/conversations/{cid}/story", None),
    ("POST", "/model/parse", {"text": "hi"}),
    ("GET", "/domain", None),
    ("GET", "/status", None),
]


@pytest.mark.parametrize("method, path, body", RASA_PROTECTED)
@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_rasa_api_refuses_callers_without_the_token(stack, method, path, body, token):
    owner = RestChat.for_stack(stack, customer_id="C0001")
    owner.say("hello")
    url = stack.config.rasa_url + path.format(cid=owner.sender) + (f"?token={token}" if token else "")
    status, _, text = call(url, method, body)
    assert status in (401, 403), (method, path, status, text[:300])
    slots = owner.tracker()["slots"]
    assert slots.get("customer_id") == "C0001"  # nothing was written by the refused call


def test_rasa_api_answers_with_the_token(stack):
    status, _, _ = call(f"{stack.config.rasa_url}/status?token={stack.env['RASA_API_TOKEN']}")
    assert status == 200


def test_rasa_cors_allows_only_the_store_origin(stack):
    url = f"{stack.config.rasa_url}/webhooks/rest/webhook"
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    _, evil, _ = call(url, "OPTIONS", headers={"Origin": "https://evil.example", **preflight})
    assert evil.get("Access-Control-Allow-Origin") not in ("*", "https://evil.example")
    _, store, _ = call(url, "OPTIONS", headers={"Origin": stack.config.backend_url, **preflight})
    assert store.get("Access-Control-Allow-Origin") == stack.config.backend_url


# ------------------------------------------------------------------------- the action server
def _action_call(sender: str, action: str, slots: Dict[str, Any]) -> Dict[str, Any]:
    tracker = {"sender_id": sender, "slots": slots, "latest_message": {"text": "yes", "intent": {"name": "affirm"}},
               "events": [], "paused": False, "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen"}
    return {"next_action": action, "sender_id": sender, "tracker": tracker, "version": "3.6.21", "domain": {}}


def _order_status(stack, order_id: str) -> str:
    status, _, text = call(f"{stack.config.backend_url}/api/orders/{order_id}", headers={"X-Api-Key": stack.env["BACKEND_API_KEY"]})
    assert status == 200, text
    return json.loads(text)["status"]


@pytest.mark.parametrize("headers", [{}, {"X-Action-Token": "wrong"}, {"Authorization": "Bearer wrong"}])
def test_the_action_webhook_runs_nothing_for_a_forged_call(stack, headers):
    body = _action_call("attacker", "action_cancel_order",
                        {"order_id": "BC-100001", "customer_id": "C0001", "verified": True, "confirmed": True})
    before = _order_status(stack, "BC-100001")
    status, _, text = call(stack.config.action_url, "POST", body, headers)
    assert status == 401 and "Rasa" in text, (status, text)
    assert _order_status(stack, "BC-100001") == before == "processing"


@pytest.mark.parametrize("path", ["/actions", "/metrics", "/slack/outbox", "/anything-else"])
def test_action_server_operator_endpoints_need_a_token(stack, path):
    base = f"http://127.0.0.1:{stack.config.action_port}"
    assert call(base + path)[0] == 401
    assert call(base + path, headers={"Authorization": "Bearer wrong"})[0] == 401


def test_action_server_operator_endpoints_answer_operators(stack):
    base = f"http://127.0.0.1:{stack.config.action_port}"
    bearer = {"Authorization": f"Bearer {stack.env['OPS_TOKEN']}"}
    assert call(base + "/metrics", headers=bearer)[0] == 200
    assert call(base + "/slack/outbox", headers=bearer)[0] == 200
    assert call(base + "/health")[0] == 200  # probes need no secret; it names no customer


def test_slack_callbacks_need_slacks_signature(stack):
    """This stack has no Slack signing secret: the routes refuse everything (503, "not
    configured"). With a secret, unsigned and forged requests get 401: tests/handoff/test_full_loop.py."""
    base = f"http://127.0.0.1:{stack.config.action_port}"
    for path in ("/slack/events", "/slack/interactivity"):
        status, _, text = call(base + path, "POST", {"type": "event_callback", "event": {"type": "message", "text": "hi"}})
        assert status in (401, 403) or (status == 503 and "not configured" in text), (path, status, text)


def test_bad_bodies_from_rasa_get_a_400_not_a_500(stack):
    headers = {"X-Action-Token": stack.env["ACTION_SERVER_TOKEN"]}
    for body in (b"{", b"[]", b"null", json.dumps({"next_action": 5}).encode()):
        status, _, text = call(stack.config.action_url, "POST", body, headers)
        assert 400 <= status < 500, (body, status, text[:200])


# ------------------------------------------------------------------------------- the backend
@pytest.mark.parametrize("method, path", [
    ("GET", "/api/customers/C0001"), ("GET", "/api/customers/C0001/orders"), ("GET", "/api/orders/BC-100002"),
    ("POST", "/api/orders/BC-100001/cancel"), ("POST", "/api/customers/C0001/password-reset"),
    ("POST", "/api/customers/C0001/email-change"), ("GET", "/api/admin/outbox"), ("PUT", "/api/admin/status"),
])
def test_backend_refuses_callers_without_its_key(stack, method, path):
    url = stack.config.backend_url + path
    for headers in ({}, {"X-Api-Key": "wrong"}):
        status, _, text = call(url, method, {} if method != "GET" else None, headers)
        assert status == 401 and "key" in text.lower(), (path, status, text[:200])
    assert _order_status(stack, "BC-100001") == "processing"


def test_admin_endpoints_need_the_admin_key_not_the_action_servers(stack):
    url = stack.config.backend_url + "/api/admin/outbox"
    assert call(url, headers={"X-Api-Key": stack.env["BACKEND_API_KEY"]})[0] == 401
    assert call(url, headers={"X-Api-Key": stack.env["BACKEND_ADMIN_KEY"]})[0] == 200


def test_public_backend_pages_stay_public(stack):
    base = stack.config.backend_url
    for path in ("/", "/health", "/api/status", "/static/store.css"):
        assert call(base + path)[0] == 200, path
    assert call(base + "/invoices/INV-100003.pdf")[0] == 403  # a guessed document link


@pytest.mark.parametrize("module, missing", [("actions.server", "ACTION_SERVER_TOKEN"), ("demo_backend", "BACKEND_API_KEY")])
def test_a_server_without_its_secrets_refuses_to_start(tmp_path, module, missing):
    """Fail closed: no configuration in which a server runs open by accident."""
    import os
    import subprocess
    import sys

    from scripts.stack import free_port
    from tests.conftest import ROOT

    env = {k: v for k, v in os.environ.items() if k not in ("ACTION_SERVER_TOKEN", "OPS_TOKEN", "BACKEND_API_KEY", "BACKEND_ADMIN_KEY")}
    env.update(PYTHONPATH=str(ROOT), VAR_DIR=str(tmp_path), ACTION_SERVER_PORT=str(free_port()), BACKEND_PORT=str(free_port()),
               BACKEND_DB=str(tmp_path / "backend.sqlite3"), SLACK_API_URL="http://127.0.0.1:9/api/")
    out = subprocess.run([sys.executable, "-m", module], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert missing in out.stderr + out.stdout
