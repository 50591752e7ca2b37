"""Order flows against the real demo backend: status, cancel, address, damage, return,
refunds, invoices, and the form validators that guard them."""
from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions import backend_client, forms, orders
from actions.orders import parse_address
from tests.actions.conftest import backend_get, load_domain, make_tracker

JANE = {"customer_id": "C0001", "verified": True, "customer_name": "Jane Doe", "customer_tier": "standard"}


def texts(dispatcher: CollectingDispatcher) -> str:
    return "\n".join(m.get("text") or m.get("response") or "" for m in dispatcher.messages)


def slot_events(events) -> dict:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def find_order(backend_url: str, status: str, skip: tuple = ()) -> dict:
    """A generated order in the given state (the well-known fixtures are kept for other tests)."""
    for n in range(5, 61):
        for order in backend_get(f"{backend_url}/api/customers/C{n:04d}/orders")["orders"]:
            if order["status"] == status and order["id"] not in skip and int(order["id"][3:]) >= 200000:
                return order
    pytest.fail(f"no generated order with status {status}")


async def run(action, tracker):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, load_domain())
    return dispatcher, events


# ------------------------------------------------------------------------------ order status
@pytest.mark.parametrize(
    "order_id, expected",
    [
        ("BC-100001", "being prepared"),
        ("BC-100002", "on its way with UPS"),
        ("BC-100003", "was delivered"),
        ("BC-100004", "delayed with FedEx because of weather"),
        ("BC-100005", "was cancelled"),
    ],
)
async def test_order_status_reports_the_backend_state(order_id, expected):
    dispatcher, events = await run(orders.ActionOrderStatus(), make_tracker({**JANE, "order_id": order_id}))
    assert expected in texts(dispatcher)
    assert slot_events(events)["flow_blocked"] is False  # the flow's answers are cleared


async def test_validator_normalises_and_accepts_own_order():
    tracker = make_tracker({**JANE, "order_id": "bc 100002", "requested_slot": "order_id"}, active_loop="order_status_form")
    dispatcher = CollectingDispatcher()
    result = await forms.ValidateOrderStatusForm().validate_order_id("bc 100002", dispatcher, tracker, load_domain())
    assert result == {"order_id": "BC-100002"}


async def test_validator_unknown_order_gives_second_chance():
    tracker = make_tracker({"requested_slot": "order_id"}, active_loop="order_status_form")
    dispatcher = CollectingDispatcher()
    result = await forms.ValidateOrderStatusForm().validate_order_id("BC-999999", dispatcher, tracker, load_domain())
    assert result == {"order_id": None, "identity_failures": 1.0}
    assert "couldn't find order BC-999999" in texts(dispatcher)


async def test_validator_hides_other_customers_orders():
    tracker = make_tracker({**JANE, "requested_slot": "order_id"}, active_loop="order_status_form")
    dispatcher = CollectingDispatcher()
    result = await forms.ValidateOrderStatusForm().validate_order_id("BC-100010", dispatcher, tracker, load_domain())
    assert result["order_id"] is None
    assert "on your account" in texts(dispatcher) and "Omar" not in texts(dispatcher)


async def test_email_verification_sets_identity():
    tracker = make_tracker({"order_id": "BC-100002", "requested_slot": "customer_email"}, active_loop="order_status_form")
    dispatcher = CollectingDispatcher()
    result = await forms.ValidateOrderStatusForm().validate_customer_email("Jane.Doe@example.com", dispatcher, tracker, load_domain())
    assert result["verified"] is True and result["customer_id"] == "C0001"


async def test_email_mismatch_reveals_nothing():
    tracker = make_tracker({"order_id": "BC-100002", "requested_slot": "customer_email"}, active_loop="order_status_form")
    dispatcher = CollectingDispatcher()
    result = await forms.ValidateOrderStatusForm().validate_customer_email("omar.haddad@example.com", dispatcher, tracker, load_domain())
    assert result == {"customer_email": None, "identity_failures": 1.0}
    assert "doesn't match" in texts(dispatcher)


async def test_third_identity_failure_blocks_and_offers_a_person():
    tracker = make_tracker({"order_id": "BC-100002", "identity_failures": 2.0, "requested_slot": "customer_email"}, active_loop="order_status_form")
    dispatcher = CollectingDispatcher()
    result = await forms.ValidateOrderStatusForm().validate_customer_email("x@example.org", dispatcher, tracker, load_domain())
    assert result["flow_blocked"] is True
    assert any(m.get("response") == "utter_offer_human" for m in dispatcher.messages)


async def test_backend_down_is_an_apology_not_a_crash(monkeypatch):
    from scripts.stack import free_port

    monkeypatch.setattr(backend_client, "_client", backend_client.BackendClient(base_url=f"http://127.0.0.1:{free_port()}", timeout=1))
    dispatcher, events = await run(orders.ActionOrderStatus(), make_tracker({**JANE, "order_id": "BC-100002"}))
    assert [m.get("response") for m in dispatcher.messages] == ["utter_backend_down"]
    tracker = make_tracker({"requested_slot": "order_id"}, active_loop="order_status_form")
    dispatcher = CollectingDispatcher()
    result = await forms.ValidateOrderStatusForm().validate_order_id("BC-100002", dispatcher, tracker, load_domain())
    assert result["flow_blocked"] is True
    assert dispatcher.messages[0]["response"] == "utter_backend_down"


# ---------------------------------------------------------------------------------- cancel
async def test_cancel_refused_for_shipped_order():
    tracker = make_tracker({**JANE, "requested_slot": "order_id"}, active_loop="cancel_order_form")
    dispatcher = CollectingDispatcher()
    result = await forms.ValidateCancelOrderForm().validate_order_id("BC-100002", dispatcher, tracker, load_domain())
    assert result["flow_blocked"] is True
    assert "already shipped" in texts(dispatcher)


async def test_cancel_needs_confirmation_then_cancels(backend_url):
    order = find_order(backend_url, "processing")
    slots = {"customer_id": order["customer_id"], "verified": True, "order_id": order["id"]}
    dispatcher, _ = await run(orders.ActionAskCancelOrderFormConfirmed(), make_tracker(slots))
    assert "shall I cancel order" in texts(dispatcher) and dispatcher.messages[0]["buttons"]
    dispatcher, _ = await run(orders.ActionCancelOrder(), make_tracker({**slots, "confirmed": False}))
    assert dispatcher.messages[0]["response"] == "utter_not_changed"
    dispatcher, _ = await run(orders.ActionCancelOrder(), make_tracker({**slots, "confirmed": True}))
    assert f"order {order['id']} is cancelled" in texts(dispatcher)
    # the backend now refuses a second cancellation (409): said plainly, with a person offered
    dispatcher, _ = await run(orders.ActionCancelOrder(), make_tracker({**slots, "confirmed": True}))
    assert "couldn't complete that" in texts(dispatcher)


# ----------------------------------------------------------------------------------- address
def test_parse_address():
    assert parse_address("12 Oak Street, Apt 3, Springfield, 62704, US") == {
        "line1": "12 Oak Street", "line2": "Apt 3", "city": "Springfield", "postcode": "62704", "country": "US",
    }
    assert parse_address("5 Main Rd, Toronto, M5V 2T6, CA")["postcode"] == "M5V 2T6"


async def test_change_address(backend_url):
    order = find_order(backend_url, "processing", skip=())
    slots = {"customer_id": order["customer_id"], "verified": True, "order_id": order["id"], "new_address": "1 New Road, Austin, 73301, US", "confirmed": True}
    dispatcher, _ = await run(orders.ActionChangeAddress(), make_tracker(slots))
    assert "will now go to 1 New Road" in texts(dispatcher)
    assert backend_get(f"{backend_url}/api/orders/{order['id']}")["shipping_address"]["city"] == "Austin"


async def test_invalid_address_is_asked_again():
    dispatcher = CollectingDispatcher()
    result = await forms.ValidateChangeAddressForm().validate_new_address("my house", dispatcher, make_tracker(JANE), load_domain())
    assert result == {"new_address": None} and "street, city, postcode, country" in texts(dispatcher)


# ---------------------------------------------------------------------------- damage, returns
async def test_damage_case_with_replacement():
    slots = {**JANE, "order_id": "BC-100003", "issue_description": "the lamp arrived with a cracked base", "resolution": "replacement"}
    dispatcher, _ = await run(orders.ActionCreateDamageCase(), make_tracker(slots))
    assert "opened case CS-" in texts(dispatcher) and "replacement" in texts(dispatcher)


async def test_damage_on_unshipped_order_is_blocked():
    dispatcher = CollectingDispatcher()
    result = await forms.ValidateDamagedItemForm().validate_order_id("BC-100001", dispatcher, make_tracker(JANE), load_domain())
    assert result["flow_blocked"] is True


async def test_return_outside_window_is_refused_with_reason():
    dispatcher = CollectingDispatcher()
    result = await forms.ValidateReturnForm().validate_order_id("BC-100007", dispatcher, make_tracker(JANE), load_domain())
    assert result["flow_blocked"] is True and "can't be returned" in texts(dispatcher)


async def test_return_created_with_label(backend_url):
    dispatcher = CollectingDispatcher()
    result = await forms.ValidateReturnForm().validate_order_id("BC-100003", dispatcher, make_tracker(JANE), load_domain())
    assert result == {"order_id": "BC-100003"} and "can be returned until" in texts(dispatcher)
    slots = {**JANE, "order_id": "BC-100003", "return_reason": "doesn't fit", "confirmed": True}
    dispatcher, _ = await run(orders.ActionCreateReturn(), make_tracker(slots))
    assert "return RT-" in texts(dispatcher) and f"{backend_url}/labels/" in texts(dispatcher)


# ------------------------------------------------------------------------ refunds, invoices
async def test_refund_status_for_an_order_and_for_the_account():
    dispatcher, _ = await run(orders.ActionRefundStatus(), make_tracker({**JANE, "order_id": "BC-100006"}))
    assert "being processed" in texts(dispatcher) and "PayPal" in texts(dispatcher)
    dispatcher, _ = await run(orders.ActionRefundStatus(), make_tracker(JANE))
    assert texts(dispatcher).count("refund of") >= 2


async def test_invoice_sent():
    dispatcher, _ = await run(orders.ActionSendInvoice(), make_tracker({**JANE, "order_id": "BC-100003"}))
    assert "emailed invoice" in texts(dispatcher) and "jane.doe@example.com" not in texts(dispatcher)
