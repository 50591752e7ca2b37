"""Another customer chatting over REST, in its own process (so the test process's work, e.g.
encoding a 1 MB body, cannot delay its timings): one turn after another until stdin closes,
one JSON line per turn: [start (time.monotonic, shared by processes on Linux), seconds, status,
reply text].

    python -m tests.limits.chatter <rasa_url> <conversation prefix>
"""
from __future__ import annotations

import json
import sys
import threading
import time

from tests.limits import client

#: a new conversation every two turns, so no turn depends on a long history (a repeated message
#: would read as frustration and end with a person)
CHATTER = ["hello", "thanks"]


def main(rasa: str, prefix: str) -> int:
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    turn = 0
    while not stop.is_set():
        started = time.monotonic()
        status, answer, seconds = client.rest_message(rasa, f"{prefix}-{turn // 2}", CHATTER[turn % 2], timeout=60)
        text = client.reply_text(answer) if status == 200 else str(answer)
        print(json.dumps([started, seconds, status, text]), flush=True)
        turn += 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
