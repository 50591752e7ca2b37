"""Ratios, the printed table and the latency PNG from one benchmark run's data."""
from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any, Dict, List, Optional

TARGETS = {
    "throughput_c10_vs_stock": (">=", 2.0),
    "project_turn50_vs_turn5": ("<=", 1.2),
    "project_knowledge_vs_task_p50": ("<=", 1.5),
}


def _median(values: List[float]) -> Optional[float]:
    return round(statistics.median(values), 1) if values else None


def long_metrics(median_ms: List[float], cycle: int = 9) -> Dict[str, Any]:
    """Turn k's latency compared with turn 5's: point values, and full-cycle windows around them.

    The long conversations repeat a cycle of ``cycle`` turns and 45 is a multiple of it, so the
    window of turns 1-9 (around turn 5) and turns 46-54 (around turn 50) hold the same messages in
    the same dialogue state: their medians compare the cost of the conversation's length alone.
    """
    def window(first: int, last: int) -> Optional[float]:  # 1-based, inclusive
        return _median(median_ms[first - 1:last])

    n = len(median_ms)
    metrics: Dict[str, Any] = {
        "turn5_ms": median_ms[4] if n >= 5 else None,
        "turn50_ms": median_ms[49] if n >= 50 else None,
        "turns_1_9_ms": window(1, cycle),
        "turns_46_54_ms": window(46, 45 + cycle) if n >= 45 + cycle else None,
        "turns_1_10_ms": window(1, 10),
        "turns_26_35_ms": window(26, 35) if n >= 35 else None,
        "turns_51_60_ms": window(51, 60) if n >= 60 else None,
    }
    a, b = metrics["turns_1_9_ms"], metrics["turns_46_54_ms"]
    metrics["turn50_vs_turn5"] = round(b / a, 2) if a and b else None
    return metrics


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return round(a / b, 2) if a and b else None


def ratios(data: Dict[str, Any]) -> Dict[str, Any]:
    levels = data.get("levels") or {}
    stock, project = levels.get("stock") or {}, levels.get("project") or {}
    out: Dict[str, Any] = {}
    for level in project:
        s, p = stock.get(level) or {}, project[level]
        out[f"throughput_c{level}_vs_stock"] = _ratio(p.get("throughput_msg_s"), s.get("throughput_msg_s"))
        for q in ("p50", "p95", "p99"):
            out[f"{q}_c{level}_vs_stock"] = _ratio(p.get(f"{q}_ms"), s.get(f"{q}_ms"))
    long = data.get("long") or {}
    if long:
        out["project_turn50_vs_turn5"] = (long.get("project") or {}).get("turn50_vs_turn5")
        out["stock_turn50_vs_turn5"] = (long.get("stock") or {}).get("turn50_vs_turn5")
    one = project.get("1") or {}
    kinds = one.get("by_kind") or {}
    out["project_knowledge_vs_task_p50"] = _ratio((kinds.get("knowledge") or {}).get("p50_ms"), (kinds.get("task") or {}).get("p50_ms"))
    memory = (data.get("memory") or {}).get("after_load") or {}
    project_mb = sum((v or {}).get("rss_mb", 0) for k, v in memory.items() if k != "stock")
    out["memory_vs_stock"] = _ratio(project_mb, (memory.get("stock") or {}).get("rss_mb"))
    train = data.get("train") or {}
    out["train_time_vs_stock"] = _ratio(train.get("project_s"), train.get("stock_s"))
    out["targets"] = {}
    for key, (op, bound) in TARGETS.items():
        value = out.get(key)
        out["targets"][key] = {"value": value, "target": f"{op} {bound}",
                               "met": None if value is None else (value >= bound if op == ">=" else value <= bound)}
    return out


def table(data: Dict[str, Any]) -> str:
    levels = data.get("levels") or {}
    stock, project = levels.get("stock") or {}, levels.get("project") or {}
    r = data.get("ratios") or {}
    rows = [("metric", "stock rasa init", "this bot", "this bot / stock")]

    def fmt(v: Any, unit: str = "") -> str:
        return "-" if v is None else f"{v}{unit}"

    for level in project:
        s, p = stock.get(level) or {}, project[level]
        rows.append((f"throughput, {level} concurrent (msg/s)", fmt(s.get("throughput_msg_s")), fmt(p.get("throughput_msg_s")),
                     fmt(r.get(f"throughput_c{level}_vs_stock"), "x")))
        for q in ("p50", "p95", "p99"):
            rows.append((f"  {q} latency, {level} concurrent (ms)", fmt(s.get(f"{q}_ms")), fmt(p.get(f"{q}_ms")),
                         fmt(r.get(f"{q}_c{level}_vs_stock"), "x")))
    long = data.get("long") or {}
    ls, lp = long.get("stock") or {}, long.get("project") or {}
    if long:
        for key, label in (("turns_1_9_ms", "long conversation, turns 1-9 (ms)"), ("turns_46_54_ms", "long conversation, turns 46-54 (ms)"),
                           ("turns_51_60_ms", "long conversation, turns 51-60 (ms)")):
            rows.append((label, fmt(ls.get(key)), fmt(lp.get(key)), fmt(_ratio(lp.get(key), ls.get(key)), "x")))
        rows.append(("  turn 50 / turn 5", fmt(ls.get("turn50_vs_turn5"), "x"), fmt(lp.get("turn50_vs_turn5"), "x"), ""))
    kinds = (project.get("1") or {}).get("by_kind") or {}
    if kinds:
        rows.append(("task turn p50, 1 concurrent (ms)", "-", fmt((kinds.get("task") or {}).get("p50_ms")), ""))
        rows.append(("knowledge turn p50, 1 concurrent (ms)", "-", fmt((kinds.get("knowledge") or {}).get("p50_ms")),
                     f"knowledge/task {fmt(r.get('project_knowledge_vs_task_p50'), 'x')}"))
    train = data.get("train") or {}
    rows.append(("rasa train (s)", fmt(train.get("stock_s")), fmt(train.get("project_s")), fmt(r.get("train_time_vs_stock"), "x")))
    memory = (data.get("memory") or {}).get("after_load") or {}
    project_mb = round(sum((v or {}).get("rss_mb", 0) for k, v in memory.items() if k != "stock"), 1)
    parts = ", ".join(f"{k} {(v or {}).get('rss_mb')}" for k, v in memory.items() if k != "stock")
    rows.append(("resident memory (MB)", fmt((memory.get("stock") or {}).get("rss_mb")), f"{project_mb} ({parts})",
                 fmt(r.get("memory_vs_stock"), "x")))
    widths = [max(len(str(row[i])) for row in rows) for i in range(4)]
    lines = ["| " + " | ".join(str(c).ljust(widths[i]) for i, c in enumerate(row)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    targets = r.get("targets") or {}
    lines.append("")
    for key, t in targets.items():
        mark = "met" if t["met"] else ("NOT met" if t["met"] is False else "n/a")
        lines.append(f"target {key}: {t['value']} (want {t['target']}): {mark}")
    setup = data.get("setup") or {}
    m = data.get("machine") or {}
    lines.append(f"machine: {m.get('cpu')}, {m.get('cores')} cores, {m.get('memory_gb')} GB; load before {m.get('load_before')}, "
                 f"after {m.get('load_after')}; rasa workers {setup.get('rasa_workers')}, action workers {setup.get('action_workers')}")
    return "\n".join(lines)


def plot(data: Dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    long = data.get("long") or {}
    colors = {"stock": "tab:gray", "project": "tab:blue"}
    labels = {"stock": "stock rasa init", "project": "this bot"}
    for name, entry in long.items():
        series = entry.get("median_ms_by_turn") or []
        turns = list(range(1, len(series) + 1))
        left.plot(turns, series, marker=".", color=colors.get(name), label=f"{labels.get(name, name)} (median of {entry.get('runs')} runs)")
        kinds = entry.get("kinds") or []
        knowledge = [(t, v) for t, v, k in zip(turns, series, kinds) if k == "knowledge"]
        if name == "project" and knowledge:
            left.scatter(*zip(*knowledge), color="tab:orange", zorder=3, s=18, label="this bot: knowledge-answer turns")
    left.set_xlabel("turn k in one conversation")
    left.set_ylabel("latency of turn k (ms)")
    left.set_title("Latency by conversation length")
    left.set_ylim(bottom=0)
    left.legend(fontsize=8)
    levels = data.get("levels") or {}
    for name, entry in levels.items():
        xs = [int(level) for level in entry]
        for q, style in (("p50", "-"), ("p95", "--")):
            right.plot(xs, [entry[str(x)][f"{q}_ms"] for x in xs], style, marker="o", color=colors.get(name),
                       label=f"{labels.get(name, name)} {q}")
    right.set_xlabel("concurrent conversations")
    right.set_ylabel("turn latency (ms)")
    right.set_title("Latency under load (fresh 10-turn conversations)")
    right.set_ylim(bottom=0)
    right.legend(fontsize=8)
    m = data.get("machine") or {}
    fig.suptitle(f"Brightcart bot vs stock Rasa {((data.get('stock') or {}).get('rasa_version'))} - {m.get('cpu')}, {m.get('cores')} cores, {m.get('date')}",
                 fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
