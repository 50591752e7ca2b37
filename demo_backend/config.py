"""Runtime settings, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Mapping

DEFAULT_TODAY = "2026-11-20"
# The seed is fixed so that every fresh database is identical (tests rely on it).
SEED = 20261120


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    db_path: Path
    today: date
    public_url: str
    api_key: str = ""
    admin_key: str = ""
    seed: int = SEED

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        host = env.get("BACKEND_HOST", "127.0.0.1")
        port = int(env.get("BACKEND_PORT", "8000"))
        db_path = Path(env.get("BACKEND_DB", "var/backend.sqlite3"))
        today = date.fromisoformat(env.get("BACKEND_TODAY", DEFAULT_TODAY))
        # Links the backend hands out (return labels, invoices) must be reachable by the
        # customer's browser, so a wildcard bind address is replaced by loopback.
        link_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        public_url = env.get("BACKEND_PUBLIC_URL", f"http://{link_host}:{port}").rstrip("/")
        return cls(host=host, port=port, db_path=db_path, today=today, public_url=public_url,
                   api_key=env.get("BACKEND_API_KEY", ""), admin_key=env.get("BACKEND_ADMIN_KEY", ""))
