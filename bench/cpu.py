"""CPU time per customer turn, per process of this project's stack, under the c=10 bench load.

    PYTHONPATH=. .venv/bin/python -m bench.cpu [--conversations 40] [--concurrency 10] [--rasa-workers 1]

On a 2-core machine throughput is bounded by the CPU every process spends on a turn, so this is
the number a change must lower. Reads utime + stime of each service and its children from /proc
before and after the load and divides by the turns answered.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

from bench import conversations as conv
from bench import loadgen
from bench.runner import ROOT, handoff_texts, project_stack

TICKS = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> List[int]:
    found: List[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and all its descendants, in seconds."""
    total = 0.0
    for proc in [pid] + [c for c in _children(pid)]:
        try:
            fields = Path(f"/proc/{proc}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS
        if proc != pid:
            total += sum(cpu_seconds(g) for g in _children(proc))
    return total


def _own_cpu_seconds() -> float:
    """utime + stime of this process (the load generator), without its children."""
    times = os.times()
    return times.user + times.system


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--rasa-workers", type=int, default=1)
    args = parser.parse_args(argv)
    stories = conv.load_stories((ROOT / "tests" / "stories").glob("*.yml"))
    pool = conv.load_conversations(stories, 30)
    stack = project_stack(Path(tempfile.mkdtemp(prefix="bench-cpu-")), args.rasa_workers, 1)
    try:
        stack.start(verbose=False)
        bot = loadgen.Bot(stack.config.rasa_url, handoff_texts(), api_token=stack.env["RASA_API_TOKEN"],
                          identity_secret=stack.env["IDENTITY_JWT_SECRET"])
        asyncio.run(loadgen.concurrent(bot, pool[:3] + [conv.PROJECT_LONG_CYCLE], 1, prefix="warm"))
        pids: Dict[str, int] = {s.name: s.process.pid for s in stack.services if s.process}
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        own_before = _own_cpu_seconds()
        conversations = [pool[i % len(pool)] for i in range(args.conversations)]
        result = asyncio.run(loadgen.concurrent(bot, conversations, args.concurrency, prefix="cpu"))
        after = {name: cpu_seconds(pid) for name, pid in pids.items()}
        own = _own_cpu_seconds() - own_before
        turns = len(result.ok_turns)
        print(f"{turns} turns ({result.errors} errors) in {result.wall_seconds:.1f} s: "
              f"{result.throughput:.1f} msg/s at c={args.concurrency}")
        for name in pids:
            used = after[name] - before[name]
            print(f"  {name:<16} {used:6.1f} s CPU  {1000 * used / max(turns, 1):6.1f} ms/turn")
        total = sum(after[n] - before[n] for n in pids)
        print(f"  {'all services':<16} {total:6.1f} s CPU  {1000 * total / max(turns, 1):6.1f} ms/turn")
        # the clients share the machine with the services: their CPU is part of what 2 cores carry
        print(f"  {'load generator':<16} {own:6.1f} s CPU  {1000 * own / max(turns, 1):6.1f} ms/turn")
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
