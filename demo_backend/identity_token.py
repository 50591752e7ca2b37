"""The store's side of chat identity: a short-lived signed token for the signed-in customer.

This is what a real shop's web server does for the chat widget: it knows who is signed in (here:
the demo login), and signs a JWT saying so (HS256 with ``IDENTITY_JWT_SECRET``, shared with the
assistant's channels; ``aud`` = ``IDENTITY_JWT_AUDIENCE``, default ``brightcart-assistant``;
``sub`` = the customer id; valid ``IDENTITY_TOKEN_TTL`` seconds, default 15 minutes). The chat
channels verify it (channels/customer_identity.py); without the secret no token is issued and the
customer verifies with an order number and email like a guest.
"""
from __future__ import annotations

import os
import time

import jwt

DEFAULT_AUDIENCE = "brightcart-assistant"


def issue(customer_id: str, now: float | None = None) -> str | None:
    secret = os.environ.get("IDENTITY_JWT_SECRET", "")
    if not secret:
        return None
    issued = int(now if now is not None else time.time())
    ttl = int(os.environ.get("IDENTITY_TOKEN_TTL") or 900)
    claims = {"sub": customer_id, "aud": os.environ.get("IDENTITY_JWT_AUDIENCE") or DEFAULT_AUDIENCE,
              "iat": issued, "exp": issued + ttl, "iss": os.environ.get("IDENTITY_JWT_ISSUER") or "brightcart-store"}
    return jwt.encode(claims, secret, algorithm="HS256")
