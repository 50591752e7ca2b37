"""Billing and membership flows: failed payments, payment method updates, plan changes and
cancellations. Card numbers are never taken in chat: customers get a secure link instead."""
from __future__ import annotations

from typing import Any, List, Mapping, Text

from rasa_sdk import Action
from rasa_sdk.events import EventType

from actions.backend_client import BackendError, get_client
from actions.flow import SubmitAction
from actions.formatting import day, money

# What a customer should do about each decline reason the payment processor gives.
DECLINE_ADVICE = {
    "insufficient_funds": "the bank reported insufficient funds. You can retry once funds are available or use another card.",
    "expired_card": "the card on file has expired. Please add a new card using the secure link below.",
    "do_not_honor": "your bank declined it without giving us a reason. Your bank can tell you why, or you can use another payment method.",
    "incorrect_cvc": "the security code (CVC) didn't match. Please re-enter the card details through the secure link.",
    "processing_error": "the payment processor had a temporary error. Retrying in a few minutes usually works; you weren't charged.",
    "address_mismatch": "the billing address didn't match the one your bank has. Please update it through the secure link.",
}


def explain_attempt(attempt: Mapping[str, Any]) -> str:
    code = attempt.get("decline_code") or ""
    advice = DECLINE_ADVICE.get(code) or (attempt.get("decline_reason") or "the payment was declined") + "."
    amount = money(attempt.get("amount"), attempt.get("currency", "USD"))
    last4 = attempt.get("card_last4")
    method = (attempt.get("method") or "card").replace("_", " ").title() + (f" ending {last4}" if last4 else "")
    when = day(attempt.get("attempted_at") or attempt.get("created_at"))
    return f"The payment of {amount} with {method}" + (f" on {when}" if when else "") + f" failed because {advice}"


class ActionPaymentFailed(SubmitAction):
    def name(self) -> Text:
        return "action_payment_failed"

    async def submit(self, dispatcher, tracker, domain) -> List[EventType]:
        client = get_client()
        attempts = await client.failed_payments(tracker.get_slot("customer_id"))
        if not attempts:
            dispatcher.utter_message(text="I don't see any failed payment on your account recently. If a payment failed just now, it can take a few minutes to show up.")
            return []
        for attempt in attempts[:3]:
            dispatcher.utter_message(text=explain_attempt(attempt))
        if any(a.get("decline_code") in ("expired_card", "incorrect_cvc", "address_mismatch") for a in attempts[:3]):
            link = await client.payment_method_link(tracker.get_slot("customer_id"))
            dispatcher.utter_message(text=f"You can update your card securely here (never share card numbers in chat): {link.get('url')}")
        return []


class ActionSendPaymentLink(SubmitAction):
    def name(self) -> Text:
        return "action_send_payment_link"

    async def submit(self, dispatcher, tracker, domain) -> List[EventType]:
        link = await get_client().payment_method_link(tracker.get_slot("customer_id"))
        expires = day(link.get("expires_at"))
        dispatcher.utter_message(
            text="For your security I can't take card details in chat. Use this secure page to add or change your payment method: "
            f"{link.get('url')}" + (f" (the link works until {expires})." if expires else ".")
        )
        return []


class ActionAskCancelSubscriptionFormConfirmed(Action):
    def name(self) -> Text:
        return "action_ask_cancel_subscription_form_confirmed"

    async def run(self, dispatcher, tracker, domain):
        try:
            sub = await get_client().get_subscription(tracker.get_slot("customer_id"))
        except BackendError:
            dispatcher.utter_message(response="utter_backend_down")
            return []
        plan = sub.get("plan_name") or (sub.get("plan") or "").title()
        until = day(sub.get("renews_at") or sub.get("ends_at"))
        benefits = sub.get("benefits") or []
        lose = ", ".join(benefits) if benefits else "your membership benefits"
        dispatcher.utter_message(
            text=f"You're on Brightcart {plan} ({money(sub.get('price'))}/month). If you cancel, you keep {lose} until {until}, "
            "then your account moves to the Free plan and you won't be charged again. Shall I cancel it?",
            buttons=[{"title": "Yes, cancel", "payload": "/affirm"}, {"title": "No, keep it", "payload": "/deny"}],
        )
        return []


class ActionCancelSubscription(SubmitAction):
    needs_confirmation = True

    def name(self) -> Text:
        return "action_cancel_subscription"

    async def submit(self, dispatcher, tracker, domain) -> List[EventType]:
        result = await get_client().cancel_subscription(tracker.get_slot("customer_id"))
        dispatcher.utter_message(
            text=f"Your {str(result.get('plan', '')).title()} membership is cancelled. Your benefits stay until {day(result.get('effective_date'))}, "
            "and you won't be charged again. You can rejoin any time."
        )
        return []


class ActionAskChangePlanFormConfirmed(Action):
    def name(self) -> Text:
        return "action_ask_change_plan_form_confirmed"

    async def run(self, dispatcher, tracker, domain):
        client = get_client()
        target = tracker.get_slot("plan")
        try:
            plans = {p.get("code"): p for p in await client.list_plans()}
            current = await client.get_subscription(tracker.get_slot("customer_id"))
        except BackendError:
            dispatcher.utter_message(response="utter_backend_down")
            return []
        new_price = (plans.get(target) or {}).get("price")
        old_plan = current.get("plan")
        order = ["free", "plus", "premium"]
        upgrade = old_plan in order and target in order and order.index(target) > order.index(old_plan)
        renewal = current.get("renews_at") or current.get("ends_at")
        if upgrade:
            when = "right away, with a prorated charge for the rest of this billing period"
        else:
            when = f"at your next renewal on {day(renewal)}" if renewal else "at your next renewal"
        dispatcher.utter_message(
            text=f"Switching from {str(old_plan).title()} to {str(target).title()} ({money(new_price)}/month) takes effect {when}. Shall I go ahead?",
            buttons=[{"title": "Yes, change it", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}],
        )
        return []


class ActionChangePlan(SubmitAction):
    needs_confirmation = True

    def name(self) -> Text:
        return "action_change_plan"

    async def submit(self, dispatcher, tracker, domain) -> List[EventType]:
        result = await get_client().change_plan(tracker.get_slot("customer_id"), tracker.get_slot("plan"))
        text = (
            f"Done: you're moving to {str(result.get('new_plan')).title()} at {money(result.get('new_price'))}/month, "
            + ("effective today." if result.get("immediate") else f"from your renewal on {day(result.get('effective_date'))}; until then nothing changes.")
        )
        charge = result.get("prorated_charge")
        if charge:
            text += f" A prorated charge of {money(charge)} applies today."
        dispatcher.utter_message(text=text)
        return []
