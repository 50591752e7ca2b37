"""Who may call the action server, checked before any route runs (docs/security.md).

* ``/webhook`` and ``/actions`` (rasa-sdk): only Rasa, which sends ``X-Action-Token`` (set in
  endpoints.yml from ``ACTION_SERVER_TOKEN``). Without the token, an action server facing the
  internet would run any action (cancel an order, change an address) for any tracker it is sent.
* ``/health``: anyone (load balancers and probes; it says nothing about customers).
* ``/slack/events``, ``/slack/interactivity``: anyone may call, and every request must carry
  Slack's signature (``actions.slack_events`` checks it; unsigned requests get 401).
* everything else (``/metrics``, ``/slack/outbox``, routes added later): operators only,
  ``Authorization: Bearer <OPS_TOKEN>``. Unknown paths are closed by default.

The server does not start without ``ACTION_SERVER_TOKEN`` and ``OPS_TOKEN``: `make run` and the
tests generate them (``common.secrets_store``), production sets them.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Optional

from sanic import Sanic
from sanic.response import HTTPResponse, json

from common.credentials import bearer, matches

logger = logging.getLogger(__name__)

ACTION_TOKEN_HEADER = "X-Action-Token"
RASA_PATHS = ("/webhook", "/actions")
PUBLIC_PATHS = ("/health",)
SIGNED_PATHS = ("/slack/events", "/slack/interactivity")  # Slack's signature, checked by the route


def required_secrets() -> dict[str, str]:
    tokens = {"ACTION_SERVER_TOKEN": os.environ.get("ACTION_SERVER_TOKEN", ""), "OPS_TOKEN": os.environ.get("OPS_TOKEN", "")}
    missing = [name for name, value in tokens.items() if not value]
    if missing:
        raise SystemExit(
            f"Cannot start the action server: {', '.join(missing)} not set. `make run` generates them into "
            "var/secrets.env; in production set them in the environment (README, production checklist)."
        )
    return tokens


def attach(app: Sanic) -> None:
    """Register the check as the first request middleware (before metrics read the body)."""
    tokens = required_secrets()

    @app.on_request
    async def _authenticate(request: Any) -> Optional[HTTPResponse]:
        path = request.path.rstrip("/") or "/"
        if path in PUBLIC_PATHS or path in SIGNED_PATHS or request.method == "OPTIONS":
            return None
        if path in RASA_PATHS:
            if matches(request.headers.get(ACTION_TOKEN_HEADER), tokens["ACTION_SERVER_TOKEN"]):
                return _malformed_call(request) if path == "/webhook" and request.method == "POST" else None
            logger.warning("refused %s %s without Rasa's action token", request.method, path)
            return json({"error": "unauthorized", "message": f"{path} answers Rasa only ({ACTION_TOKEN_HEADER} missing or wrong)."}, status=401)
        if matches(bearer(request.headers.get("authorization")), tokens["OPS_TOKEN"]):
            return None
        return json({"error": "unauthorized", "message": "This endpoint needs the operators' token (Authorization: Bearer)."}, status=401)


def _malformed_call(request: Any) -> Optional[HTTPResponse]:
    """rasa-sdk answers a body that is JSON but not an action call (a list, ``null``) with a 500;
    it is the caller's mistake, so it gets a 400 here. Unparsable bodies are left to rasa-sdk,
    which already answers them with a 400."""
    if not request.body:
        # nothing read: Sanic is answering an error (a body over the size limit gets 413, and
        # Sanic runs request middleware again on that path), or rasa-sdk reports the empty body
        return None
    try:
        body = request.json
    except Exception:  # noqa: BLE001 - rasa-sdk reports unparsable bodies itself
        return None
    if not isinstance(body, dict) or not isinstance(body.get("next_action", ""), str) \
            or not isinstance(body.get("tracker", {}), dict):
        return json({"error": "bad_request", "message": "An action call is a JSON object with next_action (a string) and tracker (an object)."}, status=400)
    return None
