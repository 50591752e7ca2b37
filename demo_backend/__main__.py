"""``python -m demo_backend``: run the Brightcart demo API (seeding the database on first start).

Environment: BACKEND_HOST (127.0.0.1), BACKEND_PORT (8000), BACKEND_DB (var/backend.sqlite3),
BACKEND_TODAY (2026-11-20), BACKEND_PUBLIC_URL (http://<host>:<port>), BACKEND_LOG_LEVEL (INFO).
``python -m demo_backend --reset`` deletes the database first, so it is re-seeded.
"""

from __future__ import annotations

import argparse
import logging
import os

from .app import create_app
from .config import Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m demo_backend", description=__doc__.split("\n")[0])
    parser.add_argument("--reset", action="store_true", help="delete and re-seed the database")
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=os.environ.get("BACKEND_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings = Settings.from_env()
    if args.reset:
        for suffix in ("", "-wal", "-shm"):
            path = settings.db_path.with_name(settings.db_path.name + suffix)
            path.unlink(missing_ok=True)
    app = create_app(settings)
    logging.getLogger("brightcart.backend").info(
        "Brightcart backend on http://%s:%s (db %s, today %s)",
        settings.host, settings.port, settings.db_path, settings.today,
    )
    # One process, no reloader: starts in well under a second and is easy to stop from tests.
    app.run(host=settings.host, port=settings.port, single_process=True, access_log=False,
            motd=False, debug=False, auto_reload=False)


if __name__ == "__main__":
    main()
