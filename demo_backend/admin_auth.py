"""The admin/service key that guards the backend's admin endpoints.

``BACKEND_ADMIN_KEY`` (environment, read on every request so a rotated key applies at once) must
be sent as ``X-Api-Key: <key>`` (as every backend key is, demo_backend/auth.py), ``X-Admin-Key``
or ``Authorization: Bearer <key>``. Keys are compared with
``hmac.compare_digest``. Without the header, or with a wrong key: 401. With no key configured the
endpoints refuse everyone (503): an unset variable never opens them.
"""

from __future__ import annotations

import os

from sanic import Request

from common.credentials import bearer, matches

from .errors import ApiError

ENV = "BACKEND_ADMIN_KEY"


def presented_key(request: Request) -> str:
    key = (request.headers.get("X-Api-Key") or request.headers.get("X-Admin-Key") or "").strip()
    return key or bearer(request.headers.get("Authorization")) or ""


def require_admin_key(request: Request) -> None:
    """Raise the 401/503 ApiError unless the request carries the admin key."""
    expected = os.environ.get(ENV, "").strip()
    if not expected:
        raise ApiError(503, "admin_disabled", f"Admin endpoints are disabled: {ENV} is not set.")
    given = presented_key(request)
    if not matches(given, expected):
        raise ApiError(401, "unauthorized", "A valid admin key is required.")
