"""Validate action-server answers against Rasa's schema without re-checking the schema each time.

Rasa 3.6 checks every answer of the action server with ``jsonschema.validate(answer, schema)``
(``RemoteAction._validate_action_result``). ``validate`` first checks the *schema* itself against
the JSON Schema meta-schema, then builds a validator, then checks the answer. The schema is a
constant of Rasa's, so the first two steps repeat the same work on every call: profiled at 8-9 %
of the Rasa server's CPU under load with jsonschema 3.2.0 (and about half of it with 4.17, whose
2020-12 meta-schema is far slower to check; docs/performance.md).

``install()`` replaces that method with one that checks the schema once, keeps the validator, and
validates each answer exactly as before: the same errors (jsonschema's ``best_match``), with the
same explanation appended to the message, raised the same way.

Valid answers take a shorter path first. Each event must match exactly one of the event schema's
``oneOf`` branches, and the branches are told apart by the constant ``event`` name, so an event
matches the ``oneOf`` exactly when it matches the base schema and the one branch named by its
``event``. Checking that branch alone, instead of all 23 (jsonschema tries every branch to prove
that only one matches), accepts the same answers; anything the short path does not accept goes
through the full validator, which decides and produces Rasa's error. The events Rasa's HTTP API
appends to a conversation (``POST /conversations/<id>/tracker/events``) are checked against the
same event schema, with the same short path first. It is installed by the patch
layer (rasa_addons/patches.py, patch ``action_validation``), never on import; tests/performance/test_action_validation.py checks both behaviours.
"""
from __future__ import annotations

import functools
from typing import Any, Dict, Text


@functools.lru_cache(maxsize=None)
def _validator() -> Any:
    from jsonschema import validators
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validators.validator_for(schema)
    cls.check_schema(schema)  # once per process instead of once per action call
    return cls(schema)


@functools.lru_cache(maxsize=None)
def _event_validators() -> Dict[Text, Any]:
    """One validator per event name: the event schema without ``oneOf``, plus that name's branch."""
    from jsonschema import validators
    from rasa.shared.utils.schemas.events import EVENT_SCHEMA

    base = {key: value for key, value in EVENT_SCHEMA.items() if key != "oneOf"}
    by_name: Dict[Text, Any] = {}
    for branch in EVENT_SCHEMA["oneOf"]:
        name = branch["properties"]["event"]["const"]
        schema = {"allOf": [base, branch]}
        by_name[name] = validators.validator_for(schema)(schema)
    return by_name


def _accepted_quickly(result: Any) -> bool:
    """True only for answers the full schema accepts (see the module docstring)."""
    if type(result) is not dict:
        return False
    responses = result.get("responses", [])
    if type(responses) is not list or any(type(r) is not dict for r in responses):
        return False
    events = result.get("events", [])
    if type(events) is not list:
        return False
    by_name = _event_validators()
    for event in events:
        if type(event) is not dict:
            return False
        name = event.get("event")
        validator = by_name.get(name) if type(name) is str else None
        if validator is None or not validator.is_valid(event):
            return False
    return True


def validate_action_result(self: Any, result: Dict[Text, Any]) -> bool:
    """``RemoteAction._validate_action_result`` with the validator built once."""
    from jsonschema import exceptions
    from rasa.shared.constants import DOCS_BASE_URL

    if _accepted_quickly(result):
        return True
    error = exceptions.best_match(_validator().iter_errors(result))
    if error is not None:
        error.message += (
            f". Failed to validate Action server response from API, "
            f"make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error
    return True


def _events_accepted_quickly(events: Any) -> bool:
    """True only for event lists ``EVENTS_SCHEMA`` accepts (each event as in ``_accepted_quickly``)."""
    return type(events) is list and _accepted_quickly({"events": events})


_rasa_validate_events_in_request_body: Any = None


def validate_events_in_request_body(request: Any) -> None:
    """``rasa.server.validate_events_in_request_body`` (``POST /conversations/<id>/tracker/events``,
    which an agent's hand-back uses) with the short path for valid events; anything else goes
    through Rasa's function, which answers 400 with jsonschema's error as before."""
    events = request.json if isinstance(request.json, list) else [request.json]
    if _events_accepted_quickly(events):
        return
    _rasa_validate_events_in_request_body(request)


def install() -> None:
    global _rasa_validate_events_in_request_body
    import rasa.server
    from rasa.core.actions.action import RemoteAction

    RemoteAction._validate_action_result = validate_action_result
    if _rasa_validate_events_in_request_body is None:
        _rasa_validate_events_in_request_body = rasa.server.validate_events_in_request_body
        rasa.server.validate_events_in_request_body = validate_events_in_request_body
