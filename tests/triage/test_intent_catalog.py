"""config/intents.yml and its loader (actions/intent_catalog.py): the file matches domain.yml, says
what the former Python tables said, a broken file gives an error naming the file, the intent and
the field, and the action server refuses to start with one."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from actions import intent_catalog, triage
from actions.escalation import BUILTIN_INTENTS
from actions.intent_catalog import IntentCatalogError, load_catalog, parse_catalog

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "config" / "intents.yml"
DOMAIN = intent_catalog.domain_intents(ROOT / "domain.yml")


@pytest.fixture(autouse=True)
def fresh_catalog():
    intent_catalog.set_catalog(None)
    yield
    intent_catalog.set_catalog(None)


def catalog_doc(**entries) -> dict:
    """The real file's document with ``entries`` replacing (or adding) intents."""
    data = yaml.safe_load(CATALOG.read_text())
    data["intents"].update(entries)
    return data


def error_for(data, domain=DOMAIN) -> str:
    with pytest.raises(IntentCatalogError) as caught:
        parse_catalog(data, "config/intents.yml", domain)
    return str(caught.value)


# --- the real file -----------------------------------------------------------------------------


def test_the_catalog_loads_and_lists_every_domain_intent():
    assert DOMAIN, "domain.yml could not be read"
    catalog = load_catalog(CATALOG, DOMAIN)
    listed = set(catalog.entries)
    assert DOMAIN <= listed, f"domain intents without an entry in config/intents.yml: {sorted(DOMAIN - listed)}"
    assert listed - DOMAIN <= BUILTIN_INTENTS, f"not in domain.yml: {sorted(listed - DOMAIN - BUILTIN_INTENTS)}"


def test_the_default_load_checks_against_domain_yml():
    assert set(intent_catalog.get_catalog().entries) >= DOMAIN
    assert intent_catalog.get_catalog().path == CATALOG


def test_the_catalog_says_what_the_former_python_tables_said():
    """The sets and mappings as they were in triage.py, handoff.py, forms.py, prefetch.py,
    audit/turns.py and audit/kpis.py before they moved to config/intents.yml (behaviour must stay identical)."""
    c = load_catalog(CATALOG, DOMAIN)
    assert c.high_risk == {"billing_dispute", "delete_account", "legal_request", "security_concern", "service_outage"}
    assert c.needs_backend == {
        "order_status", "cancel_order", "change_delivery_address", "damaged_or_wrong_item", "return_item",
        "refund_status", "payment_failed", "update_payment_method", "request_invoice", "cancel_subscription",
        "change_plan", "reset_password", "account_locked", "update_email", "service_outage"}
    assert c.generic == {"greet", "goodbye", "affirm", "deny", "thank", "bot_challenge", "inform", "stop",
                         "ask_question", "nlu_fallback", "request_human"}
    assert c.complaints == {"order_status", "refund_status", "damaged_or_wrong_item", "payment_failed",
                            "billing_dispute", "report_bug", "service_outage", "account_locked", "return_item",
                            "cancel_order"}
    assert c.form_non_answers == {"stop", "ask_question", "request_human", "bot_challenge", "legal_request",
                                  "security_concern", "delete_account", "billing_dispute", "greet", "thank", "goodbye"}
    assert c.high_priority == {"security_concern", "legal_request", "billing_dispute", "delete_account"}
    assert c.not_carrying_issue == {"request_human", "greet", "goodbye", "affirm", "deny", "thank", "bot_challenge",
                                    "stop", "nlu_fallback"}
    assert c.knowledge_questions == {"ask_question", "nlu_fallback"}
    assert c.fallbacks == {"nlu_fallback"}
    assert c.not_customer_messages == {"session_start", "restart", "back"}
    assert c.small_talk == {"greet", "goodbye", "affirm", "deny", "thank", "bot_challenge", "inform", "nlu_fallback",
                            "stop"}
    assert {name: info.product_area for name, info in c.entries.items() if info.product_area} == {
        "order_status": "orders", "cancel_order": "orders", "change_delivery_address": "shipping",
        "damaged_or_wrong_item": "returns", "return_item": "returns", "refund_status": "refunds",
        "billing_dispute": "billing", "payment_failed": "billing", "update_payment_method": "billing",
        "request_invoice": "billing", "cancel_subscription": "membership", "change_plan": "membership",
        "reset_password": "account", "account_locked": "account", "update_email": "account",
        "delete_account": "account", "report_bug": "technical", "service_outage": "technical",
        "legal_request": "legal", "security_concern": "security"}
    assert {name: info.urgency for name, info in c.entries.items() if info.urgency != "normal"} == {
        "security_concern": "critical", "service_outage": "high", "billing_dispute": "high",
        "account_locked": "high", "payment_failed": "high", "legal_request": "high",
        "greet": "low", "goodbye": "low", "thank": "low", "bot_challenge": "low", "affirm": "low", "deny": "low"}


def test_an_unlisted_intent_gets_the_defaults():
    info = load_catalog(CATALOG, DOMAIN).get("out_of_scope")
    assert (info.risk, info.product_area, info.urgency, info.needs_backend, info.generic, info.complaint,
            info.form_non_answer, info.handoff_priority, info.carries_issue, info.customer_message,
            info.small_talk) == ("low", None, "normal", False, False, False, False, "normal", True, True, False)
    assert load_catalog(CATALOG, DOMAIN).get(None).risk == "low"


# --- broken files --------------------------------------------------------------------------------


def test_an_unknown_field_is_named():
    message = error_for(catalog_doc(greet={"risk": "low", "product_area": None, "escalate": False}))
    assert message.startswith("config/intents.yml: intent 'greet': unknown field(s) escalate")


def test_a_bad_risk_value_is_named():
    message = error_for(catalog_doc(order_status={"risk": "medium", "product_area": "orders"}))
    assert "config/intents.yml: intent 'order_status': field 'risk' must be one of high, low, not 'medium'" in message


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("needs_backend", "yes please", "field 'needs_backend' must be true or false, not 'yes please'"),
        ("complaint", 1, "field 'complaint' must be true or false, not 1"),
        ("product_area", "shoes", "field 'product_area' must be one of account, billing"),
        ("urgency", "asap", "field 'urgency' must be one of critical, high, low, normal, not 'asap'"),
        ("handoff_priority", "urgent", "field 'handoff_priority' must be one of high, normal, not 'urgent'"),
    ],
)
def test_a_value_of_the_wrong_type_is_named(field, value, expected):
    message = error_for(catalog_doc(refund_status={"risk": "low", "product_area": "refunds", field: value}))
    assert message.startswith("config/intents.yml: intent 'refund_status': ") and expected in message


def test_an_intent_missing_from_domain_yml_is_named():
    message = error_for(catalog_doc(gift_card_balance={"risk": "low", "product_area": "billing"}))
    assert message == ("config/intents.yml: intent 'gift_card_balance' is not in domain.yml "
                       "(add it under intents: there, or remove this entry)")


def test_rasa_own_intents_may_be_listed_without_domain_yml():
    parse_catalog(catalog_doc(out_of_scope={"risk": "low", "product_area": None}), "x", DOMAIN)


def test_a_domain_intent_without_an_entry_is_named():
    data = catalog_doc()
    del data["intents"]["request_invoice"]
    message = error_for(data)
    assert "config/intents.yml: intent(s) in domain.yml without an entry here: request_invoice" in message


def test_a_missing_required_field_is_named():
    message = error_for(catalog_doc(report_bug={"risk": "low"}))
    assert "intent 'report_bug': field 'product_area' is missing" in message


@pytest.mark.parametrize(
    "data, expected",
    [
        ([], "expected a mapping with the key 'intents'"),
        ({"intents": {}}, "'intents' must be a non-empty mapping"),
        ({"intents": {"greet": None}}, "intent 'greet': expected a mapping of fields"),
        ({"intents": {"greet": {"risk": "low", "product_area": None}}, "version": 2}, "unknown top-level key(s): version"),
    ],
)
def test_a_malformed_document_is_named(data, expected):
    assert expected in error_for(data, domain=None)


def test_an_unreadable_or_invalid_file_is_named(tmp_path):
    with pytest.raises(IntentCatalogError, match="cannot read the intent catalog"):
        load_catalog(tmp_path / "missing.yml", DOMAIN)
    bad = tmp_path / "intents.yml"
    bad.write_text("intents:\n  greet: {risk: low\n")
    with pytest.raises(IntentCatalogError, match=f"{bad}: not valid YAML"):
        load_catalog(bad, DOMAIN)


def test_an_intent_listed_twice_is_named(tmp_path):
    copy = tmp_path / "intents.yml"
    copy.write_text(CATALOG.read_text() + "  order_status: {risk: high, product_area: orders}\n")
    with pytest.raises(IntentCatalogError, match=f"{copy}: not valid YAML: .*'order_status' is listed twice"):
        load_catalog(copy, DOMAIN)


# --- an intent added as data changes triage without code ----------------------------------------


def test_a_new_intent_in_the_catalog_drives_triage():
    domain = DOMAIN | {"gift_card_balance"}
    catalog = parse_catalog(catalog_doc(gift_card_balance={
        "risk": "high", "product_area": "billing", "urgency": "high", "needs_backend": True, "complaint": True}),
        "config/intents.yml", domain)
    intent_catalog.set_catalog(catalog)
    assessment = triage.assess_message("what's left on my card", "gift_card_balance")
    assert assessment.product_area == "billing"
    assert triage.same_issue_count(
        triage.ConversationState(turns=[triage.Turn("a", "gift_card_balance"), triage.Turn("b", "gift_card_balance")]),
        "gift_card_balance") == 2


# --- the action server --------------------------------------------------------------------------


def _start_action_server(catalog_file: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    from scripts.stack import free_port

    env = dict(os.environ, INTENT_CATALOG=str(catalog_file), ACTION_SERVER_PORT=str(free_port()),
               VAR_DIR=str(tmp_path), PYTHONPATH=str(ROOT), SLACK_API_URL="http://127.0.0.1:9/api/",
               ACTION_SERVER_TOKEN="test-action-token", OPS_TOKEN="test-ops-token")
    env.pop("ESCALATION_RULES", None)
    return subprocess.run([sys.executable, "-m", "actions.server"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)


def test_a_broken_catalog_stops_the_action_server_at_start_up(tmp_path):
    bad = tmp_path / "intents.yml"
    text = CATALOG.read_text().replace("  legal_request: {risk: high,", "  legal_request: {risk: severe,")
    assert text != CATALOG.read_text()
    bad.write_text(text)
    result = _start_action_server(bad, tmp_path)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Cannot start the action server: invalid intent catalog." in output
    assert f"{bad}: intent 'legal_request': field 'risk' must be one of high, low, not 'severe'" in output


def test_an_unknown_intent_in_the_catalog_stops_the_action_server(tmp_path):
    bad = tmp_path / "intents.yml"
    bad.write_text(CATALOG.read_text() + "  refund_requestt: {risk: low, product_area: refunds}\n")
    result = _start_action_server(bad, tmp_path)
    assert result.returncode != 0
    assert f"{bad}: intent 'refund_requestt' is not in domain.yml" in result.stdout + result.stderr
