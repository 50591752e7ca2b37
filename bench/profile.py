"""Where the time goes: py-spy on the Rasa server and the action server during a bench workload.

    PYTHONPATH=. .venv/bin/python -m bench.profile [--workload long|c10] [--seconds 60] [--py-spy PATH]

py-spy is not a project dependency: install it anywhere (``python -m venv /tmp/prof-venv &&
/tmp/prof-venv/bin/pip install py-spy``) and pass its path (default: ``py-spy`` on the PATH, then
/tmp/prof-venv/bin/py-spy). It attaches to the running processes, so nothing in the stack
changes. Writes speedscope JSON and a flat top list (by own time and by total time) per process to
reports/bench_profile/.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

from bench import conversations as conv
from bench import loadgen
from bench.runner import REPORTS, handoff_texts, project_stack

OUT = REPORTS / "bench_profile"


def find_py_spy(explicit: Optional[str]) -> str:
    for candidate in (explicit, shutil.which("py-spy"), "/tmp/prof-venv/bin/py-spy"):
        if candidate and Path(candidate).exists():
            return candidate
    raise SystemExit("py-spy not found: python -m venv /tmp/prof-venv && /tmp/prof-venv/bin/pip install py-spy")


def top_frames(raw_path: Path, limit: int = 40) -> str:
    """Flat profile from py-spy's ``--format raw`` (collapsed stacks): self time and total time."""
    own: Dict[str, int] = collections.Counter()
    total: Dict[str, int] = collections.Counter()
    samples = 0
    for line in raw_path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        try:
            count = int(count_text)
        except ValueError:
            continue
        frames = stack.split(";")
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    lines = [f"{samples} samples", "", "own time:"]
    lines += [f"{100 * c / samples:5.1f}%  {f}" for f, c in own.most_common(limit)]
    lines += ["", "total time (frame on the stack):"]
    lines += [f"{100 * c / samples:5.1f}%  {f}" for f, c in total.most_common(limit * 2)]
    return "\n".join(lines)


async def workload(bot: loadgen.Bot, kind: str, seconds: float) -> int:
    stories = conv.load_stories((Path(__file__).resolve().parent.parent / "tests" / "stories").glob("*.yml"))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    sent = 0
    while loop.time() < deadline:
        if kind == "long":
            result = await loadgen.long_conversation(bot, conv.cycle(conv.PROJECT_LONG_CYCLE, 60), prefix="prof")
        else:
            result = await loadgen.concurrent(bot, conv.load_conversations(stories, 20), 10, prefix="prof")
        sent += len(result.turns)
    return sent


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", choices=["long", "c10"], default="long")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--py-spy", dest="py_spy")
    parser.add_argument("--rasa-workers", type=int, default=1)
    args = parser.parse_args(argv)
    py_spy = find_py_spy(args.py_spy)
    OUT.mkdir(parents=True, exist_ok=True)
    var_dir = Path(tempfile.mkdtemp(prefix="bench-prof-"))
    stack = project_stack(var_dir, args.rasa_workers, 1)
    recorders: List[subprocess.Popen] = []
    try:
        stack.start(verbose=True)
        bot = loadgen.Bot(stack.config.rasa_url, handoff_texts(), api_token=stack.env["RASA_API_TOKEN"],
                          identity_secret=stack.env["IDENTITY_JWT_SECRET"])
        asyncio.run(loadgen.concurrent(bot, [conv.PROJECT_LONG_CYCLE], 1, prefix="warm"))
        targets = {s.name.replace(" ", "_"): s.process.pid for s in stack.services if s.process}
        for name, pid in targets.items():
            for fmt in ("speedscope", "raw"):
                out = OUT / f"{args.workload}_{name}.{'speedscope.json' if fmt == 'speedscope' else 'txt'}"
                recorders.append(subprocess.Popen(
                    [py_spy, "record", "--pid", str(pid), "--rate", str(args.rate), "--format", fmt, "--output", str(out),
                     "--duration", str(int(args.seconds)), "--subprocesses", "--nonblocking"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        sent = asyncio.run(workload(bot, args.workload, args.seconds))
        for recorder in recorders:
            recorder.wait(timeout=args.seconds + 60)
        print(f"{sent} turns sent while recording")
        for name in targets:
            raw = OUT / f"{args.workload}_{name}.txt"
            if raw.exists():
                summary = top_frames(raw)
                (OUT / f"{args.workload}_{name}.top.txt").write_text(summary)
                print(f"\n=== {name} ===\n" + "\n".join(summary.splitlines()[:30]))
    finally:
        for recorder in recorders:
            if recorder.poll() is None:
                recorder.terminate()
        stack.stop()
        _ = os
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
