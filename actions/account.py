"""Account flows: password reset, locked accounts and changing the account email."""
from __future__ import annotations

from typing import List, Text

from rasa_sdk.events import EventType, FollowupAction, SlotSet

from actions.backend_client import Conflict, get_client
from actions.flow import SubmitAction
from actions.pii import mask_email_address


class ActionResetPassword(SubmitAction):
    def name(self) -> Text:
        return "action_reset_password"

    async def submit(self, dispatcher, tracker, domain) -> List[EventType]:
        client = get_client()
        customer_id = tracker.get_slot("customer_id") if tracker.get_slot("verified") else None
        if not customer_id:
            customer = await client.find_customer(email=tracker.get_slot("account_email"))
            customer_id = customer.get("id") if customer else None
        if customer_id:
            result = await client.send_password_reset(customer_id)
            where = result.get("sent_to") or "the email on your account"
            dispatcher.utter_message(text=f"I've sent a password reset link to {where}. It's valid for 1 hour; check your spam folder if you don't see it.")
        else:
            # Same answer whether or not the account exists, so nobody can probe for accounts.
            dispatcher.utter_message(text="If that address belongs to a Brightcart account, a password reset link is on its way. It's valid for 1 hour.")
        return []


class ActionUnlockAccount(SubmitAction):
    def name(self) -> Text:
        return "action_unlock_account"

    async def submit(self, dispatcher, tracker, domain) -> List[EventType]:
        client = get_client()
        customer_id = tracker.get_slot("customer_id")
        try:
            await client.unlock_account(customer_id)
        except Conflict as refusal:
            customer = await client.get_customer(customer_id)
            if customer.get("account_state") != "locked":
                dispatcher.utter_message(text="Your account isn't locked, so you should be able to sign in. If your password doesn't work, I can send a reset link.")
                return []
            dispatcher.utter_message(
                text="Your account was locked by our security team, so it needs a specialist to review it before it can be unlocked. I'm handing you over now."
            )
            return [SlotSet("escalation_rule", "account_security_review"), FollowupAction("action_handoff_to_human")]
        dispatcher.utter_message(text="Your account is unlocked. You can sign in again now; if you've forgotten your password, I can send a reset link.")
        return []


class ActionUpdateEmail(SubmitAction):
    def name(self) -> Text:
        return "action_update_email"

    async def submit(self, dispatcher, tracker, domain) -> List[EventType]:
        new_email = tracker.get_slot("new_email")
        dispatcher.utter_message(text=f"Verified. Your account email is now {mask_email_address(new_email)}. We've sent a notice to your old address too.")
        return [SlotSet("customer_email", new_email)]
