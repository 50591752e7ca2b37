"""Endpoints that change state: happy paths and the 409s that guard them.

Runs against ``mutable_backend`` (one fresh instance for this module). Each test owns the
records it changes, so the tests do not depend on their order.
"""

from __future__ import annotations

import sqlite3

import httpx
import pytest


def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def refused(response: httpx.Response, code: str | None = None) -> dict:
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["message"]
    if code:
        assert body["error"] == code
    return body


def outbox(api: httpx.Client, **filters) -> list[dict]:
    return ok(api.get("/api/admin/outbox", params=filters))["messages"]


# -- orders -----------------------------------------------------------------------------------
def test_cancel_processing_order_refunds_it(mapi: httpx.Client) -> None:
    order = ok(mapi.post("/api/orders/BC-100001/cancel"))
    assert order["status"] == "cancelled" and order["cancelled_at"] == "2026-11-20"
    refund = order["refund"]
    assert (refund["status"], refund["method"], refund["amount"]) == ("pending", "visa", order["total"])
    assert refund["expected_by"] == "2026-12-04"  # 10 business days
    assert ok(mapi.get("/api/orders/BC-100001"))["status"] == "cancelled"
    assert refund["id"] in [r["id"] for r in ok(mapi.get("/api/orders/BC-100001/refunds"))["refunds"]]
    refused(mapi.post("/api/orders/BC-100001/cancel"), "not_cancellable")
    assert outbox(mapi, kind="order_cancelled", customer_id="C0001")


def test_cancel_shipped_order_is_refused(mapi: httpx.Client) -> None:
    body = refused(mapi.post("/api/orders/BC-100002/cancel"), "not_cancellable")
    assert "shipped" in body["message"]
    assert ok(mapi.get("/api/orders/BC-100002"))["status"] == "shipped"


def test_change_address_while_processing(mapi: httpx.Client) -> None:
    address = {"line1": "9 New Road", "city": "Orlando", "region": "FL", "postcode": "32801",
               "country": "US"}
    order = ok(mapi.put("/api/orders/BC-100030/address", json=address))
    assert order["shipping_address"] == {**address, "line2": None}
    assert ok(mapi.get("/api/orders/BC-100030"))["shipping_address"]["line1"] == "9 New Road"


def test_change_address_after_shipping_is_refused(mapi: httpx.Client) -> None:
    address = {"line1": "9 New Road", "city": "Orlando", "postcode": "32801", "country": "US"}
    body = refused(mapi.put("/api/orders/BC-100004/address", json=address), "address_locked")
    assert "delayed" in body["message"]


def test_verify_order_email(mapi: httpx.Client) -> None:
    good = ok(mapi.post("/api/verify", json={"order_id": "BC-100002", "email": "Jane.Doe@Example.com"}))
    assert good["customer_id"] == "C0001"
    bad = mapi.post("/api/verify", json={"order_id": "BC-100002", "email": "omar.haddad@example.com"})
    assert bad.status_code == 403 and bad.json()["error"] == "mismatch"
    assert mapi.post("/api/verify", json={"order_id": "BC-999999", "email": "a@b.co"}).status_code == 404


def test_send_invoice(mapi: httpx.Client, mutable_backend) -> None:
    sent = ok(mapi.post("/api/orders/BC-100002/invoice/send"))
    assert sent["invoice_number"] == "INV-100002"
    assert sent["sent_to"] == "j*******@example.com"
    assert sent["url"].startswith(f"{mutable_backend.url}/invoices/INV-100002.pdf?sig=")
    message = outbox(mapi, kind="invoice", to="jane.doe@example.com")[0]
    assert message["data"]["invoice_number"] == "INV-100002"


# -- returns and cases --------------------------------------------------------------------------
def test_create_return_with_label(mapi: httpx.Client, mutable_backend) -> None:
    ret = ok(mapi.post("/api/orders/BC-100003/returns", json={"reason": "changed my mind"}), 201)
    assert ret["id"].startswith("RT-") and ret["status"] == "label_created"
    assert ret["label_url"].startswith(f"{mutable_backend.url}/labels/{ret['id']}.pdf?sig=")
    assert ret["refund_method"] == "visa" and ret["skus"] == ["ELE-101", "HOM-202"]
    label = mapi.get(ret["label_url"])
    assert label.status_code == 200 and label.headers["content-type"] == "application/pdf"
    assert label.content.startswith(b"%PDF") and ret["id"].encode() in label.content
    eligibility = ok(mapi.get("/api/orders/BC-100003/return-eligibility"))
    assert eligibility["reason_code"] == "already_returned"
    refused(mapi.post("/api/orders/BC-100003/returns", json={"reason": "again"}), "already_returned")
    assert ok(mapi.get("/api/orders/BC-100003"))["return_id"] == ret["id"]


def test_partial_return_by_sku(mapi: httpx.Client) -> None:
    ret = ok(mapi.post("/api/orders/BC-100020/returns",
                       json={"reason": "too oily", "skus": ["bea-601"]}), 201)
    assert ret["skus"] == ["BEA-601"]
    assert ret["refund_amount"] == pytest.approx(28.00 * 1.08)


def test_return_refused_outside_window_or_not_delivered(mapi: httpx.Client) -> None:
    body = refused(mapi.post("/api/orders/BC-100007/returns", json={"reason": "too late"}),
                   "outside_window")
    assert "2026-08-31" in body["message"]
    refused(mapi.post("/api/orders/BC-100010/returns", json={"reason": "x"}), "not_delivered")
    refused(mapi.post("/api/orders/BC-100006/returns", json={"reason": "x"}), "already_returned")


def test_case_with_replacement(mapi: httpx.Client) -> None:
    case = ok(mapi.post("/api/orders/BC-100011/cases", json={
        "kind": "damaged", "description": "Tent pole snapped", "resolution": "replacement"}), 201)
    assert case["id"].startswith("CS-") and case["status"] == "replacement_created"
    replacement = ok(mapi.get(f"/api/orders/{case['replacement_order_id']}"))
    assert replacement["status"] == "processing" and replacement["total"] == 0
    assert replacement["replacement_for"] == "BC-100011"
    assert int(replacement["id"][3:]) > 200220  # continues after the generated orders


def test_case_with_refund_on_shipped_order(mapi: httpx.Client) -> None:
    case = ok(mapi.post("/api/orders/BC-100010/cases", json={
        "kind": "missing_item", "description": "Kettle missing from the box",
        "resolution": "refund", "skus": ["KIT-305"]}), 201)
    assert case["refund"]["status"] == "pending" and case["refund"]["method"] == "amex"
    assert case["refund"]["amount"] == pytest.approx(69.99 * 1.08, abs=0.01)


def test_case_refused_before_shipping(mapi: httpx.Client) -> None:
    refused(mapi.post("/api/orders/BC-100030/cases", json={
        "kind": "wrong_item", "description": "x", "resolution": "refund"}), "case_not_allowed")


# -- billing and membership -------------------------------------------------------------------
def test_payment_method_link(mapi: httpx.Client) -> None:
    link = ok(mapi.post("/api/customers/C0001/payment-method-link"))
    assert link["url"].startswith("https://pay.brightcart.example/update/")
    assert link["expires_at"].startswith("2026-11-21")
    other = ok(mapi.post("/api/customers/C0001/payment-method-link"))
    assert other["url"] != link["url"]


def test_cancel_subscription_at_period_end(mapi: httpx.Client) -> None:
    result = ok(mapi.post("/api/customers/C0001/subscription/cancel"))
    assert (result["plan"], result["effective_date"]) == ("plus", "2026-12-05")
    assert "Free standard shipping on every order" in result["benefits_lost"]
    sub = ok(mapi.get("/api/customers/C0001/subscription"))
    assert (sub["status"], sub["plan"], sub["ends_at"]) == ("cancelled", "plus", "2026-12-05")
    refused(mapi.post("/api/customers/C0001/subscription/cancel"), "already_cancelled")


def test_cancel_free_plan_is_refused(mapi: httpx.Client) -> None:
    refused(mapi.post("/api/customers/C0004/subscription/cancel"), "free_plan")


def test_downgrade_waits_for_renewal(mapi: httpx.Client) -> None:
    change = ok(mapi.post("/api/customers/C0002/subscription/change", json={"plan": "plus"}))
    assert change == {**change, "old_plan": "premium", "new_plan": "plus", "new_price": 9.99,
                      "effective_date": "2026-11-28", "prorated_charge": 0.0, "immediate": False}
    sub = ok(mapi.get("/api/customers/C0002/subscription"))
    assert (sub["plan"], sub["pending_plan"]) == ("premium", "plus")
    refused(mapi.post("/api/customers/C0002/subscription/change", json={"plan": "premium"}),
            "same_plan")


def test_upgrade_is_immediate_and_prorated(mapi: httpx.Client, mutable_backend) -> None:
    with sqlite3.connect(mutable_backend.db_path) as conn:
        customer_id, renews_at = conn.execute(
            "SELECT customer_id, renews_at FROM subscriptions WHERE plan = 'plus' AND status ="
            " 'active' AND customer_id >= 'C0005' ORDER BY customer_id LIMIT 1").fetchone()
    change = ok(mapi.post(f"/api/customers/{customer_id}/subscription/change", json={"plan": "PREMIUM"}))
    assert change["immediate"] and change["effective_date"] == "2026-11-20"
    assert 0 < change["prorated_charge"] <= 10.00
    sub = ok(mapi.get(f"/api/customers/{customer_id}/subscription"))
    assert sub["plan"] == "premium" and sub["renews_at"] == renews_at


def test_upgrade_from_free_charges_the_first_month(mapi: httpx.Client) -> None:
    change = ok(mapi.post("/api/customers/C0003/subscription/change", json={"plan": "plus"}))
    assert change["prorated_charge"] == 9.99 and change["effective_date"] == "2026-11-20"
    assert ok(mapi.get("/api/customers/C0003/subscription"))["renews_at"] == "2026-12-20"


# -- account ------------------------------------------------------------------------------------
def test_password_reset_goes_to_the_address_on_file(mapi: httpx.Client) -> None:
    result = ok(mapi.post("/api/customers/C0002/password-reset"))
    assert result["sent_to"] == "o**********@example.com"
    message = outbox(mapi, kind="password_reset", customer_id="C0002")[0]
    assert message["to"] == "omar.haddad@example.com"
    assert message["data"]["url"].startswith("https://www.brightcart.example/account/reset/")


def test_unlock_after_failed_logins(mapi: httpx.Client) -> None:
    result = ok(mapi.post("/api/customers/C0003/unlock"))
    assert result["account_state"] == "active"
    assert ok(mapi.get("/api/customers/C0003"))["account_state"] == "active"
    refused(mapi.post("/api/customers/C0003/unlock"), "not_locked")


def test_fraud_lock_needs_a_specialist(mapi: httpx.Client) -> None:
    body = refused(mapi.post("/api/customers/C0004/unlock"), "requires_specialist_review")
    assert "specialist" in body["message"]
    assert ok(mapi.get("/api/customers/C0004"))["account_state"] == "locked"


def test_email_change_with_verification_code(mapi: httpx.Client) -> None:
    requested = ok(mapi.post("/api/customers/C0002/email-change",
                             json={"new_email": "omar.h@example.net"}))
    assert requested["verification_sent_to"] == "omar.h@example.net"
    code = outbox(mapi, kind="email_change_code", to="omar.h@example.net")[0]["data"]["code"]
    wrong = "000000" if code != "000000" else "111111"
    bad = mapi.post("/api/customers/C0002/email-change/confirm", json={"code": wrong})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_code"
    done = ok(mapi.post("/api/customers/C0002/email-change/confirm", json={"code": code}))
    assert done["email"] == "omar.h@example.net"
    assert ok(mapi.get("/api/customers/C0002"))["email"] == "omar.h@example.net"
    refused(mapi.post("/api/customers/C0002/email-change/confirm", json={"code": code}),
            "no_pending_change")


def test_email_change_conflicts(mapi: httpx.Client) -> None:
    refused(mapi.post("/api/customers/C0004/email-change",
                      json={"new_email": "Jane.Doe@example.com"}), "email_in_use")
    refused(mapi.post("/api/customers/C0004/email-change",
                      json={"new_email": "victor.stone@example.com"}), "same_email")


# -- support and status -------------------------------------------------------------------------
def test_create_and_get_ticket(mapi: httpx.Client) -> None:
    ticket = ok(mapi.post("/api/tickets", json={
        "customer_id": "C0001", "category": "billing", "subject": "Charged twice",
        "description": "Two charges for BC-100002", "priority": "high",
        "conversation_id": "conv-42", "channel": "web", "context": {"intent": "billing_dispute"}}), 201)
    assert ticket["id"].startswith("T-1") and len(ticket["id"]) == 7
    assert ticket["status"] == "open" and ticket["context"] == {"intent": "billing_dispute"}
    assert ok(mapi.get(f"/api/tickets/{ticket['id']}")) == ticket
    listed = ok(mapi.get("/api/tickets", params={"conversation_id": "conv-42"}))["tickets"]
    assert [t["id"] for t in listed] == [ticket["id"]]
    anonymous = ok(mapi.post("/api/tickets", json={
        "category": "other", "subject": "Hi", "description": "No account"}), 201)
    assert anonymous["priority"] == "normal" and anonymous["customer_id"] is None


def test_replace_service_status(mapi: httpx.Client) -> None:
    doc = {"overall": "outage", "components": [{"name": "Checkout and payments", "status": "outage"}],
           "incidents": [{"id": "INC-1", "title": "Checkout down", "status": "investigating",
                          "started_at": "2026-11-20T10:00:00Z", "message": "Payments fail.",
                          "affected": ["Checkout and payments"]}]}
    stored = ok(mapi.put("/api/admin/status", json=doc))
    assert stored["incidents"][0]["updated_at"] == "2026-11-20T10:00:00Z"
    assert ok(mapi.get("/api/status")) == stored
    invalid = mapi.put("/api/admin/status", json={"overall": "on fire"})
    assert invalid.status_code == 400
