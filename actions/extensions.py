"""HTTP endpoints the action server offers besides rasa-sdk's webhook.

Each concern registers its routes here (Slack events, metrics, ...), so the server module stays
the same as features land.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Type

from sanic import Sanic


def attach(app: Sanic) -> None:
    """Register this project's routes and start-up checks on the action server app."""
    from actions import metrics
    from actions.audit import consumer as audit_consumer

    metrics.attach(app)  # GET /metrics + per-action timing of /webhook
    audit_consumer.attach(app)  # decision trail: Rasa's event stream -> one record per turn
    _load_intent_catalog()  # a bad config/intents.yml stops the server here
    _load_escalation_rules()  # a bad config/escalation_rules.yml stops the server here
    from actions import slack_events

    slack_events.attach(app)  # POST /slack/events, /slack/interactivity; the Slack outbox loop
    app.register_listener(_warm_up_knowledge, "after_server_start")


async def _warm_up_knowledge(app: Sanic) -> None:
    """Load the embedding model and the index in the background right after start-up, so the
    first customer question does not wait for them (the server answers health checks meanwhile)."""
    from actions.knowledge import answer

    async def warm() -> None:
        try:
            await answer.warm_up()
            logging.getLogger(__name__).info("knowledge retriever warmed up")
        except Exception:  # the knowledge action reports its own errors per question
            logging.getLogger(__name__).exception("knowledge warm-up failed; questions will retry")

    app.add_task(warm())


def _loaded_or_exit(what: str, load: Callable[[], Any], error_type: Type[Exception]) -> Any:
    """A configuration file the server cannot run without, validated at start-up: a broken one
    stops the server here with the file's own error message."""
    try:
        return load()
    except error_type as error:
        logging.getLogger(__name__).critical("invalid %s: %s", what, error)
        raise SystemExit(f"Cannot start the action server: invalid {what}.\n{error}") from None


def _load_escalation_rules() -> None:
    """Validate the escalation rules at start-up: a server with broken rules must not run."""
    from actions.escalation import RulesFileError, get_rules

    rules = _loaded_or_exit("escalation rules", get_rules, RulesFileError)
    logging.getLogger(__name__).info("escalation rules %s: %d rules from %s", rules.version, len(rules.rules), rules.path)


def _load_intent_catalog() -> None:
    """Validate the intent catalog at start-up: triage, forms and handoffs read it on every turn."""
    from actions.intent_catalog import IntentCatalogError, get_catalog

    catalog = _loaded_or_exit("intent catalog", get_catalog, IntentCatalogError)
    logging.getLogger(__name__).info("intent catalog: %d intents from %s", len(catalog), catalog.path)
