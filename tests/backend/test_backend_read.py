"""Read-only endpoints, checked against the well-known fixtures (docs/backend_api.md)."""

from __future__ import annotations

import httpx
import pytest


def get(api: httpx.Client, path: str, **params) -> dict:
    response = api.get(path, params=params or None)
    assert response.status_code == 200, response.text
    return response.json()


def test_health(api: httpx.Client) -> None:
    body = get(api, "/health")
    assert body["status"] == "ok"
    assert body["today"] == "2026-11-20"


def test_products_catalogue(api: httpx.Client) -> None:
    products = get(api, "/api/products")["products"]
    assert len(products) == 40
    assert {"sku", "name", "price", "category", "on_sale", "currency"} <= set(products[0])
    assert any(p["on_sale"] for p in products) and not all(p["on_sale"] for p in products)
    on_sale = get(api, "/api/products", on_sale="true")["products"]
    assert on_sale and all(p["on_sale"] for p in on_sale)


def test_plans_match_the_published_prices(api: httpx.Client) -> None:
    plans = {p["code"]: p for p in get(api, "/api/plans")["plans"]}
    assert [plans[c]["price"] for c in ("free", "plus", "premium")] == [0.0, 9.99, 19.99]
    assert plans["premium"]["return_window_days"] == 60
    assert plans["free"]["return_window_days"] == 30
    assert plans["plus"]["free_standard_shipping"] and not plans["plus"]["free_express_shipping"]
    assert plans["premium"]["free_express_shipping"] and plans["premium"]["priority_support"]


@pytest.mark.parametrize(
    "customer_id, name, email, phone, tier, state, lock_reason, plan",
    [
        ("C0001", "Jane Doe", "jane.doe@example.com", "+15555550101", "standard", "active", None, "plus"),
        ("C0002", "Omar Haddad", "omar.haddad@example.com", "+15555550102", "vip", "active", None, "premium"),
        ("C0003", "Lena Fischer", "lena.fischer@example.com", "+15555550103", "standard", "locked",
         "too_many_failed_logins", "free"),
        ("C0004", "Victor Stone", "victor.stone@example.com", "+15555550104", "standard", "locked",
         "suspected_fraud", "free"),
    ],
)
def test_fixture_customers(api, customer_id, name, email, phone, tier, state, lock_reason, plan) -> None:
    customer = get(api, f"/api/customers/{customer_id}")
    assert (customer["id"], customer["name"], customer["email"], customer["phone"]) == (
        customer_id, name, email, phone)
    assert (customer["tier"], customer["account_state"], customer["lock_reason"]) == (
        tier, state, lock_reason)
    assert customer["plan"] == plan


def test_customer_lookup_by_email_and_phone(api: httpx.Client) -> None:
    assert [c["id"] for c in get(api, "/api/customers", email="JANE.DOE@example.com")["customers"]] == ["C0001"]
    for phone in ("+15555550102", "555-555-0102", "(555) 555 0102", "1 555 555 0102"):
        assert [c["id"] for c in get(api, "/api/customers", phone=phone)["customers"]] == ["C0002"]
    assert get(api, "/api/customers", email="nobody@example.com")["customers"] == []
    both = get(api, "/api/customers", email="jane.doe@example.com", phone="+15555550102")
    assert both["customers"] == []  # both filters must match


def test_jane_has_one_order_in_every_state(api: httpx.Client) -> None:
    orders = get(api, "/api/customers/C0001/orders")["orders"]
    by_id = {o["id"]: o["status"] for o in orders}
    assert by_id == {
        "BC-100001": "processing", "BC-100002": "shipped", "BC-100003": "delivered",
        "BC-100004": "delayed", "BC-100005": "cancelled", "BC-100006": "returned",
        "BC-100007": "delivered",
    }
    placed = [o["placed_at"] for o in orders]
    assert placed == sorted(placed, reverse=True)


def test_order_shipped_fixture(api: httpx.Client) -> None:
    order = get(api, "/api/orders/BC-100002")
    assert order["status"] == "shipped"
    assert order["carrier"] == "UPS"
    assert order["tracking_number"].startswith("1Z")
    assert order["eta"] == "2026-11-24"
    assert order["customer_id"] == "C0001"
    assert order["currency"] == "USD"
    assert order["total"] == pytest.approx(order["subtotal"] + order["shipping"] + order["tax"])


def test_order_delayed_fixture(api: httpx.Client) -> None:
    order = get(api, "/api/orders/BC-100004")
    assert (order["status"], order["carrier"], order["delay_reason"], order["eta"]) == (
        "delayed", "FedEx", "weather", "2026-11-27")
    assert order["original_eta"] < order["eta"]


def test_order_delivered_and_items(api: httpx.Client) -> None:
    order = get(api, "/api/orders/BC-100003")
    assert order["status"] == "delivered" and order["delivered_at"] == "2026-11-10"
    assert order["items"] and any(not i["on_sale"] for i in order["items"])
    assert get(api, "/api/orders/BC-100007")["delivered_at"] == "2026-08-01"


def test_other_fixture_orders(api: httpx.Client) -> None:
    expected = {"BC-100010": ("C0002", "shipped"), "BC-100011": ("C0002", "delivered"),
                "BC-100020": ("C0003", "delivered"), "BC-100030": ("C0004", "processing")}
    for order_id, (customer_id, status) in expected.items():
        order = get(api, f"/api/orders/{order_id}")
        assert (order["customer_id"], order["status"]) == (customer_id, status)


def test_return_eligibility_inside_and_outside_window(api: httpx.Client) -> None:
    inside = get(api, "/api/orders/BC-100003/return-eligibility")
    assert inside["eligible"] is True
    assert (inside["window_days"], inside["deadline"]) == (30, "2026-12-10")
    assert "2026-12-10" in inside["reason"]
    outside = get(api, "/api/orders/BC-100007/return-eligibility")
    assert outside["eligible"] is False and outside["reason_code"] == "outside_window"
    assert outside["deadline"] == "2026-08-31"
    premium = get(api, "/api/orders/BC-100011/return-eligibility")
    assert premium["eligible"] and premium["window_days"] == 60
    not_yet = get(api, "/api/orders/BC-100002/return-eligibility")
    assert not not_yet["eligible"] and not_yet["reason_code"] == "not_delivered"
    returned = get(api, "/api/orders/BC-100006/return-eligibility")
    assert not returned["eligible"] and returned["reason_code"] == "already_returned"


def test_refunds_by_order_and_customer(api: httpx.Client) -> None:
    cancelled = get(api, "/api/orders/BC-100005/refunds")["refunds"]
    assert [(r["status"], r["method"]) for r in cancelled] == [("processed", "visa")]
    assert cancelled[0]["timing"] == "5-10 business days"
    returned = get(api, "/api/orders/BC-100006/refunds")["refunds"]
    assert [(r["status"], r["method"]) for r in returned] == [("pending", "paypal")]
    assert returned[0]["expected_by"] == "2026-11-25"
    assert get(api, "/api/orders/BC-100003/refunds")["refunds"] == []
    by_customer = get(api, "/api/customers/C0001/refunds")["refunds"]
    assert {r["order_id"] for r in by_customer} >= {"BC-100005", "BC-100006"}


def test_failed_payments(api: httpx.Client) -> None:
    failed = get(api, "/api/customers/C0001/payments", status="failed")["payments"]
    assert sorted(p["decline_code"] for p in failed) == ["expired_card", "insufficient_funds"]
    assert all(p["decline_reason"] and p["status"] == "failed" for p in failed)
    assert all("2026-11-13" <= p["attempted_at"][:10] <= "2026-11-20" for p in failed)
    everything = get(api, "/api/customers/C0001/payments")["payments"]
    assert len(everything) > len(failed)


def test_subscription(api: httpx.Client) -> None:
    jane = get(api, "/api/customers/C0001/subscription")
    assert (jane["plan"], jane["price"], jane["status"]) == ("plus", 9.99, "active")
    assert jane["renews_at"] == "2026-12-05"
    omar = get(api, "/api/customers/C0002/subscription")
    assert (omar["plan"], omar["price"]) == ("premium", 19.99)
    assert get(api, "/api/customers/C0003/subscription")["plan"] == "free"


def test_invoice(api: httpx.Client, backend) -> None:
    invoice = get(api, "/api/orders/BC-100003/invoice")
    assert invoice["invoice_number"] == "INV-100003"
    assert invoice["url"].startswith(f"{backend.url}/invoices/INV-100003.pdf?sig=")
    pdf = httpx.get(invoice["url"])  # the customer's browser: no key, the signed link is enough
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and b"INV-100003" in pdf.content
    # the same document without the signature, or with another document's, is refused
    assert httpx.get(invoice["url"].split("?")[0]).status_code == 403
    other = invoice["url"].replace("INV-100003", "INV-100002")
    assert httpx.get(other).status_code == 403


def test_seeded_ticket_and_status(api: httpx.Client) -> None:
    ticket = get(api, "/api/tickets/T-10001")
    assert ticket["id"] == "T-10001" and ticket["priority"] in ("low", "normal", "high", "urgent")
    status = get(api, "/api/status")
    assert status["overall"] == "degraded"
    assert [i["title"] for i in status["incidents"]] == ["Order tracking updates delayed"]
    assert {"name": "Order tracking", "status": "degraded"} in status["components"]


def test_every_request_is_logged(api: httpx.Client, backend) -> None:
    api.get("/api/orders/BC-100001")
    assert "GET /api/orders/BC-100001 -> 200" in backend.log()
