"""Retention: delete what is older than the retention period, and record what was done.

    python -m actions.privacy.retention             # or `make retention`
    python -m actions.privacy.retention --days 30

The period is ``RETENTION_DAYS`` (environment) or ``retention_days`` in config/retention.yml
(default 90). Removed, with their age taken from the newest activity:

- **conversations** in Rasa's tracker store whose latest event is older than the cutoff, and
  broker rows whose event is older. Through Rasa's ``/webhooks/privacy/retention`` endpoint
  (rasa_addons/privacy_endpoint.py: under each conversation's lock, its cache dropped, checked
  again under the lock so a customer who just came back keeps the conversation). When Rasa is not
  running (connection refused) the same SQL runs on the databases directly (``RASA_TRACKER_DB`` /
  ``RASA_EVENTS_DB``: SQLite paths or postgresql:// URLs); ``--direct`` forces that.
- **audit** turns (``ts``) and per-conversation consumer state (``updated_at``);
- **handoff cases** whose creation, delivery and resolution are all older, with their agent replies
  and Slack outbox rows; outbox rows and agent replies older than the cutoff (except one being
  sent); Slack event ids;
- **SMS state**: opt-outs recorded before the cutoff.

One ``retention_log`` row per run (actions/privacy/log.py): time, period, cutoff, counts. No ids,
no content. The erasure log and the retention log are never pruned.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any, Dict, Optional

import httpx
import yaml

from actions.config import PROJECT_ROOT
from actions.config import settings as app_settings

logger = logging.getLogger(__name__)

CONFIG_PATH = PROJECT_ROOT / "config" / "retention.yml"
DEFAULT_DAYS = 90.0


def retention_days(path: Optional[Path] = None) -> float:
    explicit = os.environ.get("RETENTION_DAYS", "").strip()
    if explicit:
        days = float(explicit)
    else:
        try:
            config = yaml.safe_load(Path(os.environ.get("RETENTION_CONFIG") or path or CONFIG_PATH).read_text()) or {}
        except FileNotFoundError:
            config = {}
        days = float(config.get("retention_days", DEFAULT_DAYS))
    if days <= 0:
        raise ValueError(f"the retention period must be positive, not {days} days")
    return days


# --- Rasa's stores -----------------------------------------------------------------------------------


class RasaDown(Exception):
    pass


def rasa_via_endpoint(cutoff: float, timeout: float = 600.0) -> Dict[str, Any]:
    from actions.privacy.erasure import privacy_token

    token = privacy_token()
    try:
        if not token:
            httpx.get(f"{app_settings.rasa_url}/", timeout=5, trust_env=False)  # ConnectError: not running
            raise RuntimeError("Rasa is running but no PRIVACY_API_TOKEN or RASA_API_TOKEN is set: its privacy "
                               "endpoint cannot be called")
        response = httpx.post(f"{app_settings.rasa_url}/webhooks/privacy/retention", json={"before": cutoff},
                              headers={"Authorization": f"Bearer {token}"}, timeout=timeout, trust_env=False)
    except httpx.ConnectError as error:
        raise RasaDown(str(error)) from error
    if response.status_code != 200:
        raise RuntimeError(f"Rasa's privacy endpoint answered HTTP {response.status_code}")
    body = response.json()
    return {"conversations": int(body.get("conversations") or 0), **{k: int(v) for k, v in (body.get("counts") or {}).items()}}


def _connect(url: str) -> Any:
    if url.startswith(("postgres://", "postgresql://")):
        import psycopg

        return psycopg.connect(url, connect_timeout=10)
    path = Path(url[len("sqlite:///"):] if url.startswith("sqlite:///") else url)
    if not path.exists():
        return None
    return sqlite3.connect(path, timeout=30)


def rasa_direct(cutoff: float) -> Dict[str, Any]:
    """The same deletions on the databases themselves (only while Rasa is not running)."""
    from actions.privacy import sqlstores

    var = Path(os.environ.get("VAR_DIR", "").strip() or app_settings.var_dir)
    counts = {"conversations": 0, "tracker_events": 0, "broker_events": 0}
    tracker = _connect(os.environ.get("RASA_TRACKER_DB", "").strip() or str(var / "rasa_tracker.db"))
    if tracker is not None:
        with closing(tracker):
            db = sqlstores.Sql(tracker)
            if db.has_table("events"):
                expired = sqlstores.expired_conversations(db, cutoff)
                counts["conversations"] = len(expired)
                counts["tracker_events"] = sqlstores.delete_tracker_conversations(db, expired)
            tracker.commit()
    broker = _connect(os.environ.get("RASA_EVENTS_DB", "").strip() or str(var / "rasa_events.db"))
    if broker is not None:
        with closing(broker):
            db = sqlstores.Sql(broker)
            if db.has_table("events"):
                counts["broker_events"] = sqlstores.delete_broker_before(db, cutoff)
            broker.commit()
    return counts


# --- the action server's stores -----------------------------------------------------------------------


def prune_audit(cutoff: float) -> Dict[str, int]:
    from actions.audit.store import AuditStore

    store = AuditStore.from_settings()
    store.init()
    with store.connect() as conn:
        turns = store._exec(conn, "DELETE FROM audit_turns WHERE ts < ?", (cutoff,)).rowcount
        states = store._exec(conn, "DELETE FROM audit_conversation_state WHERE updated_at < ?", (cutoff,)).rowcount
    return {"audit_turns": turns, "audit_states": states}


def prune_handoff(cutoff: float) -> Dict[str, int]:
    from actions.outbox import HandoffStore, db_path

    if not db_path().exists():
        return {"handoff_cases": 0, "agent_replies": 0, "slack_outbox": 0, "slack_events": 0}
    store = HandoffStore()
    with store.transaction() as conn:
        old = [r[0] for r in conn.execute(
            "SELECT case_id FROM handoff_cases WHERE created_at < ? AND COALESCE(delivered_at, 0) < ? "
            "AND COALESCE(resolved_at, 0) < ?", (cutoff, cutoff, cutoff))]
        counts = {"handoff_cases": 0, "agent_replies": 0, "slack_outbox": 0}
        from actions.privacy.sqlstores import chunks

        for group in chunks(old):
            marks = ", ".join("?" for _ in group)
            counts["agent_replies"] += conn.execute(f"DELETE FROM agent_replies WHERE case_id IN ({marks})", group).rowcount
            counts["slack_outbox"] += conn.execute(
                f"DELETE FROM slack_outbox WHERE case_id IN ({marks}) AND status <> 'sending'", group).rowcount
            counts["handoff_cases"] += conn.execute(f"DELETE FROM handoff_cases WHERE case_id IN ({marks})", group).rowcount
        counts["agent_replies"] += conn.execute("DELETE FROM agent_replies WHERE created_at < ?", (cutoff,)).rowcount
        counts["slack_outbox"] += conn.execute("DELETE FROM slack_outbox WHERE created_at < ? AND status <> 'sending'",
                                               (cutoff,)).rowcount
        counts["slack_events"] = conn.execute("DELETE FROM slack_events WHERE received_at < ?", (cutoff,)).rowcount
    return counts


def prune_sms(cutoff: float) -> Dict[str, int]:
    from actions.privacy.erasure import sms_state_db

    path = sms_state_db()
    if not path.exists():
        return {"sms_state": 0}
    with closing(sqlite3.connect(path, timeout=10)) as conn, conn:
        try:
            return {"sms_state": conn.execute("DELETE FROM sms_opt_out WHERE opted_out_at < ?", (cutoff,)).rowcount}
        except sqlite3.OperationalError as error:
            if "no such table" in str(error):
                return {"sms_state": 0}
            raise


def run(days: Optional[float] = None, direct: bool = False, now: Optional[float] = None) -> Dict[str, Any]:
    """Delete everything older than the period; returns (and logs) the counts."""
    from actions.privacy.log import PrivacyLog

    days = float(days) if days is not None else retention_days()
    cutoff = (now if now is not None else time.time()) - days * 86400.0
    counts: Dict[str, Any] = {}
    if direct:
        counts.update(rasa_direct(cutoff))
    else:
        try:
            counts.update(rasa_via_endpoint(cutoff))
        except RasaDown as error:
            logger.warning("Rasa is not running (%s): deleting old conversations from its databases directly", error)
            counts.update(rasa_direct(cutoff))
            counts["rasa_direct"] = 1
    counts.update(prune_audit(cutoff))
    counts.update(prune_handoff(cutoff))
    counts.update(prune_sms(cutoff))
    run_id = PrivacyLog().record_retention(days, cutoff, counts)
    return {"run_id": run_id, "retention_days": days, "cutoff": cutoff, "counts": counts}


def main(argv: Optional[list] = None) -> int:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=float, help="retention period in days (default: RETENTION_DAYS or config/retention.yml)")
    parser.add_argument("--direct", action="store_true", help="delete from Rasa's databases directly (Rasa must not be running)")
    args = parser.parse_args(argv)
    result = run(args.days, direct=args.direct)
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
