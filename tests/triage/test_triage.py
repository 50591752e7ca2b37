"""Triage and escalation on realistic conversations, run through action_validate_slot_mappings."""
from __future__ import annotations

import pytest

from actions import escalation
from actions.triage import assess_message, combine_frustration
from tests.triage.conversation import Conversation

ORDER = [{"entity": "order_id", "value": "BC-100234"}]


@pytest.fixture(autouse=True)
def shipped_rules():
    escalation.set_rules(None)
    yield
    escalation.set_rules(None)


# --- every rule fires on its case ----------------------------------------------------------------


def asks_for_human(c: Conversation):
    c.say("hi", "greet")
    c.say("can I please talk to a real person", "request_human")


def asks_for_human_misclassified(c: Conversation):
    # NLU thought it was a question; the words still say "a person"
    c.say("is there any way to speak to an actual human being about my order", "ask_question")


def legal(c: Conversation):
    c.say("I'm going to have my lawyer contact you about this", "legal_request")


def legal_via_words(c: Conversation):
    c.say("under GDPR I want a copy of every piece of data you hold on me", "ask_question")


def security(c: Conversation):
    c.say("someone logged into my account and placed orders I didn't make", "security_concern")


def deletion(c: Conversation):
    c.say("please delete my account and erase all my personal data", "delete_account")


def dispute(c: Conversation):
    c.say("you charged me twice for BC-100234, I want the second charge reversed", "billing_dispute", ORDER)


def exception_in_words(c: Conversation):
    c.say("I know it's past the 30 day window but can you make an exception and refund me?", "return_item")


def exception_after_knowledge_refusal(c: Conversation):
    c.say("can I get a refund on a sale item after 60 days", "ask_question")
    c.knowledge_refused(reason="exception").listen()
    c.say("yes please", "affirm")


def vip_outage(c: Conversation):
    c.slot("customer_tier", "vip").slot("verified", True)
    c.say("the checkout page keeps failing, is something down?", "service_outage")


def shouting(c: Conversation):
    c.say("WHERE IS MY ORDER?? THIS IS RIDICULOUS!!!", "order_status")


def growing_anger(c: Conversation):
    c.say("where is my order BC-100234", "order_status", ORDER)
    c.bot("Your order BC-100234 is delayed by weather; new ETA Friday.", action="action_order_status").listen()
    c.say("this is really annoying, I needed it yesterday", "order_status")
    c.bot("I'm sorry about the delay.", action="action_order_status").listen()
    c.say("seriously? still no update. third time I'm asking!!", "order_status")


def profanity_and_threat(c: Conversation):
    c.say("this is bullshit, I'm switching to amazon and never ordering from you again", "cancel_subscription")


def two_fallbacks(c: Conversation):
    c.say("the thingy with the stuff from the other day", "nlu_fallback", confidence=0.31)
    c.bot("Sorry, I didn't quite get that.", action="action_default_fallback").listen()
    c.say("you know the blue one i got", "nlu_fallback", confidence=0.28)


def two_knowledge_refusals(c: Conversation):
    c.say("do you sell gift wrapping for corporate orders", "ask_question")
    c.knowledge_refused().listen()
    c.say("can I pay with crypto", "ask_question")
    c.knowledge_refused().listen()
    c.say("ok what about paying in instalments", "ask_question")


def fallback_then_refusal(c: Conversation):
    c.say("blorp", "nlu_fallback", confidence=0.2)
    c.bot("Sorry, I didn't quite get that.", action="action_default_fallback").listen()
    c.say("do you ship to antarctica", "ask_question")
    c.knowledge_refused().listen()
    c.say("ok and to the moon", "ask_question")


def long_thread(c: Conversation):
    questions = [
        ("how long does shipping take", "ask_question"), ("ok", "affirm"), ("and to canada?", "ask_question"),
        ("what about express", "ask_question"), ("is there a fee", "ask_question"), ("hmm", "inform"),
        ("can I change the address", "ask_question"), ("ok", "affirm"), ("and returns?", "ask_question"),
        ("how many days", "ask_question"), ("ok", "affirm"), ("what about sale items", "ask_question"),
        ("and gift cards", "ask_question"), ("and if it's damaged", "ask_question"),
    ]
    for text, intent in questions:
        c.say(text, intent)
        if c.rule:
            return
        c.knowledge_answered().listen()


def same_issue_three_times(c: Conversation):
    for _ in range(3):
        c.say("has my refund been processed", "refund_status")
        if c.rule:
            return
        c.bot("Your refund is pending.", action="action_refund_status").listen()


def backend_down(c: Conversation):
    c.say("where is my order BC-100234", "order_status", ORDER)
    c.bot("Sorry, I can't reach our order system right now.", utter_action="utter_backend_down", action="action_order_status").listen()
    c.say("can you try again to check the status of BC-100234", "order_status", ORDER)
    assert c.rule is None  # one outage: the retry may work (tests/e2e/test_order_status_flow.py)
    c.bot("Sorry, I can't reach our order system right now.", utter_action="utter_backend_down", action="action_order_status").listen()
    c.say("please check BC-100234 again", "order_status", ORDER)


def identity_not_possible(c: Conversation):
    c.slot("identity_failures", 2)
    c.say("my account is locked and I can't get in", "account_locked")


CASES = [
    ("customer_asks_for_human", asks_for_human),
    ("customer_asks_for_human", asks_for_human_misclassified),
    ("legal_request", legal),
    ("legal_request", legal_via_words),
    ("security_concern", security),
    ("data_deletion", deletion),
    ("billing_dispute", dispute),
    ("refund_or_policy_exception", exception_in_words),
    ("refund_or_policy_exception", exception_after_knowledge_refusal),
    ("vip_high_risk", vip_outage),
    ("frustrated_customer", shouting),
    ("frustrated_customer", growing_anger),
    ("frustrated_customer", profanity_and_threat),
    ("repeated_failures", two_fallbacks),
    ("repeated_failures", two_knowledge_refusals),
    ("repeated_failures", fallback_then_refusal),
    ("long_unresolved_thread", long_thread),
    ("long_unresolved_thread", same_issue_three_times),
    ("backend_data_missing", backend_down),
    ("backend_data_missing", identity_not_possible),
]


@pytest.mark.parametrize("expected, scenario", CASES, ids=[f"{rule}-{fn.__name__}" for rule, fn in CASES])
def test_each_rule_fires_on_its_case(expected, scenario):
    conversation = Conversation()
    scenario(conversation)
    assert conversation.rule == expected, conversation.triage
    assert conversation.slots["escalation_reason"] == escalation.get_rules().get(expected).reason
    assert conversation.triage["escalation_rule"] == expected


def test_every_rule_in_the_file_has_a_case():
    assert {rule for rule, _ in CASES} == {rule.name for rule in escalation.get_rules().rules}


# --- and none fires on routine conversations -----------------------------------------------------

ROUTINE = [
    [("hi there", "greet"), ("where is my order BC-100234", "order_status"), ("BC-100234", "inform"),
     ("jane.doe@example.com", "inform"), ("great, thanks!", "thank"), ("bye", "goodbye")],
    [("How long do refunds take to show up on my card?", "ask_question")],
    [("I'd like to return a jacket that doesn't fit", "return_item"), ("it doesn't fit", "inform"), ("yes", "affirm")],
    [("can I change the delivery address for my order", "change_delivery_address")],
    [("what payment methods do you accept?", "ask_question")],
    [("I forgot my password", "reset_password")],
    [("please cancel my order BC-100234", "cancel_order"), ("yes cancel it", "affirm")],
    [("I want to upgrade to premium", "change_plan"), ("yes", "affirm")],
    [("I'd like to cancel my membership", "cancel_subscription"), ("no, keep it actually", "deny")],
    [("can you send me the invoice for BC-100234", "request_invoice")],
    [("my card payment failed, why?", "payment_failed")],
    [("the app crashes when I open my basket on android", "report_bug")],
    [("no problem, it's not a big deal", "affirm"), ("thanks, not bad at all", "thank")],
    [("Is my order shipped yet? I really need it for my son's birthday on Saturday!", "order_status")],
    [("are you a bot?", "bot_challenge"), ("ok cool", "affirm")],
    [("hi", "greet"), ("i got the wrong size, can I exchange it?", "damaged_or_wrong_item")],
    [("where is order BC-100234", "order_status", [{"entity": "order_id", "value": "BC-100234"}]),
     ("and BC-100235?", "order_status", [{"entity": "order_id", "value": "BC-100235"}]),
     ("and BC-100236", "order_status", [{"entity": "order_id", "value": "BC-100236"}]),
     ("what about BC-100237", "order_status", [{"entity": "order_id", "value": "BC-100237"}])],
]


@pytest.mark.parametrize("turns", ROUTINE, ids=[turns[0][0][:40] for turns in ROUTINE])
@pytest.mark.parametrize("tier", ["standard", "vip"])
def test_no_rule_fires_on_routine_messages(turns, tier):
    conversation = Conversation(slots={"customer_tier": tier})
    for text, intent, *entities in turns:
        conversation.say(text, intent, entities[0] if entities else None)
        assert conversation.rule is None, (text, conversation.triage)
        assert conversation.triage["risk_class"] == "low", (text, conversation.triage)
        assert conversation.triage["frustration"] < 0.3, (text, conversation.triage)
        conversation.bot("ok", action="utter_ok").listen()


def test_a_knowledge_refusal_then_an_answer_does_not_escalate():
    c = Conversation()
    c.say("do you sell gift wrapping", "ask_question")
    c.knowledge_refused().listen()
    c.say("how long do refunds take", "ask_question")
    c.knowledge_answered().listen()
    c.say("and for paypal?", "ask_question")
    assert c.rule is None


@pytest.mark.parametrize("text, intent", [("ok never mind, bye", "goodbye"), ("no thanks", "deny"), ("thanks anyway", "thank")])
def test_two_refusals_then_leaving_or_declining_a_person_does_not_escalate(text, intent):
    c = Conversation()
    c.say("do you sell gift wrapping for corporate orders", "ask_question")
    c.knowledge_refused().listen()
    c.say("can I pay with crypto", "ask_question")
    c.knowledge_refused().listen()
    c.say(text, intent)
    assert c.rule is None


def test_the_rule_is_cleared_when_the_next_message_is_routine():
    c = Conversation()
    c.say("I want to talk to a person", "request_human")
    assert c.rule == "customer_asks_for_human"
    c.listen()
    c.say("actually never mind, where is my order BC-100234", "order_status", ORDER)
    assert c.rule is None and c.slots["escalation_reason"] is None


def test_counters_restart_when_the_bot_gets_the_conversation_back():
    c = Conversation()
    two_fallbacks(c)
    assert c.rule == "repeated_failures"
    # an agent resolves the case: resume plus the reset slots, as actions/handoff.py posts them
    c.apply({"event": "resume"})
    for name, value in [("frustration", 0.0), ("kb_failed_count", 0), ("escalation_rule", None), ("escalation_reason", None)]:
        c.slot(name, value)
    c.say("hmm what", "nlu_fallback", confidence=0.3)
    assert c.rule is None


# --- the triage itself ----------------------------------------------------------------------------


def test_the_normalized_ticket():
    c = Conversation(slots={"customer_tier": "vip"})
    c.say("I was charged twice for BC-100234 and I need this fixed TODAY", "billing_dispute", ORDER)
    ticket = c.triage
    assert ticket["intent"] == "billing_dispute"
    assert ticket["entities"] == {"order_id": "BC-100234"}
    assert ticket["product_area"] == "billing"
    assert ticket["risk_class"] == "high"
    assert ticket["urgency"] == "high"
    assert ticket["tier"] == "vip"
    assert "billing_dispute" in ticket["signals"] and "urgent" in ticket["signals"]
    assert ticket["churn_signals"] == []
    assert 0.0 <= ticket["frustration"] <= 1.0
    assert c.slots["frustration"] == ticket["frustration"]
    assert c.slots["risk_class"] == "high"
    assert ticket["rules_version"] == escalation.get_rules().version


def test_entities_are_masked_in_the_ticket():
    c = Conversation()
    c.say("my email is jane.doe@example.com", "inform", [{"entity": "email", "value": "jane.doe@example.com"}])
    assert c.triage["entities"] == {"email": "j***@example.com"}


@pytest.mark.parametrize(
    "text, feature",
    [
        ("WHY HAS NOBODY ANSWERED MY EMAIL ABOUT THE REFUND", "shouting"),
        ("what the f*** is going on with my order", "profanity"),
        ("wtf, where is it", "profanity"),
        ("this is the third time I'm asking about this", "repeat_complaint"),
        ("I already told you the order number", "repeat_complaint"),
        ("still waiting for my refund, two weeks later", "still_waiting"),
        ("I'm done with Brightcart, taking my business elsewhere", "threat_to_leave"),
        ("where is my parcel!!!", "exclamations"),
        ("this is absolutely unacceptable", "negative_words"),
    ],
)
def test_frustration_features(text, feature):
    result = assess_message(text, "order_status")
    assert feature in result.features and result.frustration > 0


def test_caps_that_are_not_shouting():
    assert assess_message("my order BC-100234 went with UPS to the USA", "order_status").frustration == 0
    assert assess_message("OK", "affirm").frustration == 0


def test_negation_is_not_anger():
    assert assess_message("no problem, that's not terrible at all", "affirm").frustration == 0


def test_churn_signals():
    assert assess_message("I want to cancel my premium membership", "cancel_subscription").churn_signals == ["cancel_membership"]
    assert set(assess_message("I'm switching to amazon, never ordering here again", "ask_question").churn_signals) >= {"competitor", "never_again"}
    assert "chargeback" in assess_message("I'll just do a chargeback with my bank", "billing_dispute").churn_signals
    assert "public_complaint" in assess_message("I'm leaving a 1-star review on trustpilot", "ask_question").churn_signals


def test_frustration_accumulates_and_decays():
    assert combine_frustration(0.5, 0.0) == 0.5
    assert combine_frustration(0.0, 0.5) == 0.3
    assert combine_frustration(0.5, 0.5) == 0.65


def test_repeated_complaints_across_the_conversation_raise_frustration():
    c = Conversation()
    scores = []
    for _ in range(3):
        c.say("has my refund for BC-100234 been processed", "refund_status", ORDER)
        scores.append(c.triage["message_frustration"])
        c.bot("Your refund is pending.", action="action_refund_status").listen()
    assert scores[0] == 0 and scores[1] > 0 and scores[2] > scores[1]


def test_a_second_extraction_in_the_same_turn_changes_nothing():
    # Rasa runs action_extract_slots again when a form is activated in the same turn
    c = Conversation()
    first = c.say("I want to talk to a person", "request_human")
    assert first
    assert c.run_validation() == []


def test_button_payloads_and_external_events_are_not_scored():
    c = Conversation()
    c.say("/request_human", "request_human")
    assert c.triage["message_frustration"] == 0 and c.rule == "customer_asks_for_human"
    c2 = Conversation()
    assert c2.say("EXTERNAL: reminder", "reminder_due") == []


# --- re-evaluating after an action (for actions whose outcome the rules look at) ------------------


def _refusal_events(conversation: Conversation, reason: str = "no_match") -> list:
    failures = int(float(conversation.slots.get("kb_failed_count") or 0)) + 1
    return [
        {"event": "slot", "name": "kb_last_refused", "value": True},
        {"event": "slot", "name": "kb_failed_count", "value": failures},
        {"event": "slot", "name": "kb_last_retrieval", "value": {"refused": True, "reason": reason}},
    ]


def test_escalation_after_the_second_knowledge_refusal_in_the_same_turn():
    from actions.triage import escalation_after_action

    c = Conversation()
    c.say("do you sell gift wrapping for corporate orders", "ask_question")
    assert escalation_after_action(c.tracker(), _refusal_events(c)) == []
    c.knowledge_refused().listen()
    c.say("can I pay with crypto", "ask_question")
    assert c.rule is None
    events = escalation_after_action(c.tracker(), _refusal_events(c))
    assert [(e["name"], e["value"]) for e in events][0] == ("escalation_rule", "repeated_failures")


def test_escalation_after_a_refusal_to_make_an_exception():
    from actions.triage import escalation_after_action

    c = Conversation()
    c.say("can I get a refund on a sale item after 60 days", "ask_question")
    events = escalation_after_action(c.tracker(), _refusal_events(c, reason="exception"))
    assert events and events[0]["value"] == "refund_or_policy_exception"


def test_no_re_evaluation_for_an_old_message_or_while_escalating():
    from actions.triage import escalation_after_action

    c = Conversation()
    c.say("I want a person", "request_human")
    assert escalation_after_action(c.tracker(), _refusal_events(c)) == []  # already escalating
    c2 = Conversation()
    c2.user("hello", "greet")  # not triaged: the triage slot belongs to no message
    assert escalation_after_action(c2.tracker(), _refusal_events(c2)) == []


def test_a_bare_value_is_an_answer_whatever_the_classifier_guessed():
    from actions.triage import is_bare_value

    email = [{"entity": "email", "start": 0, "end": 19, "value": "someone@example.org"}]
    assert is_bare_value("someone@example.org", email)
    assert is_bare_value("it's BC-100002", [{"entity": "order_id", "start": 5, "end": 14}])
    assert not is_bare_value("someone@example.org hacked my account", email)
    assert not is_bare_value("my account was hacked", [])
