"""Right to erasure: what "Approve deletion" in a deletion-request case runs (docs/privacy.md).

The button is shown on handoff cases about deleting the account (``is_deletion_request``) and
carries a Slack confirm dialog. A signed click (actions/slack_events.py) runs
``approve_deletion`` in the background; store by store, in this order:

1. the backend is asked for the customer's phone number (SMS and voice conversations are keyed by
   it), before anything is erased;
2. the **backend** (admin key): tickets and emails deleted, the account anonymised. First, so that
   a message the customer sends meanwhile starts a conversation nobody can tie to the account (the
   channel's customer id or phone no longer resolves);
3. **Rasa** erases every conversation whose events show the customer (a ``customer_id`` slot with
   their id, or a message from their phone) from the tracker store and the SQL event broker's
   table, through its authenticated ``/webhooks/privacy/erase`` endpoint
   (rasa_addons/privacy_endpoint.py): under each conversation's lock, with Rasa's cached copies
   dropped, so a running conversation cannot write the events back. It answers with the
   conversation ids, which the other stores are erased by;
4. the **audit trail** (SQLite or PostgreSQL): turns of those conversations or with the customer's
   id, the consumer's per-conversation state, and the consumer's in-memory state; swept again a
   moment later for a batch the consumer had in hand;
5. the **SMS state**: the opt-out rows of the customer's numbers; the backend once more for tickets
   of the other conversations (filed without a customer id);
6. the **handoff store**: every case of the customer becomes a tombstone (case id, Slack
   coordinates, status ``erased``), agent replies and Slack outbox rows are deleted; each case
   message in Slack is replaced by a notice without personal data, and the bot's own messages in
   the case threads (the customer's relayed words, notes, drafts sent) are deleted from Slack
   (``chat.delete`` through the outbox; agents' own thread messages cannot be deleted with a bot
   token);
7. the erasure log row is completed: erasure id, time, approving agent, counts per store and a
   salted hash of the customer id (actions/privacy/log.py).

A second click finds the case erased (or the erasure running) and does nothing. A failed step is
recorded (step and error type only), told in the thread, and the button stays so it can be
clicked again; every step is idempotent.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Set

import httpx

from actions.config import settings as app_settings

logger = logging.getLogger(__name__)

ACTION_APPROVE_DELETION = "handoff_approve_deletion"
DELETION_RULES = {"data_deletion", "intent_delete_account"}
#: seconds between the two audit sweeps (longer than a consumer batch takes)
AUDIT_RESWEEP_SECONDS = float(os.environ.get("ERASURE_AUDIT_RESWEEP", "").strip() or 2.0)


# --- what the agent sees ---------------------------------------------------------------------------


def is_deletion_request(case: Dict[str, Any]) -> bool:
    triage = (case.get("context") or {}).get("triage") or {}
    return (case.get("rule") in DELETION_RULES or triage.get("intent") == "delete_account"
            or "data_deletion" in (triage.get("signals") or []))


def approve_button(case: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "type": "button", "action_id": ACTION_APPROVE_DELETION, "value": case["case_id"], "style": "danger",
        "text": {"type": "plain_text", "text": "Approve deletion"},
        "confirm": {
            "title": {"type": "plain_text", "text": "Erase this customer's data?"},
            "text": {"type": "mrkdwn", "text": "Their conversations, audit records, handoff cases, SMS state and tickets are "
                     "erased and the account is anonymised. This cannot be undone."},
            "confirm": {"type": "plain_text", "text": "Erase"}, "deny": {"type": "plain_text", "text": "Cancel"},
            "style": "danger",
        },
    }


def render_erased(case: Dict[str, Any]) -> Dict[str, Any]:
    """The Slack message of an erased case: what was done, nothing about whom."""
    info = (case.get("context") or {}).get("erasure") or {}
    counts = info.get("counts") or {}
    who = info.get("approved_by")
    by = f"<@{who}>" if who and str(who)[:1] in ("U", "W") and str(who).isalnum() else "an agent"
    rows = sum(v for k, v in counts.items() if isinstance(v, int) and k != "conversations")
    title = f"Erased: {case.get('rule') or 'deletion request'} · {case.get('case_id')}"
    text = (f":wastebasket: *Personal data erased* (erasure `{info.get('erasure_id')}`), approved by {by}. "
            f"{counts.get('conversations', 0)} conversation(s), {rows} stored record(s) erased or anonymised. "
            "This case no longer holds the customer's details.")
    return {"text": f"{title} — personal data erased",
            "blocks": [{"type": "header", "text": {"type": "plain_text", "text": title[:150], "emoji": True}},
                       {"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


# --- the stores ----------------------------------------------------------------------------------


def privacy_token() -> str:
    return (os.environ.get("PRIVACY_API_TOKEN") or app_settings.rasa_api_token or os.environ.get("RASA_API_TOKEN") or "").strip()


async def erase_in_rasa(customer_id: str, phones: Iterable[str], conversation_ids: Iterable[str],
                        timeout: float = 120.0) -> Dict[str, Any]:
    """Rasa's tracker store and SQL event broker, through rasa_addons/privacy_endpoint.py."""
    token = privacy_token()
    if not token:
        raise RuntimeError("no PRIVACY_API_TOKEN or RASA_API_TOKEN: Rasa's privacy endpoint cannot be called")
    async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
        response = await client.post(
            f"{app_settings.rasa_url}/webhooks/privacy/erase", headers={"Authorization": f"Bearer {token}"},
            json={"customer_id": customer_id, "phones": sorted(set(phones)), "conversation_ids": sorted(set(conversation_ids))},
        )
    if response.status_code != 200:
        raise RuntimeError(f"Rasa's privacy endpoint answered HTTP {response.status_code}")
    return response.json()


def _audit_consumer() -> Any:
    try:
        from sanic import Sanic

        return getattr(Sanic.get_app().ctx, "audit_consumer", None)
    except Exception:  # noqa: BLE001 - no app (a command line run): no consumer in this process
        return None


def erase_audit(conversation_ids: Iterable[str], customer_id: Optional[str]) -> Dict[str, int]:
    """Audit turns of these conversations or of this customer, and the consumer's state of them."""
    from actions.audit.store import AuditStore
    from actions.privacy.sqlstores import chunks

    from actions.audit.turns import new_state

    ids = sorted(set(conversation_ids))
    consumer = _audit_consumer()
    if consumer is not None:
        # What the running consumer holds in memory would be written back. It works in a thread:
        # the states dict is not resized under it; each state is emptied in place instead (an
        # empty, idle state is one the consumer itself deletes at its next commit).
        for cid in ids:
            state = consumer.assembler.states.get(cid)
            if state is not None:
                fresh = new_state()
                state.clear()
                state.update(fresh)
    store = AuditStore.from_settings()
    store.init()
    counts = {"audit_turns": 0, "audit_states": 0}
    with store.connect() as conn:
        for group in chunks(ids):
            marks = ", ".join("?" for _ in group)
            counts["audit_turns"] += store._exec(conn, f"DELETE FROM audit_turns WHERE conversation_id IN ({marks})", group).rowcount
            counts["audit_states"] += store._exec(
                conn, f"DELETE FROM audit_conversation_state WHERE conversation_id IN ({marks})", group).rowcount
        if customer_id:
            counts["audit_turns"] += store._exec(conn, "DELETE FROM audit_turns WHERE customer_id = ?", (customer_id,)).rowcount
    return counts


def sms_state_db() -> Path:
    """channels/twilio_sms.py's state file (the same rule; that module needs Rasa to import)."""
    explicit = os.environ.get("TWILIO_SMS_STATE_DB", "").strip()
    return Path(explicit) if explicit else Path(os.environ.get("VAR_DIR", "").strip() or app_settings.var_dir) / "twilio_sms.sqlite3"


def erase_sms_state(phones: Iterable[str]) -> int:
    numbers = sorted({p for p in phones if p})
    path = sms_state_db()
    if not numbers or not path.exists():
        return 0
    with closing(sqlite3.connect(path, timeout=10)) as conn, conn:
        try:
            marks = ", ".join("?" for _ in numbers)
            return conn.execute(f"DELETE FROM sms_opt_out WHERE phone IN ({marks})", numbers).rowcount
        except sqlite3.OperationalError as error:
            if "no such table" in str(error):
                return 0
            raise


def erase_handoff(store: Any, conversation_ids: Iterable[str], customer_id: Optional[str], info: Dict[str, Any]) -> Dict[str, Any]:
    """Every case of the customer becomes a tombstone; their replies and outbox rows are deleted.

    Returns counts and the ids of the tombstoned cases that have a Slack message to replace."""
    from actions.privacy.sqlstores import chunks

    ids = sorted(set(conversation_ids))
    now = time.time()
    with store.transaction() as conn:
        cases: Set[str] = set()
        for group in chunks(ids):
            marks = ", ".join("?" for _ in group)
            cases |= {r[0] for r in conn.execute(f"SELECT case_id FROM handoff_cases WHERE conversation_id IN ({marks})", group)}
        if customer_id:
            cases |= {r[0] for r in conn.execute("SELECT case_id FROM handoff_cases WHERE customer_id = ?", (customer_id,))}
        counts = {"handoff_cases": len(cases), "agent_replies": 0, "slack_outbox": 0, "slack_thread_messages": 0}
        posted: Set[tuple] = set()  # the bot's thread messages (the customer's relayed words among them)
        for key, column_values in (("case_id", sorted(cases)), ("conversation_id", ids)):
            for group in chunks(column_values):
                marks = ", ".join("?" for _ in group)
                posted |= {(r[0], r[1]) for r in conn.execute(
                    f"SELECT slack_channel, slack_ts FROM slack_outbox WHERE {key} IN ({marks}) AND kind = 'reply' "
                    "AND status = 'sent' AND slack_channel IS NOT NULL AND slack_ts IS NOT NULL", group)}
                counts["agent_replies"] += conn.execute(f"DELETE FROM agent_replies WHERE {key} IN ({marks})", group).rowcount
                counts["slack_outbox"] += conn.execute(f"DELETE FROM slack_outbox WHERE {key} IN ({marks})", group).rowcount
        for channel, ts in sorted(posted):  # queued after the deletions above, in the same transaction
            store._enqueue(conn, "delete", {"channel": channel, "ts": ts}, None, None, f"delete:{channel}:{ts}")
            counts["slack_thread_messages"] += 1
        for case_id in sorted(cases):
            conn.execute(
                """UPDATE handoff_cases SET conversation_id = 'erased', input_channel = NULL, customer_id = NULL,
                       customer_name = NULL, tier = NULL, reason = NULL, ticket_id = NULL, status = 'erased',
                       resolved_at = COALESCE(resolved_at, ?), resolved_by = COALESCE(resolved_by, ?),
                       draft_text = NULL, draft_citations = NULL, draft_status = NULL, draft_outcome_by = NULL,
                       context = NULL WHERE case_id = ?""",
                (now, info.get("approved_by"), case_id),
            )
        with_message = [r[0] for r in conn.execute(
            "SELECT case_id FROM handoff_cases WHERE status = 'erased' AND slack_ts IS NOT NULL AND case_id IN "
            f"({', '.join('?' for _ in cases) or 'NULL'})", sorted(cases))]
    return {"counts": counts, "cases": sorted(cases), "with_message": with_message}


# --- the click -----------------------------------------------------------------------------------


async def approve_deletion(case: Dict[str, Any], user: Optional[str], action_ts: str) -> Optional[str]:
    """Erase the customer of a deletion-request case; returns the erasure id (None: nothing done)."""
    from actions.backend_client import NotFound, get_client
    from actions.handoff import _escape, thread_note
    from actions.outbox import get_outbox, get_store
    from actions.privacy.log import PrivacyLog

    store = get_store()
    case_id = case["case_id"]
    if case.get("status") == "erased":
        return None  # a second click (or a retried request): done already
    if not is_deletion_request(case):
        thread_note(store, case_id, "This case is not a deletion request; nothing was erased.", f"notdeletion:{action_ts}")
        return None
    missing = [name for name, value in (("PRIVACY_API_TOKEN or RASA_API_TOKEN", privacy_token()),
                                        ("BACKEND_ADMIN_KEY", os.environ.get("BACKEND_ADMIN_KEY", "").strip())) if not value]
    if missing:
        logger.error("erasure requested for case %s but %s not set", case_id, " and ".join(missing))
        thread_note(store, case_id, ":warning: Erasure is not configured on this server (" + " and ".join(missing)
                    + " not set); nothing was erased.", f"notconfigured:{action_ts}")
        return None
    log = PrivacyLog()
    erasure_id = log.claim(case_id, user)
    if erasure_id is None:
        return None  # running or done
    customer_id = case.get("customer_id")
    if not customer_id:
        log.fail(erasure_id, None, {}, "unverified: the case names no verified customer")
        thread_note(store, case_id, ":warning: The customer is not verified, so there is no account to erase. "
                    "Verify them first; nothing was erased.", f"unverified:{action_ts}")
        return None
    customer_hash = log.customer_hash(customer_id)
    counts: Dict[str, Any] = {}
    step = "lookup"
    try:
        phones: Set[str] = set()
        try:
            customer = await get_client().get_customer(customer_id)
            if customer.get("phone"):
                phones.add(str(customer["phone"]))
        except NotFound:  # the backend step of an earlier attempt ran already
            pass
        # the backend first: a message the customer sends while the rest is erased starts a new
        # conversation, and with the account gone the channel can no longer vouch for who they are
        step = "backend"
        backend = await get_client().erase_customer(customer_id, [case["conversation_id"]])
        for key, value in (backend.get("counts") or {}).items():
            counts[f"backend_{key}"] = int(value)
        step = "rasa"
        rasa = await erase_in_rasa(customer_id, phones, [case["conversation_id"]])
        conversations = set(rasa.get("conversation_ids") or []) | {case["conversation_id"]}
        counts["conversations"] = len(conversations)
        counts.update({k: int(v) for k, v in (rasa.get("counts") or {}).items()})
        if not rasa.get("broker_erased"):
            counts["broker_not_erasable"] = rasa.get("broker") or "none"
        step = "audit"
        audit = erase_audit(conversations, customer_id)
        step = "sms"
        counts["sms_state"] = erase_sms_state(phones | {c for c in conversations if c.startswith("+")})
        step = "backend"  # tickets filed under the other conversations without a customer id
        more = await get_client().erase_customer(customer_id, sorted(conversations))
        counts["backend_tickets"] = counts.get("backend_tickets", 0) + int((more.get("counts") or {}).get("tickets", 0))
        step = "audit"
        await asyncio.sleep(AUDIT_RESWEEP_SECONDS)  # a batch the consumer had in hand is committed by now
        again = erase_audit(conversations, customer_id)
        counts.update({k: audit[k] + again[k] for k in audit})
        step = "handoff"
        info: Dict[str, Any] = {"erasure_id": erasure_id, "approved_by": user, "counts": counts}
        handoff = erase_handoff(store, conversations, customer_id, info)
        counts.update(handoff["counts"])
        context = json.dumps({"erasure": {**info, "counts": counts}})
        with store.connect() as conn:
            for tomb in handoff["cases"]:
                conn.execute("UPDATE handoff_cases SET context = ? WHERE case_id = ?", (context, tomb))
        for tomb in handoff["with_message"]:
            erased = store.get_case(tomb)
            if erased:
                store.enqueue("update", render_erased(erased), case_id=tomb, dedupe_key=f"update:{tomb}:erased:{erasure_id}")
        thread_note(store, case_id, f":wastebasket: Erasure `{erasure_id}` completed: the customer's data is erased from every store.",
                    f"erased:{erasure_id}")
        get_outbox().wake()
    except Exception as error:  # noqa: BLE001 - recorded, told in the thread, retried by a new click
        logger.exception("erasure %s failed at step %s", erasure_id, step)
        log.fail(erasure_id, customer_hash, counts, f"{step}: {type(error).__name__}")
        thread_note(store, case_id, f":warning: Erasure `{erasure_id}` failed at step {step} ({_escape(type(error).__name__)}). "
                    "Click *Approve deletion* again to retry; every step is safe to repeat.", f"erasefail:{erasure_id}:{action_ts}")
        return None
    log.finish(erasure_id, customer_hash, counts)
    logger.info("erasure %s done (case %s, approved by %s): %s", erasure_id, case_id, user, counts)
    return erasure_id
