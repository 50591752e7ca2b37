"""HTTP endpoints the action server offers besides rasa-sdk's webhook.

Each concern registers its routes here (Slack events, metrics, ...), so the server module stays
the same as features land.
"""
from __future__ import annotations

from sanic import Sanic


def attach(app: Sanic) -> None:
    """Register this project's routes and start-up checks on the action server app."""
    from actions import metrics
    from actions.audit import consumer as audit_consumer

    metrics.attach(app)  # GET /metrics + per-action timing of /webhook
    audit_consumer.attach(app)  # decision trail: Rasa's event stream -> one record per turn
    # Nothing besides rasa-sdk's /webhook, /actions and /health yet.
    return None
