#!/usr/bin/env python3
"""Evaluate a trained Rasa model's NLU on the held-out set (trains nothing).

Run with the Rasa environment's Python (it imports rasa):

    .venv-rasa/bin/python scripts/nlu_eval.py [--model models/xyz.tar.gz] [--out reports/nlu]

1. `rasa test nlu --nlu tests/nlu/holdout.yml --model M --out OUT` -> Rasa's own reports
   (intent_report.json, intent_confusion_matrix.png, intent_histogram.png, entity reports).
   Skip with --no-rasa-test (faster; only the summary below is written).
2. Parses every held-out example with the same model through the full pipeline (including
   FallbackClassifier) and writes OUT/summary.json:
     intent_accuracy                  nlu_fallback counted as an error (what a user sees)
     intent_accuracy_ignoring_fallback best non-fallback intent of the ranking
     intent_macro_f1                  macro F1 over the contract intents (strict predictions)
     fallback_share                   share of examples that became nlu_fallback
     entity_micro_precision/recall/f1 exact span + entity type, micro over all entities
                                      (all extractors merged; "no_entity" excluded)
     entity_value_accuracy            of the correctly found spans, share whose (synonym-
                                      mapped) value equals the annotated value
   and OUT/holdout_predictions.json (every example with gold / predicted intent+entities).
Exit status 1 if intent_accuracy < --min-intent-accuracy or entity_micro_f1 < --min-entity-f1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, List

ROOT = Path(__file__).resolve().parent.parent
FALLBACK = "nlu_fallback"
# Custom graph components of the project (e.g. policies in rasa_addons/) must be importable
# when a full model is loaded, as they are for the rasa CLI run from the project root.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def latest_model(models_dir: Path) -> Path:
    models = sorted(models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise SystemExit(f"no model in {models_dir}: train one first (make train)")
    return models[-1]


def rasa_executable() -> List[str]:
    """``rasa`` through the project entry point (the patch layer applied first, rasa_addons/launch.py)."""
    candidate = Path(sys.executable).with_name("rasa")
    python = Path(sys.executable) if candidate.exists() else ROOT / ".venv-rasa" / "bin" / "python"
    return [str(python), "-m", "rasa_addons.launch"]


def run_rasa_test(model: Path, holdout: Path, out: Path) -> None:
    cmd = [*rasa_executable(), "test", "nlu", "--nlu", str(holdout), "--model", str(model),
           "--out", str(out)]
    print("+", " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    (out / "rasa_test.log").write_text(proc.stdout + "\n" + proc.stderr, encoding="utf-8")
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"rasa test nlu failed ({proc.returncode}); see {out / 'rasa_test.log'}")


def load_holdout(path: Path) -> list[dict[str, Any]]:
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    examples = []
    for msg in data.intent_examples:
        examples.append({
            "text": msg.get("text"),
            "intent": msg.get("intent"),
            "entities": [
                {"entity": e["entity"], "start": e["start"], "end": e["end"],
                 "value": str(e.get("value"))}
                for e in msg.get("entities") or []
            ],
        })
    return examples


async def parse_all(model: Path, examples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from rasa.core.agent import Agent

    from rasa_addons import patches

    patches.apply()  # as the rasa server runs (RASA_PATCHES; importing rasa_addons patches nothing)
    agent = Agent.load(str(model))
    results = []
    for ex in examples:
        parsed = await agent.parse_message(ex["text"])
        ranking = parsed.get("intent_ranking") or []
        non_fb = [r for r in ranking if r.get("name") != FALLBACK]
        results.append({
            **ex,
            "predicted_intent": (parsed.get("intent") or {}).get("name"),
            "confidence": (parsed.get("intent") or {}).get("confidence"),
            "best_non_fallback": non_fb[0]["name"] if non_fb else None,
            "best_non_fallback_confidence": non_fb[0].get("confidence") if non_fb else None,
            "classifier_stage": parsed.get("intent_classifier_stage"),
            "predicted_entities": [
                {"entity": e["entity"], "start": e["start"], "end": e["end"],
                 "value": str(e.get("value")), "extractor": e.get("extractor")}
                for e in parsed.get("entities") or []
            ],
        })
    return results


def macro_f1(gold: list[str], pred: list[str], labels: list[str]) -> float:
    scores = []
    for label in labels:
        tp = sum(1 for g, p in zip(gold, pred) if g == label and p == label)
        fp = sum(1 for g, p in zip(gold, pred) if g != label and p == label)
        fn = sum(1 for g, p in zip(gold, pred) if g == label and p != label)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


def entity_scores(results: list[dict[str, Any]]) -> dict[str, Any]:
    tp = fp = fn = value_ok = 0
    per: dict[str, Counter] = {}
    for r in results:
        gold = {(e["entity"], e["start"], e["end"]): e["value"] for e in r["entities"]}
        pred: dict[tuple, str] = {}
        for e in r["predicted_entities"]:
            pred.setdefault((e["entity"], e["start"], e["end"]), e["value"])
        for key, value in pred.items():
            c = per.setdefault(key[0], Counter())
            if key in gold:
                tp += 1
                c["tp"] += 1
                if value.lower() == gold[key].lower():
                    value_ok += 1
            else:
                fp += 1
                c["fp"] += 1
        for key in gold:
            if key not in pred:
                fn += 1
                per.setdefault(key[0], Counter())["fn"] += 1

    def prf(t: int, p: int, n: int) -> dict[str, float]:
        prec = t / (t + p) if t + p else 0.0
        rec = t / (t + n) if t + n else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        return {"precision": round(prec, 4), "recall": round(rec, 4), "f1": round(f1, 4),
                "support": t + n}

    micro = prf(tp, fp, fn)
    return {
        "entity_micro_precision": micro["precision"],
        "entity_micro_recall": micro["recall"],
        "entity_micro_f1": micro["f1"],
        "entity_support": micro["support"],
        "entity_value_accuracy": round(value_ok / tp, 4) if tp else 0.0,
        "per_entity": {k: prf(v["tp"], v["fp"], v["fn"]) for k, v in sorted(per.items())},
    }


def confusion_matrix(gold: list[str], pred: list[str]) -> dict[str, dict[str, int]]:
    """gold intent -> predicted intent (nlu_fallback included) -> count; zero cells left out."""
    matrix: dict[str, dict[str, int]] = {}
    for g, p in zip(gold, pred):
        row = matrix.setdefault(g, {})
        row[p] = row.get(p, 0) + 1
    return {g: dict(sorted(row.items())) for g, row in sorted(matrix.items())}


def write_confusion_csv(matrix: dict[str, dict[str, int]], path: Path) -> None:
    """The full square matrix (rows gold, columns predicted), readable in any spreadsheet."""
    columns = sorted({p for row in matrix.values() for p in row} | set(matrix))
    lines = [",".join(["gold \\ predicted"] + columns)]
    for g in sorted(matrix):
        lines.append(",".join([g] + [str(matrix[g].get(c, 0)) for c in columns]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Evaluate NLU on the held-out set.")
    ap.add_argument("--model", help="model .tar.gz (default: newest in models/)")
    ap.add_argument("--models-dir", default=str(ROOT / "models"))
    ap.add_argument("--holdout", default=str(ROOT / "tests" / "nlu" / "holdout.yml"))
    ap.add_argument("--out", default=str(ROOT / "reports" / "nlu"))
    ap.add_argument("--min-intent-accuracy", type=float, default=0.95)
    ap.add_argument("--min-entity-f1", type=float, default=0.92)
    ap.add_argument("--no-rasa-test", action="store_true",
                    help="skip `rasa test nlu` (no PNG plots / intent_report.json; the confusion "
                         "matrix is still in summary.json and intent_confusion_matrix.csv)")
    args = ap.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    logging.basicConfig(level=logging.WARNING)
    try:  # rasa's own loggers (incl. structlog debug lines of the message processor)
        from rasa.utils.common import configure_logging_and_warnings
        from rasa.utils.log_utils import configure_structlog

        configure_logging_and_warnings(logging.WARNING)
        configure_structlog(logging.WARNING)
    except Exception:  # pragma: no cover - older/newer rasa
        pass
    model = Path(args.model) if args.model else latest_model(Path(args.models_dir))
    holdout = Path(args.holdout)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    started = time.time()
    if not args.no_rasa_test:
        run_rasa_test(model, holdout, out)

    examples = load_holdout(holdout)
    results = asyncio.run(parse_all(model, examples))

    gold = [r["intent"] for r in results]
    strict = [r["predicted_intent"] for r in results]
    lenient = [r["best_non_fallback"] for r in results]
    labels = sorted(set(gold))
    n = len(results)
    summary: dict[str, Any] = {
        "model": str(model),
        "holdout": str(holdout),
        "examples": n,
        "intent_accuracy": round(sum(g == p for g, p in zip(gold, strict)) / n, 4),
        "intent_accuracy_ignoring_fallback": round(
            sum(g == p for g, p in zip(gold, lenient)) / n, 4),
        "intent_macro_f1": round(macro_f1(gold, strict, labels), 4),
        "fallback_share": round(sum(p == FALLBACK for p in strict) / n, 4),
        # CascadeIntentClassifier: share of messages that needed the sentence encoder
        "sentence_vector_share": round(sum(r.get("classifier_stage") == "wording+meaning" for r in results) / n, 4),
        **entity_scores(results),
        "targets": {"intent_accuracy": args.min_intent_accuracy,
                    "entity_micro_f1": args.min_entity_f1},
        "per_intent_errors": dict(Counter(g for g, p in zip(gold, strict) if g != p)),
        "confusion_matrix": confusion_matrix(gold, strict),
        "seconds": round(time.time() - started, 1),
    }
    summary["passed"] = (summary["intent_accuracy"] >= args.min_intent_accuracy
                         and summary["entity_micro_f1"] >= args.min_entity_f1)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    write_confusion_csv(summary["confusion_matrix"], out / "intent_confusion_matrix.csv")
    (out / "holdout_predictions.json").write_text(
        json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    for r in results:
        if r["predicted_intent"] != r["intent"]:
            print(f"  INTENT {r['intent']:>24} -> {r['predicted_intent']} "
                  f"({(r['confidence'] or 0):.2f}; best {r['best_non_fallback']}): {r['text']}")
        g = {(e["entity"], e["start"], e["end"]) for e in r["entities"]}
        p = {(e["entity"], e["start"], e["end"]) for e in r["predicted_entities"]}
        if g != p:
            fmt = lambda s: sorted(f"{e}:{r['text'][a:b]}" for e, a, b in s)  # noqa: E731
            print(f"  ENTITY gold={fmt(g)} pred={fmt(p)}: {r['text']}")
    keys = ["intent_accuracy", "intent_accuracy_ignoring_fallback", "intent_macro_f1",
            "fallback_share", "sentence_vector_share", "entity_micro_precision", "entity_micro_recall", "entity_micro_f1",
            "entity_value_accuracy", "passed"]
    print(json.dumps({k: summary[k] for k in keys}, indent=2))
    print(f"wrote {out / 'summary.json'}")
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
