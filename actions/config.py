"""Action-server settings read from the environment (defaults are the local `make run` stack).

The backend client reads BACKEND_URL / BACKEND_TIMEOUT itself (actions/backend_client.py).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


@dataclass(frozen=True)
class Settings:
    rasa_url: str
    rasa_api_token: str
    var_dir: Path
    max_identity_attempts: int

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            rasa_url=_env("RASA_URL", "http://127.0.0.1:5005").rstrip("/"),
            rasa_api_token=_env("RASA_API_TOKEN", ""),
            var_dir=Path(_env("VAR_DIR", str(PROJECT_ROOT / "var"))),
            # how many wrong order numbers / emails before the bot stops asking and offers a person
            max_identity_attempts=int(_env("MAX_IDENTITY_ATTEMPTS", "2")),
        )


settings = Settings.from_env()
