"""NLU quality on the held-out set (tests/nlu/holdout.yml).

Run with the app venv:  .venv/bin/python -m pytest tests/nlu -q
The model is $RASA_MODEL or the newest models/*.tar.gz; the evaluation itself runs in the
Rasa venv (.venv-rasa) through scripts/nlu_eval.py, which writes reports/nlu/summary.json.
Targets (docs/nlu.md): intent accuracy >= 0.95 with nlu_fallback counted as an error (what a
customer sees), and also ignoring fallback (the best non-fallback intent; what Rasa's
intent_report.json counts); entity micro F1 >= 0.92 (exact span and type). The run writes
reports/nlu/summary.json and the confusion matrix (summary.json and intent_confusion_matrix.csv).
The data-hygiene tests need no model.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HOLDOUT = ROOT / "tests" / "nlu" / "holdout.yml"
NLU_DATA = ROOT / "data" / "nlu"
RASA_PY = ROOT / ".venv-rasa" / "bin" / "python"
MIN_INTENT_ACCURACY = 0.95
# Training is deterministic (logistic regression, fixed random_state), so the target is the floor.
MIN_STRICT_ACCURACY = float(os.environ.get("NLU_MIN_STRICT_ACCURACY", "0.95"))
MIN_ENTITY_F1 = 0.92

CONTRACT_INTENTS = set(
    """greet goodbye affirm deny thank bot_challenge request_human ask_question
    order_status cancel_order change_delivery_address damaged_or_wrong_item return_item
    refund_status billing_dispute payment_failed update_payment_method request_invoice
    cancel_subscription change_plan reset_password account_locked update_email delete_account
    report_bug service_outage legal_request security_concern stop inform""".split()
)
ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def _examples(path: Path) -> dict[str, list[str]]:
    """intent -> example texts (entity markup removed, normalised)."""
    out: dict[str, list[str]] = {}
    for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
        if "intent" not in block:
            continue
        for line in str(block.get("examples", "")).splitlines():
            line = line.strip()
            if line.startswith("- "):
                text = ANNOTATION.sub(r"\1", line[2:])
                out.setdefault(block["intent"], []).append(" ".join(text.lower().split()))
    return out


def _training_examples() -> dict[str, list[str]]:
    merged: dict[str, list[str]] = {}
    for f in sorted(NLU_DATA.rglob("*.yml")):
        for intent, texts in _examples(f).items():
            merged.setdefault(intent, []).extend(texts)
    return merged


def test_holdout_not_in_training_data():
    train = {t for texts in _training_examples().values() for t in texts}
    leaked = [t for texts in _examples(HOLDOUT).values() for t in texts if t in train]
    assert not leaked, f"held-out examples found in data/nlu: {leaked}"


def test_data_covers_contract_intents():
    train = _training_examples()
    holdout = _examples(HOLDOUT)
    assert CONTRACT_INTENTS <= set(train), CONTRACT_INTENTS - set(train)
    thin_train = {i: len(train[i]) for i in CONTRACT_INTENTS if len(train[i]) < 45}
    thin_holdout = {i: len(holdout.get(i, [])) for i in CONTRACT_INTENTS
                    if len(holdout.get(i, [])) < 15}
    assert not thin_train, f"intents with < 45 training examples: {thin_train}"
    assert not thin_holdout, f"intents with < 15 held-out examples: {thin_holdout}"


def _model() -> Path | None:
    env = os.environ.get("RASA_MODEL")
    if env:
        return Path(env)
    models = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None


@pytest.fixture(scope="module")
def summary(tmp_path_factory) -> dict:
    model = _model()
    if model is None or not model.exists():
        pytest.skip("no trained model (set RASA_MODEL or run `make train`)")
    if not RASA_PY.exists():
        pytest.skip(".venv-rasa is not built (make envs)")
    out = Path(os.environ.get("NLU_REPORT_DIR", ROOT / "reports" / "nlu"))
    cmd = [str(RASA_PY), str(ROOT / "scripts" / "nlu_eval.py"), "--model", str(model),
           "--out", str(out)]
    if os.environ.get("NLU_EVAL_FULL") != "1":
        # `rasa test nlu` (confusion matrix PNG) doubles the run time; `make nlu-eval` does it.
        cmd.append("--no-rasa-test")
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    path = out / "summary.json"
    assert path.exists(), f"nlu_eval.py wrote no summary:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    data = json.loads(path.read_text())
    data["_log"] = proc.stdout[-6000:]
    return data


def test_intent_accuracy_ignoring_fallback(summary):
    assert summary["intent_accuracy_ignoring_fallback"] >= MIN_INTENT_ACCURACY, summary["_log"]


def test_intent_accuracy_counting_fallback_as_error(summary):
    assert summary["intent_accuracy"] >= MIN_STRICT_ACCURACY, summary["_log"]


def test_entity_micro_f1(summary):
    assert summary["entity_micro_f1"] >= MIN_ENTITY_F1, summary["_log"]


def test_confusion_matrix_is_written(summary):
    matrix = summary["confusion_matrix"]
    assert sum(sum(row.values()) for row in matrix.values()) == summary["examples"]
    correct = sum(row.get(gold, 0) for gold, row in matrix.items())
    assert round(correct / summary["examples"], 4) == summary["intent_accuracy"]
    out = Path(os.environ.get("NLU_REPORT_DIR", ROOT / "reports" / "nlu"))
    header = (out / "intent_confusion_matrix.csv").read_text().splitlines()[0].split(",")
    assert CONTRACT_INTENTS <= set(header)


def test_cascade_uses_both_models(summary):
    """CascadeIntentClassifier: the n-gram model settles most messages, the sentence vector the rest."""
    assert 0.0 < summary["sentence_vector_share"] < 0.5, summary["sentence_vector_share"]


def test_fallback_share_is_reported(summary):
    assert 0.0 <= summary["fallback_share"] <= 1.0
    assert summary["intent_accuracy_ignoring_fallback"] >= summary["intent_accuracy"]
