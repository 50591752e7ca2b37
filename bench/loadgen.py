"""The load generator: asyncio + aiohttp over Rasa's REST channel, the same for both bots.

Every conversation has a fresh sender id and, like a customer's browser or phone, its own HTTP
connection, kept for all its turns (one shared pool for all conversations would hand each turn to
whichever connection is free, which no set of customers does). ``concurrent`` runs N
conversations at a time (N workers taking conversations from a queue) and measures each turn
from request to full reply;
throughput is customer messages answered per second of wall time. ``long_conversation`` sends
one conversation turn after turn and records each turn's latency.

The clients run on the same 2 cores as the servers they measure, so they should take as little
of them as they can: with aiohttp's client the generator takes 0.6 ms of CPU a turn at 10
concurrent, with httpx's it took 3.2 ms (bench.cpu), CPU the servers of both bots then have back.

A handoff pauses a conversation until a person hands it back; the generator plays that person:
it appends what the action server's "Resolve" appends (``actions/handoff.resolve``: resume, the
escalation slots reset, the hand-back message, ``action_listen``) through Rasa's
``POST /conversations/<id>/tracker/events``, not timed, so the conversation goes on with the bot.
"""
from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import aiohttp

from bench.conversations import Turn


@dataclass
class TurnResult:
    conversation: int
    index: int  # 1-based turn number within its conversation
    kind: str
    seconds: float
    ok: bool
    replies: int = 0


@dataclass
class RunResult:
    concurrency: int
    wall_seconds: float
    turns: List[TurnResult] = field(default_factory=list)
    handoffs_resumed: int = 0

    @property
    def ok_turns(self) -> List[TurnResult]:
        return [t for t in self.turns if t.ok]

    @property
    def errors(self) -> int:
        return sum(1 for t in self.turns if not t.ok)

    @property
    def throughput(self) -> float:
        return len(self.ok_turns) / self.wall_seconds if self.wall_seconds else 0.0


def _slot(name: str, value: Any) -> Dict[str, Any]:
    return {"event": "slot", "name": name, "value": value}


AGENT_HAND_BACK: List[Dict[str, Any]] = [
    {"event": "resume"},
    _slot("escalation_rule", None),
    _slot("escalation_reason", None),
    _slot("frustration", 0.0),
    _slot("kb_failed_count", 0.0),
    _slot("handoff_case_id", None),
    {"event": "bot", "text": "You're back with Brightcart's virtual assistant.", "metadata": {"handoff_source": "system"}},
    {"event": "action", "name": "action_listen"},
]


class Bot:
    """One bot's REST endpoint, plus what its handoff replies look like."""

    def __init__(self, base_url: str, handoff_texts: Sequence[str] = (), timeout: float = 120.0,
                 api_token: Optional[str] = None, identity_secret: Optional[str] = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.handoff_texts = tuple(t[:40] for t in handoff_texts if t)
        self.timeout = timeout
        self.api_token = api_token  # Rasa's HTTP API (resume, paused)
        self.identity_secret = identity_secret  # signs a signed-in customer's identity token
        self._tokens: Dict[str, str] = {}

    def _identity_header(self, metadata: Optional[Dict[str, Any]]) -> Dict[str, str]:
        """A turn of a signed-in customer carries their identity token, as the store's pages do."""
        customer = (metadata or {}).get("customer_id")
        if not customer or not self.identity_secret:
            return {}
        if customer not in self._tokens:
            import jwt

            now = int(time.time())
            self._tokens[customer] = jwt.encode({"sub": customer, "aud": "brightcart-assistant", "iat": now, "exp": now + 3600},
                                                self.identity_secret, algorithm="HS256")
        return {"Authorization": f"Bearer {self._tokens[customer]}"}

    def _api_params(self, **params: str) -> Dict[str, str]:
        return {**params, "token": self.api_token} if self.api_token else params

    def client(self, concurrency: int) -> aiohttp.ClientSession:
        """A client with at most ``concurrency`` connections, kept open between requests."""
        connector = aiohttp.TCPConnector(limit=concurrency)
        return aiohttp.ClientSession(base_url=self.base_url + "/", connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=self.timeout))

    async def send(self, client: aiohttp.ClientSession, sender: str, turn: Turn) -> tuple[float, bool, List[Dict[str, Any]]]:
        body: Dict[str, Any] = {"sender": sender, "message": turn.text}
        headers = self._identity_header(turn.metadata)
        started = time.perf_counter()
        try:
            async with client.post("webhooks/rest/webhook", json=body, headers=headers) as response:
                payload = await response.read()
                seconds = time.perf_counter() - started
                if response.status != 200:
                    return seconds, False, []
            return seconds, True, json.loads(payload)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            return time.perf_counter() - started, False, []

    def handed_off(self, replies: List[Dict[str, Any]]) -> bool:
        return any(str(r.get("text") or "").startswith(self.handoff_texts) for r in replies) if self.handoff_texts else False

    async def resume(self, client: aiohttp.ClientSession, sender: str) -> None:
        async with client.post(f"conversations/{sender}/tracker/events", json=AGENT_HAND_BACK, params=self._api_params()) as response:
            response.raise_for_status()

    async def paused(self, client: aiohttp.ClientSession, sender: str) -> bool:
        async with client.get(f"conversations/{sender}/tracker", params=self._api_params(include_events="NONE")) as response:
            return bool(response.status == 200 and (await response.json()).get("paused"))


async def _conversation(bot: Bot, client: aiohttp.ClientSession, number: int, turns: Sequence[Turn], result: RunResult,
                        prefix: str, check_paused: bool = False) -> None:
    sender = f"{prefix}-{number}-{uuid.uuid4().hex[:8]}"
    for index, turn in enumerate(turns, start=1):
        seconds, ok, replies = await bot.send(client, sender, turn)
        result.turns.append(TurnResult(number, index, turn.kind, seconds, ok, len(replies)))
        if bot.handed_off(replies) or (check_paused and await bot.paused(client, sender)):
            await bot.resume(client, sender)
            result.handoffs_resumed += 1


async def concurrent(bot: Bot, conversations: Sequence[Sequence[Turn]], concurrency: int, prefix: str = "bench") -> RunResult:
    """Run ``conversations`` with ``concurrency`` of them in flight at any time."""
    queue: asyncio.Queue = asyncio.Queue()
    for number, turns in enumerate(conversations):
        queue.put_nowait((number, turns))
    result = RunResult(concurrency=concurrency, wall_seconds=0.0)

    async def worker() -> None:
        while True:
            try:
                number, turns = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            # a conversation is one customer: its own HTTP connection, kept for its turns
            async with bot.client(1) as client:
                await _conversation(bot, client, number, turns, result, prefix)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.wall_seconds = time.perf_counter() - started
    return result


async def long_conversation(bot: Bot, turns: Sequence[Turn], prefix: str = "long") -> RunResult:
    """One conversation, turn after turn; checks after each turn whether it was handed off."""
    result = RunResult(concurrency=1, wall_seconds=0.0)
    async with bot.client(1) as client:
        started = time.perf_counter()
        await _conversation(bot, client, 0, turns, result, prefix, check_paused=bool(bot.handoff_texts))
        result.wall_seconds = time.perf_counter() - started
    return result


def percentile(values: Sequence[float], q: float) -> Optional[float]:
    """Linear-interpolated percentile (q in 0..100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(result: RunResult, kind: Optional[str] = None) -> Dict[str, Any]:
    seconds = [t.seconds for t in result.ok_turns if kind is None or t.kind == kind]
    ms = lambda v: round(v * 1000, 1) if v is not None else None  # noqa: E731
    return {
        "turns": len(seconds),
        "errors": result.errors if kind is None else sum(1 for t in result.turns if not t.ok and t.kind == kind),
        "throughput_msg_s": round(result.throughput, 2) if kind is None else None,
        "wall_s": round(result.wall_seconds, 2),
        "p50_ms": ms(percentile(seconds, 50)),
        "p95_ms": ms(percentile(seconds, 95)),
        "p99_ms": ms(percentile(seconds, 99)),
        "mean_ms": ms(sum(seconds) / len(seconds)) if seconds else None,
    }
