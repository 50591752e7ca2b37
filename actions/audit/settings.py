"""Audit settings: config/audit.yml, with storage locations overridable from the environment."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional
from urllib.parse import quote, urlsplit, urlunsplit

import yaml

from actions.config import PROJECT_ROOT

CONFIG_PATH = PROJECT_ROOT / "config" / "audit.yml"


def _env(name: str) -> str:
    return os.environ.get(name, "").strip()


def load_config(path: Optional[Path] = None) -> Dict[str, Any]:
    path = Path(_env("AUDIT_CONFIG") or path or CONFIG_PATH)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        return {}


@dataclass(frozen=True)
class AuditSettings:
    db_url: str  # sqlite path (plain path or sqlite:///path) or postgresql://...
    source: str  # sql | rabbitmq | none
    events_url: str  # SQL event broker: sqlite path or postgresql://...
    rabbitmq_url: str
    rabbitmq_queue: str
    poll_seconds: float
    batch_size: int
    turn_timeout_seconds: float
    ignore_sender_prefixes: List[str]
    low_confidence: float
    reopen_days: float
    drift: Dict[str, Any] = field(default_factory=dict)
    escalation_rules_file: Path = PROJECT_ROOT / "config" / "escalation_rules.yml"
    rabbitmq_reconnect_seconds: float = 2.0  # pause between reconnection attempts after a broker restart

    @classmethod
    def load(cls, path: Optional[Path] = None) -> "AuditSettings":
        cfg = load_config(path)
        storage = cfg.get("storage") or {}
        source = cfg.get("source") or {}
        thresholds = cfg.get("thresholds") or {}
        var_dir = Path(_env("VAR_DIR") or PROJECT_ROOT / "var")
        rules = Path(_env("ESCALATION_RULES") or cfg.get("escalation_rules_file") or "config/escalation_rules.yml")
        return cls(
            db_url=_env("AUDIT_DB_URL") or str(var_dir / storage.get("sqlite_file", "audit.db")),
            source=(_env("AUDIT_SOURCE") or source.get("type") or "sql").lower(),
            events_url=_env("AUDIT_EVENTS_URL") or _env("RASA_EVENTS_DB") or str(var_dir / "rasa_events.db"),
            rabbitmq_url=rabbitmq_url(),
            rabbitmq_queue=_env("RABBITMQ_QUEUE") or source.get("rabbitmq_queue", "rasa_events"),
            poll_seconds=float(source.get("poll_seconds", 0.5)),
            batch_size=int(source.get("batch_size", 500)),
            turn_timeout_seconds=float(_env("AUDIT_TURN_TIMEOUT") or source.get("turn_timeout_seconds", 20)),
            ignore_sender_prefixes=list(source.get("ignore_sender_prefixes") or []),
            low_confidence=float(thresholds.get("low_confidence", 0.6)),
            reopen_days=float(thresholds.get("reopen_days", 7)),
            drift=dict(cfg.get("drift") or {}),
            escalation_rules_file=rules if rules.is_absolute() else PROJECT_ROOT / rules,
            rabbitmq_reconnect_seconds=float(
                _env("AUDIT_RABBITMQ_RECONNECT_SECONDS") or source.get("rabbitmq_reconnect_seconds", 2.0)
            ),
        )


def rabbitmq_url() -> str:
    """Where the consumer reads Rasa's pika broker queue.

    AUDIT_RABBITMQ_URL (or RABBITMQ_URL) if set, else the variables endpoints.prod.yml gives Rasa's
    pika broker (RABBITMQ_HOST, RABBITMQ_PORT, RABBITMQ_USERNAME, RABBITMQ_PASSWORD), so Rasa and
    the consumer are configured from the same environment. RABBITMQ_HOST may itself be an
    amqp(s):// URL, as Rasa allows. Default: the local broker as guest.
    """
    explicit = _env("AUDIT_RABBITMQ_URL") or _env("RABBITMQ_URL")
    if explicit:
        return explicit
    host = _env("RABBITMQ_HOST") or "127.0.0.1"
    port = _env("RABBITMQ_PORT") or "5672"
    user = _env("RABBITMQ_USERNAME")
    password = os.environ.get("RABBITMQ_PASSWORD", "") if user else "guest"
    user = user or "guest"
    credentials = f"{quote(user, safe='')}:{quote(password, safe='')}@"
    if host.startswith(("amqp://", "amqps://")):
        parts = urlsplit(host)
        netloc = parts.netloc
        if "@" not in netloc:
            netloc = credentials + netloc
        if parts.port is None:
            netloc = f"{netloc}:{port}"
        return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, parts.fragment))
    return f"amqp://{credentials}{host}:{port}/"


def redact_url(url: str) -> str:
    """The URL without its password, for log lines."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def is_postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://"))


def sqlite_path(url: str) -> Path:
    for prefix in ("sqlite:///", "sqlite://"):
        if url.startswith(prefix):
            return Path(url[len(prefix):])
    return Path(url)
