"""The escalation condition language and the rules file loader."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from actions import escalation
from actions.escalation import RulesFileError, evaluate, load_rules, parse_condition, parse_rules

ROOT = Path(__file__).resolve().parents[2]
INTENTS = escalation.domain_intents()


def holds(condition: str, **facts) -> bool:
    return evaluate(parse_condition(condition), facts)


def rules_doc(when: str, **extra) -> dict:
    return {"version": "t1", "rules": [{"name": "r", "when": when, "reason": "because"}], **extra}


@pytest.mark.parametrize(
    "condition, facts, expected",
    [
        ('intent == "request_human"', {"intent": "request_human"}, True),
        ('intent != "request_human"', {"intent": "greet"}, True),
        ("frustration >= 0.7", {"frustration": 0.7}, True),
        ("frustration >= 0.7", {"frustration": 0.69}, False),
        ("frustration >= 0.7", {"frustration": None}, False),  # missing never compares true
        ("frustration < 0.7", {}, False),
        ('"legal" in signals', {"signals": ["legal", "urgent"]}, True),
        ('"legal" in signals', {"signals": None}, False),
        ('"legal" not in signals', {"signals": None}, True),
        ('intent in ["billing_dispute", "delete_account"]', {"intent": "delete_account"}, True),
        ('intent not in ["billing_dispute", "delete_account"]', {"intent": "greet"}, True),
        ('tier == "vip" and risk_class == "high"', {"tier": "vip", "risk_class": "high"}, True),
        ('tier == "vip" and risk_class == "high"', {"tier": None, "risk_class": "high"}, False),
        ('not (tier == "vip") or verified', {"tier": "vip", "verified": True}, True),
        ("needs_backend and (backend_errors >= 1 or identity_failures >= 2)", {"needs_backend": True, "backend_errors": 0, "identity_failures": 2}, True),
        ("needs_backend and (backend_errors >= 1 or identity_failures >= 2)", {"needs_backend": False, "backend_errors": 3}, False),
        ("tier == null", {}, True),
        ("verified == false", {"verified": False}, True),
        ('kb_refusal_reason == "exception" and intent != "deny"', {"kb_refusal_reason": "exception", "intent": "affirm"}, True),
        ("verified or needs_backend and verified", {"verified": False, "needs_backend": True}, False),
    ],
)
def test_condition_semantics(condition, facts, expected):
    assert holds(condition, **facts) is expected


def test_and_binds_tighter_than_or():
    assert holds("verified or needs_backend and verified", verified=True, needs_backend=False)
    assert not holds("(verified or needs_backend) and verified", verified=False, needs_backend=True)


def test_no_python_evaluation_is_possible():
    for source in ["__import__('os').system('true')", "intent.__class__", "open('x')", "1 + 1", "lambda: 1"]:
        with pytest.raises(escalation.ConditionError):
            escalation._check_node(parse_condition(source), INTENTS)


@pytest.mark.parametrize(
    "when, message",
    [
        ('intent == "refnd"', "'intent' is never 'refnd'"),
        ('tier == "gold"', "'tier' is never 'gold'"),
        ('"shouting" in churn_signals', "'churn_signals' is never 'shouting'"),
        ("frustration >= high", "unknown fact 'high'"),
        ('frustration >= "high"', "'>=' needs numbers"),
        ("frustation >= 0.7", "unknown fact 'frustation'"),
        ('signals == "legal"', "'signals' is a list; use 'in'"),
        ('"x" in intent', "'in' needs a list on the right, but 'intent' is text"),
        ("frustration >= 0.7 and", "expected a value or a fact but found the end"),
        ("(frustration >= 0.7", "expected ')'"),
        ("frustration >= 0.7 frustration", "unexpected 'frustration'"),
        ("frustration => 0.7", "unexpected character '='"),
        ("frustration >= 0.7 && verified", "unexpected character '&'"),
        ("   ", "'when' is missing or not a non-empty string"),
    ],
)
def test_bad_conditions_are_rejected_with_the_rule_and_the_reason(when, message):
    with pytest.raises(RulesFileError) as error:
        parse_rules(rules_doc(when), "rules.yml", INTENTS)
    text = str(error.value)
    assert text.startswith("rules.yml: rule 1 ('r'): ")
    assert message in text


@pytest.mark.parametrize(
    "document, message",
    [
        ([], "expected a mapping with 'version' and 'rules'"),
        ({"rules": [{"name": "r", "when": "verified", "reason": "x"}]}, "'version' is missing"),
        ({"version": "", "rules": [{"name": "r", "when": "verified", "reason": "x"}]}, "'version' is missing"),
        ({"version": 1, "rules": []}, "'rules' must be a non-empty list"),
        ({"version": 1, "rule": []}, "unknown top-level key(s): rule"),
        ({"version": 1, "rules": [{"name": "r", "when": "verified"}]}, "'reason' is missing"),
        ({"version": 1, "rules": [{"name": "r", "when": "verified", "reason": "x", "priority": 1}]}, "unknown key(s) priority"),
        ({"version": 1, "rules": [{"name": "Bad Name", "when": "verified", "reason": "x"}]}, "lower_snake_case"),
        ({"version": 1, "rules": [{"name": "r", "when": "verified", "reason": "x"}] * 2}, "duplicate name, already used by rule 1"),
        ({"version": 1, "rules": [{"name": "r", "when": 0.7, "reason": "x"}]}, "'when' is missing or not a non-empty string"),
    ],
)
def test_bad_rule_files_are_rejected(document, message):
    with pytest.raises(RulesFileError) as error:
        parse_rules(document, "rules.yml", INTENTS)
    assert message in str(error.value)


def test_unreadable_and_invalid_yaml_files(tmp_path):
    with pytest.raises(RulesFileError, match="cannot read the escalation rules file"):
        load_rules(tmp_path / "missing.yml")
    broken = tmp_path / "broken.yml"
    broken.write_text("version: 1\nrules:\n  - name: [unclosed\n")
    with pytest.raises(RulesFileError, match="broken.yml: not valid YAML"):
        load_rules(broken)


def test_the_shipped_rules_file_is_valid_and_complete():
    ruleset = load_rules(ROOT / "config" / "escalation_rules.yml")
    assert ruleset.version
    names = [rule.name for rule in ruleset.rules]
    for required in [
        "customer_asks_for_human", "legal_request", "security_concern", "data_deletion", "billing_dispute",
        "refund_or_policy_exception", "frustrated_customer", "repeated_failures", "long_unresolved_thread",
        "vip_high_risk", "backend_data_missing",
    ]:
        assert required in names
    # the file's top comment promises the first rule decides: explicit topics come first
    assert names[0] == "customer_asks_for_human"


def test_first_matching_rule_decides():
    ruleset = load_rules(ROOT / "config" / "escalation_rules.yml")
    facts = {"intent": "billing_dispute", "tier": "vip", "risk_class": "high", "frustration": 0.9, "signals": []}
    assert ruleset.matching(facts)[:3] == ["billing_dispute", "vip_high_risk", "frustrated_customer"]
    assert ruleset.first_match(facts).name == "billing_dispute"


def test_every_fact_is_documented_for_designers():
    doc = (ROOT / "docs" / "escalation.md").read_text()
    for name in escalation.FACTS:
        assert f"`{name}`" in doc, f"fact {name} is not described in docs/escalation.md"


def _start_action_server(rules_file: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    from scripts.stack import free_port

    env = dict(os.environ, ESCALATION_RULES=str(rules_file), ACTION_SERVER_PORT=str(free_port()),
               VAR_DIR=str(tmp_path), PYTHONPATH=str(ROOT), SLACK_API_URL="http://127.0.0.1:9/api/",
               ACTION_SERVER_TOKEN="test-action-token", OPS_TOKEN="test-ops-token")
    return subprocess.run([sys.executable, "-m", "actions.server"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)


def test_a_bad_rules_file_stops_the_action_server_at_start_up(tmp_path):
    bad = tmp_path / "rules.yml"
    bad.write_text(textwrap.dedent(
        """
        version: "broken-1"
        rules:
          - name: frustrated_customer
            when: frustration >= 0.7 andd tier == "vip"
            reason: typo in the condition
        """
    ))
    result = _start_action_server(bad, tmp_path)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"{bad}: rule 1 ('frustrated_customer'): when: unexpected 'andd'" in output
    assert "escalation rules" in output.lower()


def test_a_missing_rules_file_stops_the_action_server_too(tmp_path):
    result = _start_action_server(tmp_path / "nope.yml", tmp_path)
    assert result.returncode != 0
    assert "cannot read the escalation rules file" in result.stdout + result.stderr
