"""The injection tests reuse the handoff fixtures (Slack emulator, the stack wired to it, the
signed agent, the REST customer) so that changes to how the stack is reached are made in one
place: tests/handoff/conftest.py and tests/conftest.py."""
from __future__ import annotations

import sqlite3
from typing import Any, Dict, Optional

# Twilio test settings go into the environment at import, before any stack starts (as for tests/channels)
import tests.channels.conftest  # noqa: E402,F401
from tests.handoff.conftest import agent, customer, slack, slack_env, slack_stack, stack_slack  # noqa: E402,F401


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
