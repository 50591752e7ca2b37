"""Every HTTP request of the limit tests goes through here, so the servers' credentials (Rasa's
API token, the action server's shared secret, the backend's API key) are added in one place."""
from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from typing import Any, Dict, Optional, Tuple


def auth_headers(server: str) -> Dict[str, str]:
    """Credentials for ``server`` ("rasa", "actions", "backend") when the stack is run with them."""
    headers: Dict[str, str] = {}
    if server == "backend" and os.environ.get("BACKEND_API_KEY"):
        headers["X-API-Key"] = os.environ["BACKEND_API_KEY"]
    if server == "actions" and os.environ.get("ACTION_SERVER_SECRET"):
        headers["X-Action-Server-Secret"] = os.environ["ACTION_SERVER_SECRET"]
    return headers


def rasa_url(url: str) -> str:
    token = os.environ.get("RASA_API_TOKEN")
    if not token:
        return url
    return f"{url}{'&' if '?' in url else '?'}token={token}"


def post(server: str, url: str, body: bytes, content_type: str = "application/json",
         timeout: float = 120) -> Tuple[int, bytes, float]:
    """(status, body, seconds); an HTTP error status is returned, not raised."""
    headers = {"Content-Type": content_type, **auth_headers(server)}
    request = urllib.request.Request(rasa_url(url) if server == "rasa" else url, data=body, headers=headers, method="POST")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(), time.perf_counter() - started
    except urllib.error.HTTPError as error:
        return error.code, error.read(), time.perf_counter() - started


def rest_message(rasa: str, sender: str, text: str, timeout: float = 120) -> Tuple[int, Any, float]:
    status, body, seconds = post("rasa", f"{rasa}/webhooks/rest/webhook",
                                 json.dumps({"sender": sender, "message": text}).encode(), timeout=timeout)
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = body.decode(errors="replace")
    return status, parsed, seconds


def get_json(server: str, url: str, timeout: float = 30) -> Any:
    request = urllib.request.Request(rasa_url(url) if server == "rasa" else url, headers=auth_headers(server))
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def reply_text(messages: Any) -> str:
    return "\n".join(m.get("text", "") for m in messages or [] if isinstance(m, dict) and m.get("text"))
