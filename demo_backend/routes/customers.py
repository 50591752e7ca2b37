"""Customer records and what hangs off them: orders, refunds, payment attempts."""

from __future__ import annotations

from datetime import timedelta

from sanic import Blueprint, Request

from .. import repo, serializers, validation
from ..dates import iso_datetime
from ..errors import bad_request
from ..ids import token
from ..web import clock, db, reply

bp = Blueprint("customers", url_prefix="/api/customers")

PAYMENT_LINK_BASE = "https://pay.brightcart.example/update/"
PAYMENT_LINK_HOURS = 24


@bp.get("")
async def find_customers(request: Request):
    """Look customers up by ``email`` (case-insensitive) and/or ``phone`` (any formatting)."""
    email = (request.args.get("email") or "").strip()
    phone = (request.args.get("phone") or "").strip()
    if not email and not phone:
        raise bad_request("Provide an 'email' or 'phone' query parameter.", code="missing_field")
    clauses, params = [], []
    if email:
        clauses.append("email = ? COLLATE NOCASE")
        params.append(email)
    if phone:
        # Stored numbers are E.164 (+15555550101); compare digits only.
        clauses.append("replace(phone, '+', '') = ?")
        params.append(validation.phone_digits(phone))
    with db(request).read() as conn:
        rows = conn.execute(
            f"SELECT * FROM customers WHERE {' AND '.join(clauses)} ORDER BY id", params  # noqa: S608
        ).fetchall()
        customers = [repo.customer_dict(conn, r) for r in rows]
    return reply({"customers": customers})


@bp.get("/<customer_id>")
async def get_customer(request: Request, customer_id: str):
    validation.customer_id(customer_id)
    with db(request).read() as conn:
        return reply(repo.customer_dict(conn, repo.customer_row(conn, customer_id)))


@bp.get("/<customer_id>/orders")
async def customer_orders(request: Request, customer_id: str):
    validation.customer_id(customer_id)
    with db(request).read() as conn:
        repo.customer_row(conn, customer_id)
        rows = conn.execute(
            "SELECT * FROM orders WHERE customer_id = ? ORDER BY placed_at DESC, id DESC",
            (customer_id,),
        ).fetchall()
        orders = [repo.order_dict(conn, r) for r in rows]
    return reply({"orders": orders})


@bp.get("/<customer_id>/refunds")
async def customer_refunds(request: Request, customer_id: str):
    validation.customer_id(customer_id)
    with db(request).read() as conn:
        repo.customer_row(conn, customer_id)
        rows = conn.execute(
            "SELECT * FROM refunds WHERE customer_id = ? ORDER BY created_at DESC, id DESC",
            (customer_id,),
        ).fetchall()
    return reply({"refunds": [serializers.refund(r) for r in rows]})


@bp.get("/<customer_id>/payments")
async def customer_payments(request: Request, customer_id: str):
    """Payment attempts, newest first; ``status=failed`` lists declines with their reasons."""
    validation.customer_id(customer_id)
    status = request.args.get("status")
    if status is not None:
        status = validation.choice(status, "status", ("failed", "succeeded"))
    with db(request).read() as conn:
        repo.customer_row(conn, customer_id)
        sql = "SELECT * FROM payments WHERE customer_id = ?"
        params: list[str] = [customer_id]
        if status:
            sql += " AND status = ?"
            params.append(status)
        rows = conn.execute(sql + " ORDER BY attempted_at DESC, id DESC", params).fetchall()
    return reply({"payments": [serializers.payment(r) for r in rows]})


@bp.post("/<customer_id>/payment-method-link")
async def payment_method_link(request: Request, customer_id: str):
    """A single-use link to the hosted page where the customer updates their card.

    Card numbers never pass through the assistant; it only hands out this link."""
    validation.customer_id(customer_id)
    now = clock(request).now()
    link_token = token()
    expires_at = iso_datetime(now + timedelta(hours=PAYMENT_LINK_HOURS))
    url = PAYMENT_LINK_BASE + link_token
    with db(request).write() as conn:
        customer = repo.customer_row(conn, customer_id)
        conn.execute(
            "INSERT INTO payment_links (token, customer_id, created_at, expires_at)"
            " VALUES (?, ?, ?, ?)",
            (link_token, customer_id, iso_datetime(now), expires_at),
        )
        repo.add_outbox(
            conn, kind="payment_method_link", customer_id=customer_id, to=customer["email"],
            subject="Update your Brightcart payment method",
            body=f"Use this secure link to update your payment method: {url} "
                 f"(valid for {PAYMENT_LINK_HOURS} hours).",
            data={"url": url, "expires_at": expires_at}, created_at=iso_datetime(now),
        )
    return reply({"customer_id": customer_id, "url": url, "expires_at": expires_at,
                  "sent_to": repo.mask_email(customer["email"])})
