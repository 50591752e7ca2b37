"""Prometheus metrics of the action server, served on ``GET /metrics``.

- per action: request count by outcome and a latency histogram, measured by a middleware around
  rasa-sdk's ``/webhook`` (the action name is read from the request body, ``next_action``);
- decisions read from the webhook's answers: escalations by rule (a ``SlotSet escalation_rule``),
  handoffs, knowledge answers and refusals (``SlotSet kb_last_refused``);
- backend errors by kind: a logging handler sees every log record of the ``actions`` loggers that
  carries a ``BackendError`` (the backend client has no hook of its own; see docs/audit.md);
- per recorded audit turn (fed by the audit consumer): turns by channel and intent, fallbacks,
  low-confidence messages and the end-to-end bot response time as Rasa timed it.

With several Sanic workers set PROMETHEUS_MULTIPROC_DIR (prometheus-client's multiprocess mode);
``/metrics`` then aggregates every worker.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import time
import zlib
from typing import Any, Dict, Iterable, Optional

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import REGISTRY

logger = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
UNKNOWN_ACTION = "unknown"

ACTION_REQUESTS = Counter(
    "action_server_requests_total", "Action calls from Rasa, by action and outcome", ["action", "outcome"]
)
ACTION_LATENCY = Histogram(
    "action_server_request_duration_seconds", "Time to run an action (webhook call)", ["action"], buckets=LATENCY_BUCKETS
)
ESCALATIONS = Counter("assistant_escalations_total", "Escalation rules that fired", ["rule"])
HANDOFFS = Counter("assistant_handoffs_total", "Conversations handed to a person")
KNOWLEDGE_ANSWERS = Counter("assistant_knowledge_answers_total", "Knowledge answers by outcome", ["outcome"])
KNOWLEDGE_REFUSALS = Counter("assistant_knowledge_refusals_total", "Knowledge questions the bot declined to answer")
BACKEND_ERRORS = Counter("assistant_backend_errors_total", "Failed calls to the company backend", ["kind"])
TURNS = Counter("assistant_turns_total", "Customer turns recorded by the audit", ["channel", "intent"])
FALLBACKS = Counter("assistant_fallbacks_total", "Turns that ended in a fallback", ["channel"])
LOW_CONFIDENCE = Counter("assistant_low_confidence_turns_total", "Turns below the low-confidence threshold", ["channel"])
RESPONSE_TIME = Histogram(
    "assistant_bot_response_seconds", "Customer message to last bot reply (Rasa's clock)", ["channel"], buckets=LATENCY_BUCKETS
)

WEBHOOK_PATH = "/webhook"


def _action_call(request: Any) -> Dict[str, Any]:
    if request.headers.get("Content-Encoding") == "deflate":
        try:
            data = json.loads(zlib.decompress(request.body or b""))
        except (ValueError, zlib.error):
            return {}
    else:
        # Sanic parses the body once and caches it; rasa-sdk's webhook reuses the same parse,
        # so reading the action name here costs no second pass over the whole tracker.
        try:
            data = request.json
        except Exception:  # Sanic raises BadRequest for malformed JSON; the webhook answers it
            return {}
    return data if isinstance(data, dict) else {}


def observe_action_response(action: str, status: int, body: Optional[bytes]) -> None:
    """Count the decisions an action's answer carries (escalation rule, handoff, knowledge outcome)."""
    if status != 200 or not body:
        return
    try:
        result = json.loads(body)
    except ValueError:
        return
    events = result.get("events") if isinstance(result, dict) else None
    for event in events or []:
        if event.get("event") != "slot":
            continue
        name, value = event.get("name"), event.get("value")
        if name == "escalation_rule" and value:
            ESCALATIONS.labels(rule=str(value)).inc()
        elif name == "kb_last_refused" and action == "action_answer_from_knowledge" and value is not None:
            KNOWLEDGE_ANSWERS.labels(outcome="refused" if value else "answered").inc()
            if value:
                KNOWLEDGE_REFUSALS.inc()
    if action == "action_handoff_to_human" and any(e.get("event") == "pause" for e in events or []):
        HANDOFFS.inc()


@functools.lru_cache(maxsize=1)
def _low_confidence_threshold() -> float:
    """config/audit.yml's threshold, read once per process (like the consumer's own settings)."""
    from actions.audit.settings import AuditSettings

    return AuditSettings.load().low_confidence


def observe_records(records: Iterable[Dict[str, Any]]) -> None:
    """Called by the audit consumer with every batch of finished turn records."""
    threshold = _low_confidence_threshold()
    for record in records:
        channel = record.get("channel") or "unknown"
        TURNS.labels(channel=channel, intent=record.get("intent") or "none").inc()
        if record.get("fallback"):
            FALLBACKS.labels(channel=channel).inc()
        confidence = record.get("confidence")
        if confidence is not None and confidence < threshold:
            LOW_CONFIDENCE.labels(channel=channel).inc()
        if record.get("latency_ms") is not None:
            RESPONSE_TIME.labels(channel=channel).observe(record["latency_ms"] / 1000.0)


class BackendErrorCounter(logging.Handler):
    """Counts log records that carry a BackendError (as an argument or as the exception)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from actions.backend_client import BackendError
        except ImportError:
            return
        candidates = list(record.args) if isinstance(record.args, tuple) else []
        if record.exc_info and record.exc_info[1] is not None:
            candidates.append(record.exc_info[1])
        for item in candidates:
            if isinstance(item, BackendError):
                BACKEND_ERRORS.labels(kind=type(item).__name__).inc()
                return
        if record.name == "actions.backend_client" and record.levelno >= logging.WARNING:
            BACKEND_ERRORS.labels(kind="retried").inc()


_handler: Optional[BackendErrorCounter] = None


def install_backend_error_counter() -> None:
    global _handler
    if _handler is None:
        _handler = BackendErrorCounter(level=logging.WARNING)
        logging.getLogger("actions").addHandler(_handler)


def render() -> bytes:
    multiproc_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if multiproc_dir:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def attach(app: Any) -> None:
    """Register the /metrics route and the webhook timing middleware on the action server."""
    from sanic import response

    install_backend_error_counter()

    @app.on_request
    async def _metrics_start(request: Any) -> None:
        if request.path == WEBHOOK_PATH and request.method == "POST":
            request.ctx.metrics_started = time.perf_counter()
            request.ctx.metrics_action = _action_call(request).get("next_action") or UNKNOWN_ACTION

    @app.on_response
    async def _metrics_stop(request: Any, resp: Any) -> None:
        started = getattr(request.ctx, "metrics_started", None)
        if started is None:
            return
        action = request.ctx.metrics_action
        status = getattr(resp, "status", 500)
        outcome = {200: "ok", 400: "rejected", 404: "not_found", 449: "missing_domain"}.get(status, "error")
        if outcome == "not_found":  # names come from the caller: keep the label set bounded
            action = "unregistered"
        ACTION_REQUESTS.labels(action=action, outcome=outcome).inc()
        ACTION_LATENCY.labels(action=action).observe(time.perf_counter() - started)
        try:
            observe_action_response(action, status, getattr(resp, "body", None))
        except Exception:  # noqa: BLE001 - metrics must never break an action
            logger.exception("could not read the answer of %s for metrics", action)

    @app.get("/metrics")
    async def metrics(_request: Any) -> Any:
        return response.raw(render(), content_type=CONTENT_TYPE_LATEST)
