"""A web-widget customer for tests/handoff/test_full_loop.py, run under .venv-rasa (python-socketio).

    python socketio_probe.py <rasa_url> <session_id> <message> <expected agent text> <page origin>

Connects like the chat widget (long-polling transport, as the websocket transport of this
python-engineio needs a newer aiohttp than Rasa pins), asks for <session_id> (the server issues its
own conversation id instead unless that is one it signed), sends <message>, prints
``READY <conversation id>`` once the bot has answered, then waits up to 90 s for a pushed ``bot_uttered`` containing the expected
text and prints every message received as JSON on the last line.
"""
from __future__ import annotations

import asyncio
import json
import sys

import socketio


async def main(rasa_url: str, session_id: str, message: str, expected: str, origin: str) -> int:
    client = socketio.AsyncClient(reconnection=False)
    received = []
    answered = asyncio.Event()
    got_expected = asyncio.Event()

    confirmed = []

    @client.on("session_confirm")
    async def _confirm(data):  # noqa: ANN001
        confirmed.append(data)
        await client.emit("user_uttered", {"message": message, "session_id": data})

    @client.on("bot_uttered")
    async def _bot(data):  # noqa: ANN001
        received.append(data)
        answered.set()
        if expected in (data.get("text") or ""):
            got_expected.set()

    # the store page's origin: the channel refuses pages from anywhere else
    await client.connect(rasa_url, socketio_path="/socket.io", transports=["polling"],
                         headers={"Origin": origin})
    await client.emit("session_request", {"session_id": session_id})
    await asyncio.wait_for(answered.wait(), timeout=90)
    await asyncio.sleep(1.0)
    print("READY", str(confirmed[-1]).rsplit(".", 1)[0], flush=True)
    try:
        await asyncio.wait_for(got_expected.wait(), timeout=90)
    except asyncio.TimeoutError:
        pass
    await client.disconnect()
    print(json.dumps(received), flush=True)
    return 0 if got_expected.is_set() else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:6])))
