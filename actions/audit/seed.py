"""Deterministic audit records: a small set with known KPIs (tests) and a larger demo set.

    python -m actions.audit.seed --db /tmp/demo_audit.db --demo 600 [--days 35] [--shift]

The *known set* (``known_set``) is eight hand-written conversations whose KPIs are worked out
in docs/audit.md; the tests check the KPI command and the HTML report against those numbers.
The *demo set* draws conversations from fixed intent mixes with a fixed random seed, so the same
command always produces the same report; ``--shift`` changes the mix of the last week (drift).
"""
from __future__ import annotations

import argparse
import random
import sqlite3
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional

from actions.audit.store import AuditStore

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc).timestamp()
DAY = 86400.0
VERSIONS = {
    "model_id": "seed-model", "assistant_id": "brightcart", "rules_version": "seed-rules",
    "kb_index_version": "seed-kb", "action_server_version": "seed-actions",
}


def turn(cid: str, index: int, ts: float, intent: Optional[str], confidence: Optional[float], channel: str = "rest",
         *, latency: Optional[float] = 300.0, action: Optional[str] = "utter_ok", **extra: Any) -> Dict[str, Any]:
    record = {
        "conversation_id": cid, "turn_key": f"{cid}-{index}", "turn_index": index, "channel": channel, "ts": ts,
        "message": f"message {index} of {cid}", "intent": intent, "confidence": confidence,
        "intent_ranking": [{"name": intent, "confidence": confidence}], "entities": [],
        "triage": None, "frustration": 0.0, "urgency": "normal", "risk_class": "low",
        "actions": [{"name": action, "policy": "RulePolicy", "confidence": 1.0}] if action else [],
        "action": action, "policy": "RulePolicy" if action else None, "escalation_rule": None, "escalation_reason": None,
        "handoff": False, "handoff_ticket_id": None, "knowledge": None, "kb_refused": None,
        "fallback": False, "reply": "ok", "latency_ms": latency, "paused": False,
        "customer_id": None, "order_id": None, "closed_by": "listen", **VERSIONS,
    }
    record.update(extra)
    if record["handoff"] and "action" not in extra:
        record["action"] = "action_handoff_to_human"
        record["actions"] = [{"name": "action_handoff_to_human", "policy": "RulePolicy", "confidence": 1.0}]
    return record


def _kb(refused: bool, query: str) -> Dict[str, Any]:
    return {
        "knowledge": {"query": query, "retrieved": [{"chunk_id": "return-policy#00", "article_id": "return-policy", "section": "", "score": 0.7}],
                      "refused": refused, "reason": "low_relevance" if refused else None,
                      "cited_articles": [] if refused else ["return-policy"], "index_version": "seed-kb"},
        "kb_refused": refused, "action": "action_answer_from_knowledge",
        "actions": [{"name": "action_answer_from_knowledge", "policy": "RulePolicy", "confidence": 1.0}],
    }


def known_set() -> List[Dict[str, Any]]:
    """Eight conversations; the expected KPIs are in tests/audit/test_kpis.py and docs/audit.md."""
    h = 3600.0
    return [
        # C1 contained; customer C0001 about BC-100001
        turn("C1", 1, T0 + 1 * h, "greet", 0.95, latency=100),
        turn("C1", 2, T0 + 1 * h + 60, "order_status", 0.90, latency=300, customer_id="C0001", order_id="BC-100001"),
        # C2 a knowledge answer
        turn("C2", 1, T0 + 2 * h, "ask_question", 0.85, "socketio", latency=500, **_kb(False, "how long do refunds take")),
        # C3 a refusal, then the customer asks for a person
        turn("C3", 1, T0 + 3 * h, "ask_question", 0.80, "socketio", latency=700, **_kb(True, "do you sell cars")),
        turn("C3", 2, T0 + 3 * h + 60, "request_human", 0.90, "socketio", latency=900, handoff=True,
             escalation_rule="customer_asked", handoff_ticket_id="T-1"),
        # C4 a billing dispute: the rule fires on turn 1, the handoff follows on turn 2
        turn("C4", 1, T0 + 4 * h, "billing_dispute", 0.50, "twilio", latency=1100, escalation_rule="billing_dispute"),
        turn("C4", 2, T0 + 4 * h + 60, "affirm", 0.90, "twilio", latency=1300, handoff=True, handoff_ticket_id="T-2"),
        # C5 not understood, then goodbye
        turn("C5", 1, T0 + 5 * h, "nlu_fallback", 0.30, latency=200, fallback=True, action="action_default_fallback"),
        turn("C5", 2, T0 + 5 * h + 60, "goodbye", 0.99, latency=150),
        # C6 the same customer and order 3 days after C1: a reopen
        turn("C6", 1, T0 + 3 * DAY, "order_status", 0.92, latency=400, customer_id="C0001", order_id="BC-100001"),
        # C7 11 days after C1, 8 after C6: not a reopen
        turn("C7", 1, T0 + 11 * DAY, "order_status", 0.88, latency=250, customer_id="C0001", order_id="BC-100001"),
        # C8 a message while a person has the conversation (paused): not contained, no bot reply
        turn("C8", 1, T0 + 6 * h, "order_status", 0.93, latency=None, paused=True, action=None, reply=""),
    ]


KNOWN_DRAFTS = [("sent_as_is", T0 + 3 * 3600 + 300), ("sent_as_is", T0 + 4 * 3600 + 300),
                ("edited", T0 + 5 * 3600), ("discarded", T0 + 6 * 3600), ("edited", T0 - 30 * DAY)]  # the last is out of range


def write_known_drafts(path: Path) -> None:
    """The handoff flow's draft outcomes for the known set, in the layout config/audit.yml names."""
    from actions.audit.drafts import drafts_location

    where = drafts_location()
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {where['table']} (case_id TEXT PRIMARY KEY, {where['outcome']} TEXT, {where['time']} REAL)")
        rows = [(f"case-{n}", outcome, ts) for n, (outcome, ts) in enumerate(KNOWN_DRAFTS)] + [("case-open", None, None)]
        conn.executemany(f"INSERT INTO {where['table']} VALUES (?, ?, ?)", rows)
    conn.close()


BASE_MIX = {
    "order_status": 24, "ask_question": 18, "return_item": 9, "refund_status": 8, "cancel_order": 6,
    "damaged_or_wrong_item": 5, "billing_dispute": 4, "payment_failed": 4, "change_plan": 4, "reset_password": 5,
    "account_locked": 3, "request_human": 5, "report_bug": 2, "service_outage": 1, "nlu_fallback": 2,
}
SHIFTED_MIX = {**BASE_MIX, "service_outage": 20, "payment_failed": 14, "order_status": 12, "nlu_fallback": 8}
CHANNELS = {"socketio": 55, "rest": 15, "twilio": 20, "twilio_voice": 10}
RULE_FOR = {"billing_dispute": "billing_dispute", "request_human": "customer_asked", "account_locked": "security_risk",
            "service_outage": "outage_vip"}


def demo_set(conversations: int = 600, days: int = 35, shift: bool = False, seed: int = 7,
             start: float = T0, low_confidence_bias: float = 0.0) -> List[Dict[str, Any]]:
    """Synthetic but plausible trail: fixed random seed, so always the same records."""
    rng = random.Random(seed)
    records: List[Dict[str, Any]] = []
    customers = [f"C{n:04d}" for n in range(1, 120)]
    for n in range(conversations):
        ts = start + rng.random() * days * DAY
        recent = ts >= start + (days - 7) * DAY
        mix = SHIFTED_MIX if (shift and recent) else BASE_MIX
        intent = rng.choices(list(mix), weights=list(mix.values()))[0]
        channel = rng.choices(list(CHANNELS), weights=list(CHANNELS.values()))[0]
        cid = f"demo-{n:05d}"
        low_bias = low_confidence_bias if (shift and recent) else 0.0
        confidence = round(min(0.99, max(0.2, rng.gauss(0.86 - low_bias, 0.12))), 3)
        latency = round(rng.lognormvariate(5.8, 0.6) + (1200 if intent == "ask_question" else 0), 1)
        extra: Dict[str, Any] = {}
        if intent == "ask_question":
            extra.update(_kb(rng.random() < 0.18, rng.choice(["how long do refunds take", "do you ship to Canada",
                                                                 "can I pay with crypto", "what is plus membership"])))
        if intent == "nlu_fallback" or confidence < 0.45:
            extra.update(fallback=True, action="action_default_fallback")
        if intent in ("order_status", "return_item", "refund_status", "cancel_order", "damaged_or_wrong_item"):
            extra.update(customer_id=rng.choice(customers), order_id=f"BC-{100000 + rng.randrange(60):06d}")
        turns = [turn(cid, 1, ts, "greet", 0.97, channel, latency=round(rng.uniform(60, 160), 1))] if rng.random() < 0.4 else []
        turns.append(turn(cid, len(turns) + 1, ts + 20, intent, confidence, channel, latency=latency, **extra))
        escalate = intent in RULE_FOR and rng.random() < 0.8 or rng.random() < 0.07
        if escalate:
            rule = RULE_FOR.get(intent) or rng.choice(["frustrated_customer", "repeated_failure"])
            turns.append(turn(cid, len(turns) + 1, ts + 60, "affirm", 0.93, channel, latency=round(rng.uniform(200, 600), 1),
                              handoff=True, escalation_rule=rule, handoff_ticket_id=f"T-{n}"))
        records.extend(turns)
    return records


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="audit store to fill (never the live one by default)")
    parser.add_argument("--demo", type=int, default=0, metavar="N", help="N synthetic conversations (else the known set)")
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--shift", action="store_true", help="change the intent mix of the last 7 days")
    parser.add_argument("--ending-now", action="store_true", help="place the demo set in the last --days days")
    args = parser.parse_args(argv)
    import time

    start = time.time() - args.days * DAY if args.ending_now else T0
    records = demo_set(args.demo, args.days, args.shift, start=start, low_confidence_bias=0.15) if args.demo else known_set()
    written = AuditStore(args.db).insert_turns(records)
    print(f"{written} turn records written to {args.db}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
