"""Every HTTP request of the limit tests goes through here, so the servers' credentials (Rasa's
API token, the action server's shared secret, the backend's API key) are added in one place."""
from __future__ import annotations

import http.client
import json
import os
import time
import urllib.error
import urllib.request
from typing import Any, Dict, Optional, Tuple
from urllib.parse import urlsplit


def auth_headers(server: str) -> Dict[str, str]:
    """Credentials for ``server`` ("rasa", "actions", "backend") when the stack is run with them."""
    headers: Dict[str, str] = {}
    if server == "backend" and os.environ.get("BACKEND_API_KEY"):
        headers["X-API-Key"] = os.environ["BACKEND_API_KEY"]
    if server == "actions" and os.environ.get("ACTION_SERVER_TOKEN"):
        headers["X-Action-Token"] = os.environ["ACTION_SERVER_TOKEN"]
    return headers


def rasa_url(url: str) -> str:
    token = os.environ.get("RASA_API_TOKEN")
    if not token:
        return url
    return f"{url}{'&' if '?' in url else '?'}token={token}"


def post(server: str, url: str, body: bytes, content_type: str = "application/json",
         timeout: float = 120, headers: Optional[Dict[str, str]] = None) -> Tuple[int, bytes, float]:
    """(status, body, seconds); an HTTP error status is returned, not raised. ``server`` "twilio":
    a Twilio webhook on the Rasa server (signed, never a token in its URL)."""
    headers = {"Content-Type": content_type, **auth_headers(server), **(headers or {})}
    request = urllib.request.Request(rasa_url(url) if server == "rasa" else url, data=body, headers=headers, method="POST")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(), time.perf_counter() - started
    except urllib.error.HTTPError as error:
        return error.code, error.read(), time.perf_counter() - started


def post_oversized(server: str, url: str, body: bytes, content_type: str = "application/json",
                   timeout: float = 60) -> Tuple[Optional[int], bytes, float]:
    """POST a body the server will refuse: it answers 413 as soon as it has the headers and
    closes the connection, so the client's sending may fail half-way (reset / broken pipe), as
    any client's would; the answer is read after that. (None, b"", seconds) when there was none."""
    parts = urlsplit(rasa_url(url) if server == "rasa" else url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    started = time.perf_counter()
    try:
        conn.putrequest("POST", parts.path + (f"?{parts.query}" if parts.query else ""))
        for name, value in {"Content-Type": content_type, "Content-Length": str(len(body)), **auth_headers(server)}.items():
            conn.putheader(name, value)
        conn.endheaders()
        try:
            for offset in range(0, len(body), 65536):
                conn.send(body[offset:offset + 65536])
        except OSError:
            pass  # the server stopped reading: its answer is already on the way
        try:
            answer = conn.getresponse()
            return answer.status, answer.read(), time.perf_counter() - started
        except OSError:
            return None, b"", time.perf_counter() - started
    finally:
        conn.close()


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
