"""Outcomes of the agent drafts the handoff flow posts to Slack: sent as is, edited, discarded.

The handoff flow records each decision in its case store (actions/outbox.py:
``handoff_cases.draft_outcome`` / ``draft_outcome_at`` in ``VAR_DIR/handoff.sqlite3``; the
location and names are in config/audit.yml ``drafts``); this module only reads it. Outcome values are normalised:
anything with "edit" is *edited*, "discard"/"reject"/"dismiss"/"delete" is *discarded*, and
"as_is"/"sent"/"accept"/"approve" is *as is*.
"""
from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Optional

from actions.audit.settings import is_postgres, load_config
from actions.config import PROJECT_ROOT


def normalise(outcome: Any) -> Optional[str]:
    text = str(outcome or "").lower()
    if "edit" in text:
        return "edited"
    if any(word in text for word in ("discard", "reject", "dismiss", "delete")):
        return "discarded"
    if any(word in text for word in ("as_is", "as is", "asis", "sent", "accept", "approve", "unchanged")):
        return "as_is"
    return None


def _epoch(value: Any) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    try:
        return float(value)
    except ValueError:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).timestamp()


def drafts_location() -> Dict[str, str]:
    cfg = load_config().get("drafts") or {}
    var_dir = Path(os.environ.get("VAR_DIR", "").strip() or PROJECT_ROOT / "var")
    return {
        "db": os.environ.get("AUDIT_DRAFTS_DB", "").strip() or str(var_dir / cfg.get("sqlite_file", "handoff.sqlite3")),
        "table": cfg.get("table", "handoff_cases"),
        "outcome": cfg.get("outcome_column", "draft_outcome"),
        "time": cfg.get("time_column", "draft_outcome_at"),
    }


def draft_outcomes(since: Optional[float] = None, until: Optional[float] = None) -> Dict[str, Any]:
    where = drafts_location()
    sql = f"SELECT {where['outcome']}, {where['time']} FROM {where['table']} WHERE {where['outcome']} IS NOT NULL"
    try:
        if is_postgres(where["db"]):
            import psycopg

            with psycopg.connect(where["db"], connect_timeout=10) as conn:
                rows = conn.execute(sql).fetchall()
        else:
            import sqlite3

            if not Path(where["db"]).exists():
                return {"total": 0, "note": f"no draft store at {where['db']}"}
            conn = sqlite3.connect(f"file:{where['db']}?mode=ro", uri=True)
            try:
                rows = conn.execute(sql).fetchall()
            finally:
                conn.close()
    except Exception as error:  # noqa: BLE001 - a missing table must not break the KPI report
        return {"total": 0, "note": f"draft outcomes unavailable: {type(error).__name__}: {error}"}
    counts = {"as_is": 0, "edited": 0, "discarded": 0}
    for outcome, when in rows:
        ts = _epoch(when)
        if ts is not None and ((since is not None and ts < since) or (until is not None and ts >= until)):
            continue
        kind = normalise(outcome)
        if kind:
            counts[kind] += 1
    total = sum(counts.values())
    rate = (lambda n: round(n / total, 4) if total else None)
    return {
        "total": total, **counts,
        "as_is_rate": rate(counts["as_is"]), "edited_rate": rate(counts["edited"]), "discarded_rate": rate(counts["discarded"]),
        "acceptance_rate": rate(counts["as_is"] + counts["edited"]),
    }
