"""Typed async client for the company backend (the Brightcart API, see docs/backend_api.md).

Thin on purpose: one method per endpoint, no business rules. Results are plain ``dict``s,
annotated with the TypedDicts below (so ``order["status"]`` and ``order.get("eta")`` both work
and values pass straight into slots and templates). List endpoints return the unwrapped list.

Errors are explicit exceptions, all subclasses of :class:`BackendError`:

===================== ===============================================================
``BadRequest``        400/422: the request was malformed (bad id format, missing field)
``Forbidden``         403: e.g. the email does not match the order (``verify`` only)
``NotFound``          404: unknown customer, order, ticket ...
``Conflict``          409: the state change is not allowed; ``.message`` is the backend's
                      human explanation (e.g. "Order BC-100002 has already shipped ...")
``BackendUnavailable`` connection refused, timeout, or a 5xx: tell the customer to retry
===================== ===============================================================

Configuration (read when the shared client is created): ``BACKEND_URL``
(default ``http://127.0.0.1:8000``) and ``BACKEND_TIMEOUT`` in seconds (default 5).

Retries: exactly one retry when the connection could not be made (nothing reached the
backend, so retrying is always safe). Timeouts and dropped connections *after* the request
was sent are retried only for GET/PUT, because repeating a POST could e.g. cancel or
create twice.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from typing import Any, Literal, Optional, TypedDict
from urllib.parse import quote

import httpx

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 5.0

__all__ = [
    "BackendClient", "BackendError", "BadRequest", "Forbidden", "NotFound", "Conflict",
    "BackendUnavailable", "get_client", "close_client", "normalize_order_id",
]


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class BackendError(Exception):
    """Any failure talking to the backend. ``code`` is the backend's error code if it sent one."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.payload = payload or {}


class BadRequest(BackendError):
    """400: the backend rejected the input (bad id format, missing or invalid field)."""


class Forbidden(BackendError):
    """403: not allowed (e.g. email/order mismatch)."""


class NotFound(BackendError):
    """404: the customer, order, ticket ... does not exist."""


class Conflict(BackendError):
    """409: the state change is not allowed right now; ``message`` says why, for the customer."""


class BackendUnavailable(BackendError):
    """The backend could not be reached, timed out, or failed (5xx)."""


# --------------------------------------------------------------------------------------------
# Result types (documentation for the dicts the methods return)
# --------------------------------------------------------------------------------------------

OrderStatus = Literal["processing", "shipped", "delivered", "delayed", "cancelled", "returned"]


class Address(TypedDict, total=False):
    line1: str
    line2: Optional[str]
    city: str
    region: Optional[str]
    postcode: str
    country: str


class Customer(TypedDict):
    id: str
    name: str
    email: str
    phone: str
    tier: Literal["standard", "vip"]
    account_state: Literal["active", "locked"]
    lock_reason: Optional[str]  # "too_many_failed_logins" | "suspected_fraud"
    locked_at: Optional[str]
    address: Address
    created_at: str
    plan: Optional[str]  # "free" | "plus" | "premium"


class OrderItem(TypedDict):
    sku: str
    name: str
    quantity: int
    unit_price: float
    line_total: float
    on_sale: bool


class Refund(TypedDict):
    id: str
    order_id: str
    customer_id: str
    amount: float
    currency: str
    method: str  # visa | mastercard | amex | paypal | gift_card
    method_label: str  # "Visa card", "PayPal", ...
    timing: str  # "5-10 business days", "3-5 business days", "instantly, as store credit"
    status: Literal["pending", "processed", "failed"]
    reason: str
    failure_reason: Optional[str]
    created_at: str
    expected_by: str  # YYYY-MM-DD
    processed_at: Optional[str]


class Order(TypedDict, total=False):
    id: str
    customer_id: str
    status: OrderStatus
    placed_at: str
    items: list[OrderItem]
    subtotal: float
    shipping: float
    tax: float
    total: float
    currency: str
    shipping_method: str  # standard | express
    shipping_address: Address
    payment_method: str
    carrier: Optional[str]  # UPS | FedEx | USPS | DHL
    tracking_number: Optional[str]
    tracking_url: Optional[str]
    shipped_at: Optional[str]
    eta: Optional[str]  # for delayed orders: the new ETA
    original_eta: Optional[str]
    delay_reason: Optional[str]  # e.g. "weather"
    delivered_at: Optional[str]
    cancelled_at: Optional[str]
    returned_at: Optional[str]
    invoice_number: str
    replacement_for: Optional[str]
    return_id: Optional[str]
    return_status: Optional[str]
    refund: Refund  # only in the cancel_order() result


class ReturnEligibilityItem(TypedDict):
    sku: str
    name: str
    on_sale: bool
    window_days: int
    deadline: str
    eligible: bool


class ReturnEligibility(TypedDict):
    order_id: str
    eligible: bool
    # within_window | partially_eligible | outside_window | not_delivered | already_returned
    reason_code: str
    reason: str  # a sentence that can be shown to the customer
    window_days: Optional[int]
    deadline: Optional[str]
    delivered_at: Optional[str]
    plan: str
    refund_method: str
    refund_timing: str
    items: list[ReturnEligibilityItem]


class Return(TypedDict):
    id: str  # RT-xxxxx
    order_id: str
    customer_id: str
    reason: str
    skus: list[str]
    status: str  # label_created | in_transit | received | refunded
    refund_method: str
    refund_amount: float
    refund_timing: str
    label_url: str
    created_at: str


class Case(TypedDict, total=False):
    id: str  # CS-xxxxx
    order_id: str
    customer_id: str
    kind: Literal["damaged", "wrong_item", "missing_item"]
    description: str
    resolution: Literal["replacement", "refund"]
    skus: list[str]
    status: str  # replacement_created | refund_issued | open | resolved
    replacement_order_id: Optional[str]
    refund_id: Optional[str]
    created_at: str
    refund: Refund  # when resolution == "refund"
    replacement_order: Order  # when resolution == "replacement"


class Payment(TypedDict):
    id: str
    customer_id: str
    order_id: Optional[str]
    description: str
    amount: float
    currency: str
    method: str
    card_last4: Optional[str]
    status: Literal["succeeded", "failed"]
    decline_code: Optional[str]  # insufficient_funds | expired_card | do_not_honor | ...
    decline_reason: Optional[str]  # human explanation
    attempted_at: str
    created_at: str  # same as attempted_at


class PaymentLink(TypedDict):
    customer_id: str
    url: str
    expires_at: str
    sent_to: str


class InvoiceSent(TypedDict):
    invoice_number: str
    order_id: str
    url: str
    sent_to: str  # masked email, e.g. "j*******@example.com"


class Invoice(TypedDict):
    invoice_number: str
    order_id: str
    customer_id: str
    issued_at: str
    lines: list[OrderItem]
    subtotal: float
    shipping: float
    tax: float
    total: float
    currency: str
    payment_method: str
    url: str


class Plan(TypedDict):
    code: str  # free | plus | premium
    plan: str  # same as code
    name: str
    price: float  # per month
    currency: str
    billing_period: str
    return_window_days: int
    free_standard_shipping: bool
    free_express_shipping: bool
    early_access_days: int
    priority_support: bool
    benefits: list[str]


class Subscription(TypedDict):
    customer_id: str
    plan: str
    plan_name: str
    price: float
    currency: str
    billing_period: str
    status: Literal["active", "cancelled"]
    started_at: str
    renews_at: Optional[str]  # None when cancelled or on the free plan
    ends_at: Optional[str]  # set when cancelled: benefits last until then
    cancelled_at: Optional[str]
    pending_plan: Optional[str]  # scheduled downgrade
    pending_plan_effective: Optional[str]
    benefits: list[str]


class SubscriptionCancellation(TypedDict):
    customer_id: str
    plan: str
    status: str
    effective_date: str
    benefits_lost: list[str]
    message: str


class PlanChange(TypedDict):
    customer_id: str
    old_plan: str
    new_plan: str
    new_price: float
    currency: str
    effective_date: str
    immediate: bool  # upgrades: True; downgrades take effect at renewal
    prorated_charge: float
    message: str


class PasswordReset(TypedDict):
    customer_id: str
    sent_to: str  # masked email
    expires_in_minutes: int


class UnlockResult(TypedDict):
    customer_id: str
    account_state: str
    previous_lock_reason: Optional[str]
    message: str


class EmailChangeRequested(TypedDict):
    customer_id: str
    verification_sent_to: str


class EmailChangeConfirmed(TypedDict):
    customer_id: str
    email: str
    message: str


class Ticket(TypedDict):
    id: str  # T-1xxxx
    customer_id: Optional[str]
    category: str
    subject: str
    description: str
    priority: Literal["low", "normal", "high", "urgent"]
    status: str
    channel: Optional[str]
    conversation_id: Optional[str]
    context: dict[str, Any]
    created_at: str


class StatusComponent(TypedDict):
    name: str
    status: str


class Incident(TypedDict):
    id: str
    title: str
    status: str
    started_at: str
    updated_at: str
    message: str
    affected: list[str]


class ServiceStatus(TypedDict):
    overall: Literal["operational", "degraded", "outage"]
    components: list[StatusComponent]
    incidents: list[Incident]


class Product(TypedDict):
    sku: str
    name: str
    category: str
    price: float
    currency: str
    on_sale: bool


class Health(TypedDict):
    status: str
    service: str
    version: str
    today: str


# --------------------------------------------------------------------------------------------
# Order ids
# --------------------------------------------------------------------------------------------

_PREFIXED_ORDER_ID = re.compile(r"(?<![A-Za-z0-9])bc[\s#:_-]*(\d{6})(?!\d)", re.IGNORECASE)
_BARE_ORDER_ID = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def normalize_order_id(text: Any) -> str | None:
    """Find a Brightcart order number in free text and return it as ``BC-123456``.

    Accepts "BC-123456", "bc123456", "BC 123456", "#123456" or just "123456" (also inside a
    sentence). Returns None when there is no six-digit id; longer digit runs (phone numbers,
    card numbers) are not mistaken for one.
    """
    if not isinstance(text, str) or not text:
        return None
    match = _PREFIXED_ORDER_ID.search(text) or _BARE_ORDER_ID.search(text)
    return f"BC-{match.group(1)}" if match else None


# --------------------------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------------------------

# Failures where the request certainly never reached the backend: always safe to retry.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_IDEMPOTENT = frozenset({"GET", "PUT", "HEAD"})


def _seg(value: Any) -> str:
    """One URL path segment. Quoting keeps ids typed by customers from altering the path."""
    return quote(str(value), safe="")


class BackendClient:
    """Async client for the backend API; one instance per process via :func:`get_client`."""

    def __init__(
        self,
        base_url: str | None = None,
        timeout: float | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        api_key: str | None = None,
    ) -> None:
        self.base_url = (base_url or os.environ.get("BACKEND_URL") or DEFAULT_BASE_URL).rstrip("/")
        # the backend answers only callers with its key (demo_backend/auth.py)
        self.api_key = api_key if api_key is not None else os.environ.get("BACKEND_API_KEY", "")
        self.timeout = float(
            timeout if timeout is not None else os.environ.get("BACKEND_TIMEOUT") or DEFAULT_TIMEOUT
        )
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- plumbing --------------------------------------------------------------------------
    def _http_client(self) -> httpx.AsyncClient:
        # httpx connections belong to the event loop that opened them. The action server has
        # one loop, but tests run each test in a fresh loop, so rebuild when the loop changes.
        loop = asyncio.get_running_loop()
        if self._http is None or self._loop is not loop or self._http.is_closed:
            previous, previous_loop = self._http, self._loop
            if previous is not None and previous_loop is not None and previous_loop is not loop:
                # Best effort: release the old connections on their own loop if it still runs.
                if previous_loop.is_running() and not previous_loop.is_closed():
                    asyncio.run_coroutine_threadsafe(previous.aclose(), previous_loop)
            self._http = httpx.AsyncClient(
                base_url=self.base_url,
                timeout=httpx.Timeout(self.timeout),
                transport=self._transport,
                headers={"Accept": "application/json", "User-Agent": "brightcart-actions",
                         **({"X-Api-Key": self.api_key} if self.api_key else {})},
            )
            self._loop = loop
        return self._http

    async def aclose(self) -> None:
        if self._http is not None and not self._http.is_closed:
            try:
                await self._http.aclose()
            except RuntimeError:  # its event loop is already gone; nothing left to close
                pass
        self._http = None

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Send one request (plus at most one retry, see module docstring); return parsed JSON."""
        params = {k: v for k, v in (params or {}).items() if v is not None} or None
        last_error: Exception | None = None
        for attempt in (1, 2):
            started = time.perf_counter()
            try:
                response = await self._http_client().request(method, path, json=json, params=params,
                                                              headers=headers)
            except httpx.HTTPError as error:
                last_error = error
                retry = isinstance(error, _NOT_SENT) or (
                    method in _IDEMPOTENT and isinstance(error, httpx.TransportError)
                )
                if attempt == 1 and retry:
                    logger.warning("backend %s %s failed (%r); retrying once", method, path, error)
                    continue
                break
            logger.debug("backend %s %s -> %s in %.0f ms", method, path, response.status_code,
                         (time.perf_counter() - started) * 1000)
            return self._parse(method, path, response)
        raise BackendUnavailable(
            f"The backend at {self.base_url} is unreachable ({type(last_error).__name__}: "
            f"{last_error}).",
        ) from last_error

    @staticmethod
    def _parse(method: str, path: str, response: httpx.Response) -> Any:
        status = response.status_code
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if 200 <= status < 300:
            if payload is None:
                raise BackendError(f"{method} {path}: the backend answered {status} without JSON.",
                                   status=status)
            return payload
        body = payload if isinstance(payload, dict) else {}
        code = body.get("error")
        message = body.get("message") or f"{method} {path} failed with HTTP {status}."
        error_class: type[BackendError]
        if status >= 500:
            error_class = BackendUnavailable
        elif status in (400, 422):
            error_class = BadRequest
        elif status == 403:
            error_class = Forbidden
        elif status == 404:
            error_class = NotFound
        elif status == 409:
            error_class = Conflict
        else:
            error_class = BackendError
        raise error_class(message, status=status, code=code, payload=body)

    async def _get(self, path: str, **params: Any) -> Any:
        return await self._request("GET", path, params=params)

    async def _post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return await self._request("POST", path, json=body if body is not None else {})

    # -- service -----------------------------------------------------------------------------
    async def health(self) -> Health:
        return await self._get("/health")

    async def service_status(self) -> ServiceStatus:
        return await self._get("/api/status")

    async def list_products(self) -> list[Product]:
        return (await self._get("/api/products"))["products"]

    # -- customers ---------------------------------------------------------------------------
    async def get_customer(self, customer_id: str) -> Customer:
        return await self._get(f"/api/customers/{_seg(customer_id)}")

    async def find_customer(
        self, email: str | None = None, phone: str | None = None
    ) -> Customer | None:
        """The customer with this email and/or phone, or None. Needs at least one of them."""
        if not email and not phone:
            raise ValueError("find_customer needs an email or a phone number")
        found = (await self._get("/api/customers", email=email or None, phone=phone or None))
        customers = found["customers"]
        return customers[0] if customers else None

    # -- orders ------------------------------------------------------------------------------
    async def get_order(self, order_id: str) -> Order:
        return await self._get(f"/api/orders/{_seg(order_id)}")

    async def list_orders(self, customer_id: str) -> list[Order]:
        """The customer's orders, newest first."""
        return (await self._get(f"/api/customers/{_seg(customer_id)}/orders"))["orders"]

    async def verify_order_email(self, order_id: str, email: str) -> str | None:
        """The customer id if ``email`` is the email on ``order_id``, else None.

        Raises NotFound for an unknown order and BadRequest for a malformed id or empty email."""
        try:
            result = await self._post("/api/verify", {"order_id": order_id, "email": email})
        except Forbidden:
            return None
        return result["customer_id"]

    async def cancel_order(self, order_id: str) -> Order:
        """Cancel a processing order; the result carries the created ``refund``.
        Conflict if it has shipped or is otherwise not cancellable."""
        return await self._post(f"/api/orders/{_seg(order_id)}/cancel")

    async def change_address(self, order_id: str, address: dict[str, Any]) -> Order:
        """New shipping address (line1, line2?, city, region?, postcode, country).
        Conflict unless the order is still processing."""
        return await self._request("PUT", f"/api/orders/{_seg(order_id)}/address", json=address)

    async def get_invoice(self, order_id: str) -> Invoice:
        return await self._get(f"/api/orders/{_seg(order_id)}/invoice")

    async def send_invoice(self, order_id: str) -> InvoiceSent:
        """Email the invoice to the account's address."""
        return await self._post(f"/api/orders/{_seg(order_id)}/invoice/send")

    # -- returns, refunds, cases -------------------------------------------------------------
    async def return_eligibility(self, order_id: str) -> ReturnEligibility:
        return await self._get(f"/api/orders/{_seg(order_id)}/return-eligibility")

    async def create_return(
        self, order_id: str, reason: str, skus: list[str] | None = None
    ) -> Return:
        """Start a return (all items unless ``skus``). Conflict if not delivered, outside the
        window or already returned."""
        body: dict[str, Any] = {"reason": reason}
        if skus is not None:
            body["skus"] = list(skus)
        return await self._post(f"/api/orders/{_seg(order_id)}/returns", body)

    async def list_refunds(
        self, customer_id: str | None = None, order_id: str | None = None
    ) -> list[Refund]:
        """Refunds of one order (if ``order_id``) or of one customer, newest first."""
        if order_id:
            return (await self._get(f"/api/orders/{_seg(order_id)}/refunds"))["refunds"]
        if customer_id:
            return (await self._get(f"/api/customers/{_seg(customer_id)}/refunds"))["refunds"]
        raise ValueError("list_refunds needs a customer_id or an order_id")

    async def create_case(
        self,
        order_id: str,
        kind: str,
        description: str,
        resolution: str,
        skus: list[str] | None = None,
    ) -> Case:
        """Report a damaged / wrong_item / missing_item problem; resolution replacement|refund."""
        body: dict[str, Any] = {"kind": kind, "description": description, "resolution": resolution}
        if skus is not None:
            body["skus"] = list(skus)
        return await self._post(f"/api/orders/{_seg(order_id)}/cases", body)

    # -- billing -----------------------------------------------------------------------------
    async def failed_payments(self, customer_id: str) -> list[Payment]:
        """Declined payment attempts, newest first, with decline_code and decline_reason."""
        path = f"/api/customers/{_seg(customer_id)}/payments"
        return (await self._get(path, status="failed"))["payments"]

    async def payment_method_link(self, customer_id: str) -> PaymentLink:
        """A secure hosted link where the customer updates their card (never collect cards)."""
        return await self._post(f"/api/customers/{_seg(customer_id)}/payment-method-link")

    # -- membership --------------------------------------------------------------------------
    async def list_plans(self) -> list[Plan]:
        return (await self._get("/api/plans"))["plans"]

    async def get_subscription(self, customer_id: str) -> Subscription:
        return await self._get(f"/api/customers/{_seg(customer_id)}/subscription")

    async def cancel_subscription(self, customer_id: str) -> SubscriptionCancellation:
        """Cancel at the end of the paid period. Conflict if on the free plan or already cancelled."""
        return await self._post(f"/api/customers/{_seg(customer_id)}/subscription/cancel")

    async def change_plan(self, customer_id: str, plan: str) -> PlanChange:
        """BadRequest for an unknown plan, Conflict for the current plan."""
        return await self._post(
            f"/api/customers/{_seg(customer_id)}/subscription/change", {"plan": plan}
        )

    # -- account -----------------------------------------------------------------------------
    async def send_password_reset(self, customer_id: str) -> PasswordReset:
        return await self._post(f"/api/customers/{_seg(customer_id)}/password-reset")

    async def unlock_account(self, customer_id: str) -> UnlockResult:
        """Conflict if not locked, or (code ``requires_specialist_review``) if locked for fraud."""
        return await self._post(f"/api/customers/{_seg(customer_id)}/unlock")

    async def request_email_change(self, customer_id: str, new_email: str) -> EmailChangeRequested:
        """Sends a code to the new address. BadRequest if invalid, Conflict if in use."""
        return await self._post(
            f"/api/customers/{_seg(customer_id)}/email-change", {"new_email": new_email}
        )

    async def confirm_email_change(self, customer_id: str, code: str) -> EmailChangeConfirmed:
        """BadRequest (code ``invalid_code``) for a wrong code."""
        return await self._post(
            f"/api/customers/{_seg(customer_id)}/email-change/confirm", {"code": str(code)}
        )

    # -- support -----------------------------------------------------------------------------
    async def create_ticket(self, **fields: Any) -> Ticket:
        """Fields: category, subject, description (required); customer_id, priority
        (low/normal/high/urgent), conversation_id, channel, context (dict) optional."""
        body = {k: v for k, v in fields.items() if v is not None}
        return await self._post("/api/tickets", body)

    async def get_ticket(self, ticket_id: str) -> Ticket:
        return await self._get(f"/api/tickets/{_seg(ticket_id)}")

    # -- admin -------------------------------------------------------------------------------
    async def erase_customer(self, customer_id: str, conversation_ids: list[str] | None = None) -> dict[str, Any]:
        """Right to erasure: delete the customer's tickets and emails, anonymise the account
        (``POST /api/admin/customers/<id>/erase``, admin key ``BACKEND_ADMIN_KEY``). Counts only;
        an unknown customer answers ``{"customer": "not_found"}`` (already erased)."""
        key = os.environ.get("BACKEND_ADMIN_KEY", "").strip()
        if not key:
            raise BackendError("BACKEND_ADMIN_KEY is not set: the backend's admin endpoints cannot be called.")
        return await self._request(
            "POST", f"/api/admin/customers/{_seg(customer_id)}/erase",
            json={"conversation_ids": list(conversation_ids or [])}, headers={"X-Api-Key": key},
        )


# --------------------------------------------------------------------------------------------
# Shared instance
# --------------------------------------------------------------------------------------------

# Tests may replace this attribute (monkeypatch) to point the actions at another backend.
_client: BackendClient | None = None


def get_client() -> BackendClient:
    """The process-wide client, created on first use from BACKEND_URL / BACKEND_TIMEOUT."""
    global _client
    if _client is None:
        _client = BackendClient()
    return _client


async def close_client() -> None:
    """Close the shared client's connections and forget it (call on server shutdown; the next
    get_client() builds a new one from the then-current environment)."""
    global _client
    if _client is not None:
        await _client.aclose()
        _client = None
