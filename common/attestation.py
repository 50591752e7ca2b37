"""Signed statements between our own servers: "this channel proved who the customer is" and
"this web session id was issued by us".

A channel (Rasa process) that has checked an identity token or a Twilio signature puts an
*attestation* into the message metadata: the customer id or phone number it proved, how, for
which conversation, and when, signed with HMAC-SHA256 under ``CHANNEL_SECRET``. The action server
believes identity only from an attestation whose signature checks, whose conversation is the one
it is running for, and which is fresh. A client can write any metadata it likes into a REST body
or a Socket.IO event; it cannot write one of these, and one copied from another conversation or
replayed later does not verify.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any, Dict, Mapping, Optional

METADATA_KEY = "identity"
# attestations are minted per message; this only bounds how long a captured one stays useful
MAX_AGE_SECONDS = 15 * 60
METHODS = ("token", "phone")


def _digest(secret: str, payload: Mapping[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest()


def attest(secret: str, *, conversation_id: str, channel: str, method: str,
           customer_id: Optional[str] = None, phone: Optional[str] = None,
           now: Optional[float] = None) -> Dict[str, Any]:
    """The signed identity statement for one message (``method``: "token" or "phone")."""
    if method not in METHODS:
        raise ValueError(f"unknown identity method {method!r}")
    payload: Dict[str, Any] = {
        "conversation_id": conversation_id,
        "channel": channel,
        "method": method,
        "customer_id": customer_id,
        "phone": phone,
        "issued_at": int(now if now is not None else time.time()),
    }
    return {**payload, "signature": _digest(secret, payload)}


def verify(secret: str, statement: Any, *, conversation_id: str,
           now: Optional[float] = None, max_age: float = MAX_AGE_SECONDS) -> Optional[Dict[str, Any]]:
    """The statement's fields when it is ours, for this conversation and fresh; else None."""
    if not secret or not isinstance(statement, Mapping):
        return None
    signature = statement.get("signature")
    payload = {k: statement.get(k) for k in ("conversation_id", "channel", "method", "customer_id", "phone", "issued_at")}
    if not isinstance(signature, str) or not hmac.compare_digest(signature, _digest(secret, payload)):
        return None
    if payload["conversation_id"] != conversation_id or payload["method"] not in METHODS:
        return None
    issued = payload["issued_at"]
    current = now if now is not None else time.time()
    if not isinstance(issued, int) or issued > current + 60 or current - issued > max_age:
        return None
    return payload


def sign_session_id(secret: str, session_id: str, subject: str = "") -> str:
    """``<id>.<signature>``: a web session id bound to the identity (token subject) it was
    issued for, so a client can neither invent an id nor carry one over to another customer."""
    tag = hmac.new(secret.encode(), f"web-session|{session_id}|{subject}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"{session_id}.{tag}"


def open_session_id(secret: str, signed: Any, subject: str = "") -> Optional[str]:
    """The session id inside a signed one, if the signature checks for this subject."""
    if not secret or not isinstance(signed, str) or "." not in signed or len(signed) > 200:
        return None
    session_id, _, _tag = signed.rpartition(".")
    if hmac.compare_digest(sign_session_id(secret, session_id, subject), signed):
        return session_id
    return None
