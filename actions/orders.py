"""Order flows: status, cancellation, delivery address, damaged or wrong items, returns,
refunds and invoices. Every action here runs after its form verified the customer."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend_client import BackendError, get_client
from actions.flow import SubmitAction
from actions.formatting import day, item_summary, money
from actions.pii import mask_email_address


def describe_order(order: Mapping[str, Any]) -> str:
    """One or two sentences on where an order is, from the backend's record only."""
    oid, status = order.get("id"), order.get("status")
    items = item_summary(order)
    carrier = order.get("carrier")
    tracking = order.get("tracking_number")
    eta = day(order.get("eta"))
    if status == "processing":
        return f"Order {oid} ({items}) is being prepared in our warehouse and hasn't shipped yet. You'll get an email with tracking as soon as it leaves."
    if status == "shipped":
        text = f"Order {oid} ({items}) is on its way with {carrier}"
        text += f", tracking number {tracking}" if tracking else ""
        return text + (f". It's expected to arrive {eta}." if eta else ".")
    if status == "delayed":
        reason = order.get("delay_reason")
        text = f"Order {oid} ({items}) is delayed with {carrier}" + (f" because of {reason}" if reason else "")
        new_eta = day(order.get("new_eta") or order.get("eta"))
        text += f". The new estimated delivery is {new_eta}." if new_eta else "."
        return text + " Sorry for the wait."
    if status == "delivered":
        when = day(order.get("delivered_at"))
        return f"Order {oid} ({items}) was delivered" + (f" on {when}." if when else ".")
    if status == "cancelled":
        return f"Order {oid} ({items}) was cancelled" + (f" on {day(order.get('cancelled_at'))}." if order.get("cancelled_at") else ".")
    if status == "returned":
        return f"Order {oid} ({items}) has been returned to us."
    return f"Order {oid} is currently marked as {status}."


class ActionOrderStatus(SubmitAction):
    def name(self) -> Text:
        return "action_order_status"

    async def submit(self, dispatcher, tracker, domain) -> List[EventType]:
        order = await get_client().get_order(tracker.get_slot("order_id"))
        dispatcher.utter_message(text=describe_order(order))
        if order.get("status") in ("cancelled", "returned"):
            dispatcher.utter_message(text="If you'd like to know where the money is, ask me about the refund.")
        return []


class ActionAskCancelOrderFormConfirmed(Action):
    def name(self) -> Text:
        return "action_ask_cancel_order_form_confirmed"

    async def run(self, dispatcher, tracker, domain):
        order_id = tracker.get_slot("order_id")
        try:
            order = await get_client().get_order(order_id)
            what = f"order {order_id} ({item_summary(order)}, {money(order.get('total'), order.get('currency', 'USD'))})"
        except BackendError:
            what = f"order {order_id}"
        dispatcher.utter_message(
            text=f"Just to confirm: shall I cancel {what}? This can't be undone.",
            buttons=[{"title": "Yes, cancel it", "payload": "/affirm"}, {"title": "No, keep it", "payload": "/deny"}],
        )
        return []


class ActionCancelOrder(SubmitAction):
    needs_confirmation = True

    def name(self) -> Text:
        return "action_cancel_order"

    async def submit(self, dispatcher, tracker, domain) -> List[EventType]:
        order = await get_client().cancel_order(tracker.get_slot("order_id"))
        refund = order.get("refund") or {}
        method = refund.get("method_label") or order.get("payment_method")
        timing = refund.get("timing")
        dispatcher.utter_message(
            text=f"Done: order {order.get('id')} is cancelled. "
            f"The full amount of {money(refund.get('amount', order.get('total')), order.get('currency', 'USD'))} will be refunded"
            + (f" to your {method}" if method else "")
            + (f", which takes {timing}." if timing else ".")
        )
        return []


def parse_address(text: str) -> Dict[str, str]:
    """'12 Oak St, Apt 3, Springfield, 62704, US' -> the backend's address fields."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    country = parts[-1] if len(parts) >= 4 else "US"
    body = parts[:-1] if len(parts) >= 4 else parts
    postcode_index = next((i for i in range(len(body) - 1, -1, -1) if re.search(r"\d", body[i])), len(body) - 1)
    postcode = body[postcode_index]
    rest = body[:postcode_index] + body[postcode_index + 1 :]
    city = rest[-1] if len(rest) > 1 else ""
    lines = rest[:-1] if len(rest) > 1 else rest
    address = {"line1": lines[0] if lines else "", "city": city, "postcode": postcode, "country": country}
    if len(lines) > 1:
        address["line2"] = ", ".join(lines[1:])
    return address


class ActionAskChangeAddressFormConfirmed(Action):
    def name(self) -> Text:
        return "action_ask_change_address_form_confirmed"

    async def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(
            text=f"I'll send order {tracker.get_slot('order_id')} to: {tracker.get_slot('new_address')}. Is that right?",
            buttons=[{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}],
        )
        return []


class ActionChangeAddress(SubmitAction):
    needs_confirmation = True

    def name(self) -> Text:
        return "action_change_address"

    async def submit(self, dispatcher, tracker, domain) -> List[EventType]:
        address = parse_address(tracker.get_slot("new_address") or "")
        await get_client().change_address(tracker.get_slot("order_id"), address)
        dispatcher.utter_message(
            text=f"Updated: order {tracker.get_slot('order_id')} will now go to {tracker.get_slot('new_address')}."
        )
        return []


def damage_kind(description: str) -> str:
    text = description.lower()
    if re.search(r"wrong|different|not what i ordered|incorrect|someone else", text):
        return "wrong_item"
    if re.search(r"missing|not in the box|wasn'?t in|didn'?t come|empty", text):
        return "missing_item"
    return "damaged"


class ActionCreateDamageCase(SubmitAction):
    def name(self) -> Text:
        return "action_create_damage_case"

    async def submit(self, dispatcher, tracker, domain) -> List[EventType]:
        description = tracker.get_slot("issue_description") or ""
        resolution = tracker.get_slot("resolution") or "refund"
        case = await get_client().create_case(
            tracker.get_slot("order_id"), damage_kind(description), description, resolution
        )
        outcome = (
            "We'll ship a replacement at no cost as soon as possible"
            if resolution == "replacement"
            else "We'll refund the item to your original payment method within 5-10 business days"
        )
        dispatcher.utter_message(
            text=f"I've opened case {case.get('id')} for order {tracker.get_slot('order_id')}. {outcome}. "
            "You don't need to send the item back unless we email you to ask."
        )
        return []


class ActionAskReturnFormConfirmed(Action):
    def name(self) -> Text:
        return "action_ask_return_form_confirmed"

    async def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(
            text=f"Shall I start a return for order {tracker.get_slot('order_id')} (reason: {tracker.get_slot('return_reason')})?",
            buttons=[{"title": "Yes, start the return", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}],
        )
        return []


class ActionCreateReturn(SubmitAction):
    needs_confirmation = True

    def name(self) -> Text:
        return "action_create_return"

    async def submit(self, dispatcher, tracker, domain) -> List[EventType]:
        ret = await get_client().create_return(tracker.get_slot("order_id"), tracker.get_slot("return_reason") or "")
        dispatcher.utter_message(
            text=f"Your return {ret.get('id')} is set up. Print your prepaid label here: {ret.get('label_url')} "
            "and drop the parcel at any carrier location. Your refund is issued once we receive the item."
        )
        return []


def describe_refund(refund: Mapping[str, Any]) -> str:
    amount = money(refund.get("amount"), refund.get("currency", "USD"))
    method = refund.get("method_label") or refund.get("method") or "your original payment method"
    status = refund.get("status")
    order = refund.get("order_id")
    if status == "processed":
        when = day(refund.get("processed_at") or refund.get("updated_at"))
        return f"The refund of {amount} for order {order} was sent to {method}" + (f" on {when}." if when else ".") + " Banks can take a few days to show it."
    if status == "pending":
        expected = day(refund.get("expected_by"))
        return f"The refund of {amount} for order {order} is being processed to {method}" + (f"; expect it by {expected}." if expected else ".")
    if status == "failed":
        why = refund.get("failure_reason")
        return f"The refund of {amount} for order {order} to {method} failed" + (f" ({why})" if why else "") + ". A person from our billing team needs to look at it."
    return f"The refund of {amount} for order {order} is {status}."


class ActionRefundStatus(SubmitAction):
    def name(self) -> Text:
        return "action_refund_status"

    async def submit(self, dispatcher, tracker, domain) -> List[EventType]:
        client = get_client()
        order_id = tracker.get_slot("order_id")
        if order_id:
            refunds = await client.list_refunds(order_id=order_id)
        else:
            refunds = await client.list_refunds(customer_id=tracker.get_slot("customer_id"))
        if not refunds:
            where = f"order {order_id}" if order_id else "your account"
            dispatcher.utter_message(text=f"I don't see any refund on {where} yet. If you returned or cancelled something recently, refunds appear once the return is received or the cancellation is processed.")
            return []
        for refund in refunds[:3]:
            dispatcher.utter_message(text=describe_refund(refund))
        if any(refund.get("status") == "failed" for refund in refunds):
            dispatcher.utter_message(response="utter_offer_human")
        return []


class ActionSendInvoice(SubmitAction):
    def name(self) -> Text:
        return "action_send_invoice"

    async def submit(self, dispatcher, tracker, domain) -> List[EventType]:
        invoice = await get_client().send_invoice(tracker.get_slot("order_id"))
        sent_to = invoice.get("sent_to")
        dispatcher.utter_message(
            text=f"I've emailed invoice {invoice.get('invoice_number')} for order {tracker.get_slot('order_id')}"
            + (f" to {mask_email_address(sent_to) or sent_to}" if sent_to else "")
            + f". You can also download it here: {invoice.get('url')}"
        )
        return []
