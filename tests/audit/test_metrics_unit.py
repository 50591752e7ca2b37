"""The metrics read from action answers and from log records, without a server."""
from __future__ import annotations

import json
import logging

from prometheus_client import REGISTRY

from actions import metrics
from actions.backend_client import BackendUnavailable, NotFound


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_decisions_are_counted_from_the_webhook_answer() -> None:
    before = (value("assistant_escalations_total", rule="legal_threat"), value("assistant_knowledge_refusals_total"),
              value("assistant_handoffs_total"))
    answer = {"events": [{"event": "slot", "name": "escalation_rule", "value": "legal_threat"},
                         {"event": "slot", "name": "kb_last_refused", "value": True}], "responses": []}
    metrics.observe_action_response("action_answer_from_knowledge", 200, json.dumps(answer).encode())
    handoff = {"events": [{"event": "slot", "name": "handoff_ticket_id", "value": "T-1"}, {"event": "pause"}]}
    metrics.observe_action_response("action_handoff_to_human", 200, json.dumps(handoff).encode())
    metrics.observe_action_response("action_handoff_to_human", 500, b"{}")  # failed calls decide nothing
    after = (value("assistant_escalations_total", rule="legal_threat"), value("assistant_knowledge_refusals_total"),
             value("assistant_handoffs_total"))
    assert [b - a for a, b in zip(before, after)] == [1, 1, 1]


def test_backend_errors_are_counted_from_log_records() -> None:
    metrics.install_backend_error_counter()
    logger = logging.getLogger("actions.orders")
    before = value("assistant_backend_errors_total", kind="BackendUnavailable"), value("assistant_backend_errors_total", kind="NotFound")
    logger.error("order lookup failed: %s", BackendUnavailable("down"))
    try:
        raise NotFound("no such order")
    except NotFound:
        logger.warning("not found", exc_info=True)
    logger.error("something else: %s", "text")  # not a backend error
    after = value("assistant_backend_errors_total", kind="BackendUnavailable"), value("assistant_backend_errors_total", kind="NotFound")
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)
