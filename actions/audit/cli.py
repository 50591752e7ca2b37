"""Inspect the decision trail.

    python -m actions.audit.cli trail <conversation_id> [--json]
    python -m actions.audit.cli list [--intent X] [--rule Y] [--low-confidence 0.6] [--refusals]
                                     [--channel C] [--since 2024-05-01] [--until 2024-05-08] [--json]

``--db`` (or AUDIT_DB_URL) selects another audit store. Dates are ISO dates or datetimes (UTC when
no offset is given), or a relative ``7d`` / ``24h``.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

from actions.audit.settings import AuditSettings
from actions.audit.store import AuditStore
from actions.audit.terminal import safe


def parse_time(value: Optional[str]) -> Optional[float]:
    """ISO date/datetime (UTC unless an offset is given), epoch seconds, or '7d'/'12h' ago."""
    if value is None or value == "":
        return None
    relative = re.fullmatch(r"(\d+(?:\.\d+)?)([dhm])", value.strip())
    if relative:
        amount, unit = float(relative.group(1)), relative.group(2)
        return time.time() - amount * {"d": 86400, "h": 3600, "m": 60}[unit]
    try:
        return float(value)
    except ValueError:
        pass
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def iso(ts: Optional[float]) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _pct(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.2f}"


def format_turn(turn: Dict[str, Any]) -> str:
    """One turn as a readable block: what was seen, retrieved, decided and said."""
    lines = [
        f"#{turn.get('turn_index')}  {iso(turn['ts'])} UTC  channel={turn.get('channel') or '-'}"
        f"  latency={turn['latency_ms']:.0f} ms" if turn.get("latency_ms") is not None else
        f"#{turn.get('turn_index')}  {iso(turn['ts'])} UTC  channel={turn.get('channel') or '-'}  latency=-",
        f"  customer : {turn.get('message')!r}" + ("   (conversation paused: a person handles it)" if turn.get("paused") else ""),
        f"  intent   : {turn.get('intent')} ({_pct(turn.get('confidence'))})"
        + ("".join(f", {r['name']} {_pct(r.get('confidence'))}" for r in (turn.get("intent_ranking") or [])[1:])),
    ]
    if turn.get("entities"):
        lines.append("  entities : " + ", ".join(f"{e['entity']}={e['value']}" for e in turn["entities"]))
    if turn.get("triage") or turn.get("risk_class") or turn.get("frustration") is not None:
        lines.append(
            f"  triage   : frustration={_pct(turn.get('frustration'))} urgency={turn.get('urgency') or '-'} "
            f"risk={turn.get('risk_class') or '-'}"
        )
    actions = turn.get("actions") or []
    lines.append(
        "  actions  : "
        + (", ".join(f"{a['name']} [{a.get('policy') or '-'} {_pct(a.get('confidence'))}]" for a in actions) or "-")
    )
    if turn.get("escalation_rule") or turn.get("handoff"):
        lines.append(
            f"  escalate : rule={turn.get('escalation_rule') or '-'} handoff={'yes' if turn.get('handoff') else 'no'}"
            + (f" ticket={turn['handoff_ticket_id']}" if turn.get("handoff_ticket_id") else "")
        )
    kb = turn.get("knowledge")
    if kb:
        retrieved = ", ".join(f"{c.get('chunk_id')}:{c.get('score')}" for c in kb.get("retrieved") or [])
        lines.append(f"  knowledge: query={kb.get('query')!r} {'REFUSED (' + str(kb.get('reason')) + ')' if kb.get('refused') else 'answered'}")
        lines.append(f"             retrieved={retrieved or '-'}  cited={', '.join(kb.get('cited_articles') or []) or '-'}")
    lines.append("  reply    : " + (turn.get("reply") or "-").replace("\n", "\n             "))
    lines.append(
        f"  versions : model={turn.get('model_id') or '-'} rules={turn.get('rules_version') or '-'} "
        f"kb={turn.get('kb_index_version') or '-'} actions={turn.get('action_server_version') or '-'}"
    )
    return "\n".join(lines)


def format_row(turn: Dict[str, Any]) -> str:
    kb = turn.get("knowledge") or {}
    flags = []
    if turn.get("fallback"):
        flags.append("fallback")
    if turn.get("kb_refused"):
        flags.append("refused")
    if turn.get("handoff"):
        flags.append("handoff")
    return (
        f"{iso(turn['ts'])}  {turn['conversation_id'][:24]:24}  #{turn.get('turn_index') or 0:<3} "
        f"{(turn.get('intent') or '-')[:22]:22} {_pct(turn.get('confidence')):>5}  "
        f"{(turn.get('action') or '-')[:30]:30} {(turn.get('escalation_rule') or '-')[:20]:20} "
        f"{','.join(flags) or '-':16} {turn.get('message', '')[:60]!r}"
        + (f"  kb={kb.get('query')!r}" if kb and turn.get("kb_refused") else "")
    )


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="audit store (SQLite path or postgresql:// URL); default AUDIT_DB_URL or var/audit.db")
    sub = parser.add_subparsers(dest="command", required=True)
    trail = sub.add_parser("trail", help="one conversation, turn by turn")
    trail.add_argument("conversation_id")
    trail.add_argument("--json", action="store_true")
    listing = sub.add_parser("list", help="turns matching filters")
    listing.add_argument("--intent")
    listing.add_argument("--rule", help="escalation rule that fired")
    listing.add_argument("--channel")
    listing.add_argument("--low-confidence", nargs="?", type=float, const=-1.0, metavar="THRESHOLD",
                         help="NLU confidence below THRESHOLD (default from config/audit.yml)")
    listing.add_argument("--refusals", action="store_true", help="knowledge questions the bot declined")
    listing.add_argument("--since")
    listing.add_argument("--until")
    listing.add_argument("--limit", type=int)
    listing.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    settings = AuditSettings.load()
    store = AuditStore(args.db or settings.db_url)
    if args.command == "trail":
        turns = store.turns(conversation_id=args.conversation_id)
        if args.json:
            print(json.dumps(turns, indent=2, default=str))
            return 0 if turns else 1
        if not turns:
            print(f"no recorded turns for conversation {args.conversation_id!r} in {store.describe()}", file=sys.stderr)
            return 1
        print(safe(f"conversation {args.conversation_id}: {len(turns)} turn(s)\n"))
        print(safe("\n\n".join(format_turn(t) for t in turns)))
        return 0

    low = args.low_confidence
    if low is not None and low < 0:
        low = settings.low_confidence
    turns = store.turns(
        intent=args.intent, rule=args.rule, channel=args.channel, low_confidence=low, refusals=args.refusals,
        since=parse_time(args.since), until=parse_time(args.until), limit=args.limit,
    )
    if args.json:
        print(json.dumps(turns, indent=2, default=str))
        return 0
    for turn in turns:
        print(safe(format_row(turn)))
    print(f"{len(turns)} turn(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
