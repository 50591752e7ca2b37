"""Benchmark the knowledge base: ingestion speed and retrieval / answer latency.

    python scripts/bench_knowledge.py [--queries 300] [--out reports/bench_knowledge.json]

Ingests knowledge/ into a temporary Chroma directory (so var/chroma is untouched), then times
hybrid retrieval and full answers (guards + retrieval + extractive answer) over a few hundred
customer-style queries, and the event-loop stall while 8 answers run concurrently (the action
server's loop is shared by every conversation, so this should stay near zero). Not a test.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from actions.knowledge.answer import answer_question  # noqa: E402
from actions.knowledge.config import DEFAULT_KNOWLEDGE_DIR  # noqa: E402
from actions.knowledge.embeddings import get_model  # noqa: E402
from actions.knowledge.evaluate import load_cases  # noqa: E402
from actions.knowledge.ingest import ingest  # noqa: E402
from actions.knowledge.retrieval import get_retriever  # noqa: E402

_PREFIXES = ("", "hi, ", "quick question: ", "hey ")
_SUFFIXES = ("", "?", " please", " thanks")


def queries(n: int) -> list[str]:
    """Eval questions with light rewording, repeated until ``n`` (caches see varied text)."""
    base = [c.question for c in load_cases()]
    out: list[str] = []
    i = 0
    while len(out) < n:
        q = base[i % len(base)]
        variant = i // len(base)
        out.append(_PREFIXES[variant % 4] + q + _SUFFIXES[(variant // 4) % 4])
        i += 1
    return out


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 1)
    return {"p50_ms": pct(0.50), "p95_ms": pct(0.95), "max_ms": round(ordered[-1] * 1000, 1),
            "mean_ms": round(statistics.mean(ordered) * 1000, 1), "n": len(ordered)}


async def loop_stall_during(tasks: list[str]) -> tuple[float, float]:
    """(max event-loop stall, wall time) while answering ``tasks`` 8 at a time."""
    stall = 0.0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal stall
        while not done.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.005)
            stall = max(stall, time.perf_counter() - start - 0.005)

    tick = asyncio.create_task(ticker())
    started = time.perf_counter()
    semaphore = asyncio.Semaphore(8)

    async def one(q: str) -> None:
        async with semaphore:
            await answer_question(q)

    await asyncio.gather(*(one(q) for q in tasks))
    wall = time.perf_counter() - started
    done.set()
    await tick
    return stall, wall


async def bench(n: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="kb-bench-") as tmp:
        os.environ["CHROMA_PATH"] = str(Path(tmp) / "chroma")
        started = time.perf_counter()
        get_model()
        model_load = time.perf_counter() - started

        report = ingest([DEFAULT_KNOWLEDGE_DIR])
        full = {"articles": len(report.new), "chunks": report.chunks_total,
                "seconds": round(report.seconds, 2),
                "chunks_per_second": round(report.chunks_total / report.seconds, 1)}
        noop = ingest([DEFAULT_KNOWLEDGE_DIR])

        retriever = get_retriever()
        retriever.warm_up()
        qs = queries(n)
        retrieval: list[float] = []
        for q in qs:
            t = time.perf_counter()
            retriever.retrieve(q)
            retrieval.append(time.perf_counter() - t)
        answers: list[float] = []
        refused = 0
        for q in qs:
            t = time.perf_counter()
            answer = await answer_question(q)
            answers.append(time.perf_counter() - t)
            refused += answer.refused
        stall, wall = await loop_stall_during(qs[:80])
        return {
            "model_load_seconds": round(model_load, 2),
            "ingest_full": full,
            "ingest_noop_seconds": round(noop.seconds, 2),
            "index_version": report.index_version,
            "retrieval": percentiles(retrieval),
            "answer": percentiles(answers),
            "answer_refused_share": round(refused / len(qs), 3),
            "concurrent_8": {"queries": 80, "wall_seconds": round(wall, 2),
                             "throughput_qps": round(80 / wall, 1),
                             "max_event_loop_stall_ms": round(stall * 1000, 1)},
            "cpu_count": os.cpu_count(),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench_knowledge.json")
    args = parser.parse_args()
    result = asyncio.run(bench(args.queries))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result, indent=2))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
