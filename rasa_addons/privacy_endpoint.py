"""Erasure and retention inside the Rasa server: ``POST /webhooks/privacy/erase`` and ``/retention``.

Registered in credentials.yml like a channel (``rasa_addons.privacy_endpoint.PrivacyEndpoint``),
because a channel's blueprint runs in Rasa's own process with Rasa's agent at hand. That is the
point: a conversation is deleted

- **under Rasa's conversation lock** (``agent.lock_store.lock(sender_id)``, the lock every turn
  and every ``/conversations/<id>/tracker/events`` call holds; Redis in production, so every
  replica respects it). A turn that is running finishes and saves first, then its rows are
  deleted; a turn that starts later finds nothing. Deleting the rows from outside Rasa instead
  races with a running turn: ``save`` stores the events Rasa does not find in the database, and
  after a delete that is all of them - the conversation would come back.
- **with Rasa's in-memory copies dropped**: the session cache of
  ``rasa_addons.sqlite_stores.SQLiteTrackerStore``, the per-conversation memories of
  ``action_call`` and ``dialogue_states``, and the in-memory tracker store's dict.

Rasa 3.6's HTTP API has no delete (``PUT /conversations/<id>/tracker/events`` with no events
stores nothing: the SQL store only ever appends), hence this endpoint.

Both endpoints need ``Authorization: Bearer <token>``: ``PRIVACY_API_TOKEN``, or
``RASA_API_TOKEN`` (what the action server already sends Rasa) when that is not set; compared
with ``hmac.compare_digest``. 401 without it or with a wrong one; 503 if neither is configured.

    POST /webhooks/privacy/erase      {"customer_id": "C0042", "phones": ["+1555..."],
                                       "conversation_ids": ["..."]}
      -> {"conversation_ids": [...], "counts": {"tracker_events": n, "broker_events": n}}
    POST /webhooks/privacy/retention  {"before": <epoch seconds>}
      -> {"conversations": n, "counts": {"tracker_events": n, "broker_events": n}}
"""
from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from actions.privacy import sqlstores
from common.credentials import bearer, matches

logger = logging.getLogger(__name__)


def api_token() -> str:
    return (os.environ.get("PRIVACY_API_TOKEN") or os.environ.get("RASA_API_TOKEN") or "").strip()


def refuse(request: Request) -> Optional[HTTPResponse]:
    """None when the request carries the token, else the response refusing it."""
    expected = api_token()
    if not expected:
        return response.json({"error": "privacy endpoint disabled: set PRIVACY_API_TOKEN or RASA_API_TOKEN"}, status=503)
    if not matches(bearer(request.headers.get("Authorization")), expected):
        return response.json({"error": "unauthorized"}, status=401)
    return None


def _strings(body: Dict[str, Any], key: str) -> Optional[List[str]]:
    """The non-empty strings listed under ``key`` (none when absent), or None when it is not a list of strings."""
    value = body.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return None
    return [item for item in value if item]


async def _authorised(request: Request, what: str, work: Callable[[Dict[str, Any]], Awaitable[Any]]) -> HTTPResponse:
    """Both routes: the token first, then the work on the JSON body; a failure is reported to the
    caller (which retries), a result is answered as JSON."""
    refused = refuse(request)
    if refused is not None:
        return refused
    body = request.json if isinstance(request.json, dict) else {}
    try:
        result = await work(body)
    except Exception as error:  # noqa: BLE001 - reported to the caller, which retries
        logger.exception("%s failed", what)
        return response.json({"error": f"{what} failed: {type(error).__name__}"}, status=500)
    return result if isinstance(result, HTTPResponse) else response.json(result)


def _inner(store: Any) -> Any:
    """The tracker store itself (Rasa wraps it in an AwaitableTrackerStore)."""
    return getattr(store, "_tracker_store", store)


def _forget_in_memory(store: Any, sender_id: str) -> None:
    cache = getattr(store, "_cache", None)
    if isinstance(cache, dict):
        cache.pop(sender_id, None)
    memory = getattr(store, "store", None)  # InMemoryTrackerStore
    if isinstance(memory, dict):
        memory.pop(sender_id, None)
    try:
        from rasa_addons import action_call, dialogue_states

        action_call._latest_sent.pop(sender_id, None)
        for key in [k for k in dialogue_states._cursors if k and k[0] == sender_id]:
            dialogue_states._cursors.pop(key, None)
    except Exception:  # noqa: BLE001 - memories of optimisations; never block an erasure
        logger.debug("could not clear the per-conversation memories", exc_info=True)


class _Stores:
    """The SQL tracker store and SQL event broker behind Rasa's agent (either may be absent)."""

    def __init__(self, agent: Any) -> None:
        self.agent = agent
        self.tracker_store = _inner(agent.tracker_store)
        broker = getattr(self.tracker_store, "event_broker", None) or getattr(agent.tracker_store, "event_broker", None)
        self.tracker_engine = getattr(self.tracker_store, "engine", None)
        self.broker_engine = getattr(broker, "engine", None)
        self.broker_kind = type(broker).__name__ if broker is not None else None

    def tracker(self, work: Callable[[sqlstores.Sql], Any]) -> Any:
        return self._run(self.tracker_engine, work)

    def broker(self, work: Callable[[sqlstores.Sql], Any]) -> Any:
        return self._run(self.broker_engine, work)

    @staticmethod
    def _run(engine: Any, work: Callable[[sqlstores.Sql], Any]) -> Any:
        if engine is None:
            return None
        with engine.begin() as connection:  # one transaction, committed on success
            return work(sqlstores.Sql(connection, engine.dialect.name))


async def erase(agent: Any, customer_id: Optional[str], phones: List[str], conversation_ids: List[str]) -> Dict[str, Any]:
    stores = _Stores(agent)
    senders: Set[str] = {c for c in conversation_ids if c}
    if stores.tracker_engine is None and not hasattr(stores.tracker_store, "store"):
        raise RuntimeError(f"tracker store {type(stores.tracker_store).__name__} cannot be erased from here")
    # the searches read whole tables (LIKE on the JSON): in a thread, so Rasa keeps answering meanwhile
    senders |= await asyncio.to_thread(stores.tracker, lambda db: sqlstores.tracker_conversations(db, customer_id, phones)) or set()
    senders |= await asyncio.to_thread(stores.broker, lambda db: sqlstores.broker_conversations(db, customer_id, phones)) or set()
    counts = {"tracker_events": 0, "broker_events": 0}
    for sender in sorted(senders):
        # the conversation's lock: a running turn saves first, the next one finds nothing
        async with agent.lock_store.lock(sender):
            counts["tracker_events"] += stores.tracker(lambda db: sqlstores.delete_tracker_conversations(db, [sender])) or 0
            counts["broker_events"] += stores.broker(lambda db: sqlstores.delete_broker_conversations(db, [sender])) or 0
            _forget_in_memory(stores.tracker_store, sender)
    return {"conversation_ids": sorted(senders), "counts": counts,
            "broker": stores.broker_kind, "broker_erased": stores.broker_engine is not None}


async def retention(agent: Any, before: float) -> Dict[str, Any]:
    """The scans (every conversation's latest event, every broker row) run in a thread and the
    broker in batches of their own transaction, so Rasa keeps answering customers meanwhile."""
    stores = _Stores(agent)
    expired = await asyncio.to_thread(stores.tracker, lambda db: sqlstores.expired_conversations(db, before)) or []
    counts = {"tracker_events": 0, "broker_events": 0}
    removed = 0
    for sender in expired:
        async with agent.lock_store.lock(sender):
            def _delete(db: sqlstores.Sql) -> int:
                # checked again under the lock: a customer who came back meanwhile keeps the conversation
                return sqlstores.delete_tracker_conversations(db, [sender]) if sqlstores.still_expired(db, sender, before) else 0

            deleted = stores.tracker(_delete) or 0
            if deleted:
                removed += 1
                counts["tracker_events"] += deleted
                _forget_in_memory(stores.tracker_store, sender)
    if stores.broker_engine is not None:
        top = stores.broker(sqlstores.broker_top_id)
        after: Optional[int] = 0
        while after is not None:
            start = after
            removed_now, after = await asyncio.to_thread(
                stores.broker, lambda db: sqlstores.delete_broker_batch(db, before, start, top))
            counts["broker_events"] += removed_now
    return {"conversations": removed, "counts": counts, "broker": stores.broker_kind,
            "broker_erased": stores.broker_engine is not None}


class PrivacyEndpoint(InputChannel):
    """Not a channel customers use: the erasure and retention endpoints (module docstring)."""

    @classmethod
    def name(cls) -> Text:
        return "privacy"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("privacy_endpoint", __name__)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/erase", methods=["POST"])
        async def erase_route(request: Request) -> HTTPResponse:
            async def work(body: Dict[str, Any]) -> Any:
                customer_id = str(body.get("customer_id") or "").strip() or None
                phones, conversation_ids = _strings(body, "phones"), _strings(body, "conversation_ids")
                if phones is None or conversation_ids is None:
                    return response.json({"error": "'phones' and 'conversation_ids' must be lists of strings"}, status=400)
                if not customer_id and not phones and not conversation_ids:
                    return response.json({"error": "nothing to erase: give customer_id, phones or conversation_ids"}, status=400)
                result = await erase(request.app.ctx.agent, customer_id, phones, conversation_ids)
                logger.info("privacy: erased %d conversation(s) (%s)", len(result["conversation_ids"]), result["counts"])
                return result

            return await _authorised(request, "erasure", work)

        @bp.route("/retention", methods=["POST"])
        async def retention_route(request: Request) -> HTTPResponse:
            async def work(body: Dict[str, Any]) -> Any:
                try:
                    before = float(body["before"])
                except (KeyError, TypeError, ValueError):
                    return response.json({"error": "'before' (epoch seconds) is required"}, status=400)
                result = await retention(request.app.ctx.agent, before)
                logger.info("privacy: retention removed %d conversation(s) (%s)", result["conversations"], result["counts"])
                return result

            return await _authorised(request, "retention", work)

        return bp
