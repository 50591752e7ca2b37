"""A web-widget customer for tests/handoff/test_full_loop.py, run under .venv-rasa (python-socketio).

    python socketio_probe.py <rasa_url> <session_id> <message> <expected agent text>

Connects like the chat widget (session_persistence; long-polling transport, as the websocket
transport of this python-engineio needs a newer aiohttp than Rasa pins), sends <message>, prints ``READY`` once the
bot has answered, then waits up to 90 s for a pushed ``bot_uttered`` containing the expected
text and prints every message received as JSON on the last line.
"""
from __future__ import annotations

import asyncio
import json
import sys

import socketio


async def main(rasa_url: str, session_id: str, message: str, expected: str) -> int:
    client = socketio.AsyncClient(reconnection=False)
    received = []
    answered = asyncio.Event()
    got_expected = asyncio.Event()

    @client.on("session_confirm")
    async def _confirm(data):  # noqa: ANN001
        await client.emit("user_uttered", {"message": message, "session_id": session_id})

    @client.on("bot_uttered")
    async def _bot(data):  # noqa: ANN001
        received.append(data)
        answered.set()
        if expected in (data.get("text") or ""):
            got_expected.set()

    await client.connect(rasa_url, socketio_path="/socket.io", transports=["polling"])
    await client.emit("session_request", {"session_id": session_id})
    await asyncio.wait_for(answered.wait(), timeout=90)
    await asyncio.sleep(1.0)
    print("READY", flush=True)
    try:
        await asyncio.wait_for(got_expected.wait(), timeout=90)
    except asyncio.TimeoutError:
        pass
    await client.disconnect()
    print(json.dumps(received), flush=True)
    return 0 if got_expected.is_set() else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:5])))
