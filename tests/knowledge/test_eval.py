"""The knowledge-base evaluation: runs the full set, writes reports/knowledge_eval.json and
checks the targets (hit@3 >= 0.95, >= 90% of unanswerable refused, <= 10% false refusals)."""
from __future__ import annotations

import json

import pytest

from actions.knowledge.config import PROJECT_ROOT
from actions.knowledge.evaluate import TARGETS, evaluate, load_cases

pytestmark = pytest.mark.usefixtures("kb_index")

REPORT = PROJECT_ROOT / "reports" / "knowledge_eval.json"


def test_eval_set_is_big_enough() -> None:
    cases = load_cases()
    kinds = [c.kind for c in cases]
    assert kinds.count("answerable") >= 75 and kinds.count("unanswerable") >= 25
    assert len({c.question.lower() for c in cases}) == len(cases)


async def test_evaluation_meets_targets() -> None:
    report = await evaluate(load_cases())
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2), encoding="utf-8")
    overall = report["splits"]["all"]
    assert overall["hit@3"] >= TARGETS["hit@3"], report["failures"]
    assert overall["refusal_rate"] >= TARGETS["refusal_rate"], report["failures"]
    assert overall["false_refusal_rate"] <= TARGETS["false_refusal_rate"], report["failures"]
    assert overall["internal_leaks"] == 0
    assert overall["internal_hit@3"] >= 0.8
