"""Rasa's HTTP API, as the handoff uses it to talk to a customer outside a Rasa turn.

``POST /conversations/{id}/tracker/events?output_channel=latest&execute_side_effects=true``
appends events under the conversation lock and, for every bot event, sends it through the
output channel of the customer's latest input channel:

- socketio (web widget) and Twilio SMS/voice connectors that implement ``get_output_channel``:
  the customer gets the message at once (pushed);
- REST (and any channel without ``get_output_channel``): Rasa falls back to a collecting
  channel, so nothing is pushed: the message is in the tracker only. The handoff therefore also
  returns such messages with the customer's next request (see actions/handoff.py).

Settings: ``RASA_URL`` and ``RASA_API_TOKEN`` (actions/config.py).
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional
from urllib.parse import quote

import httpx

from actions.config import settings

logger = logging.getLogger(__name__)


class RasaUnavailable(Exception):
    """Rasa did not accept the events (down, timeout, or an error status)."""


async def append_events(conversation_id: str, events: List[Dict[str, Any]], output_channel: Optional[str] = "latest",
                        execute_side_effects: bool = True, timeout: float = 10.0) -> Dict[str, Any]:
    """Append ``events`` to the conversation; bot events reach the customer's channel."""
    params: Dict[str, str] = {"include_events": "NONE"}
    if output_channel:
        params["output_channel"] = output_channel
    if execute_side_effects:
        params["execute_side_effects"] = "true"
    if settings.rasa_api_token:
        params["token"] = settings.rasa_api_token
    url = f"{settings.rasa_url}/conversations/{quote(conversation_id, safe='')}/tracker/events"
    try:
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            response = await client.post(url, params=params, json=events)
    except httpx.HTTPError as error:
        raise RasaUnavailable(f"{type(error).__name__}: {error}") from error
    if response.status_code != 200:
        raise RasaUnavailable(f"HTTP {response.status_code}: {response.text[:300]}")
    return response.json()


async def stored_events(conversation_id: str, timeout: float = 5.0) -> List[Dict[str, Any]]:
    """Every stored event of the conversation (``GET /conversations/{id}/tracker``, all sessions).

    The events of the turn Rasa is handling are not stored yet: they are in the tracker Rasa sent
    with the action call."""
    params: Dict[str, str] = {"include_events": "ALL"}
    if settings.rasa_api_token:
        params["token"] = settings.rasa_api_token
    url = f"{settings.rasa_url}/conversations/{quote(conversation_id, safe='')}/tracker"
    try:
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            response = await client.get(url, params=params)
    except httpx.HTTPError as error:
        raise RasaUnavailable(f"{type(error).__name__}: {error}") from error
    if response.status_code != 200:
        raise RasaUnavailable(f"HTTP {response.status_code}: {response.text[:300]}")
    return list((response.json() or {}).get("events") or [])


def bot_event(text: str, **metadata: Any) -> Dict[str, Any]:
    return {"event": "bot", "text": text, "metadata": {k: v for k, v in metadata.items() if v is not None}}


def slot_event(name: str, value: Any) -> Dict[str, Any]:
    return {"event": "slot", "name": name, "value": value}
