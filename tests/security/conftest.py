"""Fixtures for the privacy tests: the Slack-wired stack of tests/handoff/conftest.py, with the
Twilio emulator of tests/channels/conftest.py and the backend admin key, and helpers that look
through every store for a customer.

``privacy_stack`` is ``slack_stack`` started with BACKEND_ADMIN_KEY (and the Twilio settings) in
the environment; the variables are put back as they were once it is up, so other suites' stacks in
the same session are not affected. Its var dir is its own, so erasing a customer here does not
take data away from other suites.
"""
from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

# the Twilio emulator and TWILIO_* settings (set in os.environ when this is imported)
from tests.channels.conftest import ACCOUNT_SID, AUTH_TOKEN, EMULATOR, TWILIO_NUMBER, TwilioWebhook  # noqa: F401
from tests.conftest import RestChat
from tests.handoff.conftest import SIGNING_SECRET, slack_stack, stack_slack  # noqa: F401
from tests.support.slack_emulator import SlackSigner

ADMIN_KEY = "test-backend-admin-key-51c3"
PRIVACY_ENV = {"BACKEND_ADMIN_KEY": ADMIN_KEY, "ERASURE_HASH_SALT": "test-erasure-salt", "ERASURE_AUDIT_RESWEEP": "1"}


@pytest.fixture(scope="session")
def _privacy_env_on() -> Dict[str, Optional[str]]:
    saved = {key: os.environ.get(key) for key in PRIVACY_ENV}
    os.environ.update(PRIVACY_ENV)
    return saved


@pytest.fixture(scope="session")
def privacy_stack(_privacy_env_on, slack_stack):  # noqa: F811 - the order starts the stack with the env set
    for key, value in _privacy_env_on.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    yield slack_stack


@pytest.fixture(scope="session")
def twilio():
    yield EMULATOR


@pytest.fixture
def agent(privacy_stack) -> SlackSigner:
    return SlackSigner(f"http://127.0.0.1:{privacy_stack.config.action_port}", SIGNING_SECRET)


@pytest.fixture
def customer(privacy_stack) -> RestChat:
    return RestChat(privacy_stack.config.rasa_url)


# --- looking through the stores ------------------------------------------------------------------


def sqlite_files(root: Path) -> List[Path]:
    """Every SQLite database under ``root`` (found by its header, whatever the file is called)."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.name.endswith(("-wal", "-shm", "-journal")):
            with open(path, "rb") as handle:
                if handle.read(16) == b"SQLite format 3\x00":
                    found.append(path)
    return found


def needle_patterns(needles: Dict[str, str]) -> Dict[str, re.Pattern]:
    """Whole-token, case-insensitive patterns (C0042 must not match C00421)."""
    return {label: re.compile(r"(?<![A-Za-z0-9])" + re.escape(value) + r"(?![A-Za-z0-9])", re.IGNORECASE)
            for label, value in needles.items() if value}


def rows_of(conn: Any, table: str) -> Iterator[Tuple[Any, ...]]:
    return iter(conn.execute(f'SELECT * FROM "{table}"').fetchall())


def search_sqlite(root: Path, needles: Dict[str, str]) -> List[str]:
    """Where any needle occurs: ["file:table:label", ...] over every table of every SQLite file."""
    patterns = needle_patterns(needles)
    hits = []
    for path in sqlite_files(root):
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                for row in rows_of(conn, table):
                    text = " ".join(_text(v) for v in row)
                    for label, pattern in patterns.items():
                        if pattern.search(text):
                            hits.append(f"{path.relative_to(root)}:{table}:{label}")
        finally:
            conn.close()
    return sorted(set(hits))


def search_postgres(url: str, schema: str, needles: Dict[str, str]) -> List[str]:
    import psycopg

    patterns = needle_patterns(needles)
    hits = []
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,))]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall():
                text = " ".join(_text(v) for v in row)
                for label, pattern in patterns.items():
                    if pattern.search(text):
                        hits.append(f"{schema}.{table}:{label}")
    return sorted(set(hits))


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def identity_needles(customer: Dict[str, Any], phrase: str) -> Dict[str, str]:
    phone = customer["phone"]
    return {"customer_id": customer["id"], "name": customer["name"], "email": customer["email"],
            "phone": phone, "phone_digits": re.sub(r"\D", "", phone), "phrase": phrase}

