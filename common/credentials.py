"""How every server reads and compares the credentials its callers present (standard library
only: the Rasa channels, the action server and the backend all use it)."""
from __future__ import annotations

import hmac
from typing import Optional


def bearer(authorization: Optional[str]) -> Optional[str]:
    """The token of an ``Authorization: Bearer <token>`` header value, or None."""
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip() or None
    return None


def matches(supplied: Optional[str], expected: Optional[str]) -> bool:
    """True when a secret was supplied, one is configured, and they are equal (constant time)."""
    return bool(supplied) and bool(expected) and hmac.compare_digest(str(supplied).encode(), str(expected).encode())
