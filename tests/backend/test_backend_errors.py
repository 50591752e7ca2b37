"""Bad input is a 400 with a clear message, unknown ids are 404s, and nothing is ever a 500.

These requests are all rejected, so they run against the shared session backend.
"""

from __future__ import annotations

import httpx
import pytest

ORDER_PATHS = [
    ("GET", "/api/orders/{id}"),
    ("POST", "/api/orders/{id}/cancel"),
    ("GET", "/api/orders/{id}/return-eligibility"),
    ("GET", "/api/orders/{id}/refunds"),
    ("GET", "/api/orders/{id}/invoice"),
    ("POST", "/api/orders/{id}/invoice/send"),
]
CUSTOMER_PATHS = [
    ("GET", "/api/customers/{id}"),
    ("GET", "/api/customers/{id}/orders"),
    ("GET", "/api/customers/{id}/refunds"),
    ("GET", "/api/customers/{id}/payments"),
    ("GET", "/api/customers/{id}/subscription"),
    ("POST", "/api/customers/{id}/subscription/cancel"),
    ("POST", "/api/customers/{id}/password-reset"),
    ("POST", "/api/customers/{id}/unlock"),
    ("POST", "/api/customers/{id}/payment-method-link"),
]
# Endpoints with a JSON body: a body that is valid for them, against a known id.
BODY_ENDPOINTS = [
    ("POST", "/api/verify", {"order_id": "BC-100002", "email": "jane.doe@example.com"}),
    ("PUT", "/api/orders/BC-100004/address",
     {"line1": "1 A St", "city": "B", "postcode": "1", "country": "US"}),
    ("POST", "/api/orders/BC-100007/returns", {"reason": "x"}),
    ("POST", "/api/orders/BC-100030/cases",
     {"kind": "damaged", "description": "x", "resolution": "refund"}),
    ("POST", "/api/customers/C0004/subscription/change", {"plan": "free"}),
    ("POST", "/api/customers/C0004/email-change", {"new_email": "jane.doe@example.com"}),
    ("POST", "/api/customers/C0004/email-change/confirm", {"code": "123456"}),
    ("POST", "/api/tickets", {"category": "x", "subject": "y", "description": "z",
                              "customer_id": "C9999"}),
    ("PUT", "/api/admin/status", {"overall": "bogus"}),
]


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert isinstance(body.get("error"), str) and body["error"]
    assert isinstance(body.get("message"), str) and len(body["message"]) > 10
    if code:
        assert body["error"] == code, body
    return body


@pytest.mark.parametrize("method, template", ORDER_PATHS)
@pytest.mark.parametrize("bad_id", ["BC-12345", "bc-100001", "100001", "BC100001", "BC-1000011",
                                    "BC-10000x", "x' OR '1'='1"])
def test_malformed_order_id_is_400(api: httpx.Client, method: str, template: str, bad_id: str) -> None:
    body = assert_error(api.request(method, template.format(id=bad_id)), 400, "invalid_order_id")
    assert "BC-123456" in body["message"]


@pytest.mark.parametrize("method, template", ORDER_PATHS)
def test_unknown_order_is_404(api: httpx.Client, method: str, template: str) -> None:
    assert_error(api.request(method, template.format(id="BC-999999")), 404, "not_found")


@pytest.mark.parametrize("method, template", CUSTOMER_PATHS)
def test_customer_ids(api: httpx.Client, method: str, template: str) -> None:
    assert_error(api.request(method, template.format(id="C9999")), 404, "not_found")
    assert_error(api.request(method, template.format(id="jane")), 400, "invalid_customer_id")


def test_unknown_ticket_and_route(api: httpx.Client) -> None:
    assert_error(api.get("/api/tickets/T-99999"), 404, "not_found")
    assert_error(api.get("/api/tickets/99999"), 400, "invalid_ticket_id")
    assert_error(api.get("/api/nothing-here"), 404, "not_found")
    # document links must be signed: a guessed one is refused before anything is looked up
    assert_error(api.get("/labels/RT-99999.pdf"), 403, "invalid_link")
    assert_error(api.get("/invoices/INV-999999.pdf"), 403, "invalid_link")
    assert_error(api.delete("/api/orders/BC-100001"), 405)


@pytest.mark.parametrize("method, path, _valid", BODY_ENDPOINTS)
@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe", b"null"])
def test_bad_json_is_400(api: httpx.Client, method: str, path: str, _valid, raw: bytes) -> None:
    response = api.request(method, path, content=raw, headers={"Content-Type": "application/json"})
    if raw == b"null":
        # JSON null is well-formed but not an object.
        assert_error(response, 400)
    else:
        assert_error(response, 400, "invalid_json")


@pytest.mark.parametrize(
    "method, path, valid", [e for e in BODY_ENDPOINTS if e[1] != "/api/admin/status"]
)
def test_missing_or_wrongly_typed_fields_are_400(api: httpx.Client, method, path, valid) -> None:
    for field in valid:
        if field == "customer_id":
            continue  # optional
        without = {k: v for k, v in valid.items() if k != field}
        body = assert_error(api.request(method, path, json=without), 400)
        assert field in body["message"]
        for wrong in (123, ["a"], {"a": 1}, "", "   "):
            if field == "code" and wrong == 123:
                continue  # a numeric code is accepted and compared as text
            assert_error(api.request(method, path, json={**valid, field: wrong}), 400)


def test_invalid_field_values(api: httpx.Client) -> None:
    bad = [
        ("POST", "/api/verify", {"order_id": "123", "email": "a@b.co"}, "invalid_order_id"),
        ("POST", "/api/orders/BC-100003/cases",
         {"kind": "lost", "description": "x", "resolution": "refund"}, "invalid_field"),
        ("POST", "/api/orders/BC-100003/cases",
         {"kind": "damaged", "description": "x", "resolution": "voucher"}, "invalid_field"),
        ("POST", "/api/orders/BC-100003/returns", {"reason": "x", "skus": ["NOPE-1"]}, "invalid_field"),
        ("POST", "/api/orders/BC-100003/returns", {"reason": "x", "skus": "ELE-101"}, "invalid_field"),
        ("POST", "/api/customers/C0001/subscription/change", {"plan": "gold"}, "invalid_field"),
        ("POST", "/api/customers/C0001/email-change", {"new_email": "not-an-email"}, "invalid_field"),
        ("POST", "/api/tickets", {"category": "x", "subject": "y", "description": "z",
                                  "priority": "asap"}, "invalid_field"),
        ("POST", "/api/tickets", {"category": "x", "subject": "y", "description": "z",
                                  "context": "not an object"}, "invalid_field"),
        ("POST", "/api/tickets", {"category": "x", "subject": "y" * 500, "description": "z"},
         "invalid_field"),
    ]
    for method, path, body, code in bad:
        assert_error(api.request(method, path, json=body), 400, code)


def test_plan_error_names_the_valid_plans(api: httpx.Client) -> None:
    body = assert_error(api.post("/api/customers/C0001/subscription/change", json={"plan": "gold"}), 400)
    assert all(p in body["message"] for p in ("free", "plus", "premium"))


def test_ticket_for_unknown_customer_is_404(api: httpx.Client) -> None:
    assert_error(api.post("/api/tickets", json={"category": "x", "subject": "y", "description": "z",
                                                "customer_id": "C9999"}), 404)


def test_lookup_needs_a_query(api: httpx.Client) -> None:
    assert_error(api.get("/api/customers"), 400, "missing_field")
    assert_error(api.get("/api/customers", params={"phone": "12"}), 400)
    assert_error(api.get("/api/customers/C0001/payments", params={"status": "weird"}), 400)
    assert_error(api.get("/api/admin/outbox", params={"limit": "-1"}), 400)
    assert_error(api.get("/api/tickets"), 400, "missing_field")


def test_status_document_validation(api: httpx.Client) -> None:
    for doc in ({"overall": "bogus"}, {"overall": "degraded", "components": "x"},
                {"overall": "degraded", "components": [{"name": "x", "status": "meh"}]},
                {"overall": "degraded", "incidents": [{"id": "1"}]}):
        assert_error(api.put("/api/admin/status", json=doc), 400)
    assert api.get("/api/status").json()["overall"] == "degraded"  # unchanged


def test_oversized_body_is_rejected(api: httpx.Client) -> None:
    response = api.post("/api/tickets", content=b"{" + b" " * 2_000_000 + b"}",
                        headers={"Content-Type": "application/json"})
    assert response.status_code == 413
