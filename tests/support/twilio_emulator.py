"""A local stand-in for both sides of Twilio, for tests (loopback only).

* ``TwilioEmulator`` is the Twilio REST API's message endpoint
  (``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``): it checks HTTP basic auth
  (account SID + auth token), records every message and answers like Twilio (201 + a message
  resource, or Twilio's error JSON). Point the connector at it with ``TWILIO_API_URL``.
* ``signed_post`` is Twilio calling a webhook: a form POST signed with ``X-Twilio-Signature``
  by the Twilio library's own ``RequestValidator``.
"""
from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Mapping, Optional, Set, Tuple

from twilio.request_validator import RequestValidator

MESSAGES_PATH_PREFIX = "/2010-04-01/Accounts/"


@dataclass
class SentMessage:
    sid: str
    account_sid: str
    to: str
    from_: str
    body: str
    media_urls: List[str] = field(default_factory=list)
    received_at: float = field(default_factory=time.monotonic)


class TwilioEmulator:
    """Records the messages a connector sends through the Twilio REST API."""

    def __init__(self, account_sid: str, auth_token: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages: List[SentMessage] = []
        self.unsubscribed: Set[str] = set()  # numbers Twilio answers with error 21610
        self.rejected_requests = 0
        self._lock = threading.Condition()
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                emulator._handle_post(self)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="twilio-emulator", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "TwilioEmulator":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "TwilioEmulator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what tests look at -------------------------------------------------------------------

    def messages_to(self, number: str) -> List[SentMessage]:
        with self._lock:
            return [m for m in self.messages if m.to == number]

    def wait_for_messages(self, number: str, count: int = 1, timeout: float = 60.0, since: int = 0) -> List[SentMessage]:
        """Wait until ``number`` has received ``count`` messages after the first ``since`` ones."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                received = [m for m in self.messages if m.to == number][since:]
                if len(received) >= count:
                    return received
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"expected {count} message(s) to {number} within {timeout:.0f}s, got {len(received)}: "
                        f"{[m.body for m in received]}"
                    )
                self._lock.wait(remaining)

    def wait_for_quiet(self, number: str, quiet: float = 1.5, timeout: float = 60.0) -> List[SentMessage]:
        """Wait until no new message to ``number`` arrived for ``quiet`` seconds; all its messages."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            before = len(self.messages_to(number))
            time.sleep(quiet)
            if len(self.messages_to(number)) == before:
                break
        return self.messages_to(number)

    # --- the REST endpoint --------------------------------------------------------------------

    def _authorized(self, header: Optional[str]) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.account_sid and password == self.auth_token

    def _handle_post(self, handler: BaseHTTPRequestHandler) -> None:
        path = urllib.parse.urlparse(handler.path).path
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length).decode()
        if not (path.startswith(MESSAGES_PATH_PREFIX) and path.endswith("/Messages.json")):
            return self._reply(handler, 404, {"code": 20404, "message": "The requested resource was not found", "status": 404})
        account = path[len(MESSAGES_PATH_PREFIX):-len("/Messages.json")]
        if account != self.account_sid or not self._authorized(handler.headers.get("Authorization")):
            with self._lock:
                self.rejected_requests += 1
            return self._reply(handler, 401, {"code": 20003, "message": "Authenticate", "status": 401})
        form = urllib.parse.parse_qs(raw, keep_blank_values=True)
        to = (form.get("To") or [""])[0]
        from_ = (form.get("From") or [""])[0]
        body = (form.get("Body") or [""])[0]
        media = form.get("MediaUrl") or []
        if not to or not from_ or not (body or media):
            return self._reply(handler, 400, {"code": 21602, "message": "Message body is required.", "status": 400})
        if len(body) > 1600:
            return self._reply(handler, 400, {"code": 21617, "message": "The concatenated message body exceeds the 1600 character limit.", "status": 400})
        if to in self.unsubscribed:
            return self._reply(handler, 400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400})
        message = SentMessage(sid="SM" + uuid.uuid4().hex, account_sid=account, to=to, from_=from_, body=body, media_urls=media)
        with self._lock:
            self.messages.append(message)
            self._lock.notify_all()
        now = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
        self._reply(handler, 201, {
            "sid": message.sid, "account_sid": account, "to": to, "from": from_, "body": body,
            "status": "queued", "direction": "outbound-api", "num_segments": str(max(1, -(-len(body) // 153))),
            "num_media": str(len(media)), "date_created": now, "date_updated": now, "date_sent": None,
            "api_version": "2010-04-01", "price": None, "price_unit": "USD", "error_code": None, "error_message": None,
            "uri": f"/2010-04-01/Accounts/{account}/Messages/{message.sid}.json", "subresource_uris": {},
        })

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, payload: Dict[str, object]) -> None:
        if status >= 400:
            payload.setdefault("more_info", f"https://www.twilio.com/docs/errors/{payload.get('code')}")
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


def signed_post(
    url: str,
    params: Mapping[str, str],
    auth_token: Optional[str],
    *,
    signed_url: Optional[str] = None,
    headers: Optional[Mapping[str, str]] = None,
    timeout: float = 60.0,
) -> Tuple[int, str, Dict[str, str]]:
    """POST a form to ``url`` as Twilio does; signed for ``signed_url`` (default: ``url``) unless
    ``auth_token`` is None. Returns (status, body, headers with lower-case names)."""
    all_headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    if auth_token is not None:
        all_headers["X-Twilio-Signature"] = RequestValidator(auth_token).compute_signature(signed_url or url, dict(params))
    request = urllib.request.Request(url, data=urllib.parse.urlencode(params).encode(), headers=all_headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode(), {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), {k.lower(): v for k, v in error.headers.items()}
