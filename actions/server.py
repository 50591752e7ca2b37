"""The action server: rasa-sdk's webhook app plus this project's own HTTP endpoints.

Run with ``python -m actions.server``. Port from ACTION_SERVER_PORT (default 5055), bind address
from ACTION_SERVER_HOST (default 127.0.0.1), worker processes from SANIC_WORKERS (default 1), the
largest request body from ACTION_SERVER_MAX_BODY_BYTES (default 5 MB; larger gets 413).
"""
from __future__ import annotations

import logging
import os

from sanic import Request, Sanic
from sanic.exceptions import SanicException
from sanic.response import HTTPResponse
from sanic.worker.loader import AppLoader

from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor

logger = logging.getLogger(__name__)

#: Rasa sends the (windowed) conversation with every action call: ~57 kB typical, 85 kB for the
#: 219 events of the first 20 turns of the long test conversation without the window
#: (docs/performance.md); a 100-turn session of 2000-character messages with the window off is
#: well under 1 MB. 5 MB is ~50x the typical body and parses in ~15 ms; Sanic's default is 100 MB.
DEFAULT_MAX_BODY_BYTES = 5_000_000


def max_body_bytes() -> int:
    return int(os.environ.get("ACTION_SERVER_MAX_BODY_BYTES") or DEFAULT_MAX_BODY_BYTES)


def build_app() -> Sanic:
    """Create the app (called once per worker process by Sanic's loader)."""
    from actions import request_json

    request_json.install()
    executor = ActionExecutor()
    executor.register_package("actions")
    # no browser calls the action server: CORS stays closed unless configured
    app = create_app(executor, cors_origins=os.environ.get("ACTION_SERVER_CORS", ""))
    # a larger body is refused with 413 before it is read (docs/operations.md, "Limits")
    app.config.REQUEST_MAX_SIZE = max_body_bytes()
    # rasa-sdk answers every exception with 500, Sanic's own too (413 body too large, 404, 405):
    # those keep their status
    app.exception(SanicException)(_http_error)
    from actions import extensions, server_auth

    server_auth.attach(app)  # first: every other middleware sees only authenticated requests

    extensions.attach(app)
    return app


async def _http_error(request: Request, exception: SanicException) -> HTTPResponse:
    status = getattr(exception, "status_code", 500) or 500
    if status >= 500:
        logger.error("error on %s %s", request.method, request.path, exc_info=exception)
    else:
        logger.warning("%s %s -> %s: %s", request.method, request.path, status, exception)
    return request.app.error_handler.default(request, exception)  # Sanic's own answer


def main() -> None:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    host = os.environ.get("ACTION_SERVER_HOST", "127.0.0.1")
    port = int(os.environ.get("ACTION_SERVER_PORT", "5055"))
    workers = int(os.environ.get("SANIC_WORKERS", "1"))
    loader = AppLoader(factory=build_app)
    app = loader.load()
    app.prepare(host=host, port=port, workers=workers, single_process=workers == 1, access_log=False, motd=False)
    logger.info("action server on http://%s:%s (%s worker(s))", host, port, workers)
    Sanic.serve(primary=app, app_loader=loader) if workers > 1 else Sanic.serve_single(primary=app)


if __name__ == "__main__":
    main()
