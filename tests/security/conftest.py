"""Fixtures for the security tests: the Slack-wired stack of tests/handoff/conftest.py (its Slack
emulator, signed agent and REST customer, with the Twilio emulator of tests/channels/conftest.py),
so that changes to how the stack is reached are made in one place; helpers that find a handoff
case and that look through every store for a customer (erasure).
"""
from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

# Twilio test settings go into the environment at import, before any stack starts (as for tests/channels)
from tests.channels.conftest import ACCOUNT_SID, AUTH_TOKEN, EMULATOR, TWILIO_NUMBER, TwilioWebhook  # noqa: F401
from tests.handoff.conftest import (BACKEND_ADMIN_KEY as ADMIN_KEY, SIGNING_SECRET, agent, customer, slack,  # noqa: F401
                                    slack_env, slack_stack, stack_slack)


@pytest.fixture(scope="session")
def privacy_stack(slack_stack):  # noqa: F811
    """The Slack-wired stack; it runs with the backend admin key and the erasure settings."""
    return slack_stack


@pytest.fixture(scope="session")
def twilio():
    yield EMULATOR


def case_for(stack: Any, token: str) -> Optional[Dict[str, Any]]:
    """The latest handoff case of the conversation whose id contains ``token`` (the conversation
    id may be the sender id itself or a namespaced form of it)."""
    with sqlite3.connect(stack.config.var_dir / "handoff.sqlite3") as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM handoff_cases WHERE instr(conversation_id, ?) > 0 ORDER BY created_at DESC",
                           (token,)).fetchone()
    return dict(row) if row else None


def posted_case_for(stack: Any, token: str) -> Optional[Dict[str, Any]]:
    """``case_for`` once its Slack message is posted (None before)."""
    case = case_for(stack, token)
    return case if case and case.get("slack_ts") else None


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

