"""The domain sent to the action server once, and after that its digest (rasa-sdk's protocol).

Rasa 3.6 puts the whole domain (11.5 kB of JSON here) into every action-server call, 2-4 a turn:
written by Rasa, sent, and parsed again by the action server each time, for a value that changes
only with a new model. rasa-sdk (3.21 here) keeps the latest domain it received together with a
``domain_digest`` sent next to it; a later call may carry the digest alone, and when the server
does not hold that domain (a restart, another worker, another model) it answers 449 and the call
is repeated with the domain, as Rasa Pro's action client does.

Switched on per endpoint in endpoints.yml (``domain_digest: true`` under ``action_endpoint``), as
an action server on a rasa-sdk without the protocol would run the action with an empty domain.
With it on, each call carries ``domain_digest`` (SHA-256 of the domain's JSON with sorted keys,
computed once per domain object) and the domain itself until a call that carried it has
succeeded on that endpoint. A 449 forgets that and repeats the call once with the domain. The
rest of the body is Rasa's, unchanged.
"""
from __future__ import annotations

import contextvars
import hashlib
import json
from typing import Any, Dict, Optional, Text, Tuple

ENDPOINT_KEY = "domain_digest"
MISSING_DOMAIN_STATUS = 449

#: endpoint URL -> digest of the domain a successful call to it carried
_known: Dict[Text, Text] = {}
#: the latest domain dict seen and its digest (Rasa keeps one ``Domain`` per loaded model)
_latest: Optional[Tuple[Dict[Text, Any], Text]] = None
#: set while a call is repeated after a 449: the body must carry the domain
_send_domain: "contextvars.ContextVar[bool]" = contextvars.ContextVar("rasa_addons_send_domain", default=False)
#: (endpoint URL, digest) when the body being sent carries the domain
_carried: "contextvars.ContextVar[Optional[Tuple[Text, Text]]]" = contextvars.ContextVar(
    "rasa_addons_domain_carried", default=None)

_rasa_action_call_format: Any = None
_rasa_run: Any = None
_RasaException: Any = None  # imported by install(), not on every call


def enabled(endpoint: Any) -> bool:
    """Whether ``endpoint`` (an ``EndpointConfig``) asks for the digest protocol."""
    return endpoint is not None and bool(getattr(endpoint, "kwargs", {}).get(ENDPOINT_KEY))


def digest_of(domain: Dict[Text, Any]) -> Text:
    """SHA-256 of the domain's JSON with sorted keys (once per domain dict)."""
    global _latest
    if _latest is not None and _latest[0] is domain:
        return _latest[1]
    text = json.dumps(domain, sort_keys=True, default=str, ensure_ascii=False)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    _latest = (domain, digest)
    return digest


def action_call_format(self: Any, tracker: Any, domain: Any) -> Dict[Text, Any]:
    """Rasa's body, with ``domain_digest`` and without the domain once the endpoint holds it."""
    body = _rasa_action_call_format(self, tracker, domain)
    if not enabled(self.action_endpoint) or "domain" not in body:
        return body
    url = self.action_endpoint.url
    digest = digest_of(body["domain"])
    body["domain_digest"] = digest
    if _known.get(url) == digest and not _send_domain.get():
        del body["domain"]
    else:
        _carried.set((url, digest))
    return body


def _missing_domain(error: BaseException) -> bool:
    from rasa.utils.endpoints import ClientResponseError

    cause = error.__cause__
    return isinstance(cause, ClientResponseError) and cause.status == MISSING_DOMAIN_STATUS


async def run(self: Any, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> Any:
    """``RemoteAction.run``, repeated once with the domain when the server answers 449."""
    if not enabled(self.action_endpoint):
        return await _rasa_run(self, output_channel, nlg, tracker, domain)
    token = _carried.set(None)
    try:
        try:
            events = await _rasa_run(self, output_channel, nlg, tracker, domain)
        except _RasaException as error:
            if not _missing_domain(error):
                raise
            _known.pop(self.action_endpoint.url, None)
            repeat = _send_domain.set(True)
            try:
                events = await _rasa_run(self, output_channel, nlg, tracker, domain)
            finally:
                _send_domain.reset(repeat)
        carried = _carried.get()
        if carried is not None:
            _known[carried[0]] = carried[1]
        return events
    finally:
        _carried.reset(token)


def install() -> None:
    """Wrap ``RemoteAction._action_call_format`` (after rasa_addons.action_call) and ``run``."""
    global _rasa_action_call_format, _rasa_run, _RasaException
    if _rasa_run is not None:
        return
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.exceptions import RasaException

    _RasaException = RasaException
    _rasa_action_call_format = RemoteAction._action_call_format
    _rasa_run = RemoteAction.run
    RemoteAction._action_call_format = action_call_format
    RemoteAction.run = run


__all__ = ["install", "enabled", "digest_of", "action_call_format", "run", "ENDPOINT_KEY"]
