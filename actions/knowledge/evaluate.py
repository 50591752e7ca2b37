"""Evaluate retrieval and refusals against tests/knowledge/eval_questions.yml.

    python -m actions.knowledge.evaluate [--report reports/knowledge_eval.json] [--sweep]

Metrics (public audience unless stated):
- hit@1, hit@3, MRR over the ranked *articles* for answerable questions;
- false-refusal rate: answerable questions the assistant refused;
- refusal rate: unanswerable questions it refused (the goal is to refuse them all);
- internal hit@3: agent questions asked with audience=internal;
- internal leak count: internal articles retrieved for public questions (must be 0).
Each list is split by position into a tuning half (even) and a held-out half (odd). ``--sweep``
tunes the fusion weights and the relevance threshold on the tuning half only and shows how the
choice does on the held-out half.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from . import coverage, guards
from .answer import answer_question
from .config import PROJECT_ROOT, load_settings
from .embeddings import get_embeddings
from .manifest import index_version
from .retrieval import INTERNAL, PUBLIC, FusionParams, get_retriever, make_chunk
from .store import get_store

EVAL_FILE = PROJECT_ROOT / "tests" / "knowledge" / "eval_questions.yml"
DEFAULT_REPORT = PROJECT_ROOT / "reports" / "knowledge_eval.json"
RANK_DEPTH = 5
TARGETS = {"hit@3": 0.95, "refusal_rate": 0.90, "false_refusal_rate": 0.10}


@dataclass
class Case:
    question: str
    kind: str  # answerable | unanswerable | internal
    expected: list[str]
    reason: str | None
    split: str  # tune | holdout


def load_cases(path: Path = EVAL_FILE) -> list[Case]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    cases: list[Case] = []
    for kind in ("answerable", "unanswerable", "internal"):
        for i, item in enumerate(data.get(kind) or []):
            cases.append(Case(item["q"], kind, list(item.get("expected") or []),
                              item.get("reason"), "tune" if i % 2 == 0 else "holdout"))
    return cases


def _rank_metrics(ranked: list[str], expected: list[str]) -> dict[str, float]:
    rank = next((i + 1 for i, a in enumerate(ranked[:RANK_DEPTH]) if a in expected), None)
    return {"hit@1": float(rank == 1), "hit@3": float(rank is not None and rank <= 3),
            "rr": 1.0 / rank if rank else 0.0}


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    answerable = [r for r in rows if r["kind"] == "answerable"]
    unanswerable = [r for r in rows if r["kind"] == "unanswerable"]
    internal = [r for r in rows if r["kind"] == "internal"]
    return {
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "hit@1": _mean([r["hit@1"] for r in answerable]),
        "hit@3": _mean([r["hit@3"] for r in answerable]),
        "mrr": _mean([r["rr"] for r in answerable]),
        "false_refusal_rate": _mean([float(r["refused"]) for r in answerable]),
        "refusal_rate": _mean([float(r["refused"]) for r in unanswerable]),
        "internal_hit@3": _mean([r["hit@3"] for r in internal]),
        "internal_leaks": sum(r["internal_leaks"] for r in rows if r["kind"] != "internal"),
    }


async def evaluate(cases: list[Case]) -> dict[str, Any]:
    """End-to-end: the real ``answer_question`` decides refusals; ranks come from retrieval."""
    retriever = get_retriever()
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    for case in cases:
        audience = INTERNAL if case.kind == "internal" else PUBLIC
        ranked_result = await asyncio.to_thread(retriever.retrieve, case.question, audience,
                                                RANK_DEPTH * 3, 0.0)
        ranked = ranked_result.articles()
        answer = await answer_question(case.question, audience=audience)
        leaks = sum(1 for c in ranked_result.chunks if c.audience != PUBLIC) if audience == PUBLIC else 0
        row = {"question": case.question, "kind": case.kind, "split": case.split,
               "expected": case.expected, "reason": case.reason, "ranked": ranked[:3],
               "top_score": round(ranked_result.top_score, 4), "refused": answer.refused,
               "refusal_reason": answer.refusal_reason, "internal_leaks": leaks}
        row.update(_rank_metrics(ranked, case.expected) if case.expected else
                   {"hit@1": 0.0, "hit@3": 0.0, "rr": 0.0})
        rows.append(row)
    settings = load_settings()
    report = {
        "index_version": index_version(),
        "threshold": settings.min_relevance,
        "fusion": vars(retriever.fusion),
        "seconds": round(time.perf_counter() - started, 2),
        "targets": TARGETS,
        "splits": {
            "tune": summarize([r for r in rows if r["split"] == "tune"]),
            "holdout": summarize([r for r in rows if r["split"] == "holdout"]),
            "all": summarize(rows),
        },
        "failures": [
            r for r in rows
            if (r["kind"] != "unanswerable" and (not r["hit@3"] or r["refused"]))
            or (r["kind"] == "unanswerable" and not r["refused"])
        ],
    }
    return report


@dataclass
class _Features:
    """Threshold- and weight-independent facts about one public question."""
    case: Case
    guarded: bool
    cosine: np.ndarray  # cosine similarity to every chunk
    bm25: np.ndarray  # raw BM25 score of every chunk


class _SweepCorpus:
    """Every chunk with its stored embedding, so many fusion settings can be scored exactly
    without re-querying Chroma (the index is small; production uses Chroma's top-k)."""

    def __init__(self) -> None:
        retriever = get_retriever()
        self.corpus = retriever.snapshot()
        store = get_store(retriever.settings)
        vectors = store.get(ids=self.corpus.ids, include=["embeddings"])
        by_id = dict(zip(vectors["ids"], vectors["embeddings"]))
        self.embeddings = np.asarray([by_id[i] for i in self.corpus.ids], dtype=np.float32)
        self.public = np.asarray([m.get("audience") == PUBLIC for m in self.corpus.metas])

    def features(self, cases: list[Case]) -> list[_Features]:
        public_cases = [c for c in cases if c.kind != "internal"]
        queries = get_embeddings().embed_documents([c.question for c in public_cases])
        return [_Features(case, guards.check(case.question) is not None,
                          self.embeddings @ np.asarray(q, dtype=np.float32),
                          np.asarray(self.corpus.lexical.scores(case.question)))
                for case, q in zip(public_cases, queries)]

    def decide(self, f: _Features, fusion: FusionParams) -> dict[str, Any]:
        lexical = np.where(f.bm25 > 0, f.bm25 / (f.bm25 + fusion.bm25_k), 0.0)
        scores = fusion.dense_weight * f.cosine + fusion.lexical_weight * lexical
        scores = np.where(self.public, scores, -1.0)
        order = np.argsort(-scores)[: RANK_DEPTH * 3]
        chunks = [make_chunk(self.corpus.ids[i], self.corpus.metas[i], self.corpus.texts[i],
                             float(scores[i]), float(f.cosine[i]), float(lexical[i])) for i in order]
        articles = list(dict.fromkeys(c.article_id for c in chunks))
        decision = {"case": f.case, "guarded": f.guarded, "top": chunks[0].score,
                    "covered": coverage.check(f.case.question, chunks).covered}
        if f.case.expected:
            decision.update(_rank_metrics(articles, f.case.expected))
        return decision


def _rates(decisions: list[dict[str, Any]], threshold: float) -> dict[str, float]:
    def refused(d: dict[str, Any]) -> bool:
        return d["guarded"] or d["top"] < threshold or not d["covered"]
    ans = [d for d in decisions if d["case"].kind == "answerable"]
    una = [d for d in decisions if d["case"].kind == "unanswerable"]
    return {"hit@3": _mean([d["hit@3"] for d in ans]), "mrr": _mean([d["rr"] for d in ans]),
            "refusal_rate": _mean([float(refused(d)) for d in una]),
            "false_refusal_rate": _mean([float(refused(d)) for d in ans])}


def sweep(cases: list[Case]) -> dict[str, Any]:
    """Pick fusion weights and threshold on the tuning half; report them on both halves.

    Objective: refusal rate minus twice the false-refusal rate (a wrong refusal of a real
    question costs more than a missed refusal, which the guards partly cover), among settings
    whose hit@3 is within 0.01 of the best.
    """
    tune = [c for c in cases if c.split == "tune"]
    hold = [c for c in cases if c.split == "holdout"]
    grid = [FusionParams(dense_weight=1 - w, lexical_weight=w, bm25_k=k)
            for w in (0.0, 0.1, 0.2, 0.3, 0.4) for k in (4.0, 8.0, 12.0)]
    thresholds = [round(0.30 + 0.01 * i, 2) for i in range(36)]
    corpus = _SweepCorpus()
    tune_features, hold_features = corpus.features(tune), corpus.features(hold)
    results = []
    for fusion in grid:
        decisions = [corpus.decide(f, fusion) for f in tune_features]
        for t in thresholds:
            rates = _rates(decisions, t)
            results.append((fusion, t, rates))
    best_hit = max(r[2]["hit@3"] for r in results)
    eligible = [r for r in results if r[2]["hit@3"] >= best_hit - 0.01]
    fusion, threshold, rates = max(
        eligible, key=lambda r: (r[2]["refusal_rate"] - 2 * r[2]["false_refusal_rate"],
                                 r[2]["mrr"], -abs(r[1] - 0.45))
    )
    holdout = _rates([corpus.decide(f, fusion) for f in hold_features], threshold)
    return {"fusion": vars(fusion), "threshold": threshold, "tune": rates, "holdout": holdout}


def _print_summary(report: dict[str, Any]) -> None:
    print(f"index {report['index_version']}  threshold {report['threshold']}  "
          f"fusion {report['fusion']}")
    header = ("split", "hit@1", "hit@3", "mrr", "refused(unans)", "false_ref", "int_hit@3", "leaks")
    print("  ".join(f"{h:>14}" for h in header))
    for name, s in report["splits"].items():
        values = (name, s["hit@1"], s["hit@3"], s["mrr"], s["refusal_rate"],
                  s["false_refusal_rate"], s["internal_hit@3"], s["internal_leaks"])
        print("  ".join(f"{v:>14}" for v in values))
    for row in report["failures"]:
        print(f"  FAIL [{row['kind']}/{row['split']}] {row['question']!r}: ranked={row['ranked']} "
              f"top={row['top_score']} refused={row['refused']} ({row['refusal_reason']})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Evaluate the knowledge base.")
    parser.add_argument("--report", type=Path, default=DEFAULT_REPORT)
    parser.add_argument("--questions", type=Path, default=EVAL_FILE)
    parser.add_argument("--sweep", action="store_true",
                        help="tune fusion weights and threshold on the tuning half")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    cases = load_cases(args.questions)
    if args.sweep:
        print(json.dumps(sweep(cases), indent=2))
        return 0
    report = asyncio.run(evaluate(cases))
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2), encoding="utf-8")
    _print_summary(report)
    print(f"report written to {args.report}")
    overall = report["splits"]["all"]
    met = (overall["hit@3"] >= TARGETS["hit@3"] and overall["refusal_rate"] >= TARGETS["refusal_rate"]
           and overall["false_refusal_rate"] <= TARGETS["false_refusal_rate"])
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
