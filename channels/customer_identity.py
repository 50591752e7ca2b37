"""What the web channels believe about who the customer is: only a verified identity token.

The site that embeds the chat (the store page here) signs a short-lived JWT for its signed-in
customer. The REST and Socket.IO channels check it here and put a signed attestation of the
verified claims into the message metadata (``common.attestation``); every identity-looking field
a client sent (``customer_id``, ``phone``, ``identity``, ...) is dropped first, so nothing a client
can set decides who the customer is.

Token rules (docs/security.md): HS256 with ``IDENTITY_JWT_SECRET`` and/or RS256 with
``IDENTITY_JWT_PUBLIC_KEY`` (PEM text, or a path to a PEM file); only the algorithms with a
configured key are accepted, so an ``alg: none`` or an HS256 token signed with the public key
never verifies. ``exp``, ``aud`` (``IDENTITY_JWT_AUDIENCE``, default ``brightcart-assistant``) and
``sub`` are required; ``iss`` is checked when ``IDENTITY_JWT_ISSUER`` is set; a token may live at
most ``IDENTITY_JWT_MAX_LIFETIME`` seconds (default one hour) from its ``iat``.

Conversation ids are namespaced by channel: SMS uses the sender's E.164 number (``+...``), voice
the Twilio call SID, the web widget ids this module issues (``web-<32 hex>``); a REST sender id
may not take any of those shapes, so a web client can never name an SMS, voice or widget
conversation.
"""
from __future__ import annotations

import logging
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

import jwt

from common import attestation

logger = logging.getLogger(__name__)

DEFAULT_AUDIENCE = "brightcart-assistant"
DEFAULT_MAX_LIFETIME = 3600
# fields that once carried identity, or that only our own code may write
RESERVED_METADATA_KEYS = frozenset({
    attestation.METADATA_KEY, "customer_id", "phone", "from_phone", "verified", "call_sid",
    "channel", "card_number_removed", "identity_token",
})

REST_SENDER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}")
WEB_SESSION_RE = re.compile(r"web-[0-9a-f]{32}")
CALL_SID_RE = re.compile(r"CA[0-9a-fA-F]{32}")


def rest_sender_problem(sender: Any) -> Optional[str]:
    """Why a REST sender id is refused, or None when it may be used."""
    if not isinstance(sender, str) or not REST_SENDER_RE.fullmatch(sender):
        return "'sender' must be 1-128 letters, digits, '_', '.', '@' or '-', starting with a letter or digit."
    if WEB_SESSION_RE.fullmatch(sender) or CALL_SID_RE.fullmatch(sender) or sender.startswith("web-"):
        return "'sender' may not use the web widget's or the voice channel's id format."
    return None


def new_web_session_id() -> str:
    return f"web-{secrets.token_hex(16)}"


def channel_secret() -> str:
    return os.environ.get("CHANNEL_SECRET", "")


def _public_key(value: str) -> str:
    value = value.strip()
    if value and not value.startswith("-----BEGIN"):
        return Path(value).read_text()
    return value


@dataclass(frozen=True)
class IdentityVerifier:
    hs_secret: str
    rs_public_key: str
    audience: str
    issuer: Optional[str]
    max_lifetime: int

    @classmethod
    def from_env(cls) -> "IdentityVerifier":
        env = os.environ
        return cls(
            hs_secret=env.get("IDENTITY_JWT_SECRET", ""),
            rs_public_key=_public_key(env.get("IDENTITY_JWT_PUBLIC_KEY", "")),
            audience=env.get("IDENTITY_JWT_AUDIENCE") or DEFAULT_AUDIENCE,
            issuer=env.get("IDENTITY_JWT_ISSUER") or None,
            max_lifetime=int(env.get("IDENTITY_JWT_MAX_LIFETIME") or DEFAULT_MAX_LIFETIME),
        )

    def verify(self, token: Any) -> Optional[Dict[str, Any]]:
        """The token's claims when it verifies; None for anything else (logged, never raised)."""
        if not isinstance(token, str) or not token or len(token) > 8192:
            return None
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            logger.info("identity token refused: not a JWT")
            return None
        algorithm = header.get("alg")
        key = {"HS256": self.hs_secret, "RS256": self.rs_public_key}.get(algorithm)
        if not key:
            logger.info("identity token refused: algorithm %r is not configured", algorithm)
            return None
        options = {"require": ["exp", "sub", "aud"]}
        try:
            claims = jwt.decode(token, key, algorithms=[algorithm], audience=self.audience,
                                issuer=self.issuer, options=options, leeway=30)
        except jwt.PyJWTError as error:
            logger.info("identity token refused: %s", error)
            return None
        issued = claims.get("iat")
        if isinstance(issued, (int, float)) and claims["exp"] - issued > self.max_lifetime:
            logger.info("identity token refused: lives longer than %ss", self.max_lifetime)
            return None
        if not isinstance(issued, (int, float)) and claims["exp"] - time.time() > self.max_lifetime:
            logger.info("identity token refused: expires more than %ss from now", self.max_lifetime)
            return None
        if not isinstance(claims.get("sub"), str) or not claims["sub"] or len(claims["sub"]) > 128:
            return None
        return claims


_verifier: Optional[IdentityVerifier] = None


def verifier() -> IdentityVerifier:
    global _verifier
    if _verifier is None:
        _verifier = IdentityVerifier.from_env()
    return _verifier


def client_metadata(raw: Any) -> Dict[str, Any]:
    """What a client sent as metadata, minus every key only our code may write."""
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): v for k, v in raw.items() if str(k) not in RESERVED_METADATA_KEYS}


def with_identity(metadata: Dict[str, Any], *, conversation_id: str, channel: str,
                  customer_id: Optional[str] = None, phone: Optional[str] = None) -> Dict[str, Any]:
    """The metadata plus the signed statement of the identity this channel proved."""
    secret = channel_secret()
    if not secret or not (customer_id or phone):
        return metadata
    method = "token" if customer_id else "phone"
    statement = attestation.attest(secret, conversation_id=conversation_id, channel=channel, method=method,
                                   customer_id=customer_id, phone=phone)
    return {**metadata, attestation.METADATA_KEY: statement}


def web_session(signed: Any, subject: str) -> Tuple[str, str]:
    """(session id, signed form for the client): the client's own when its signature checks
    for this subject, else a new one."""
    secret = channel_secret()
    session_id = attestation.open_session_id(secret, signed, subject) if secret else None
    if session_id is None or not WEB_SESSION_RE.fullmatch(session_id):
        session_id = new_web_session_id()
    return session_id, attestation.sign_session_id(secret, session_id, subject)
