"""Application factory: wires settings, database, routes, error handling and request logging."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from sanic import Request, Sanic
from sanic.exceptions import SanicException
from sanic.response import HTTPResponse, json

from . import auth, links, routes
from .config import Settings
from .dates import Clock
from .db import Database
from .errors import ApiError
from .seed import ensure_database

STATIC_DIR = Path(__file__).parent / "static"

log = logging.getLogger("brightcart.backend")
access_log = logging.getLogger("brightcart.backend.access")

_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 408: "request_timeout", 413: "payload_too_large"}


def create_app(settings: Settings | None = None, name: str = "brightcart_backend") -> Sanic:
    settings = settings or Settings.from_env()
    database = Database(settings.db_path)
    if ensure_database(database, settings.today, settings.seed):
        log.info("created and seeded %s (today=%s)", settings.db_path, settings.today)

    # Logging is configured by the entry point (one format for our lines and Sanic's).
    app = Sanic(name, configure_logging=False)
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.config.REQUEST_MAX_SIZE = 1_000_000  # nothing legitimate comes close
    app.ctx.settings = settings
    app.ctx.db = database
    app.ctx.clock = Clock(settings.today)

    auth.attach(app, settings.api_key, settings.admin_key)
    links.configure(settings.admin_key)  # first: nothing runs unauthenticated
    routes.register(app)
    app.static("/static", STATIC_DIR, name="static")
    app.exception(Exception)(_handle_error)
    app.on_request(_start_timer)
    app.on_response(_log_request)
    return app


async def _handle_error(request: Request, exc: Exception) -> HTTPResponse:
    """Every failure becomes the JSON error shape; only unexpected ones are logged as errors."""
    if isinstance(exc, ApiError):
        return json(exc.body(), status=exc.status)
    if isinstance(exc, SanicException):
        status = exc.status_code
        code = _STATUS_CODES.get(status, "error")
        message = str(exc) or code.replace("_", " ")
        if status == 404:
            message = f"Nothing is served at {request.method} {request.path}."
        return json({"error": code, "message": message}, status=status)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return json({"error": "internal_error",
                 "message": "The backend hit an unexpected error; please try again."}, status=500)


async def _start_timer(request: Request) -> None:
    request.ctx.started = time.perf_counter()


async def _log_request(request: Request, response: HTTPResponse) -> None:
    started = getattr(request.ctx, "started", None)
    elapsed_ms = (time.perf_counter() - started) * 1000 if started else 0.0
    query = f"?{request.query_string}" if request.query_string else ""
    access_log.info("%s %s%s -> %s (%.1f ms)", request.method, request.path, query,
                    response.status, elapsed_ms)
