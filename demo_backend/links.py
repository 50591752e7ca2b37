"""Signed links to customers' documents (return labels, invoices).

A label or invoice id is derived from the order number, so a plain link could be guessed into
another customer's address and purchases. Each link carries ``sig``, an HMAC of its path under a
key derived from the backend's admin key; the document routes refuse a link without a valid one.
"""
from __future__ import annotations

import hashlib
import hmac

_key: bytes = b""


def configure(secret: str) -> None:
    global _key
    _key = hmac.new(secret.encode(), b"brightcart-document-links", hashlib.sha256).digest()


def signature(path: str) -> str:
    return hmac.new(_key, path.encode(), hashlib.sha256).hexdigest()[:32]


def signed(public_url: str, path: str) -> str:
    return f"{public_url}{path}?sig={signature(path)}"


def valid(path: str, sig: str | None) -> bool:
    return bool(_key) and bool(sig) and hmac.compare_digest(signature(path), sig)
