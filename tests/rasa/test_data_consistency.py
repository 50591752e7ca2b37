"""Fast, file-precise checks of the conversation data against domain.yml.

Rasa's own validator (test_rasa_project.py) is the authority, but its messages rarely say which
file is wrong. These checks name the file and the story, rule or example, so a designer knows
where to look.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Set

import pytest
import yaml

from tests.conftest import ROOT

DEFAULT_ACTIONS = {
    "action_listen", "action_restart", "action_session_start", "action_default_fallback",
    "action_deactivate_loop", "action_revert_fallback_events", "action_default_ask_affirmation",
    "action_default_ask_rephrase", "action_two_stage_fallback", "action_back", "action_unlikely_intent",
    "action_extract_slots",
}
DEFAULT_INTENTS = {"nlu_fallback", "restart", "back", "out_of_scope", "session_start"}
CONTRACT_INTENTS = set(
    """greet goodbye affirm deny thank bot_challenge request_human ask_question order_status cancel_order
    change_delivery_address damaged_or_wrong_item return_item refund_status billing_dispute payment_failed
    update_payment_method request_invoice cancel_subscription change_plan reset_password account_locked
    update_email delete_account report_bug service_outage legal_request security_concern""".split()
)
CONTRACT_ENTITIES = {"order_id", "email", "amount", "plan", "payment_method", "product"}


def load(path: Path):
    try:
        return yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        pytest.fail(f"{path.relative_to(ROOT)} is not valid YAML: {error}")


@pytest.fixture(scope="module")
def domain() -> Dict:
    return load(ROOT / "domain.yml")


def data_files() -> List[Path]:
    return sorted((ROOT / "data").rglob("*.yml")) + sorted((ROOT / "tests" / "stories").rglob("*.yml"))


def names(domain: Dict, key: str) -> Set[str]:
    value = domain.get(key) or []
    if isinstance(value, dict):
        return set(value)
    return {next(iter(item)) if isinstance(item, dict) else item for item in value}


def test_contract_intents_and_entities_are_in_the_domain(domain) -> None:
    assert not CONTRACT_INTENTS - names(domain, "intents"), "domain.yml lacks contract intents"
    assert not CONTRACT_ENTITIES - names(domain, "entities"), "domain.yml lacks contract entities"
    actions = names(domain, "actions")
    assert {"action_answer_from_knowledge", "action_handoff_to_human"} <= actions


def test_every_story_and_rule_uses_known_names(domain) -> None:
    intents = names(domain, "intents") | DEFAULT_INTENTS
    actions = names(domain, "actions") | names(domain, "responses") | names(domain, "forms") | DEFAULT_ACTIONS
    forms = names(domain, "forms")
    slots = set(domain.get("slots") or {}) | {"requested_slot"}
    problems = []
    for path in data_files():
        content = load(path)
        for kind in ("stories", "rules"):
            for block in content.get(kind) or []:
                label = f"{path.relative_to(ROOT)}: {kind[:-1]} '{block.get(kind[:-1])}'"
                for step in (block.get("steps") or []) + (block.get("condition") or []):
                    if "intent" in step and step["intent"] not in intents:
                        problems.append(f"{label} uses intent '{step['intent']}', which is not in domain.yml")
                    if "action" in step and step["action"] not in actions:
                        problems.append(f"{label} uses action '{step['action']}', which is not in domain.yml")
                    if step.get("active_loop") and step["active_loop"] not in forms:
                        problems.append(f"{label} uses form '{step['active_loop']}', which is not in domain.yml")
                    for item in step.get("slot_was_set") or []:
                        slot = next(iter(item)) if isinstance(item, dict) else item
                        if slot not in slots:
                            problems.append(f"{label} sets slot '{slot}', which is not in domain.yml")
        for block in content.get("nlu") or []:
            if "intent" in block and block["intent"] not in intents:
                problems.append(f"{path.relative_to(ROOT)}: NLU examples for intent '{block['intent']}', which is not in domain.yml")
    assert not problems, "\n".join(problems)


def test_every_form_has_questions_and_rules(domain) -> None:
    responses = names(domain, "responses")
    actions = names(domain, "actions")
    rules_text = "\n".join(p.read_text() for p in (ROOT / "data" / "rules").glob("*.yml"))
    problems = []
    for form, spec in (domain.get("forms") or {}).items():
        for slot in spec.get("required_slots") or []:
            asks = {f"utter_ask_{slot}", f"utter_ask_{form}_{slot}"}
            if not asks & responses and f"action_ask_{form}_{slot}" not in actions:
                problems.append(f"domain.yml: form '{form}' has no question for slot '{slot}' (add utter_ask_{slot})")
        if f"validate_{form}" not in actions:
            problems.append(f"domain.yml: form '{form}' has no validate_{form} action")
        if f"active_loop: {form}" not in rules_text:
            problems.append(f"data/rules/: no rule starts or submits form '{form}'")
    assert not problems, "\n".join(problems)


def test_every_domain_action_is_served_by_the_action_server(domain) -> None:
    from rasa_sdk.executor import ActionExecutor

    executor = ActionExecutor()
    executor.register_package("actions")
    custom = {a for a in names(domain, "actions") if a.startswith(("action_", "validate_"))}
    missing = sorted(custom - set(executor.actions))
    assert not missing, f"domain.yml lists actions the action server does not implement: {missing}"


def test_every_domain_intent_has_an_intent_catalog_entry(domain) -> None:
    """config/intents.yml (risk, product area, ... per intent) lists exactly domain.yml's intents,
    plus Rasa's own where they matter; the loader's message names the file and the intent."""
    from actions.intent_catalog import IntentCatalogError, load_catalog

    try:
        catalog = load_catalog(ROOT / "config" / "intents.yml", frozenset(names(domain, "intents")))
    except IntentCatalogError as error:
        pytest.fail(str(error))
    assert set(catalog.entries) - names(domain, "intents") <= DEFAULT_INTENTS
