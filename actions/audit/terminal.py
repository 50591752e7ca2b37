"""Text for the audit commands' terminal output (``actions.audit.cli``, ``kpis``, ``drift``,
``replay``), which shows what customers wrote and named: channel names, intents, entity values,
conversation ids. Control characters in them (ESC sequences that move the cursor, clear the
screen, set the window title or the clipboard, C1 controls, bidi overrides) are shown as
``\\x1b``-style escapes instead of being sent to the operator's terminal. Tabs and newlines stay.
"""
from __future__ import annotations

import re
from typing import Any

_UNSAFE_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(match: "re.Match[str]") -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(text: Any) -> str:
    """``text`` with every terminal control character made visible (see the module docstring)."""
    return _UNSAFE_RE.sub(_escape, text if isinstance(text, str) else str(text))
