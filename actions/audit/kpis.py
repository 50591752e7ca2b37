"""Support KPIs from the decision trail (and the tracker store for conversations it lacks).

    python -m actions.audit.kpis --since 2024-05-01 --until 2024-06-01 [--json] [--tracker-store DB]

Definitions (docs/audit.md has the reasoning):

- conversation: a conversation id with at least one customer turn in the range. Its intent is the
  first "task" intent it had (greetings, thanks, yes/no, inform and fallbacks skipped), its channel
  the channel of its first turn;
- contained: no turn was handed to a person (``action_handoff_to_human``) and no message arrived
  while the bot was paused; containment rate = contained / conversations, escalation rate = the rest;
- escalation reasons: the escalation rule that fired on the handoff turn (else the last rule that
  fired earlier in the conversation, else ``intent:<intent>`` of the handoff turn);
- knowledge answer / refusal rate: of the turns where ``action_answer_from_knowledge`` ran;
- fallback rate: turns classified ``nlu_fallback`` or answered by a fallback action / all turns;
- response time: customer message to the bot's last reply of the turn, over turns that had one
  (median and p95, linear interpolation between ranks);
- draft acceptance: Slack drafts of the handoff flow decided in the range, sent as is / edited /
  discarded (actions/audit/drafts.py);
- reopen: a conversation whose customer came back about the same order within ``reopen_days``
  (config/audit.yml) after the start of an earlier conversation; rate over conversations that
  have both a customer id and an order id.

Conversation-level figures are grouped by the conversation's intent and channel, turn-level ones
(fallbacks, knowledge, response time, confidence) by the turn's own intent and channel.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter, OrderedDict, defaultdict
from typing import Any, Dict, Iterable, List, Optional, Sequence

from actions.audit.cli import iso, parse_time
from actions.audit.settings import AuditSettings
from actions.audit.store import AuditStore
from actions.audit.terminal import safe
from actions.intent_catalog import get_catalog

DAY = 86400.0


def percentile(values: Sequence[float], q: float) -> Optional[float]:
    """q in [0, 100]; linear interpolation between closest ranks (numpy's default)."""
    data = sorted(values)
    if not data:
        return None
    position = (len(data) - 1) * q / 100.0
    low, high = math.floor(position), math.ceil(position)
    return data[low] + (data[high] - data[low]) * (position - low)


def _rate(part: int, whole: int) -> Optional[float]:
    return round(part / whole, 4) if whole else None


def conversation_intent(turns: List[Dict[str, Any]]) -> str:
    small_talk = get_catalog().small_talk  # small_talk in config/intents.yml
    for turn in turns:
        if turn.get("intent") is not None and turn.get("intent") not in small_talk:
            return turn["intent"]
    return turns[0].get("intent") or "none"


def summarize_conversation(turns: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Facts about one conversation (its turns oldest first)."""
    handoff_turn = next((t for t in turns if t.get("handoff")), None)
    human = handoff_turn is not None or any(t.get("paused") for t in turns)
    reason = None
    if human:
        if handoff_turn and handoff_turn.get("escalation_rule"):
            reason = handoff_turn["escalation_rule"]
        else:
            cutoff = handoff_turn["ts"] if handoff_turn else turns[-1]["ts"]
            fired = [t["escalation_rule"] for t in turns if t.get("escalation_rule") and t["ts"] <= cutoff]
            reason = fired[-1] if fired else f"intent:{(handoff_turn or turns[0]).get('intent') or 'none'}"
    customers = [t["customer_id"] for t in turns if t.get("customer_id")]
    orders = {t["order_id"] for t in turns if t.get("order_id")}
    return {
        "conversation_id": turns[0]["conversation_id"],
        "start": turns[0]["ts"],
        "intent": conversation_intent(turns),
        "channel": turns[0].get("channel") or "unknown",
        "human": human,
        "reason": reason,
        "customer_id": customers[-1] if customers else None,
        "orders": orders,
    }


def mark_reopens(conversations: List[Dict[str, Any]], history: List[Dict[str, Any]], days: float) -> None:
    """Set ``reopen`` on each conversation with a customer and order (None when it has neither)."""
    earlier = sorted(history, key=lambda c: c["start"])
    for conv in conversations:
        if not conv["customer_id"] or not conv["orders"]:
            conv["reopen"] = None
            continue
        conv["reopen"] = any(
            other["conversation_id"] != conv["conversation_id"]
            and other["customer_id"] == conv["customer_id"]
            and other["orders"] & conv["orders"]
            and 0 <= conv["start"] - other["start"] <= days * DAY
            and other["start"] < conv["start"]
            for other in earlier
        )


def turn_kpis(turns: List[Dict[str, Any]], low_confidence: float) -> Dict[str, Any]:
    kb = [t for t in turns if t.get("kb_refused") is not None]
    refused = sum(1 for t in kb if t["kb_refused"])
    latencies = [t["latency_ms"] for t in turns if t.get("latency_ms") is not None]
    confident = [t for t in turns if t.get("confidence") is not None]
    median, p95 = percentile(latencies, 50), percentile(latencies, 95)
    return {
        "turns": len(turns),
        "knowledge_turns": len(kb),
        "knowledge_answer_rate": _rate(len(kb) - refused, len(kb)),
        "knowledge_refusal_rate": _rate(refused, len(kb)),
        "fallback_rate": _rate(sum(1 for t in turns if t.get("fallback")), len(turns)),
        "low_confidence_rate": _rate(sum(1 for t in confident if t["confidence"] < low_confidence), len(confident)),
        "response_ms_median": None if median is None else round(median, 1),
        "response_ms_p95": None if p95 is None else round(p95, 1),
    }


def conversation_kpis(conversations: List[Dict[str, Any]]) -> Dict[str, Any]:
    total = len(conversations)
    escalated = [c for c in conversations if c["human"]]
    keyed = [c for c in conversations if c.get("reopen") is not None]
    return {
        "conversations": total,
        "containment_rate": _rate(total - len(escalated), total),
        "escalation_rate": _rate(len(escalated), total),
        "escalation_reasons": dict(Counter(c["reason"] for c in escalated).most_common()),
        "reopen_rate": _rate(sum(1 for c in keyed if c["reopen"]), len(keyed)),
        "reopen_base": len(keyed),
    }


def _group(items: Iterable[Dict[str, Any]], key: str) -> Dict[str, List[Dict[str, Any]]]:
    groups: Dict[str, List[Dict[str, Any]]] = defaultdict(list)
    for item in items:
        groups[item.get(key) or ("unknown" if key == "channel" else "none")].append(item)
    return dict(sorted(groups.items()))


def compute_kpis(
    turns: List[Dict[str, Any]],
    since: Optional[float] = None,
    until: Optional[float] = None,
    history: Optional[List[Dict[str, Any]]] = None,
    drafts: Optional[Dict[str, Any]] = None,
    settings: Optional[AuditSettings] = None,
) -> Dict[str, Any]:
    """KPIs of ``turns`` (already limited to the range); ``history`` = turns of the reopen look-back."""
    settings = settings or AuditSettings.load()
    by_conversation: "OrderedDict[str, List[Dict[str, Any]]]" = OrderedDict()
    for turn in sorted(turns, key=lambda t: (t["ts"], t.get("turn_index") or 0)):
        by_conversation.setdefault(turn["conversation_id"], []).append(turn)
    conversations = [summarize_conversation(ts) for ts in by_conversation.values()]
    past: "OrderedDict[str, List[Dict[str, Any]]]" = OrderedDict()
    for turn in sorted(history or [], key=lambda t: t["ts"]):
        past.setdefault(turn["conversation_id"], []).append(turn)
    known = {c["conversation_id"] for c in conversations}
    earlier = conversations + [summarize_conversation(ts) for cid, ts in past.items() if cid not in known]
    mark_reopens(conversations, earlier, settings.reopen_days)

    def block(convs: List[Dict[str, Any]], tts: List[Dict[str, Any]]) -> Dict[str, Any]:
        return {**conversation_kpis(convs), **turn_kpis(tts, settings.low_confidence)}

    conv_by_intent, turn_by_intent = _group(conversations, "intent"), _group(turns, "intent")
    conv_by_channel, turn_by_channel = _group(conversations, "channel"), _group(turns, "channel")
    return {
        "range": {"since": iso(since) if since else None, "until": iso(until) if until else None},
        "thresholds": {"low_confidence": settings.low_confidence, "reopen_days": settings.reopen_days},
        "overall": block(conversations, turns),
        "by_intent": {
            name: block(conv_by_intent.get(name, []), turn_by_intent.get(name, []))
            for name in sorted(set(conv_by_intent) | set(turn_by_intent))
        },
        "by_channel": {
            name: block(conv_by_channel.get(name, []), turn_by_channel.get(name, []))
            for name in sorted(set(conv_by_channel) | set(turn_by_channel))
        },
        "drafts": drafts or {},
    }


def turns_from_tracker_store(url: str, since: Optional[float], until: Optional[float], skip: Iterable[str]) -> List[Dict[str, Any]]:
    """Turn records built on the fly for conversations in the tracker store the trail lacks."""
    from actions.audit.sources import read_tracker_store
    from actions.audit.turns import TurnAssembler

    skip = set(skip)
    assembler = TurnAssembler(ignore_prefixes=AuditSettings.load().ignore_sender_prefixes)
    records: List[Dict[str, Any]] = []
    for cid, events in read_tracker_store(url, since=since, until=until).items():
        if cid in skip:
            continue
        for event in events:
            records.extend(assembler.feed(event))
    records.extend(assembler.flush_all())
    return [r for r in records if (since is None or r["ts"] >= since) and (until is None or r["ts"] < until)]


def collect_turns(
    store: AuditStore,
    since: Optional[float],
    until: Optional[float],
    tracker_store: Optional[str] = None,
    settings: Optional[AuditSettings] = None,
) -> "tuple[List[Dict[str, Any]], List[Dict[str, Any]]]":
    """(turns in the range, turns of the reopen look-back window before it)."""
    settings = settings or AuditSettings.load()
    turns = store.turns(since=since, until=until)
    if tracker_store:
        turns += turns_from_tracker_store(tracker_store, since, until, {t["conversation_id"] for t in turns})
    history = store.turns(since=since - settings.reopen_days * DAY, until=since) if since is not None else []
    return turns, history


def load_kpis(
    store: AuditStore,
    since: Optional[float],
    until: Optional[float],
    tracker_store: Optional[str] = None,
    settings: Optional[AuditSettings] = None,
) -> Dict[str, Any]:
    from actions.audit.drafts import draft_outcomes

    settings = settings or AuditSettings.load()
    turns, history = collect_turns(store, since, until, tracker_store, settings)
    return compute_kpis(turns, since, until, history, draft_outcomes(since, until), settings)


def _fmt(value: Any, kind: str = "rate") -> str:
    if value is None:
        return "-"
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "ms":
        return f"{value:.0f} ms"
    return str(value)


def format_text(kpis: Dict[str, Any]) -> str:
    lines = [f"KPIs {kpis['range']['since'] or 'beginning'} .. {kpis['range']['until'] or 'now'} (UTC)", ""]
    header = f"{'':24} {'conv':>5} {'turns':>6} {'contain':>8} {'escal':>7} {'kb ans':>7} {'refuse':>7} {'fallbk':>7} {'median':>8} {'p95':>8} {'reopen':>7}"

    def row(name: str, k: Dict[str, Any]) -> str:
        return (
            f"{name[:24]:24} {k['conversations']:>5} {k['turns']:>6} {_fmt(k['containment_rate']):>8} "
            f"{_fmt(k['escalation_rate']):>7} {_fmt(k['knowledge_answer_rate']):>7} {_fmt(k['knowledge_refusal_rate']):>7} "
            f"{_fmt(k['fallback_rate']):>7} {_fmt(k['response_ms_median'], 'ms'):>8} {_fmt(k['response_ms_p95'], 'ms'):>8} "
            f"{_fmt(k['reopen_rate']):>7}"
        )

    lines += [header, row("overall", kpis["overall"]), "", "by channel"]
    lines += [row(name, k) for name, k in kpis["by_channel"].items()]
    lines += ["", "by intent"]
    lines += [row(name, k) for name, k in kpis["by_intent"].items()]
    reasons = kpis["overall"]["escalation_reasons"]
    lines += ["", "escalation reasons: " + (", ".join(f"{r} {n}" for r, n in reasons.items()) or "-")]
    drafts = kpis.get("drafts") or {}
    if drafts.get("total"):
        lines.append(
            f"handoff drafts: {drafts['total']} decided; sent as is {_fmt(drafts['as_is_rate'])}, "
            f"edited {_fmt(drafts['edited_rate'])}, discarded {_fmt(drafts['discarded_rate'])}"
        )
    else:
        lines.append("handoff drafts: none recorded" + (f" ({drafts['note']})" if drafts.get("note") else ""))
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--since", help="ISO date/datetime (UTC), epoch seconds, or 7d/24h ago")
    parser.add_argument("--until")
    parser.add_argument("--db", help="audit store; default AUDIT_DB_URL or var/audit.db")
    parser.add_argument("--tracker-store", help="also count conversations of this Rasa tracker store the trail lacks")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    settings = AuditSettings.load()
    store = AuditStore(args.db or settings.db_url)
    kpis = load_kpis(store, parse_time(args.since), parse_time(args.until), args.tracker_store, settings)
    print(json.dumps(kpis, indent=2, default=str) if args.json else safe(format_text(kpis)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
