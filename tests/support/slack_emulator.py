"""A local Slack: the Web API methods the handoff uses, on loopback, recording every call.

    emulator = SlackEmulator(token="xoxb-test").start()
    env SLACK_API_URL = emulator.api_url            # http://127.0.0.1:<port>/api/
    ...
    emulator.posts()                                # chat.postMessage calls that succeeded
    emulator.set_mode("down")                       # connection refused (socket closed)
    emulator.set_mode("error")                      # HTTP 503, nothing stored
    emulator.set_mode("drop")                       # message stored, connection dropped before answering
    emulator.set_mode("ratelimited")                # HTTP 429 + Retry-After: 1
    emulator.set_mode("slow")                       # answers after emulator.slow_seconds (the call still lands)
    emulator.set_mode("ok")

Implemented: auth.test, chat.postMessage (blocks, thread_ts, metadata), chat.update, chat.delete,
conversations.history and conversations.replies (with include_all_metadata),
chat.getPermalink. Requests are JSON, form-encoded or query strings like slack-sdk sends them;
the bearer token is checked. :class:`SlackSigner` builds signed Events API / interactivity
requests the way Slack does (v0 HMAC-SHA256 of ``v0:{timestamp}:{body}``).
"""
from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional


@dataclass
class Call:
    method: str
    params: Dict[str, Any]
    status: int
    response: Optional[Dict[str, Any]]
    at: float = field(default_factory=time.time)


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


class SlackEmulator:
    def __init__(self, token: str = "xoxb-test-token", port: int = 0, bot_user_id: str = "UBOT0001") -> None:
        self.token = token
        self.port = port
        self.bot_user_id = bot_user_id
        self.mode = "ok"
        self.slow_seconds = 10.0
        self.calls: List[Call] = []
        self.messages: Dict[str, List[Dict[str, Any]]] = {}  # channel -> messages (thread replies included)
        self._lock = threading.RLock()
        self._ts = itertools.count(1)
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def start(self) -> "SlackEmulator":
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802
                emulator._handle(self)

            def do_POST(self) -> None:  # noqa: N802
                emulator._handle(self)

        self._server = _Server(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="slack-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def set_mode(self, mode: str) -> None:
        """ok | down | error | drop | ratelimited | slow"""
        if mode not in ("ok", "down", "error", "drop", "ratelimited", "slow"):
            raise ValueError(mode)
        with self._lock:
            previous, self.mode = self.mode, mode
        if mode == "down" and previous != "down":
            self.stop()
        elif mode != "down" and previous == "down":
            self.start()

    # --- what was received ---------------------------------------------------------------------

    def posts(self, channel: Optional[str] = None, thread_ts: Optional[str] = "any") -> List[Dict[str, Any]]:
        """Stored messages (successful chat.postMessage), oldest first."""
        with self._lock:
            items = [m for ch, ms in self.messages.items() if channel in (None, ch) for m in ms]
        if thread_ts != "any":
            items = [m for m in items if m.get("thread_ts") == thread_ts]
        return sorted(items, key=lambda m: float(m["ts"]))

    def case_messages(self) -> List[Dict[str, Any]]:
        """Top-level messages (the handoff cases)."""
        return [m for m in self.posts() if not m.get("thread_ts")]

    def thread(self, ts: str) -> List[Dict[str, Any]]:
        return [m for m in self.posts() if m.get("thread_ts") == ts]

    def calls_to(self, method: str) -> List[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def find(self, ts: str) -> Optional[Dict[str, Any]]:
        return next((m for m in self.posts() if m["ts"] == ts), None)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.messages.clear()

    # --- request handling ----------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        parsed = urllib.parse.urlparse(request.path)
        method = parsed.path.rsplit("/", 1)[-1]
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        params: Dict[str, Any] = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query).items()}
        content_type = request.headers.get("Content-Type") or ""
        if raw:
            if "json" in content_type:
                params.update(json.loads(raw.decode()))
            else:
                params.update({k: v[-1] for k, v in urllib.parse.parse_qs(raw.decode()).items()})
        for key in ("blocks", "metadata"):
            if isinstance(params.get(key), str):
                try:
                    params[key] = json.loads(params[key])
                except ValueError:
                    pass
        with self._lock:
            mode = self.mode
        if mode == "error":
            self._record(method, params, 503, None)
            return self._send(request, 503, b"<html>service unavailable</html>", "text/html")
        if mode == "ratelimited":
            self._record(method, params, 429, None)
            return self._send(request, 429, json.dumps({"ok": False, "error": "ratelimited"}).encode(), extra={"Retry-After": "1"})
        if mode == "slow":
            time.sleep(self.slow_seconds)  # then handled normally: the caller may have given up
        auth = request.headers.get("Authorization") or ""
        token = auth[7:] if auth.startswith("Bearer ") else params.get("token")
        if self.token and token != self.token:
            body = {"ok": False, "error": "invalid_auth"}
        else:
            body = self._api(method, params)
        self._record(method, params, 200, body)
        if mode == "drop" and method in ("chat.postMessage", "chat.update"):
            # the message is in Slack, but the caller never hears back
            try:
                request.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            request.close_connection = True
            return None
        self._send(request, 200, json.dumps(body).encode())

    def _record(self, method: str, params: Dict[str, Any], status: int, body: Optional[Dict[str, Any]]) -> None:
        with self._lock:
            self.calls.append(Call(method, params, status, body))

    @staticmethod
    def _send(request: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str = "application/json; charset=utf-8",
              extra: Optional[Dict[str, str]] = None) -> None:
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            request.send_header(key, value)
        request.end_headers()
        request.wfile.write(body)

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _api(self, method: str, params: Dict[str, Any]) -> Dict[str, Any]:
        with self._lock:
            if method == "auth.test":
                return {"ok": True, "user_id": self.bot_user_id, "bot_id": "BBOT0001", "team": "Brightcart", "url": "https://brightcart.slack.example/"}
            if method == "chat.postMessage":
                channel = params.get("channel")
                if not channel:
                    return {"ok": False, "error": "channel_not_found"}
                if not params.get("text") and not params.get("blocks"):
                    return {"ok": False, "error": "no_text"}
                if params.get("blocks") is not None and not isinstance(params["blocks"], list):
                    return {"ok": False, "error": "invalid_blocks"}
                thread_ts = params.get("thread_ts")
                if thread_ts and not any(m["ts"] == thread_ts for m in self.messages.get(channel, [])):
                    return {"ok": False, "error": "thread_not_found"}
                message = {
                    "type": "message", "ts": self._next_ts(), "channel": channel, "text": params.get("text") or "",
                    "blocks": params.get("blocks"), "thread_ts": thread_ts, "bot_id": "BBOT0001", "user": self.bot_user_id,
                    "metadata": params.get("metadata"),
                }
                self.messages.setdefault(channel, []).append(message)
                return {"ok": True, "channel": channel, "ts": message["ts"], "message": {k: v for k, v in message.items() if k != "metadata"}}
            if method == "chat.update":
                channel, ts = params.get("channel"), params.get("ts")
                message = next((m for m in self.messages.get(channel, []) if m["ts"] == ts), None)
                if message is None:
                    return {"ok": False, "error": "message_not_found"}
                message["text"] = params.get("text") or message["text"]
                if "blocks" in params:
                    message["blocks"] = params.get("blocks")
                message.setdefault("updates", 0)
                message["updates"] += 1
                return {"ok": True, "channel": channel, "ts": ts, "text": message["text"]}
            if method == "chat.delete":
                channel, ts = params.get("channel"), params.get("ts")
                message = next((m for m in self.messages.get(channel, []) if m["ts"] == ts), None)
                if message is None:
                    return {"ok": False, "error": "message_not_found"}
                if message.get("bot_id") != "BBOT0001":  # a bot token deletes only the bot's own messages
                    return {"ok": False, "error": "cant_delete_message"}
                self.messages[channel].remove(message)
                return {"ok": True, "channel": channel, "ts": ts}
            if method in ("conversations.history", "conversations.replies"):
                channel = params.get("channel")
                if channel not in self.messages:
                    return {"ok": True, "messages": [], "has_more": False}
                items = list(self.messages[channel])
                if method == "conversations.history":
                    oldest = float(params.get("oldest") or 0)
                    items = [m for m in items if not m.get("thread_ts") and float(m["ts"]) > oldest]
                    items.sort(key=lambda m: float(m["ts"]), reverse=True)
                else:
                    root = params.get("ts")
                    items = [m for m in items if m["ts"] == root or m.get("thread_ts") == root]
                include = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
                return {"ok": True, "has_more": False,
                        "messages": [{k: v for k, v in m.items() if include or k != "metadata"} for m in items]}
            if method == "chat.getPermalink":
                return {"ok": True, "permalink": f"https://brightcart.slack.example/archives/{params.get('channel')}/p{str(params.get('message_ts', '')).replace('.', '')}"}
            return {"ok": False, "error": "unknown_method"}


# --- requests from Slack to the action server ------------------------------------------------------


class SlackSigner:
    """Sends Events API and interactivity requests signed like Slack signs them."""

    def __init__(self, base_url: str, signing_secret: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.signing_secret = signing_secret
        self._event_ids = itertools.count(1)

    def signature(self, body: bytes, timestamp: str, secret: Optional[str] = None) -> str:
        base = b"v0:" + timestamp.encode() + b":" + body
        return "v0=" + hmac.new((secret or self.signing_secret).encode(), base, hashlib.sha256).hexdigest()

    def send(self, path: str, body: bytes, content_type: str, timestamp: Optional[str] = None,
             signature: Optional[str] = None, headers: Optional[Dict[str, str]] = None) -> "Reply":
        """POST a signed request; ``signature=""`` leaves both Slack headers out."""
        ts = timestamp or str(int(time.time()))
        slack_headers = {} if signature == "" else {
            "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature or self.signature(body, ts)}
        request = urllib.request.Request(
            f"{self.base_url}{path}", data=body, method="POST",
            headers={"Content-Type": content_type, **slack_headers, **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return Reply(response.status, response.read().decode())
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.read().decode())

    def event(self, event: Dict[str, Any], event_id: Optional[str] = None, **kwargs: Any) -> "Reply":
        envelope = {
            "token": "deprecated-verification-token", "team_id": "T0001", "api_app_id": "A0001", "type": "event_callback",
            "event_id": event_id or f"Ev{next(self._event_ids):08d}{int(time.time() * 1000)}", "event_time": int(time.time()),
            "event": event,
        }
        return self.send("/slack/events", json.dumps(envelope).encode(), "application/json", **kwargs)

    def agent_reply(self, channel: str, thread_ts: str, text: str, user: str = "UAGENT01", **kwargs: Any) -> "Reply":
        ts = f"{time.time():.6f}"
        return self.event({"type": "message", "channel": channel, "user": user, "text": text, "ts": ts,
                           "thread_ts": thread_ts, "channel_type": "channel", "event_ts": ts}, **kwargs)

    def click(self, action_id: str, value: str, channel: str, message_ts: str, user: str = "UAGENT01", **kwargs: Any) -> "Reply":
        payload = {
            "type": "block_actions", "user": {"id": user, "username": "agent.alex", "name": "agent.alex"},
            "api_app_id": "A0001", "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
            "channel": {"id": channel, "name": "support-handoff"}, "message": {"ts": message_ts, "type": "message"},
            "response_url": "https://hooks.slack.example/actions/T0001/1/x", "trigger_id": "1.2.3",
            "actions": [{"type": "button", "action_id": action_id, "block_id": "case_actions", "value": value,
                         "action_ts": f"{time.time():.6f}"}],
        }
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        return self.send("/slack/interactivity", body, "application/x-www-form-urlencoded", **kwargs)


@dataclass
class Reply:
    status: int
    body: str

    def json(self) -> Any:
        return json.loads(self.body)
