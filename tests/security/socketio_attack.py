"""Socket.IO session probes for tests/security/test_socketio_sessions.py, run under .venv-rasa
(which has python-socketio and aiohttp).

    python socketio_attack.py <rasa_url> <store origin> <Jane's identity token> <Rasa API token>

Prints one JSON object with what each client saw:
* ``jane``: connects from the store page with Jane's token and asks about her order;
* ``hijacker``: connects without a token and asks for Jane's signed session id, an SMS number
  and Jane's bare conversation id, then waits to see whether anything meant for Jane arrives
  (a message pushed to Jane's conversation through Rasa's API, as an agent's reply is);
* ``evil_origin``: whether a page from another site could connect at all;
* ``custom_data``: a guest who puts ``customer_id`` into customData.
"""
from __future__ import annotations

import asyncio
import json
import sys
from typing import Any, Dict, List, Optional

import aiohttp
import socketio


class Client:
    def __init__(self, name: str) -> None:
        self.name = name
        self.sio = socketio.AsyncClient(reconnection=False)
        self.confirmed: List[str] = []
        self.received: List[Dict[str, Any]] = []
        self.sio.on("session_confirm", self._confirm)
        self.sio.on("bot_uttered", self._bot)
        self._confirm_event = asyncio.Event()

    async def _confirm(self, data: Any) -> None:
        self.confirmed.append(data)
        self._confirm_event.set()

    async def _bot(self, data: Any) -> None:
        self.received.append(data)

    async def connect(self, url: str, origin: str, token: Optional[str] = None) -> bool:
        try:
            await self.sio.connect(url, socketio_path="/socket.io", transports=["polling"], headers={"Origin": origin},
                                   auth={"identity_token": token} if token else {}, wait_timeout=10)
            return True
        except socketio.exceptions.ConnectionError:
            return False

    async def session(self, requested: Optional[str]) -> str:
        self._confirm_event.clear()
        await self.sio.emit("session_request", {"session_id": requested})
        await asyncio.wait_for(self._confirm_event.wait(), timeout=30)
        return self.confirmed[-1]

    async def say(self, text: str, custom: Optional[Dict[str, Any]] = None, wait: float = 60) -> List[Dict[str, Any]]:
        before = len(self.received)
        message: Dict[str, Any] = {"message": text, "session_id": self.confirmed[-1]}
        if custom:
            message["customData"] = custom
        await self.sio.emit("user_uttered", message)
        for _ in range(int(wait * 10)):
            await asyncio.sleep(0.1)
            if len(self.received) > before:
                await asyncio.sleep(1.0)  # the rest of this turn's messages
                break
        return self.received[before:]


async def main(rasa_url: str, origin: str, jane_token: str, api_token: str) -> Dict[str, Any]:
    result: Dict[str, Any] = {}
    jane = Client("jane")
    assert await jane.connect(rasa_url, origin, jane_token)
    jane_signed = await jane.session(None)
    jane_id = jane_signed.rsplit(".", 1)[0]
    replies = await jane.say("where is my order BC-100002")
    result["jane"] = {"signed": jane_signed, "conversation": jane_id, "replies": [r.get("text") for r in replies]}

    hijacker = Client("hijacker")
    assert await hijacker.connect(rasa_url, origin)
    asked = {"jane_signed": jane_signed, "sms_number": "+15555550101", "jane_bare": jane_id, "invented": "web-" + "1" * 32}
    got = {}
    for label, requested in asked.items():
        got[label] = (await hijacker.session(requested)).rsplit(".", 1)[0]
    # a message for Jane's conversation, pushed the way an agent's reply is
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{rasa_url}/conversations/{jane_id}/execute?output_channel=socketio&token={api_token}",
                             json={"name": "utter_anything_else"}) as response:
            result["push_status"] = response.status
    await asyncio.sleep(3)
    result["hijacker"] = {"got_ids": got, "received": [r.get("text") for r in hijacker.received]}
    result["jane_after_push"] = [r.get("text") for r in jane.received]

    evil = Client("evil")
    result["evil_origin_connected"] = await evil.connect(rasa_url, "https://evil.example", jane_token)

    guest = Client("guest")
    assert await guest.connect(rasa_url, origin)
    await guest.session(None)
    replies = await guest.say("where is my order BC-100002", custom={"customer_id": "C0001"})
    result["custom_data"] = {"conversation": guest.confirmed[-1].rsplit(".", 1)[0], "replies": [r.get("text") for r in replies]}

    # malformed events: ignored, the connection and the server keep working
    for event, data in (("session_request", 42), ("session_request", ["x"]), ("user_uttered", "text"),
                        ("user_uttered", {"message": 5, "session_id": guest.confirmed[-1]}), ("user_uttered", None),
                        ("user_uttered", {"message": "hi", "customData": "{not json"})):
        await guest.sio.emit(event, data)
    replies = await guest.say("hello")
    result["after_garbage"] = [r.get("text") for r in replies]

    for client in (jane, hijacker, guest):
        await client.sio.disconnect()
    if result["evil_origin_connected"]:
        await evil.sio.disconnect()
    return result


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(*sys.argv[1:5]))), flush=True)
