"""``make bench-patches``: each patch's own gain, all patches on against that one off, in one run.

    PYTHONPATH=. .venv/bin/python -m bench.patches [--conversations 30] [--concurrency 10] [--rounds 2]
                                                   [--configs "all;-rule_lookup,-applied_events;none"] [--out reports/bench_patches.json]

One stack (demo backend, action server) stays up; only the Rasa server is restarted for each
configuration, with RASA_PATCHES set to it (rasa_addons/patches.py): ``all``, then ``-<name>`` for
every declared patch, then ``none``. Each configuration gets a warm-up, then the bench's
10-concurrent-conversations load (the same conversations every time), measuring throughput,
latency percentiles and the Rasa server's CPU per turn (utime + stime from /proc, the number that
bounds throughput on a 2-core machine). ``--rounds`` repeats the whole sequence, interleaved, so
load from other programs falls on every configuration; the table shows the median over rounds.

A patch's gain is what turning it off costs: Rasa CPU ms/turn and throughput of ``-<name>`` against
``all``. ``-rasa_runtime`` also leaves out ``action_call``, which requires it (patches.py).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from bench import conversations as conv
from bench import loadgen
from bench.cpu import cpu_seconds
from bench.runner import REPORTS, ROOT, handoff_texts, log, machine, project_stack
from rasa_addons.patches import PATCHES


def default_configs() -> List[str]:
    return ["all"] + [f"-{p.name}" for p in PATCHES] + ["none"]


def measure(stack: Any, rasa: Any, setting: str, conversations: List[List[conv.Turn]], concurrency: int,
            warm: List[List[conv.Turn]]) -> Dict[str, Any]:
    rasa.stop()
    rasa.env = dict(rasa.env, RASA_PATCHES=setting)
    rasa.start()
    rasa.wait_healthy()
    bot = loadgen.Bot(stack.config.rasa_url, handoff_texts(), api_token=stack.env["RASA_API_TOKEN"],
                      identity_secret=stack.env["IDENTITY_JWT_SECRET"])
    asyncio.run(loadgen.concurrent(bot, warm, 1, prefix=f"warm{time.monotonic_ns()}"))
    before = cpu_seconds(rasa.process.pid)
    result = asyncio.run(loadgen.concurrent(bot, conversations, concurrency, prefix=f"p{time.monotonic_ns()}"))
    used = cpu_seconds(rasa.process.pid) - before
    entry = loadgen.summary(result)
    turns = max(len(result.ok_turns), 1)
    entry["rasa_cpu_ms_per_turn"] = round(1000 * used / turns, 2)
    applied = [line for line in rasa.tail(400).splitlines() if "rasa_addons.launch: patches applied" in line]
    entry["launch_line"] = applied[-1].strip() if applied else None
    return entry


def table(results: Dict[str, List[Dict[str, Any]]]) -> str:
    def med(name: str, key: str) -> Optional[float]:
        values = [r[key] for r in results[name] if r.get(key) is not None]
        return round(statistics.median(values), 2) if values else None

    base_cpu, base_tp = med("all", "rasa_cpu_ms_per_turn"), med("all", "throughput_msg_s")
    lines = [f"{'RASA_PATCHES':<22} {'msg/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'Rasa CPU ms/turn':>17} "
             f"{'cost of off (CPU)':>18} {'errors':>7}"]
    for name in results:
        cpu, tp = med(name, "rasa_cpu_ms_per_turn"), med(name, "throughput_msg_s")
        cost = f"{100 * (cpu - base_cpu) / base_cpu:+.1f} %" if name != "all" and cpu and base_cpu else ""
        errors = sum(r["errors"] for r in results[name])
        lines.append(f"{name:<22} {tp!s:>7} {med(name, 'p50_ms')!s:>8} {med(name, 'p95_ms')!s:>8} {cpu!s:>17} "
                     f"{cost:>18} {errors:>7}")
    if base_tp:
        lines.append("cost of off: Rasa CPU per turn with that patch (or all, for none) off, against all on")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=30, help="conversations per configuration and round")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--configs", default=",".join(default_configs()),
                        help="RASA_PATCHES values separated by ',' (or by ';', so that one can be '-a,-b')")
    parser.add_argument("--out", default=str(REPORTS / "bench_patches.json"))
    args = parser.parse_args(argv)
    separator = ";" if ";" in args.configs else ","
    configs = [c.strip() for c in args.configs.split(separator) if c.strip()]
    if "all" not in configs:
        configs.insert(0, "all")
    stories = conv.load_stories((ROOT / "tests" / "stories").glob("*.yml"))
    pool = conv.load_conversations(stories, 60)
    conversations = [pool[i % len(pool)] for i in range(args.conversations)]
    warm = pool[:3] + [conv.PROJECT_LONG_CYCLE]
    info: Dict[str, Any] = {"machine": machine(), "args": vars(args), "configs": configs}
    log(f"Per-patch gain on {info['machine']['cpu']} ({info['machine']['cores']} cores), load {info['machine']['load_before']}")
    stack = project_stack(Path(tempfile.mkdtemp(prefix="bench-patches-")), 1, 1)
    results: Dict[str, List[Dict[str, Any]]] = {c: [] for c in configs}
    try:
        stack.start(verbose=True)
        rasa = next(s for s in stack.services if s.name == "rasa server")
        for round_number in range(args.rounds):
            order = configs if round_number % 2 == 0 else list(reversed(configs))
            for setting in order:
                entry = measure(stack, rasa, setting, conversations, args.concurrency, warm)
                results[setting].append(entry)
                log(f"  round {round_number + 1} {setting:<22} {entry['throughput_msg_s']:>6} msg/s  p50 {entry['p50_ms']} ms  "
                    f"p95 {entry['p95_ms']} ms  Rasa CPU {entry['rasa_cpu_ms_per_turn']} ms/turn  errors {entry['errors']}")
    finally:
        stack.stop()
    info["machine"]["load_after"] = os.getloadavg()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**info, "results": results}, indent=2))
    print(table(results))
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
