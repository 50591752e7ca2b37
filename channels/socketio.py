"""The web chat widget's Socket.IO channel: Rasa's ``socketio`` channel, repaired and redacting.

Rasa 3.6's channel calls ``sio.enter_room(...)`` without ``await``; in the python-socketio 5
release this project pins, ``AsyncServer.enter_room`` is a coroutine, so with
``session_persistence: true`` the browser never joins its session's room and never receives a
single bot message (Rasa logs "coroutine 'AsyncServer.enter_room' was never awaited"). This
channel is the same protocol, same name (``socketio``), same settings in credentials.yml
(user_message_evt, bot_message_evt, namespace, session_persistence, socketio_path, jwt_key,
jwt_method, metadata_key), with the room joined properly, on every ``session_request`` (so a
reconnect after a dropped connection gets the replies again).

Card numbers in the customer's text are replaced before Rasa stores the message
(``channels.redacting``).
"""
from __future__ import annotations

import inspect
import json
import logging
import uuid
from typing import Any, Awaitable, Callable, Dict, Optional, Text

import rasa.core.channels.channel
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

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

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        handle = limit_length(redact_before(on_new_message))  # too-long messages: channels/limits.py
        # cors_allowed_origins=[]: Socket.IO's own origin check is off; Rasa's --cors applies.
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=[])
        webhook = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        self.sio = sio

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict]) -> bool:
            if not self.jwt_key:
                return True
            token = (auth or {}).get("token")
            payload = (
                rasa.core.channels.channel.decode_bearer_token(token, self.jwt_key, self.jwt_algorithm)
                if token else None
            )
            return bool(payload)

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Optional[Dict]) -> None:
            data = data if isinstance(data, dict) else {}
            session_id = data.get("session_id") or uuid.uuid4().hex
            if self.session_persistence:
                await _maybe_await(sio.enter_room(sid, session_id, namespace=self.namespace))
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Dict) -> None:
            if not isinstance(data, dict):
                return
            if self.session_persistence:
                sender_id = data.get("session_id")
                if not sender_id:
                    logger.warning("socketio: a message without a session_id was ignored (send session_request first)")
                    return
            else:
                sender_id = sid
            metadata = data.get(self.metadata_key) or {}
            if isinstance(metadata, str):
                metadata = json.loads(metadata)
            output = SocketIOOutput(sio, self.bot_message_evt)
            await handle(UserMessage(data.get("message", ""), output, sender_id,
                                     input_channel=self.name(), metadata=metadata))

        return webhook
