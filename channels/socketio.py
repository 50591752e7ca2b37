"""The web chat widget's Socket.IO channel: Rasa's ``socketio`` channel, repaired and redacting.

Rasa 3.6's channel calls ``sio.enter_room(...)`` without ``await``; in the python-socketio 5
release this project pins, ``AsyncServer.enter_room`` is a coroutine, so with
``session_persistence: true`` the browser never joins its session's room and never receives a
single bot message (Rasa logs "coroutine 'AsyncServer.enter_room' was never awaited"). This
channel is the same protocol, same name (``socketio``), same settings in credentials.yml
(user_message_evt, bot_message_evt, namespace, session_persistence, socketio_path, jwt_key,
jwt_method, metadata_key), with the room joined properly, on every ``session_request`` (so a
reconnect after a dropped connection gets the replies again).

Who may join which conversation: the server issues the conversation id (``web-<32 hex>``) and
hands the widget a signed form of it, bound to the customer's identity token; a ``session_id``
the client invents, or one issued for another customer, starts a new conversation instead. The
identity comes only from the verified token in the connection's ``auth`` (``identity_token``);
identity fields in ``customData`` are dropped (``channels.customer_identity``). Only pages from
``allowed_origins`` may connect.

Card numbers in the customer's text are replaced before Rasa stores the message
(``channels.redacting``).
"""
from __future__ import annotations

import inspect
import json
import logging
import os
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

import rasa.core.channels.channel
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from channels import customer_identity
from channels.limits import limit_length
from channels.redacting import redact_before

logger = logging.getLogger(__name__)


async def _maybe_await(result: Any) -> Any:
    return await result if inspect.isawaitable(result) else result


class WebChatSocketIOInput(SocketIOInput):
    """Socket.IO input for the store page's chat widget."""

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "WebChatSocketIOInput":
        channel = super().from_credentials(credentials)
        channel.allowed_origins = allowed_origins((credentials or {}).get("allowed_origins"))
        return channel

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        handle = limit_length(redact_before(on_new_message))  # too-long messages: channels/limits.py
        origins = getattr(self, "allowed_origins", None) or allowed_origins(None)
        # Browsers do not apply CORS to WebSockets: the origin check here is what stops another
        # site's page from opening a chat in its visitor's name.
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=origins)
        webhook = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        self.sio = sio
        # per connection (sid): the verified identity token claims and the issued conversation id
        identities: Dict[str, Dict[str, Any]] = {}
        sessions: Dict[str, str] = {}

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict]) -> bool:
            auth = auth if isinstance(auth, dict) else {}
            if self.jwt_key:  # Rasa's optional channel-level JWT, kept for compatibility
                token = auth.get("token")
                payload = (
                    rasa.core.channels.channel.decode_bearer_token(token, self.jwt_key, self.jwt_algorithm)
                    if token else None
                )
                if not payload:
                    return False
            claims = customer_identity.verifier().verify(auth.get("identity_token")) if auth.get("identity_token") else None
            if claims:
                identities[sid] = claims
            return True

        @sio.on("disconnect", namespace=self.namespace)
        async def disconnect(sid: Text, *_: Any) -> None:
            identities.pop(sid, None)
            sessions.pop(sid, None)

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Optional[Dict]) -> None:
            data = data if isinstance(data, dict) else {}
            claims = identities.get(sid)
            # the id is ours (signed) and bound to the identity it was issued for; anything else
            # (an invented id, an SMS number, another customer's id) starts a new conversation
            session_id, signed = customer_identity.web_session(data.get("session_id"), (claims or {}).get("sub", ""))
            previous = sessions.get(sid)
            if previous and previous != session_id:
                await _maybe_await(sio.leave_room(sid, previous, namespace=self.namespace))
            sessions[sid] = session_id
            await _maybe_await(sio.enter_room(sid, session_id, namespace=self.namespace))
            await sio.emit("session_confirm", signed, room=sid, namespace=self.namespace)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Dict) -> None:
            if not isinstance(data, dict) or not isinstance(data.get("message", ""), str):
                return
            sender_id = sessions.get(sid)
            if not sender_id:
                logger.warning("socketio: a message before session_request was ignored")
                return
            metadata = data.get(self.metadata_key) or {}
            if isinstance(metadata, str):
                try:
                    metadata = json.loads(metadata)
                except ValueError:
                    metadata = {}
            metadata = customer_identity.client_metadata(metadata)
            claims = identities.get(sid)
            if claims:
                metadata = customer_identity.with_identity(
                    metadata, conversation_id=sender_id, channel=self.name(), customer_id=claims["sub"])
            output = SocketIOOutput(sio, self.bot_message_evt)
            await handle(UserMessage(data.get("message", ""), output, sender_id,
                                     input_channel=self.name(), metadata=metadata))

        return webhook


def allowed_origins(configured: Any) -> List[str]:
    """Origins whose pages may open the chat: credentials.yml ``allowed_origins`` (a list or a
    comma-separated string), else ``CHAT_ALLOWED_ORIGINS``, else the store page (BACKEND_URL)."""
    value = configured or os.environ.get("CHAT_ALLOWED_ORIGINS") or os.environ.get("BACKEND_URL") or "http://127.0.0.1:8000"
    items = value if isinstance(value, list) else str(value).split(",")
    origins: List[str] = []
    for item in items:
        item = str(item).strip().rstrip("/")
        if item:
            origins.append(item)
            if "://127.0.0.1" in item:  # the same page opened as localhost
                origins.append(item.replace("://127.0.0.1", "://localhost"))
    return origins
