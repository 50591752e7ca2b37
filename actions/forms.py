"""Form validators: one per form in domain.yml, sharing the identity and order checks.

Every task form collects an order number and, unless the channel already vouched for the
customer, the email on that order. A validator may block a flow (the order has shipped, the
customer failed verification twice, the backend is down): it says why, sets ``flow_blocked``,
and the form ends at once so its submit action only tidies up.
"""
from __future__ import annotations

import logging
from abc import abstractmethod
import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.backend_client import (
    BackendError,
    BackendUnavailable,
    BadRequest,
    Conflict,
    NotFound,
    get_client,
    normalize_order_id,
)
from actions.config import settings
from actions.formatting import day
from actions.identity import customer_slots, ensure_identity_events, needs_second_factor
from actions.intent_catalog import get_catalog
from actions.pii import EMAIL_RE

logger = logging.getLogger(__name__)


def is_non_answer(intent: str) -> bool:
    """Never an answer to the question a form asked (form_non_answer in config/intents.yml): the
    form steps aside (rejects) and the rules for that intent take the turn."""
    return intent in get_catalog().form_non_answers


CODE_RE = re.compile(r"\b(\d{6})\b")


def latest_intent(tracker: Tracker) -> str:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name") or ""


def latest_text(tracker: Tracker) -> str:
    return ((tracker.latest_message or {}).get("text") or "").strip()


class SupportFormValidator(FormValidationAction):
    """Shared behaviour of every task form: identity, order lookup, free-text answers, yes/no."""

    #: False for account-level flows, where the order number only serves to verify identity
    order_is_subject: bool = True
    #: free-text slots this form fills with whatever the customer types when asked for them
    free_text_slots: tuple[str, ...] = ()
    #: True for flows that change the account or an order: a customer verified only by their
    #: phone number confirms the email on the account first (a second factor)
    changes_account: bool = False

    @abstractmethod
    def name(self) -> Text:
        """validate_<form name>"""

    # ----------------------------------------------------------------------------- plumbing
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        identity = await ensure_identity_events(tracker)
        tracker.add_slots(identity)
        if self.changes_account and needs_second_factor(tracker) and tracker.get_slot("customer_email") \
                and tracker.get_slot("requested_slot") != "customer_email" and not self._email_in_message(tracker):
            # an email given earlier was never checked against the account: ask for it now
            identity.append(SlotSet("customer_email", None))
            tracker.slots["customer_email"] = None
        events = identity + await super().run(dispatcher, tracker, domain)
        if tracker.get_slot("verified") and not tracker.get_slot("flow_blocked"):
            blocked = await self.check_account(dispatcher, tracker)
            if blocked:
                events.extend(SlotSet(key, value) for key, value in blocked.items())
        return events

    @staticmethod
    def _email_in_message(tracker: Tracker) -> bool:
        return any(e.get("entity") == "email" for e in (tracker.latest_message or {}).get("entities") or [])

    async def check_account(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> Optional[Dict[str, Any]]:
        """Flow-specific check of the verified customer's account; a dict result blocks the flow."""
        return None

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        if tracker.get_slot("flow_blocked"):
            return []
        slots = list(domain_slots)
        if tracker.get_slot("verified"):
            if not (self.changes_account and needs_second_factor(tracker)):
                slots = [slot for slot in slots if slot != "customer_email"]
            if not self.order_is_subject:
                slots = [slot for slot in slots if slot != "order_id"]
        return slots

    def requested(self, tracker: Tracker, slot: str) -> bool:
        return tracker.get_slot("requested_slot") == slot

    def block(self, dispatcher: CollectingDispatcher, message: str, offer_human: bool = False) -> Dict[str, Any]:
        dispatcher.utter_message(text=message)
        if offer_human:
            dispatcher.utter_message(response="utter_offer_human")
        return {"flow_blocked": True, "requested_slot": None}

    def backend_down(self, dispatcher: CollectingDispatcher) -> Dict[str, Any]:
        dispatcher.utter_message(response="utter_backend_down")
        return {"flow_blocked": True, "requested_slot": None}

    def identity_failure(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, message: str, slot: str
    ) -> Dict[str, Any]:
        """A wrong order number or email: one more chance, then stop and offer a person."""
        failures = int(tracker.get_slot("identity_failures") or 0) + 1
        if failures >= settings.max_identity_attempts + 1:
            result = self.block(
                dispatcher,
                "I still can't match those details, so for your security I'll stop here. "
                "A person from our team can check your account with you.",
                offer_human=True,
            )
            result.update({slot: None, "identity_failures": float(failures)})
            return result
        dispatcher.utter_message(text=message)
        return {slot: None, "identity_failures": float(failures)}

    # ------------------------------------------------------------------------- order number
    async def extract_order_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """Catch order numbers the entity extractor missed ('it's 100002', 'bc100002')."""
        if not self.requested(tracker, "order_id") or is_non_answer(latest_intent(tracker)):
            return {}
        if any(e.get("entity") == "order_id" for e in (tracker.latest_message or {}).get("entities", [])):
            return {}
        normalized = normalize_order_id(latest_text(tracker))
        return {"order_id": normalized} if normalized else {}

    async def check_order(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, order: Dict[str, Any]
    ) -> Optional[Dict[str, Any]]:
        """Flow-specific check of an order the customer may see; a dict result blocks the flow."""
        return None

    async def validate_order_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        order_id = normalize_order_id(str(value or ""))
        if not order_id:
            return self.identity_failure(
                dispatcher, tracker,
                "That doesn't look like a Brightcart order number. It starts with BC- followed by six digits, like BC-123456.",
                "order_id",
            )
        try:
            order = await get_client().get_order(order_id)
        except NotFound:
            return self.identity_failure(
                dispatcher, tracker,
                f"I couldn't find order {order_id}. Could you check the number in your confirmation email?",
                "order_id",
            )
        except BackendError:
            return self.backend_down(dispatcher)

        if tracker.get_slot("verified") and order.get("customer_id") != tracker.get_slot("customer_id"):
            # Never confirm that someone else's order exists.
            return self.identity_failure(
                dispatcher, tracker,
                f"I couldn't find order {order_id} on your account. Could you check the number?",
                "order_id",
            )
        result: Dict[str, Any] = {"order_id": order_id}
        email = tracker.get_slot("customer_email")
        if not tracker.get_slot("verified") and email:
            # The email came first (or in the same message): check the pair now.
            tracker.slots["order_id"] = order_id
            result.update(await self._verify_pair(dispatcher, tracker, order_id, email))
            if not result.get("verified"):
                return result
            tracker.slots.update(result)
        if tracker.get_slot("verified") and self.order_is_subject:
            blocked = await self.check_order(dispatcher, tracker, order)
            if blocked:
                result.update(blocked)
        return result

    # --------------------------------------------------------------------------- the email
    async def _verify_pair(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, order_id: str, email: str
    ) -> Dict[str, Any]:
        client = get_client()
        try:
            customer_id = await client.verify_order_email(order_id, email)
            if not customer_id:
                return self.identity_failure(
                    dispatcher, tracker,
                    f"Sorry, that email doesn't match order {order_id}. Could you try the email you used when ordering?",
                    "customer_email",
                )
            customer = await client.get_customer(customer_id)
        except NotFound:
            return self.identity_failure(
                dispatcher, tracker, f"I couldn't find order {order_id}. Could you check the number?", "order_id"
            )
        except BackendError:
            return self.backend_down(dispatcher)
        slots = customer_slots(customer)
        slots["customer_email"] = email
        first_name = (customer.get("name") or "").split(" ")[0]
        dispatcher.utter_message(text=f"Thanks{', ' + first_name if first_name else ''}, you're verified.")
        return slots

    async def _second_factor(self, dispatcher: CollectingDispatcher, tracker: Tracker, email: str) -> Dict[str, Any]:
        """A phone-verified customer confirms the email on their account before a change."""
        if not EMAIL_RE.fullmatch(email):
            return self.identity_failure(dispatcher, tracker, "That doesn't look like an email address. Could you type it again?", "customer_email")
        try:
            customer = await get_client().get_customer(str(tracker.get_slot("customer_id")))
        except BackendError:
            return self.backend_down(dispatcher)
        if (customer.get("email") or "").strip().lower() != email.lower():
            return self.identity_failure(
                dispatcher, tracker, "Sorry, that isn't the email address on your account. Could you try again?", "customer_email")
        dispatcher.utter_message(text="Thanks, that matches your account.")
        return {"customer_email": email, "second_factor": True, "identity_failures": 0.0}

    async def extract_customer_email(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if not self.requested(tracker, "customer_email") or tracker.get_slot("customer_email"):
            return {}
        match = EMAIL_RE.search(latest_text(tracker))
        return {"customer_email": match.group()} if match else {}

    async def validate_customer_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        email = str(value or "").strip()
        if self.changes_account and needs_second_factor(tracker):
            return await self._second_factor(dispatcher, tracker, email)
        if tracker.get_slot("verified"):
            return {"customer_email": tracker.get_slot("customer_email") or email}
        if not EMAIL_RE.fullmatch(email):
            return self.identity_failure(dispatcher, tracker, "That doesn't look like an email address. Could you type it again?", "customer_email")
        order_id = normalize_order_id(str(tracker.get_slot("order_id") or ""))
        if not order_id:
            return {"customer_email": email}  # checked as soon as the order number arrives
        result = await self._verify_pair(dispatcher, tracker, order_id, email)
        if result.get("verified") and self.order_is_subject:
            tracker.slots.update(result)
            try:
                order = await get_client().get_order(order_id)
            except BackendError:
                return {**result, **self.backend_down(dispatcher)}
            blocked = await self.check_order(dispatcher, tracker, order)
            if blocked:
                result.update(blocked)
        return result

    # ---------------------------------------------------------------- free text and yes/no
    async def extract_confirmed(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if not self.requested(tracker, "confirmed"):
            return {}
        intent = latest_intent(tracker)
        if intent == "affirm":
            return {"confirmed": True}
        if intent in ("deny", "stop"):
            return {"confirmed": False}
        return {}

    def _free_text(self, tracker: Tracker, slot: str) -> Dict[Text, Any]:
        if not self.requested(tracker, slot) or is_non_answer(latest_intent(tracker)):
            return {}
        text = latest_text(tracker)
        return {slot: text} if text and not text.startswith("/") else {}

    async def get_extraction_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        events = await super().get_extraction_events(dispatcher, tracker, domain)
        requested = tracker.get_slot("requested_slot")
        if requested in self.free_text_slots and not any(e.get("name") == requested for e in events):
            extracted = self._free_text(tracker, requested)
            events.extend(SlotSet(key, value) for key, value in extracted.items())
            tracker.slots.update(extracted)
        return events


# ================================================================================== orders
class ValidateOrderStatusForm(SupportFormValidator):
    def name(self) -> Text:
        return "validate_order_status_form"


class ValidateCancelOrderForm(SupportFormValidator):
    changes_account = True
    def name(self) -> Text:
        return "validate_cancel_order_form"

    async def check_order(self, dispatcher, tracker, order):
        if order.get("status") == "processing":
            return None
        status = order.get("status")
        if status in ("shipped", "delayed"):
            message = (
                f"Order {order['id']} has already shipped, so it can't be cancelled any more. "
                "Once it arrives you can send it back for a refund; I can help you start a return then."
            )
        elif status == "cancelled":
            message = f"Order {order['id']} is already cancelled."
        else:
            message = f"Order {order['id']} is {status}, so it can't be cancelled. If you'd like to send it back, I can help with a return."
        return self.block(dispatcher, message)


class ValidateChangeAddressForm(SupportFormValidator):
    changes_account = True
    free_text_slots = ("new_address",)

    def name(self) -> Text:
        return "validate_change_address_form"

    async def check_order(self, dispatcher, tracker, order):
        if order.get("status") == "processing":
            return None
        if order.get("status") in ("shipped", "delayed"):
            carrier = order.get("carrier") or "the carrier"
            return self.block(
                dispatcher,
                f"Order {order['id']} has already left our warehouse with {carrier}, so I can't change its address any more. "
                f"You can ask {carrier} to redirect it using tracking number {order.get('tracking_number', '')}.".strip(),
            )
        return self.block(dispatcher, f"Order {order['id']} is {order.get('status')}, so its delivery address can't be changed.")

    async def validate_new_address(self, value, dispatcher, tracker, domain):
        parts = [part.strip() for part in str(value or "").split(",") if part.strip()]
        if len(parts) < 3 or not any(char.isdigit() for char in str(value)):
            dispatcher.utter_message(
                text="I need the full address on one line: street, city, postcode, country (for example: 12 Oak Street, Springfield, 62704, US)."
            )
            return {"new_address": None}
        return {"new_address": ", ".join(parts)}


class ValidateDamagedItemForm(SupportFormValidator):
    free_text_slots = ("issue_description",)

    def name(self) -> Text:
        return "validate_damaged_item_form"

    async def check_order(self, dispatcher, tracker, order):
        if order.get("status") in ("delivered", "shipped", "delayed"):
            return None
        return self.block(
            dispatcher,
            f"Order {order['id']} is {order.get('status')}, so there's nothing delivered to report on yet.",
        )

    async def extract_resolution(self, dispatcher, tracker, domain):
        if not self.requested(tracker, "resolution"):
            return {}
        text = latest_text(tracker).lower()
        if re.search(r"replace|new one|exchange|another one|send (it|one) again", text):
            return {"resolution": "replacement"}
        if re.search(r"refund|money back|reimburse", text):
            return {"resolution": "refund"}
        return {}


class ValidateReturnForm(SupportFormValidator):
    free_text_slots = ("return_reason",)

    def name(self) -> Text:
        return "validate_return_form"

    async def check_order(self, dispatcher, tracker, order):
        try:
            eligibility = await get_client().return_eligibility(order["id"])
        except BackendError:
            return self.backend_down(dispatcher)
        if eligibility.get("eligible"):
            deadline = eligibility.get("deadline")
            if deadline:
                dispatcher.utter_message(text=f"Good news: order {order['id']} can be returned until {day(deadline)}.")
            return None
        # the backend's reason is a whole sentence; without one, say why in our own words
        reason = (eligibility.get("reason") or "").strip() or "It isn't eligible for a return."
        if reason[-1] not in ".!?":
            reason += "."
        return self.block(dispatcher, f"I'm sorry, order {order['id']} can't be returned. {reason}", offer_human=True)


class ValidateRefundStatusForm(SupportFormValidator):
    def name(self) -> Text:
        return "validate_refund_status_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain):
        slots = await super().required_slots(domain_slots, dispatcher, tracker, domain)
        # a verified customer who names no order gets all their recent refunds
        if tracker.get_slot("verified") and not tracker.get_slot("order_id"):
            slots = [slot for slot in slots if slot != "order_id"]
        return slots


class ValidateInvoiceForm(SupportFormValidator):
    def name(self) -> Text:
        return "validate_invoice_form"


# ================================================================== billing and membership
class ValidatePaymentFailedForm(SupportFormValidator):
    order_is_subject = False

    def name(self) -> Text:
        return "validate_payment_failed_form"


class ValidateUpdatePaymentMethodForm(SupportFormValidator):
    changes_account = True
    order_is_subject = False

    def name(self) -> Text:
        return "validate_update_payment_method_form"


class ValidateCancelSubscriptionForm(SupportFormValidator):
    changes_account = True
    order_is_subject = False

    def name(self) -> Text:
        return "validate_cancel_subscription_form"

    async def check_account(self, dispatcher, tracker):
        if tracker.get_slot("confirmed") is not None:
            return None
        try:
            sub = await get_client().get_subscription(tracker.get_slot("customer_id"))
        except BackendError:
            return self.backend_down(dispatcher)
        if sub.get("plan") == "free":
            return self.block(dispatcher, "You're on the Free plan, so there's no paid membership to cancel and nothing will be charged.")
        if sub.get("status") == "cancelled":
            return self.block(
                dispatcher,
                f"Your {sub.get('plan_name') or sub.get('plan')} membership is already cancelled; its benefits last until {day(sub.get('ends_at'))} and you won't be charged again.",
            )
        return None


class ValidateChangePlanForm(SupportFormValidator):
    changes_account = True
    order_is_subject = False

    def name(self) -> Text:
        return "validate_change_plan_form"

    async def extract_plan(self, dispatcher, tracker, domain):
        if not self.requested(tracker, "plan"):
            return {}
        text = latest_text(tracker).lower()
        for plan in ("premium", "plus", "free"):
            if plan in text:
                return {"plan": plan}
        return {}

    async def validate_plan(self, value, dispatcher, tracker, domain):
        plan = str(value or "").strip().lower()
        if plan not in ("free", "plus", "premium"):
            dispatcher.utter_message(text="We have three plans: Free, Plus and Premium. Which one would you like?")
            return {"plan": None}
        if not tracker.get_slot("verified"):
            return {"plan": plan}
        try:
            subscription = await get_client().get_subscription(tracker.get_slot("customer_id"))
        except BackendError:
            return {"plan": plan}
        if (subscription or {}).get("plan") == plan and (subscription or {}).get("status", "active") == "active":
            dispatcher.utter_message(text=f"You're already on the {plan.title()} plan. Which plan would you like to move to?")
            return {"plan": None}
        return {"plan": plan}


# =================================================================================== account
class ValidateResetPasswordForm(SupportFormValidator):
    order_is_subject = False
    changes_account = True

    def name(self) -> Text:
        return "validate_reset_password_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain):
        if tracker.get_slot("flow_blocked"):
            return []
        if tracker.get_slot("verified") and not needs_second_factor(tracker):
            return []  # the link goes to the email on file
        return list(domain_slots)  # a guest, or a caller known only by phone: the account's email

    async def extract_account_email(self, dispatcher, tracker, domain):
        if not self.requested(tracker, "account_email"):
            return {}
        match = EMAIL_RE.search(latest_text(tracker))
        return {"account_email": match.group()} if match else {}

    async def validate_account_email(self, value, dispatcher, tracker, domain):
        if not EMAIL_RE.fullmatch(str(value or "").strip()):
            dispatcher.utter_message(text="That doesn't look like an email address. Could you type it again?")
            return {"account_email": None}
        if needs_second_factor(tracker):  # known only by phone: the email must be the account's
            checked = await self._second_factor(dispatcher, tracker, str(value).strip())
            if not checked.get("second_factor"):
                return {**{k: v for k, v in checked.items() if k != "customer_email"}, "account_email": None}
            return {"account_email": str(value).strip(), "second_factor": True, "identity_failures": 0.0}
        return {"account_email": str(value).strip()}


class ValidateAccountLockedForm(SupportFormValidator):
    changes_account = True
    order_is_subject = False

    def name(self) -> Text:
        return "validate_account_locked_form"


class ValidateUpdateEmailForm(SupportFormValidator):
    changes_account = True
    order_is_subject = False

    def name(self) -> Text:
        return "validate_update_email_form"

    async def extract_new_email(self, dispatcher, tracker, domain):
        if not self.requested(tracker, "new_email"):
            return {}
        match = EMAIL_RE.search(latest_text(tracker))
        return {"new_email": match.group()} if match else {}

    async def validate_new_email(self, value, dispatcher, tracker, domain):
        email = str(value or "").strip()
        if not EMAIL_RE.fullmatch(email):
            dispatcher.utter_message(text="That doesn't look like an email address. Could you type it again?")
            return {"new_email": None}
        try:
            await get_client().request_email_change(tracker.get_slot("customer_id"), email)
        except BadRequest as error:
            dispatcher.utter_message(text=f"I couldn't use that address: {error}. Could you give another one?")
            return {"new_email": None}
        except Conflict:
            dispatcher.utter_message(text="That email address is already used by another Brightcart account. Could you give a different one?")
            return {"new_email": None}
        except BackendError:
            return self.backend_down(dispatcher)
        return {"new_email": email}

    async def extract_verification_code(self, dispatcher, tracker, domain):
        if not self.requested(tracker, "verification_code"):
            return {}
        match = CODE_RE.search(latest_text(tracker))
        return {"verification_code": match.group(1)} if match else {}

    async def validate_verification_code(self, value, dispatcher, tracker, domain):
        try:
            await get_client().confirm_email_change(tracker.get_slot("customer_id"), str(value))
        except BadRequest:
            return self.identity_failure(
                dispatcher, tracker, "That code doesn't match. Please check the latest email we sent and type the 6 digits again.",
                "verification_code",
            )
        except BackendError:
            return self.backend_down(dispatcher)
        return {"verification_code": str(value)}


# ==================================================================================== bugs
class ValidateReportBugForm(SupportFormValidator):
    free_text_slots = ("bug_description", "bug_device")

    def name(self) -> Text:
        return "validate_report_bug_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain):
        # reporting a bug needs no identity; the ticket is linked to the customer when known
        return [] if tracker.get_slot("flow_blocked") else list(domain_slots)
