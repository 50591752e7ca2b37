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
    _load_escalation_rules()  # a bad config/escalation_rules.yml stops the server here
    from actions import slack_events

    slack_events.attach(app)  # POST /slack/events, /slack/interactivity; the Slack outbox loop
    # Nothing besides rasa-sdk's /webhook, /actions and /health yet.
    return None


def _load_escalation_rules() -> None:
    """Validate the escalation rules at start-up: a server with broken rules must not run."""
    import logging

    from actions.escalation import RulesFileError, get_rules

    try:
        rules = get_rules()
    except RulesFileError as error:
        logging.getLogger(__name__).critical("invalid escalation rules: %s", error)
        raise SystemExit(f"Cannot start the action server: invalid escalation rules.\n{error}") from None
    logging.getLogger(__name__).info("escalation rules %s: %d rules from %s", rules.version, len(rules.rules), rules.path)
