"""Orders: lookup, ownership check, cancellation, address change, invoices, refunds."""

from __future__ import annotations

from sanic import Blueprint, Request

from .. import repo, serializers, validation
from ..dates import iso_datetime
from ..db import dumps
from ..errors import conflict, forbidden
from ..ids import invoice_number_for
from ..web import body, clock, db, reply, settings

bp = Blueprint("orders", url_prefix="/api")

_NOT_CANCELLABLE = {
    "shipped": "Order {id} has already shipped, so it can no longer be cancelled. "
               "Once it arrives it can be returned instead.",
    "delayed": "Order {id} has already shipped (it is delayed in transit), so it can no longer be "
               "cancelled. Once it arrives it can be returned instead.",
    "delivered": "Order {id} has already been delivered, so it can't be cancelled; it can be "
                 "returned instead if it is within the return window.",
    "cancelled": "Order {id} is already cancelled.",
    "returned": "Order {id} has been returned, so there is nothing to cancel.",
}


@bp.get("/orders/<order_id>")
async def get_order(request: Request, order_id: str):
    validation.order_id(order_id)
    with db(request).read() as conn:
        return reply(repo.order_dict(conn, repo.order_row(conn, order_id)))


@bp.post("/verify")
async def verify(request: Request):
    """Does ``email`` belong to the customer who placed ``order_id``? (identity check)"""
    data = body(request)
    order_id = validation.order_id(validation.require_str(data, "order_id", max_len=20))
    email = validation.require_str(data, "email", max_len=254)
    with db(request).read() as conn:
        order = repo.order_row(conn, order_id)
        customer = repo.customer_row(conn, order["customer_id"])
    if customer["email"].lower() != email.lower():
        raise forbidden("mismatch", "The email address does not match the one on this order.")
    return reply({"verified": True, "order_id": order_id, "customer_id": customer["id"]})


@bp.post("/orders/<order_id>/cancel")
async def cancel_order(request: Request, order_id: str):
    """Cancel an order that hasn't shipped; the full amount is refunded to the payment method."""
    validation.order_id(order_id)
    today, now = clock(request).today(), iso_datetime(clock(request).now())
    with db(request).write() as conn:
        order = repo.order_row(conn, order_id)
        if order["status"] != "processing":
            raise conflict("not_cancellable", _NOT_CANCELLABLE[order["status"]].format(id=order_id),
                           order_status=order["status"])
        conn.execute("UPDATE orders SET status = 'cancelled', cancelled_at = ? WHERE id = ?",
                     (today.isoformat(), order_id))
        refund = repo.create_refund(conn, order, order["total_cents"], "order cancelled", today, now)
        customer = repo.customer_row(conn, order["customer_id"])
        repo.add_outbox(
            conn, kind="order_cancelled", customer_id=customer["id"], to=customer["email"],
            subject=f"Your order {order_id} has been cancelled",
            body=f"We've cancelled order {order_id}. A refund of ${refund['amount']:.2f} to your "
                 f"{refund['method_label']} will arrive {refund['timing']}.",
            data={"order_id": order_id, "refund_id": refund["id"]}, created_at=now,
        )
        result = repo.order_dict(conn, repo.order_row(conn, order_id))
    result["refund"] = refund
    return reply(result)


@bp.put("/orders/<order_id>/address")
async def change_address(request: Request, order_id: str):
    """Replace the shipping address; only possible while the order is still processing."""
    validation.order_id(order_id)
    data = body(request)
    address = {
        "line1": validation.require_str(data, "line1"),
        "line2": validation.optional_str(data, "line2"),
        "city": validation.require_str(data, "city", max_len=100),
        "region": validation.optional_str(data, "region", max_len=100),
        "postcode": validation.require_str(data, "postcode", max_len=20),
        "country": validation.require_str(data, "country", max_len=60),
    }
    with db(request).write() as conn:
        order = repo.order_row(conn, order_id)
        if order["status"] != "processing":
            raise conflict(
                "address_locked",
                f"Order {order_id} is {order['status']}, so its delivery address can no longer "
                "be changed (only orders that are still processing can be redirected).",
                order_status=order["status"],
            )
        conn.execute("UPDATE orders SET shipping_address = ? WHERE id = ?",
                     (dumps(address), order_id))
        return reply(repo.order_dict(conn, repo.order_row(conn, order_id)))


@bp.get("/orders/<order_id>/refunds")
async def order_refunds(request: Request, order_id: str):
    validation.order_id(order_id)
    with db(request).read() as conn:
        repo.order_row(conn, order_id)
        rows = conn.execute(
            "SELECT * FROM refunds WHERE order_id = ? ORDER BY created_at DESC, id DESC",
            (order_id,),
        ).fetchall()
    return reply({"refunds": [serializers.refund(r) for r in rows]})


def _invoice(conn, order, public_url: str) -> dict:
    items = repo.order_items(conn, order["id"])
    return {
        "invoice_number": invoice_number_for(order["id"]),
        "order_id": order["id"],
        "customer_id": order["customer_id"],
        "issued_at": order["placed_at"][:10],
        "lines": [serializers.order_item(i) for i in items],
        "subtotal": serializers.money(order["subtotal_cents"]),
        "shipping": serializers.money(order["shipping_cents"]),
        "tax": serializers.money(order["tax_cents"]),
        "total": serializers.money(order["total_cents"]),
        "currency": order["currency"],
        "payment_method": order["payment_method"],
        "url": serializers.invoice_url(public_url, order["id"]),
    }


@bp.get("/orders/<order_id>/invoice")
async def get_invoice(request: Request, order_id: str):
    validation.order_id(order_id)
    with db(request).read() as conn:
        return reply(_invoice(conn, repo.order_row(conn, order_id), settings(request).public_url))


@bp.post("/orders/<order_id>/invoice/send")
async def send_invoice(request: Request, order_id: str):
    """Email the invoice to the address on the account (never to an address the caller picks)."""
    validation.order_id(order_id)
    now = iso_datetime(clock(request).now())
    with db(request).write() as conn:
        order = repo.order_row(conn, order_id)
        customer = repo.customer_row(conn, order["customer_id"])
        invoice = _invoice(conn, order, settings(request).public_url)
        repo.add_outbox(
            conn, kind="invoice", customer_id=customer["id"], to=customer["email"],
            subject=f"Invoice {invoice['invoice_number']} for order {order_id}",
            body=f"Your invoice for order {order_id} is attached: {invoice['url']}",
            data={"order_id": order_id, "invoice_number": invoice["invoice_number"],
                  "url": invoice["url"]},
            created_at=now,
        )
    return reply({"invoice_number": invoice["invoice_number"], "order_id": order_id,
                  "url": invoice["url"], "sent_to": repo.mask_email(customer["email"])})
