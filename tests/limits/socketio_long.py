"""A web-widget customer that sends one message of N characters, run under .venv-rasa
(python-socketio), as tests/handoff/socketio_probe.py does.

    python socketio_long.py <rasa_url> <session_id> <characters>

Prints one JSON line: {"connected": bool, "replies": [...], "error": str|null, "seconds": float}.
"""
from __future__ import annotations

import asyncio
import json
import sys
import time

import socketio


async def main(rasa_url: str, session_id: str, characters: int) -> int:
    client = socketio.AsyncClient(reconnection=False)
    replies = []
    answered = asyncio.Event()
    result = {"connected": False, "replies": replies, "error": None, "seconds": None}
    started = 0.0

    @client.on("session_confirm")
    async def _confirm(data):  # noqa: ANN001
        nonlocal started
        started = time.perf_counter()
        await client.emit("user_uttered", {"message": "a" * characters, "session_id": session_id})

    @client.on("bot_uttered")
    async def _bot(data):  # noqa: ANN001
        replies.append(data)
        result["seconds"] = time.perf_counter() - started
        answered.set()

    try:
        await client.connect(rasa_url, socketio_path="/socket.io", transports=["polling"])
        result["connected"] = True
        await client.emit("session_request", {"session_id": session_id})
        await asyncio.wait_for(answered.wait(), timeout=60)
        await asyncio.sleep(0.5)
    except Exception as error:  # noqa: BLE001 - reported to the test
        result["error"] = f"{type(error).__name__}: {error}"
    finally:
        try:
            await client.disconnect()
        except Exception:  # noqa: BLE001
            pass
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
