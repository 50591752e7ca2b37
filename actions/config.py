"""Settings read from the environment in one place (defaults are the local `make run` stack)."""
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
    backend_url: str
    backend_timeout: float
    rasa_url: str
    rasa_api_token: str
    var_dir: Path
    support_phone: str
    max_identity_attempts: int

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            backend_url=_env("BACKEND_URL", "http://127.0.0.1:8000").rstrip("/"),
            backend_timeout=float(_env("BACKEND_TIMEOUT", "5")),
            rasa_url=_env("RASA_URL", "http://127.0.0.1:5005").rstrip("/"),
            rasa_api_token=_env("RASA_API_TOKEN", ""),
            var_dir=Path(_env("VAR_DIR", str(PROJECT_ROOT / "var"))),
            support_phone=_env("SUPPORT_PHONE_NUMBER", "+15555550100"),
            # how many wrong order numbers / emails before the bot stops asking and offers a person
            max_identity_attempts=int(_env("MAX_IDENTITY_ATTEMPTS", "2")),
        )


settings = Settings.from_env()
