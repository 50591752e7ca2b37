"""Billing, membership, account and support actions against the real demo backend."""
from __future__ import annotations

import json
import os
import re
import urllib.request

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import account, billing, forms, handoff, support
from tests.actions.conftest import backend_get, load_domain, make_tracker
from tests.actions.test_order_actions import JANE, run, slot_events, texts


async def test_payment_failed_explains_decline_reasons_and_sends_secure_link():
    dispatcher, _ = await run(billing.ActionPaymentFailed(), make_tracker(JANE))
    said = texts(dispatcher)
    assert "expired" in said and "insufficient funds" in said
    assert "https://pay.brightcart.example/update/" in said


async def test_payment_link_never_asks_for_card_numbers():
    dispatcher, _ = await run(billing.ActionSendPaymentLink(), make_tracker(JANE))
    assert "can't take card details in chat" in texts(dispatcher)
    assert "https://pay.brightcart.example/update/" in texts(dispatcher)


async def test_cancel_subscription_says_what_is_lost_then_cancels():
    omar = {"customer_id": "C0002", "verified": True, "customer_tier": "vip"}
    dispatcher, _ = await run(billing.ActionAskCancelSubscriptionFormConfirmed(), make_tracker(omar))
    assert "Premium" in texts(dispatcher) and "until" in texts(dispatcher)
    dispatcher, _ = await run(billing.ActionCancelSubscription(), make_tracker({**omar, "confirmed": True}))
    assert "membership is cancelled" in texts(dispatcher)
    # asking again is blocked by the validator with the truth: it is already cancelled
    validator = forms.ValidateCancelSubscriptionForm()
    dispatcher = CollectingDispatcher()
    blocked = await validator.check_account(dispatcher, make_tracker(omar))
    assert blocked["flow_blocked"] is True and "already cancelled" in texts(dispatcher)


async def test_free_plan_has_nothing_to_cancel():
    dispatcher = CollectingDispatcher()
    blocked = await forms.ValidateCancelSubscriptionForm().check_account(dispatcher, make_tracker({"customer_id": "C0003", "verified": True}))
    assert blocked["flow_blocked"] is True and "Free plan" in texts(dispatcher)


async def test_change_plan_upgrade_is_immediate():
    slots = {**JANE, "plan": "premium"}
    dispatcher, _ = await run(billing.ActionAskChangePlanFormConfirmed(), make_tracker(slots))
    assert "Plus to Premium" in texts(dispatcher) and "$19.99" in texts(dispatcher) and "right away" in texts(dispatcher)
    dispatcher, _ = await run(billing.ActionChangePlan(), make_tracker({**slots, "confirmed": True}))
    assert "moving to Premium" in texts(dispatcher) and "effective today" in texts(dispatcher)


async def test_same_plan_is_asked_again():
    dispatcher = CollectingDispatcher()
    result = await forms.ValidateChangePlanForm().validate_plan("free", dispatcher, make_tracker({"customer_id": "C0003", "verified": True}), load_domain())
    assert result == {"plan": None} and "already on the Free plan" in texts(dispatcher)


async def test_reset_password_verified_and_unknown_email():
    dispatcher, _ = await run(account.ActionResetPassword(), make_tracker(JANE))
    assert "sent a password reset link to j" in texts(dispatcher)
    dispatcher, _ = await run(account.ActionResetPassword(), make_tracker({"account_email": "nobody@nowhere.example"}))
    assert "If that address belongs to a Brightcart account" in texts(dispatcher)


async def test_unlock_normal_lock_and_fraud_lock_goes_to_a_person():
    dispatcher, _ = await run(account.ActionUnlockAccount(), make_tracker({"customer_id": "C0003", "verified": True}))
    assert "unlocked" in texts(dispatcher)
    dispatcher, events = await run(account.ActionUnlockAccount(), make_tracker({"customer_id": "C0004", "verified": True}))
    assert "specialist" in texts(dispatcher)
    assert {"event": "followup", "name": "action_handoff_to_human"} in [
        {k: e.get(k) for k in ("event", "name")} for e in events if e.get("event") == "followup"
    ]


async def test_update_email_with_verification_code(backend_url):
    validator = forms.ValidateUpdateEmailForm()
    slots = {"customer_id": "C0005", "verified": True, "requested_slot": "new_email"}
    dispatcher = CollectingDispatcher()
    taken = await validator.validate_new_email("jane.doe@example.com", dispatcher, make_tracker(slots), load_domain())
    assert taken == {"new_email": None} and "already used" in texts(dispatcher)
    result = await validator.validate_new_email("new.address@example.net", CollectingDispatcher(), make_tracker(slots), load_domain())
    assert result == {"new_email": "new.address@example.net"}
    wrong = await validator.validate_verification_code("000000", CollectingDispatcher(), make_tracker(slots), load_domain())
    assert wrong["verification_code"] is None
    outbox = backend_get(f"{backend_url}/api/admin/outbox", admin=True)
    messages = outbox.get("messages", outbox) if isinstance(outbox, dict) else outbox
    code = next(re.search(r"\b(\d{6})\b", json.dumps(m)).group(1) for m in reversed(messages) if "new.address@example.net" in json.dumps(m))
    ok = await validator.validate_verification_code(code, CollectingDispatcher(), make_tracker(slots), load_domain())
    assert ok == {"verification_code": code}


async def test_bug_report_creates_ticket():
    slots = {**JANE, "bug_description": "app crashes when I tap checkout", "bug_device": "iPhone app"}
    dispatcher, _ = await run(support.ActionReportBug(), make_tracker(slots))
    assert re.search(r"ticket T-\d+", texts(dispatcher))


async def test_service_status_reports_known_incident():
    dispatcher, _ = await run(support.ActionServiceStatus(), make_tracker({}))
    assert "Known issue" in texts(dispatcher)


async def test_handoff_creates_ticket_and_pauses():
    import uuid

    tracker = make_tracker(JANE, intent="legal_request", text="I want all the data you hold on me, GDPR request",
                           sender_id=f"action-test-{uuid.uuid4().hex[:8]}")
    dispatcher, events = await run(handoff.ActionHandoffToHuman(), tracker)
    assert any(e.get("event") == "pause" for e in events)
    assert slot_events(events)["handoff_ticket_id"].startswith("T-")


def _attested(sender: str, **identity) -> dict:
    """Metadata carrying what a channel proved, signed as the Rasa channels sign it."""
    from common import attestation

    method = "token" if identity.get("customer_id") else "phone"
    return {"identity": attestation.attest(os.environ["CHANNEL_SECRET"], conversation_id=sender, channel="rest", method=method, **identity)}


async def test_session_start_verifies_a_customer_the_channel_proved(monkeypatch):
    monkeypatch.setenv("CHANNEL_SECRET", "test-channel-secret")
    tracker = make_tracker({"session_started_metadata": _attested("s-token", customer_id="C0002")}, sender_id="s-token")
    dispatcher, events = await run(support.ActionSessionStart(), tracker)
    assert events[0]["event"] == "session_started"
    slots = slot_events(events)
    assert slots["customer_id"] == "C0002" and slots["verified"] is True and slots["identity_method"] == "token"


async def test_session_start_maps_a_proven_caller_phone(monkeypatch):
    monkeypatch.setenv("CHANNEL_SECRET", "test-channel-secret")
    tracker = make_tracker({"session_started_metadata": _attested("s-phone", phone="+15555550101")}, sender_id="s-phone")
    _, events = await run(support.ActionSessionStart(), tracker)
    assert slot_events(events)["customer_id"] == "C0001" and slot_events(events)["identity_method"] == "phone"


@pytest.mark.parametrize("metadata", [
    {"customer_id": "C0002"},                      # what a client could always write
    {"phone": "+15555550101"},
    {"identity": {"method": "token", "customer_id": "C0002", "conversation_id": "s-forged", "channel": "rest",
                  "phone": None, "issued_at": 0, "signature": "0" * 64}},   # forged signature
])
async def test_session_start_ignores_identity_nobody_proved(monkeypatch, metadata):
    monkeypatch.setenv("CHANNEL_SECRET", "test-channel-secret")
    tracker = make_tracker({"session_started_metadata": metadata}, sender_id="s-forged")
    _, events = await run(support.ActionSessionStart(), tracker)
    assert "customer_id" not in slot_events(events) and not slot_events(events).get("verified")


async def test_an_attestation_from_another_conversation_does_not_verify(monkeypatch):
    monkeypatch.setenv("CHANNEL_SECRET", "test-channel-secret")
    tracker = make_tracker({"session_started_metadata": _attested("victim", customer_id="C0002")}, sender_id="attacker")
    _, events = await run(support.ActionSessionStart(), tracker)
    assert not slot_events(events).get("verified")


async def test_yes_after_an_offer_of_a_person_hands_off_and_otherwise_asks_how_to_help():
    offer = {"event": "bot", "text": "I couldn't find that. Would you like me to connect you with someone?",
             "data": {"buttons": [{"title": "Talk to a person", "payload": "/request_human"}]}}
    user = {"event": "user", "text": "yes please", "parse_data": {"intent": {"name": "affirm"}}}
    triage = {"event": "slot", "name": "triage", "value": {}}
    tracker = make_tracker({}, intent="affirm", text="yes please")
    tracker.events = [offer, {"event": "action", "name": "action_listen"}, user, triage]
    _, events = await run(support.ActionYesNo(), tracker)
    assert [e.get("name") for e in events if e.get("event") == "followup"] == ["action_handoff_to_human"]
    tracker.events = [{"event": "bot", "text": "Your order is on its way."}, user, triage]
    dispatcher, events = await run(support.ActionYesNo(), tracker)
    assert events == [] and dispatcher.messages[0]["response"] == "utter_how_can_i_help"


async def test_a_caller_known_only_by_phone_confirms_the_account_email_before_a_password_reset():
    phone_jane = {"customer_id": "C0001", "verified": True, "identity_method": "phone", "requested_slot": "account_email"}
    validator = forms.ValidateResetPasswordForm()
    domain = load_domain()
    assert await validator.required_slots(["account_email"], CollectingDispatcher(), make_tracker(phone_jane), domain) == ["account_email"]
    wrong = await validator.validate_account_email("someone@example.org", CollectingDispatcher(), make_tracker(phone_jane), domain)
    assert wrong["account_email"] is None and not wrong.get("second_factor")
    right = await validator.validate_account_email("jane.doe@example.com", CollectingDispatcher(), make_tracker(phone_jane), domain)
    assert right["second_factor"] is True and right["account_email"] == "jane.doe@example.com"
    token_jane = {**phone_jane, "identity_method": "token"}
    assert await validator.required_slots(["account_email"], CollectingDispatcher(), make_tracker(token_jane), domain) == []


def test_a_token_verified_conversation_keeps_its_identity_only_with_the_token(monkeypatch):
    from actions import identity

    monkeypatch.setenv("CHANNEL_SECRET", "test-channel-secret")
    verified = {"customer_id": "C0001", "verified": True, "identity_method": "token"}
    with_token = make_tracker(verified, metadata=_attested("bind-1", customer_id="C0001"), sender_id="bind-1")
    assert identity.binding_events(with_token) == []
    without = make_tracker(verified, metadata={"customer_id": "C0001"}, sender_id="bind-1")
    dropped = {e["name"]: e["value"] for e in identity.binding_events(without)}
    assert dropped["verified"] is False and dropped["customer_id"] is None
    other = make_tracker(verified, metadata=_attested("bind-1", customer_id="C0002"), sender_id="bind-1")
    assert {e["name"]: e["value"] for e in identity.binding_events(other)}["customer_id"] is None
    by_email = make_tracker({**verified, "identity_method": "order_email"}, metadata={}, sender_id="bind-1")
    assert identity.binding_events(by_email) == []
