"""Who may call the backend (docs/security.md).

* ``/``, ``/static/...``, ``/health`` and ``GET /api/status``: anyone (the store page, probes and
  the public status page).
* ``/labels/...``, ``/invoices/...``: anyone holding the link; the links are signed
  (``demo_backend.links``) so an id cannot be guessed into another customer's document.
* ``/api/admin/...``: operators and tests only, ``X-Api-Key: <BACKEND_ADMIN_KEY>`` (or
  ``Authorization: Bearer <key>``, for either key).
* every other ``/api/...`` route: the action server, ``X-Api-Key: <BACKEND_API_KEY>`` (the admin
  key works too). Customers never call the API directly.

The backend does not start without both keys (`make run` generates them, production sets them).
"""
from __future__ import annotations

import logging
from typing import Any, Optional

from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from common.credentials import bearer, matches

log = logging.getLogger("brightcart.backend.auth")

API_KEY_HEADER = "X-Api-Key"
PUBLIC_EXACT = {("GET", "/"), ("GET", "/health"), ("GET", "/api/status")}
PUBLIC_PREFIXES = ("/static/", "/labels/", "/invoices/")


def attach(app: Sanic, api_key: str, admin_key: str) -> None:
    if not api_key or not admin_key:
        raise SystemExit("Cannot start the backend: BACKEND_API_KEY and BACKEND_ADMIN_KEY must be set "
                         "(`make run` generates them into var/secrets.env).")

    @app.on_request
    async def _authenticate(request: Request) -> Optional[HTTPResponse]:
        method = "GET" if request.method == "HEAD" else request.method
        path = request.path
        if (method, path) in PUBLIC_EXACT or path.startswith(PUBLIC_PREFIXES):
            return None
        supplied = request.headers.get(API_KEY_HEADER) or bearer(request.headers.get("authorization"))
        if path.startswith("/api/admin/") or path == "/api/admin":
            if matches(supplied, admin_key):
                return None
            return _refuse(request, "This endpoint needs the admin key (X-Api-Key).")
        if matches(supplied, api_key) or matches(supplied, admin_key):
            return None
        return _refuse(request, "This endpoint needs the backend API key (X-Api-Key).")


def _refuse(request: Request, message: str) -> HTTPResponse:
    log.warning("refused %s %s: missing or wrong API key", request.method, request.path)
    return json({"error": "unauthorized", "message": message}, status=401)


def key_headers(key: Any) -> dict:
    return {API_KEY_HEADER: str(key)} if key else {}
