"""Render the support KPIs as one self-contained HTML page with charts.

    python -m actions.audit.report --out reports/kpi_report.html [--since 30d] [--until ...]
                                   [--db AUDIT_DB] [--tracker-store DB]

Charts are matplotlib PNGs embedded as base64, so the page is one file to mail or attach. Every
figure on the page also carries ``data-kpi``/``data-value`` attributes, so tests (and scrapers)
read exact numbers instead of pixels.
"""
from __future__ import annotations

import argparse
import base64
import html
import io
import sys
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional

from actions.audit.cli import parse_time
from actions.audit.drafts import draft_outcomes
from actions.audit.kpis import collect_turns, compute_kpis, summarize_conversation
from actions.audit.settings import AuditSettings
from actions.audit.store import AuditStore

BLUE, GREEN, RED, AMBER, GREY = "#2563eb", "#16a34a", "#dc2626", "#d97706", "#9ca3af"


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _label(text: Any) -> str:
    """Text from the trail (intent names, escalation rules: a REST client can send any
    ``/intent`` or channel name) for a chart label: matplotlib reads ``$...$`` as math, and
    malformed math fails the whole report, so every ``$`` is a literal dollar sign."""
    return str(text).replace("$", r"\$")


def _style(ax: Any) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=9)


def chart_daily(turns: List[Dict[str, Any]]) -> Optional[str]:
    """Conversations per day, split into handled by the bot / handed to a person."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_conv: Dict[str, List[Dict[str, Any]]] = defaultdict(list)
    for turn in sorted(turns, key=lambda t: t["ts"]):
        by_conv[turn["conversation_id"]].append(turn)
    days: Dict[str, List[int]] = defaultdict(lambda: [0, 0])
    for conv_turns in by_conv.values():
        conv = summarize_conversation(conv_turns)
        day = datetime.fromtimestamp(conv["start"], tz=timezone.utc).strftime("%m-%d")
        days[day][1 if conv["human"] else 0] += 1
    if not days:
        return None
    labels = sorted(days)
    contained = [days[d][0] for d in labels]
    escalated = [days[d][1] for d in labels]
    fig, ax = plt.subplots(figsize=(7.5, 2.8))
    ax.bar(labels, contained, color=GREEN, label="handled by the bot")
    ax.bar(labels, escalated, bottom=contained, color=AMBER, label="handed to a person")
    ax.set_ylabel("conversations", fontsize=9)
    ax.legend(frameon=False, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)
    if len(labels) > 14:
        ax.set_xticks(labels[:: max(1, len(labels) // 10)])
    _style(ax)
    return _png(fig)


def chart_by_intent(by_intent: Dict[str, Dict[str, Any]]) -> Optional[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(name, k) for name, k in by_intent.items() if k["conversations"]]
    if not rows:
        return None
    rows.sort(key=lambda item: item[1]["conversations"])
    names = [_label(name) for name, _ in rows]
    contained = [round(k["conversations"] * (k["containment_rate"] or 0)) for _, k in rows]
    escalated = [k["conversations"] - c for (_, k), c in zip(rows, contained)]
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(rows) + 1.0))
    ax.barh(names, contained, color=GREEN, label="contained")
    ax.barh(names, escalated, left=contained, color=AMBER, label="escalated")
    for y, (c, e) in enumerate(zip(contained, escalated)):
        total = c + e
        ax.text(total + 0.05, y, f"{c / total:.0%} contained" if total else "", va="center", fontsize=8, color="#374151")
    ax.set_xlabel("conversations", fontsize=9)
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    _style(ax)
    return _png(fig)


def chart_reasons(reasons: Dict[str, int]) -> Optional[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not reasons:
        return None
    items = sorted(reasons.items(), key=lambda item: item[1])
    fig, ax = plt.subplots(figsize=(5.5, 0.4 * len(items) + 1.0))
    ax.barh([_label(name) for name, _ in items], [n for _, n in items], color=RED)
    for y, (_, n) in enumerate(items):
        ax.text(n + 0.05, y, str(n), va="center", fontsize=8)
    ax.set_xlabel("escalated conversations", fontsize=9)
    _style(ax)
    return _png(fig)


def chart_latency(turns: List[Dict[str, Any]], median: Optional[float], p95: Optional[float]) -> Optional[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = [t["latency_ms"] / 1000 for t in turns if t.get("latency_ms") is not None]
    if not values:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 2.6))
    ax.hist(values, bins=min(30, max(5, len(values) // 3)), color=BLUE, alpha=0.85)
    for value, label, color in ((median, "median", GREEN), (p95, "p95", RED)):
        if value is not None:
            ax.axvline(value / 1000, color=color, linestyle="--", linewidth=1.5)
            ax.text(value / 1000, ax.get_ylim()[1] * 0.92, f" {label} {value / 1000:.2f}s", color=color, fontsize=8)
    ax.set_xlabel("seconds from the customer's message to the bot's reply", fontsize=9)
    ax.set_ylabel("turns", fontsize=9)
    _style(ax)
    return _png(fig)


def chart_donut(parts: Dict[str, int], colors: List[str], title: str) -> Optional[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parts = {k: v for k, v in parts.items() if v}
    if not parts:
        return None
    fig, ax = plt.subplots(figsize=(3.2, 3.2))
    wedges, _texts, _autotexts = ax.pie(
        list(parts.values()), labels=None, colors=colors[: len(parts)], autopct="%1.0f%%", startangle=90,
        wedgeprops={"width": 0.45}, pctdistance=0.78, textprops={"fontsize": 9, "color": "white"},
    )
    ax.legend(wedges, [f"{k} ({v})" for k, v in parts.items()], frameon=False, fontsize=8, loc="upper center",
              bbox_to_anchor=(0.5, 0.02), ncol=1)
    ax.set_title(title, fontsize=10)
    return _png(fig)


def _pct(value: Optional[float]) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def _ms(value: Optional[float]) -> str:
    return "–" if value is None else (f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms")


def _tile(key: str, label: str, value: Optional[float], shown: str, hint: str, tone: str = "") -> str:
    data = "" if value is None else f"{value}"
    return (
        f'<div class="tile {tone}" data-kpi="{key}" data-value="{data}"><div class="value">{html.escape(shown)}</div>'
        f'<div class="label">{html.escape(label)}</div><div class="hint">{html.escape(hint)}</div></div>'
    )


def _img(b64: Optional[str], alt: str) -> str:
    if not b64:
        return f'<p class="empty">No data for “{html.escape(alt)}” in this period.</p>'
    return f'<img class="chart" alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">'


def _table(groups: Dict[str, Dict[str, Any]], kind: str) -> str:
    head = (
        "<tr><th>{}</th><th>conversations</th><th>turns</th><th>containment</th><th>escalation</th>"
        "<th>knowledge answered</th><th>refused</th><th>fallback</th><th>median reply</th><th>p95 reply</th><th>reopen</th></tr>"
    ).format(kind)
    rows = []
    for name, k in sorted(groups.items(), key=lambda item: (-item[1]["conversations"], -item[1]["turns"], item[0])):
        cells = [
            (k["conversations"], str(k["conversations"])), (k["turns"], str(k["turns"])),
            (k["containment_rate"], _pct(k["containment_rate"])), (k["escalation_rate"], _pct(k["escalation_rate"])),
            (k["knowledge_answer_rate"], _pct(k["knowledge_answer_rate"])), (k["knowledge_refusal_rate"], _pct(k["knowledge_refusal_rate"])),
            (k["fallback_rate"], _pct(k["fallback_rate"])), (k["response_ms_median"], _ms(k["response_ms_median"])),
            (k["response_ms_p95"], _ms(k["response_ms_p95"])), (k["reopen_rate"], _pct(k["reopen_rate"])),
        ]
        names = ["conversations", "turns", "containment_rate", "escalation_rate", "knowledge_answer_rate",
                 "knowledge_refusal_rate", "fallback_rate", "response_ms_median", "response_ms_p95", "reopen_rate"]
        tds = "".join(
            f'<td data-kpi="{kind}:{html.escape(name)}:{key}" data-value="{"" if raw is None else raw}">{shown}</td>'
            for key, (raw, shown) in zip(names, cells)
        )
        rows.append(f"<tr><th>{html.escape(name)}</th>{tds}</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;background:#f3f4f6;color:#111827}
header{background:#111827;color:#fff;padding:20px 32px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#d1d5db;font-size:13px}main{padding:20px 32px;max-width:1180px}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px;margin-bottom:20px}
.tile{background:#fff;border-radius:10px;padding:14px 16px;box-shadow:0 1px 2px rgba(0,0,0,.08);border-top:4px solid #2563eb}
.tile.good{border-top-color:#16a34a}.tile.warn{border-top-color:#d97706}.tile.bad{border-top-color:#dc2626}
.tile .value{font-size:28px;font-weight:700}.tile .label{font-size:13px;font-weight:600;margin-top:2px}
.tile .hint{font-size:11px;color:#6b7280;margin-top:4px}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}.card{background:#fff;border-radius:10px;padding:14px 18px;
box-shadow:0 1px 2px rgba(0,0,0,.08);margin-bottom:16px}.card h2{font-size:15px;margin:0 0 8px}
.chart{max-width:100%}.empty{color:#6b7280;font-size:13px}table{border-collapse:collapse;width:100%;font-size:12px}
th,td{padding:5px 8px;border-bottom:1px solid #e5e7eb;text-align:right}th:first-child,tr th{text-align:left}
footer{color:#6b7280;font-size:11px;padding:0 32px 24px}
"""


def render(kpis: Dict[str, Any], turns: List[Dict[str, Any]], title: str = "Brightcart assistant — support KPIs") -> str:
    overall = kpis["overall"]
    drafts = kpis.get("drafts") or {}
    reasons = overall["escalation_reasons"]
    kb_answered = sum(1 for t in turns if t.get("kb_refused") is False)
    kb_refused = sum(1 for t in turns if t.get("kb_refused") is True)
    period = f"{kpis['range']['since'] or 'first record'} → {kpis['range']['until'] or 'now'} (UTC)"

    def tone(value: Optional[float], good: float, bad: float, higher_is_better: bool = True) -> str:
        if value is None:
            return ""
        if higher_is_better:
            return "good" if value >= good else ("bad" if value < bad else "warn")
        return "good" if value <= good else ("bad" if value > bad else "warn")

    tiles = "".join([
        _tile("conversations", "Conversations", overall["conversations"], str(overall["conversations"]), f"{overall['turns']} customer messages"),
        _tile("containment_rate", "Resolved by the bot", overall["containment_rate"], _pct(overall["containment_rate"]),
              "ended without a person", tone(overall["containment_rate"], 0.7, 0.5)),
        _tile("escalation_rate", "Handed to a person", overall["escalation_rate"], _pct(overall["escalation_rate"]),
              f"top reason: {next(iter(reasons), '–')}", tone(overall["escalation_rate"], 0.3, 0.5, False)),
        _tile("knowledge_answer_rate", "Questions answered", overall["knowledge_answer_rate"], _pct(overall["knowledge_answer_rate"]),
              f"refused {_pct(overall['knowledge_refusal_rate'])} of {overall['knowledge_turns']}", tone(overall["knowledge_answer_rate"], 0.8, 0.6)),
        _tile("fallback_rate", "Not understood", overall["fallback_rate"], _pct(overall["fallback_rate"]),
              "fallback turns", tone(overall["fallback_rate"], 0.05, 0.15, False)),
        _tile("response_ms_median", "Median reply time", overall["response_ms_median"], _ms(overall["response_ms_median"]),
              f"p95 {_ms(overall['response_ms_p95'])}"),
        _tile("response_ms_p95", "p95 reply time", overall["response_ms_p95"], _ms(overall["response_ms_p95"]), "1 in 20 is slower",
              tone(overall["response_ms_p95"], 2000, 5000, False)),
        _tile("draft_as_is_rate", "Drafts sent as is", drafts.get("as_is_rate"), _pct(drafts.get("as_is_rate")),
              f"{drafts.get('total', 0)} drafts; edited {_pct(drafts.get('edited_rate'))}"),
        _tile("reopen_rate", "Came back within 7 days", overall["reopen_rate"], _pct(overall["reopen_rate"]),
              f"same customer & order, of {overall['reopen_base']}", tone(overall["reopen_rate"], 0.1, 0.25, False)),
    ])
    charts = {
        "daily": chart_daily(turns),
        "intent": chart_by_intent(kpis["by_intent"]),
        "reasons": chart_reasons(reasons),
        "latency": chart_latency(turns, overall["response_ms_median"], overall["response_ms_p95"]),
        "knowledge": chart_donut({"answered": kb_answered, "refused": kb_refused}, [GREEN, RED], "Knowledge questions"),
        "drafts": chart_donut({"sent as is": drafts.get("as_is", 0), "edited": drafts.get("edited", 0),
                               "discarded": drafts.get("discarded", 0)}, [GREEN, AMBER, RED], "Agent drafts"),
    }
    top_refusals = Counter(
        (t.get("knowledge") or {}).get("query") or "" for t in turns if t.get("kb_refused")
    ).most_common(8)
    refusal_list = "".join(f"<li>{html.escape(q)} <small>×{n}</small></li>" for q, n in top_refusals if q) or "<li>none</li>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{CSS}</style></head>
<body><header><h1>{html.escape(title)}</h1><p>{html.escape(period)} · generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC from the decision trail</p></header>
<main>
<section class="tiles">{tiles}</section>
<div class="card"><h2>Conversations per day</h2>{_img(charts['daily'], 'conversations per day')}</div>
<div class="grid">
<div class="card"><h2>Where the bot hands over, by intent</h2>{_img(charts['intent'], 'containment by intent')}</div>
<div class="card"><h2>Why conversations were escalated</h2>{_img(charts['reasons'], 'escalation reasons')}</div>
<div class="card"><h2>How fast the bot replies</h2>{_img(charts['latency'], 'reply time')}</div>
<div class="card"><h2>Knowledge answers and agent drafts</h2>{_img(charts['knowledge'], 'knowledge answers')}{_img(charts['drafts'], 'agent drafts')}</div>
</div>
<div class="card"><h2>Questions the bot declined to answer (most frequent)</h2><ul>{refusal_list}</ul></div>
<div class="card"><h2>By channel</h2>{_table(kpis['by_channel'], 'channel')}</div>
<div class="card"><h2>By intent</h2>{_table(kpis['by_intent'], 'intent')}</div>
</main>
<footer>Containment: no handoff and no message while paused. Knowledge rates are over turns where the knowledge action ran.
Reply time is from the customer's message to the bot's last reply of the turn. Reopen: same customer and order again within
{kpis['thresholds']['reopen_days']:g} days. Personal data in the trail is masked. Definitions: docs/audit.md.</footer>
</body></html>
"""


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="reports/kpi_report.html")
    parser.add_argument("--since", help="ISO date/datetime (UTC), epoch seconds, or 30d/24h ago (default: 30d)", default="30d")
    parser.add_argument("--until")
    parser.add_argument("--db", help="audit store; default AUDIT_DB_URL or var/audit.db")
    parser.add_argument("--tracker-store", help="also count conversations of this Rasa tracker store the trail lacks")
    args = parser.parse_args(argv)
    settings = AuditSettings.load()
    store = AuditStore(args.db or settings.db_url)
    since, until = parse_time(args.since), parse_time(args.until)
    turns, history = collect_turns(store, since, until, args.tracker_store, settings)
    kpis = compute_kpis(turns, since, until, history, draft_outcomes(since, until), settings)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(kpis, turns), encoding="utf-8")
    print(f"wrote {out} ({out.stat().st_size // 1024} KiB): {kpis['overall']['conversations']} conversations, "
          f"{kpis['overall']['turns']} turns")
    return 0


if __name__ == "__main__":
    sys.exit(main())
