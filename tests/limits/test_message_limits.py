"""Issue 18 against the real stack: a 1 MB message on any channel is answered politely, is never
parsed by Rasa, and does not hold up another conversation; an oversized body gets 413 from
every server.

The other conversation chats over REST throughout. Its normal turn time is measured first on
this machine (loaded as it is), then again while the long message is sent; no turn in that
window may take longer than the slowest normal turn + 100 ms (the issue's bound for the other
conversations).
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import List, Tuple

import pytest

from channels.limits import DEFAULT_MAX_MESSAGE_CHARS, TOO_LONG_REPLY
from tests.channels.conftest import ACCOUNT_SID, AUTH_TOKEN, EMULATOR, TWILIO_NUMBER, TwilioWebhook
from tests.limits import client as http

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
RASA_PY = ROOT / ".venv-rasa" / "bin" / "python"
ONE_MB = 1_000_000
#: python-engineio refuses a Socket.IO packet over 1,000,000 bytes (its max_http_buffer_size)
#: before Rasa sees it, so the widget's "1 MB" message is just under that.
SOCKETIO_CHARS = 990_000
FORM = "application/x-www-form-urlencoded"
STALL_BOUND = 0.100  # seconds beyond a normal turn
from tests.limits.chatter import CHATTER  # noqa: E402


class Chatter:
    """Other customers chatting over REST throughout (tests/limits/chatter.py, its own process)."""

    def __init__(self, rasa: str) -> None:
        self.rasa = rasa
        self.prefix = f"limits-chatter-{uuid.uuid4().hex[:8]}"
        self.turns: List[Tuple[float, float, int, str]] = []  # (start, seconds, status, reply)
        self.process: "subprocess.Popen[str] | None" = None

    def __enter__(self) -> "Chatter":
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.limits.chatter", self.rasa, self.prefix], cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        first = self.process.stdout.readline()  # chatting has begun
        self.turns.append(tuple(json.loads(first)))
        time.sleep(1.0)
        return self

    def __exit__(self, *exc) -> None:
        time.sleep(1.0)
        out, _ = self.process.communicate("", timeout=120)  # stdin closed: the chatter stops
        self.turns += [tuple(json.loads(line)) for line in out.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def normal_turn(stack) -> float:
    """The slowest of 20 ordinary turns of a conversation alone on this machine, in seconds."""
    rasa, prefix = stack.config.rasa_url, f"limits-normal-{uuid.uuid4().hex[:8]}"
    for i in range(4):  # warm-up: first turns load models and caches
        http.rest_message(rasa, f"{prefix}-w{i // 2}", CHATTER[i % 2])
    times = []
    for i in range(20):
        status, answer, seconds = http.rest_message(rasa, f"{prefix}-{i // 2}", CHATTER[i % 2])
        assert status == 200 and http.reply_text(answer), (i, answer)
        times.append(seconds)
    print(f"\nnormal turn: median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms")
    return max(times)


def assert_no_stall(chatter: Chatter, start: float, end: float, normal_turn: float, channel: str) -> None:
    # every turn that started while the long message was in flight, plus the one that was running
    window = [t for t in chatter.turns if t[0] + t[1] >= start and t[0] <= end]
    assert window, f"{channel}: the other conversation got no turn in while the long message was handled"
    for started, seconds, status, reply in window:
        assert status == 200 and reply, f"{channel}: the other conversation got {status} {reply!r}"
        assert seconds <= normal_turn + STALL_BOUND, (
            f"{channel}: a turn of the other conversation took {seconds * 1000:.0f} ms while the long message "
            f"was handled (normal turns up to {normal_turn * 1000:.0f} ms, bound + {STALL_BOUND * 1000:.0f} ms)")
    print(f"{channel}: {len(window)} turns of the other conversation during the long message, slowest "
          f"{max(t[1] for t in window) * 1000:.0f} ms (normal up to {normal_turn * 1000:.0f} ms)")


def no_stall_in_two_attempts(attempt, normal_turn: float, channel: str) -> None:
    """``attempt()`` sends the long message (asserting its answer) and returns (chatter, start, end).
    One slow turn of the other conversation can be this shared machine (seen in full runs: 221 and
    302 ms, then ~20 ms alone), so a stall is measured once more; work that grows with the message
    stalls both attempts."""
    for number in (1, 2):
        chatter, start, end = attempt()
        try:
            assert_no_stall(chatter, start, end, normal_turn, channel)
            return
        except AssertionError:
            if number == 2:
                raise


def user_texts(rasa: str, sender: str) -> List[str]:
    tracker = http.get_json("rasa", f"{rasa}/conversations/{sender}/tracker")
    return [e.get("text") or "" for e in tracker["events"] if e["event"] == "user"]


def test_rest_long_message(stack, normal_turn):
    rasa = stack.config.rasa_url

    def attempt():
        nonlocal sender
        sender = f"limits-rest-{uuid.uuid4().hex[:8]}"
        with Chatter(rasa) as chatter:
            start = time.monotonic()
            status, answer, seconds = http.rest_message(rasa, sender, "a" * ONE_MB)
            end = time.monotonic()
        assert status == 200, answer
        assert http.reply_text(answer) == TOO_LONG_REPLY
        assert user_texts(rasa, sender) == [], "Rasa was asked to parse the long message"
        return chatter, start, end

    sender = ""
    no_stall_in_two_attempts(attempt, normal_turn, "rest")
    # a message at the limit is an ordinary message
    status, answer, _ = http.rest_message(rasa, sender, ("hello " * 400)[:DEFAULT_MAX_MESSAGE_CHARS])
    assert status == 200 and TOO_LONG_REPLY not in http.reply_text(answer)


def socketio_customer(rasa: str, session: str, characters: int, wait: float = 60) -> "subprocess.Popen[str]":
    """A widget customer (tests/limits/socketio_long.py), connected and ready to send."""
    probe = subprocess.Popen([str(RASA_PY), str(Path(__file__).parent / "socketio_long.py"), rasa, session,
                              str(characters), str(wait)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    ready = probe.stdout.readline()
    assert ready.strip() == "READY", (ready, probe.stderr.read()[-2000:] if probe.poll() is not None else "")
    return probe


def send_and_collect(probe: "subprocess.Popen[str]") -> dict:
    out, err = probe.communicate("send\n", timeout=120)
    lines = out.strip().splitlines()
    assert lines, err[-2000:]
    return json.loads(lines[-1])


def test_socketio_long_message(stack, normal_turn):
    rasa = stack.config.rasa_url
    session = f"limits-sio-{uuid.uuid4().hex[:8]}"
    probe = socketio_customer(rasa, session, SOCKETIO_CHARS)
    with Chatter(rasa) as chatter:
        result = send_and_collect(probe)
    assert result["connected"] and not result["error"], result
    assert [r.get("text") for r in result["replies"]] == [TOO_LONG_REPLY]
    # from sending to the reply (the probe's clock is the same monotonic clock)
    assert_no_stall(chatter, result["sent"], result["answered"], normal_turn, "socketio")
    assert result["conversation"].startswith("web-")
    assert user_texts(rasa, result["conversation"]) == []


def test_socketio_packet_over_the_transport_limit_is_refused_without_harm(stack):
    """Over python-engineio's 1,000,000 bytes the packet is refused by the transport (the client
    is disconnected, no reply); the server keeps serving."""
    rasa = stack.config.rasa_url
    session = f"limits-sio-big-{uuid.uuid4().hex[:8]}"
    result = send_and_collect(socketio_customer(rasa, session, 1_100_000, wait=5))
    assert result["replies"] == [], result
    status, answer, _ = http.rest_message(rasa, f"limits-after-{uuid.uuid4().hex[:6]}", "hello")
    assert status == 200 and http.reply_text(answer)


def signed_form(url: str, params: dict) -> Tuple[bytes, dict]:
    """A Twilio webhook body and its signature header, prepared before the timed window."""
    from twilio.request_validator import RequestValidator

    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    return urllib.parse.urlencode(params).encode(), {"X-Twilio-Signature": signature}


def test_twilio_sms_long_message(stack, normal_turn):
    twilio = EMULATOR
    rasa = stack.config.rasa_url
    sender = "+1555" + str(uuid.uuid4().int)[:7]
    params = {"From": sender, "To": TWILIO_NUMBER, "Body": "a" * ONE_MB, "AccountSid": ACCOUNT_SID,
              "MessageSid": "SM" + uuid.uuid4().hex, "NumMedia": "0"}
    url = f"{rasa}/webhooks/twilio_sms/webhook"
    body, signature = signed_form(url, params)
    with Chatter(rasa) as chatter:
        start = time.monotonic()
        status, answer, _ = http.post("twilio", url, body, FORM, headers=signature)
        reply = twilio.wait_for_messages(sender, 1, timeout=60)
        end = time.monotonic()
    body = answer.decode()
    assert status == 200 and "<Response" in body
    assert reply[0].body == TOO_LONG_REPLY
    assert_no_stall(chatter, start, end, normal_turn, "twilio_sms")
    assert user_texts(rasa, sender) == []


def test_twilio_voice_long_speech(stack, normal_turn):
    import xml.etree.ElementTree as ET

    rasa = stack.config.rasa_url
    voice = TwilioWebhook(rasa, "twilio_voice")

    def attempt():
        call_sid = "CA" + uuid.uuid4().hex
        base = {"CallSid": call_sid, "AccountSid": ACCOUNT_SID, "From": "+15555550199", "To": TWILIO_NUMBER,
                "Direction": "inbound"}
        status, body, _ = voice.post("webhook", {**base, "CallStatus": "ringing"})
        assert status == 200
        url = f"{rasa}/webhooks/twilio_voice/gather?silence=0&nomatch=0"
        form, signature = signed_form(url, {**base, "CallStatus": "in-progress", "SpeechResult": "a " * (ONE_MB // 2),
                                            "Confidence": "0.9"})
        with Chatter(rasa) as chatter:
            start = time.monotonic()
            status, answer, _ = http.post("twilio", url, form, FORM, headers=signature)
            end = time.monotonic()
        body = answer.decode()
        assert status == 200, body
        root = ET.fromstring(body)
        said = " ".join(say.text or "" for say in root.iter("Say"))
        assert "too long" in said and root.find("Gather") is not None, said
        assert all(len(t) <= DEFAULT_MAX_MESSAGE_CHARS for t in user_texts(rasa, call_sid))
        return chatter, start, end

    no_stall_in_two_attempts(attempt, normal_turn, "twilio_voice")


@pytest.mark.parametrize("server", ["rasa", "actions", "backend"])
def test_oversized_body_gets_413(stack, server):
    config = stack.config
    url, size = {
        "rasa": (f"{config.rasa_url}/webhooks/rest/webhook", 3_000_000),      # limit 2 MB
        "actions": (config.action_url, 6_000_000),                            # limit 5 MB
        "backend": (f"{config.backend_url}/api/customers/C0001/unlock", 1_500_000),  # limit 1 MB
    }[server]
    body = json.dumps({"sender": "limits-413", "message": "a" * size}).encode()
    status, answer, seconds = http.post_oversized(server, url, body)
    assert status == 413, (status, answer[:300])
    assert b"size limit" in answer, answer[:300]  # Sanic's "Request body exceeds the size limit"
    print(f"\n{server}: 413 {answer[:200]!r} in {seconds * 1000:.0f} ms")
    assert seconds < 10
    # and the server still answers afterwards
    if server == "rasa":
        status, answer, _ = http.rest_message(config.rasa_url, f"limits-413-{uuid.uuid4().hex[:6]}", "hello")
        assert status == 200 and http.reply_text(answer)
