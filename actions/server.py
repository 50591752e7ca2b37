"""The action server: rasa-sdk's webhook app plus this project's own HTTP endpoints.

Run with ``python -m actions.server``. Port from ACTION_SERVER_PORT (default 5055), bind address
from ACTION_SERVER_HOST (default 127.0.0.1), worker processes from SANIC_WORKERS (default 1).
"""
from __future__ import annotations

import logging
import os

from sanic import Sanic
from sanic.worker.loader import AppLoader

from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor

logger = logging.getLogger(__name__)


def build_app() -> Sanic:
    """Create the app (called once per worker process by Sanic's loader)."""
    from actions import request_json

    request_json.install()
    executor = ActionExecutor()
    executor.register_package("actions")
    # no browser calls the action server: CORS stays closed unless configured
    app = create_app(executor, cors_origins=os.environ.get("ACTION_SERVER_CORS", ""))
    from actions import extensions, server_auth

    server_auth.attach(app)  # first: every other middleware sees only authenticated requests

    extensions.attach(app)
    return app


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
