"""actions/backend_client.py against the real backend (and a closed port for outages)."""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from actions import backend_client
from actions.backend_client import (
    BackendClient,
    BackendError,
    BackendUnavailable,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
)
from tests.support.backend_process import free_port


@pytest_asyncio.fixture
async def client(mutable_backend) -> AsyncIterator[BackendClient]:
    c = BackendClient(base_url=mutable_backend.url, timeout=5, api_key=mutable_backend.api_key)
    yield c
    await c.aclose()


# -- reads ------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_reads(client: BackendClient) -> None:
    assert (await client.health())["status"] == "ok"
    customer = await client.get_customer("C0001")
    assert customer["name"] == "Jane Doe" and customer["plan"] == "plus"
    assert (await client.find_customer(email="JANE.DOE@example.com"))["id"] == "C0001"
    assert (await client.find_customer(phone="+1 555 555 0104"))["id"] == "C0004"
    assert await client.find_customer(email="nobody@example.com") is None
    order = await client.get_order("BC-100002")
    assert (order["status"], order["carrier"], order["eta"]) == ("shipped", "UPS", "2026-11-24")
    orders = await client.list_orders("C0001")
    assert len(orders) == 7
    assert (await client.return_eligibility("BC-100003"))["eligible"] is True
    refunds = await client.list_refunds(order_id="BC-100006")
    assert [(r["status"], r["method"]) for r in refunds] == [("pending", "paypal")]
    assert {r["order_id"] for r in await client.list_refunds(customer_id="C0001")} >= {
        "BC-100005", "BC-100006"}
    failed = await client.failed_payments("C0001")
    assert sorted(p["decline_code"] for p in failed) == ["expired_card", "insufficient_funds"]
    assert (await client.get_subscription("C0002"))["plan"] == "premium"
    assert [p["code"] for p in await client.list_plans()] == ["free", "plus", "premium"]
    assert len(await client.list_products()) == 40
    status = await client.service_status()
    assert status["overall"] in ("operational", "degraded", "outage")
    assert (await client.get_ticket("T-10001"))["id"] == "T-10001"
    assert (await client.get_invoice("BC-100003"))["invoice_number"] == "INV-100003"


@pytest.mark.asyncio
async def test_verify_order_email(client: BackendClient) -> None:
    assert await client.verify_order_email("BC-100002", "Jane.Doe@example.com") == "C0001"
    assert await client.verify_order_email("BC-100002", "omar.haddad@example.com") is None
    with pytest.raises(NotFound):
        await client.verify_order_email("BC-999999", "jane.doe@example.com")


@pytest.mark.asyncio
async def test_argument_checks(client: BackendClient) -> None:
    with pytest.raises(ValueError):
        await client.find_customer()
    with pytest.raises(ValueError):
        await client.list_refunds()


# -- writes -----------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_order_changes(client: BackendClient) -> None:
    moved = await client.change_address("BC-100030", {
        "line1": "1 Ocean Dr", "city": "Miami", "region": "FL", "postcode": "33139", "country": "US"})
    assert moved["shipping_address"]["line1"] == "1 Ocean Dr"
    cancelled = await client.cancel_order("BC-100030")
    assert cancelled["status"] == "cancelled" and cancelled["refund"]["method"] == "mastercard"
    sent = await client.send_invoice("BC-100030")
    assert sent["invoice_number"] == "INV-100030" and sent["sent_to"].endswith("@example.com")


@pytest.mark.asyncio
async def test_returns_and_cases(client: BackendClient) -> None:
    ret = await client.create_return("BC-100011", "too big", skus=["OUT-503"])
    assert ret["id"].startswith("RT-") and f"/labels/{ret['id']}.pdf?sig=" in ret["label_url"]
    case = await client.create_case("BC-100020", "wrong_item", "Got sunscreen SPF 30", "refund")
    assert case["kind"] == "wrong_item" and case["refund"]["status"] == "pending"


@pytest.mark.asyncio
async def test_billing_membership_and_account(client: BackendClient) -> None:
    link = await client.payment_method_link("C0002")
    assert link["url"].startswith("https://pay.brightcart.example/update/")
    change = await client.change_plan("C0002", "plus")
    assert change["new_plan"] == "plus" and change["immediate"] is False
    cancelled = await client.cancel_subscription("C0002")
    assert cancelled["effective_date"] == "2026-11-28" and cancelled["benefits_lost"]
    assert (await client.send_password_reset("C0003"))["sent_to"] == "l***********@example.com"
    assert (await client.unlock_account("C0003"))["account_state"] == "active"


@pytest.mark.asyncio
async def test_email_change_round_trip(client: BackendClient, mutable_backend) -> None:
    requested = await client.request_email_change("C0001", "jane.new@example.org")
    assert requested["verification_sent_to"] == "jane.new@example.org"
    messages = httpx.get(mutable_backend.url + "/api/admin/outbox",
                         params={"to": "jane.new@example.org"}, headers=mutable_backend.headers(admin=True)).json()["messages"]
    code = messages[0]["data"]["code"]
    with pytest.raises(BadRequest) as wrong:
        await client.confirm_email_change("C0001", "999999" if code != "999999" else "000000")
    assert wrong.value.code == "invalid_code"
    assert (await client.confirm_email_change("C0001", code))["email"] == "jane.new@example.org"


@pytest.mark.asyncio
async def test_create_ticket(client: BackendClient) -> None:
    ticket = await client.create_ticket(
        customer_id="C0001", category="handoff", subject="Customer asked for a person",
        description="Wants to talk about BC-100004", priority="urgent", channel="web",
        conversation_id="abc", context={"intent": "request_human", "sentiment": -0.6},
        unused=None,
    )
    assert ticket["priority"] == "urgent" and ticket["context"]["sentiment"] == -0.6
    assert (await client.get_ticket(ticket["id"]))["subject"] == "Customer asked for a person"


# -- exceptions -------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_exception_types(client: BackendClient) -> None:
    with pytest.raises(NotFound) as missing:
        await client.get_order("BC-999999")
    assert missing.value.status == 404 and "BC-999999" in missing.value.message
    with pytest.raises(BadRequest) as bad:
        await client.get_order("not-an-order")
    assert bad.value.code == "invalid_order_id"
    with pytest.raises(BadRequest):
        await client.change_plan("C0001", "gold")
    with pytest.raises(Conflict) as shipped:
        await client.cancel_order("BC-100002")
    assert "shipped" in shipped.value.message and shipped.value.code == "not_cancellable"
    with pytest.raises(Conflict) as fraud:
        await client.unlock_account("C0004")
    assert fraud.value.code == "requires_specialist_review" and "specialist" in str(fraud.value)
    with pytest.raises(Conflict):
        await client.create_return("BC-100007", "late")
    with pytest.raises(Forbidden):
        await client._request("POST", "/api/verify",
                              json={"order_id": "BC-100002", "email": "x@example.com"})
    for error_class in (NotFound, BadRequest, Conflict, Forbidden, BackendUnavailable):
        assert issubclass(error_class, BackendError)


@pytest.mark.asyncio
async def test_path_segments_are_quoted(client: BackendClient) -> None:
    # A customer typing "../" must not reach another endpoint.
    with pytest.raises(BadRequest):
        await client.get_customer("../orders/BC-100001")


@pytest.mark.asyncio
async def test_closed_port_is_backend_unavailable() -> None:
    c = BackendClient(base_url=f"http://127.0.0.1:{free_port()}", timeout=1)
    with pytest.raises(BackendUnavailable):
        await c.get_order("BC-100001")
    with pytest.raises(BackendUnavailable):
        await c.cancel_order("BC-100001")
    await c.aclose()


def _mock_client(handler) -> BackendClient:
    return BackendClient(base_url="http://backend.test", transport=httpx.MockTransport(handler))


@pytest.mark.asyncio
async def test_server_errors_are_backend_unavailable() -> None:
    c = _mock_client(lambda request: httpx.Response(503, json={"error": "down", "message": "Maintenance"}))
    with pytest.raises(BackendUnavailable) as error:
        await c.get_order("BC-100001")
    assert error.value.status == 503 and error.value.message == "Maintenance"
    c = _mock_client(lambda request: httpx.Response(500, text="<html>oops</html>"))
    with pytest.raises(BackendUnavailable):
        await c.health()


@pytest.mark.asyncio
async def test_one_retry_on_connection_errors() -> None:
    calls: list[str] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if len(calls) == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"id": "BC-100002", "status": "shipped"})

    assert (await _mock_client(flaky).cancel_order("BC-100002"))["status"] == "shipped"
    assert calls == ["POST", "POST"]

    calls.clear()

    def down(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(BackendUnavailable):
        await _mock_client(down).get_order("BC-100002")
    assert len(calls) == 2  # exactly one retry


@pytest.mark.asyncio
async def test_read_timeouts_retry_only_idempotent_requests() -> None:
    calls: list[str] = []

    def slow(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        raise httpx.ReadTimeout("slow", request=request)

    c = _mock_client(slow)
    with pytest.raises(BackendUnavailable):
        await c.get_order("BC-100002")
    assert calls == ["GET", "GET"]
    calls.clear()
    with pytest.raises(BackendUnavailable):
        await c.cancel_order("BC-100002")  # a POST might have been applied: never repeated
    assert calls == ["POST"]


@pytest.mark.asyncio
async def test_real_timeout() -> None:
    # A server that accepts connections but never answers.
    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    c = BackendClient(base_url=f"http://127.0.0.1:{port}", timeout=0.2)
    try:
        with pytest.raises(BackendUnavailable):
            await c.health()
    finally:
        await c.aclose()
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


# -- shared instance ----------------------------------------------------------------------------
def test_get_client_is_shared_and_configured_from_env(monkeypatch) -> None:
    monkeypatch.setattr(backend_client, "_client", None)
    monkeypatch.setenv("BACKEND_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("BACKEND_TIMEOUT", "2.5")
    first = backend_client.get_client()
    assert first is backend_client.get_client()
    assert (first.base_url, first.timeout) == ("http://127.0.0.1:9", 2.5)
    monkeypatch.delenv("BACKEND_URL")
    monkeypatch.delenv("BACKEND_TIMEOUT")
    monkeypatch.setattr(backend_client, "_client", None)
    default = backend_client.get_client()
    assert (default.base_url, default.timeout) == ("http://127.0.0.1:8000", 5.0)


@pytest.mark.asyncio
async def test_shared_client_survives_a_new_event_loop(mutable_backend, monkeypatch) -> None:
    monkeypatch.setattr(backend_client, "_client", BackendClient(base_url=mutable_backend.url, api_key=mutable_backend.api_key))
    shared = backend_client.get_client()
    assert (await shared.health())["status"] == "ok"
    # Use it from another event loop (as the next test's loop would), then come back.

    async def elsewhere() -> dict:
        result = await shared.health()
        await shared.aclose()
        return result

    assert (await asyncio.to_thread(asyncio.run, elsewhere()))["status"] == "ok"
    assert (await shared.health())["status"] == "ok"
    await shared.aclose()
