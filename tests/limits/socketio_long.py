"""A web-widget customer that sends one message of N characters, run under .venv-rasa
(python-socketio), as tests/handoff/socketio_probe.py does.

    python socketio_long.py <rasa_url> <session_id> <characters> [<seconds to wait for a reply>]

Connects, prints READY, waits for a line on stdin, then sends. Prints one JSON line: {"connected": bool, "replies": [...], "error": str|null, "seconds": float}.
"""
from __future__ import annotations

import asyncio
import json
import sys
import time

import socketio


async def main(rasa_url: str, session_id: str, characters: int, wait: float = 60) -> int:
    client = socketio.AsyncClient(reconnection=False)
    replies = []
    answered = asyncio.Event()
    # sent / answered: time.monotonic(), comparable with the test process's clock (Linux)
    result = {"connected": False, "replies": replies, "error": None, "seconds": None, "sent": None, "answered": None,
              "conversation": None}
    started = 0.0

    confirmed = asyncio.Event()
    message = {"message": "a" * characters, "session_id": session_id}

    @client.on("session_confirm")
    async def _confirm(data):  # noqa: ANN001
        # the server issues the conversation id (signed); messages go to that conversation
        result["conversation"] = str(data).rsplit(".", 1)[0]
        message["session_id"] = data
        confirmed.set()

    @client.on("bot_uttered")
    async def _bot(data):  # noqa: ANN001
        replies.append(data)
        result["seconds"] = time.perf_counter() - started
        result["answered"] = result["answered"] or time.monotonic()
        answered.set()

    try:
        await client.connect(rasa_url, socketio_path="/socket.io", transports=["polling"])
        result["connected"] = True
        await client.emit("session_request", {"session_id": session_id})
        await asyncio.wait_for(confirmed.wait(), timeout=60)
        print("READY", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        started = time.perf_counter()
        result["sent"] = time.monotonic()
        await client.emit("user_uttered", message)
        await asyncio.wait_for(answered.wait(), timeout=wait)
        await asyncio.sleep(0.5)
    except Exception as error:  # noqa: BLE001 - reported to the test
        result["error"] = f"{type(error).__name__}: {error}"
    print(json.dumps(result), flush=True)
    try:  # a polling client's disconnect can wait for the long-poll to end: not for long
        await asyncio.wait_for(client.disconnect(), timeout=2)
    except Exception:  # noqa: BLE001
        pass
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]) if len(sys.argv) > 4 else 60)))
