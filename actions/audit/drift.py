"""Drift signal: has what customers ask, or how sure the model is, shifted?

    python -m actions.audit.drift [--until 2024-06-05] [--recent-days 7] [--reference-days 28] [--json] [--fail-on-drift]

Compares the recent window (``recent_days`` up to ``--until``, default now) with the reference
window just before it (``reference_days``):

- intent distribution: Jensen-Shannon distance (base 2, 0 = same, 1 = disjoint) and the
  population stability index (PSI);
- share of customer messages below the low-confidence threshold: absolute change.

Each is flagged when beyond its threshold in config/audit.yml (``drift:``). With fewer than
``min_turns`` turns in either window the figures are shown but nothing is flagged.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter
from typing import Any, Dict, List, Optional

from actions.audit.cli import iso, parse_time
from actions.audit.settings import AuditSettings
from actions.audit.store import AuditStore
from actions.audit.terminal import safe

DAY = 86400.0
EPSILON = 1e-4  # floor for a share that is zero in one window (PSI's log needs it)


def distribution(intents: List[Optional[str]]) -> Dict[str, float]:
    counts = Counter(intent or "none" for intent in intents)
    total = sum(counts.values())
    return {name: n / total for name, n in counts.items()} if total else {}


def js_distance(p: Dict[str, float], q: Dict[str, float]) -> float:
    """Jensen-Shannon distance, base 2 (square root of the divergence), in [0, 1]."""
    keys = set(p) | set(q)

    def kl(a: Dict[str, float], m: Dict[str, float]) -> float:
        return sum(a[k] * math.log2(a[k] / m[k]) for k in keys if a.get(k, 0) > 0)

    m = {k: (p.get(k, 0.0) + q.get(k, 0.0)) / 2 for k in keys}
    divergence = (kl(p, m) + kl(q, m)) / 2
    return math.sqrt(max(0.0, divergence))


def psi(reference: Dict[str, float], recent: Dict[str, float]) -> float:
    keys = set(reference) | set(recent)
    total = 0.0
    for k in keys:
        a, b = max(reference.get(k, 0.0), EPSILON), max(recent.get(k, 0.0), EPSILON)
        total += (b - a) * math.log(b / a)
    return total


def compare(reference: List[Dict[str, Any]], recent: List[Dict[str, Any]], settings: AuditSettings) -> Dict[str, Any]:
    cfg = settings.drift
    ref_dist = distribution([t.get("intent") for t in reference])
    rec_dist = distribution([t.get("intent") for t in recent])

    def low_share(turns: List[Dict[str, Any]]) -> Optional[float]:
        scored = [t for t in turns if t.get("confidence") is not None]
        return sum(1 for t in scored if t["confidence"] < settings.low_confidence) / len(scored) if scored else None

    ref_low, rec_low = low_share(reference), low_share(recent)
    enough = min(len(reference), len(recent)) >= int(cfg.get("min_turns", 20))
    js = js_distance(ref_dist, rec_dist) if ref_dist and rec_dist else None
    stability = psi(ref_dist, rec_dist) if ref_dist and rec_dist else None
    delta = None if ref_low is None or rec_low is None else rec_low - ref_low
    checks = {
        "intent_js_distance": (js, float(cfg.get("intent_js_distance", 0.2))),
        "intent_psi": (stability, float(cfg.get("intent_psi", 0.25))),
        "low_confidence_share_delta": (None if delta is None else abs(delta), float(cfg.get("low_confidence_share_delta", 0.1))),
    }
    flags = [name for name, (value, limit) in checks.items() if enough and value is not None and value > limit]
    movers = sorted(
        ({"intent": k, "reference": round(ref_dist.get(k, 0.0), 4), "recent": round(rec_dist.get(k, 0.0), 4),
          "change": round(rec_dist.get(k, 0.0) - ref_dist.get(k, 0.0), 4)} for k in set(ref_dist) | set(rec_dist)),
        key=lambda row: -abs(row["change"]),
    )
    return {
        "reference_turns": len(reference),
        "recent_turns": len(recent),
        "enough_data": enough,
        "intent_js_distance": None if js is None else round(js, 4),
        "intent_psi": None if stability is None else round(stability, 4),
        "low_confidence_share_reference": None if ref_low is None else round(ref_low, 4),
        "low_confidence_share_recent": None if rec_low is None else round(rec_low, 4),
        "low_confidence_share_delta": None if delta is None else round(delta, 4),
        "thresholds": {name: limit for name, (_, limit) in checks.items()},
        "flags": flags,
        "drift": bool(flags),
        "top_changes": movers[:8],
    }


def detect(
    store: AuditStore,
    until: Optional[float] = None,
    recent_days: Optional[float] = None,
    reference_days: Optional[float] = None,
    settings: Optional[AuditSettings] = None,
) -> Dict[str, Any]:
    settings = settings or AuditSettings.load()
    until = time.time() if until is None else until
    recent_days = float(recent_days or settings.drift.get("recent_days", 7))
    reference_days = float(reference_days or settings.drift.get("reference_days", 28))
    recent_start = until - recent_days * DAY
    reference_start = recent_start - reference_days * DAY
    result = compare(store.turns(since=reference_start, until=recent_start), store.turns(since=recent_start, until=until), settings)
    result["windows"] = {
        "reference": [iso(reference_start), iso(recent_start)],
        "recent": [iso(recent_start), iso(until)],
    }
    return result


def format_text(result: Dict[str, Any]) -> str:
    lines = [
        f"reference {result['windows']['reference'][0]} .. {result['windows']['reference'][1]}: {result['reference_turns']} turns",
        f"recent    {result['windows']['recent'][0]} .. {result['windows']['recent'][1]}: {result['recent_turns']} turns",
        f"intent Jensen-Shannon distance {result['intent_js_distance']}  (flag above {result['thresholds']['intent_js_distance']})",
        f"intent PSI                     {result['intent_psi']}  (flag above {result['thresholds']['intent_psi']})",
        f"low-confidence share           {result['low_confidence_share_reference']} -> {result['low_confidence_share_recent']}"
        f"  (flag on a change above {result['thresholds']['low_confidence_share_delta']})",
        "largest changes: " + ", ".join(f"{r['intent']} {r['reference']:.0%}->{r['recent']:.0%}" for r in result["top_changes"][:5]),
    ]
    if not result["enough_data"]:
        lines.append("NOT ENOUGH DATA to flag drift")
    lines.append(("DRIFT: " + ", ".join(result["flags"])) if result["drift"] else "no drift")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="audit store; default AUDIT_DB_URL or var/audit.db")
    parser.add_argument("--until", help="end of the recent window (default now)")
    parser.add_argument("--recent-days", type=float)
    parser.add_argument("--reference-days", type=float)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--fail-on-drift", action="store_true", help="exit 3 when drift is flagged (cron, CI)")
    args = parser.parse_args(argv)
    settings = AuditSettings.load()
    result = detect(AuditStore(args.db or settings.db_url), parse_time(args.until), args.recent_days, args.reference_days, settings)
    print(json.dumps(result, indent=2) if args.json else safe(format_text(result)))
    return 3 if (args.fail_on_drift and result["drift"]) else 0


if __name__ == "__main__":
    sys.exit(main())
