"""Database rows -> API JSON objects. Money leaves the backend as a number of dollars (2 dp)."""

from __future__ import annotations

import sqlite3
from typing import Any

from . import links, policies
from .catalog import PLANS
from .db import loads
from .ids import invoice_number_for

Row = sqlite3.Row


def money(cents: int) -> float:
    return round(cents / 100, 2)


def loads_list(text: str | None) -> list[Any]:
    return loads(text) or []


def tracking_url(carrier: str | None, number: str | None) -> str | None:
    if not carrier or not number:
        return None
    return f"https://track.brightcart.example/{carrier.lower()}/{number}"


def customer(row: Row, plan: str | None) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "email": row["email"],
        "phone": row["phone"],
        "tier": row["tier"],
        "account_state": row["account_state"],
        "lock_reason": row["lock_reason"],
        "locked_at": row["locked_at"],
        "address": loads(row["address"]),
        "created_at": row["created_at"],
        "plan": plan,
    }


def order_item(row: Row) -> dict[str, Any]:
    return {
        "sku": row["sku"],
        "name": row["name"],
        "quantity": row["quantity"],
        "unit_price": money(row["unit_price_cents"]),
        "line_total": money(row["unit_price_cents"] * row["quantity"]),
        "on_sale": bool(row["on_sale"]),
    }


def order(row: Row, items: list[Row]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "customer_id": row["customer_id"],
        "status": row["status"],
        "placed_at": row["placed_at"],
        "items": [order_item(i) for i in items],
        "subtotal": money(row["subtotal_cents"]),
        "shipping": money(row["shipping_cents"]),
        "tax": money(row["tax_cents"]),
        "total": money(row["total_cents"]),
        "currency": row["currency"],
        "shipping_method": row["shipping_method"],
        "shipping_address": loads(row["shipping_address"]),
        "payment_method": row["payment_method"],
        "carrier": row["carrier"],
        "tracking_number": row["tracking_number"],
        "tracking_url": tracking_url(row["carrier"], row["tracking_number"]),
        "shipped_at": row["shipped_at"],
        "eta": row["eta"],
        "original_eta": row["original_eta"],
        "delay_reason": row["delay_reason"],
        "delivered_at": row["delivered_at"],
        "cancelled_at": row["cancelled_at"],
        "returned_at": row["returned_at"],
        "invoice_number": invoice_number_for(row["id"]),
        "replacement_for": row["replacement_for"],
    }


def refund(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "order_id": row["order_id"],
        "customer_id": row["customer_id"],
        "amount": money(row["amount_cents"]),
        "currency": "USD",
        "method": row["method"],
        "method_label": policies.payment_method_label(row["method"]),
        "timing": policies.refund_timing(row["method"]),
        "status": row["status"],
        "reason": row["reason"],
        "failure_reason": row["failure_reason"],
        "created_at": row["created_at"],
        "expected_by": row["expected_by"],
        "processed_at": row["processed_at"],
    }


def label_url(public_url: str, return_id: str) -> str:
    return links.signed(public_url, f"/labels/{return_id}.pdf")


def invoice_url(public_url: str, order_id: str) -> str:
    return links.signed(public_url, f"/invoices/{invoice_number_for(order_id)}.pdf")


def return_(row: Row, public_url: str) -> dict[str, Any]:
    return {
        "id": row["id"],
        "order_id": row["order_id"],
        "customer_id": row["customer_id"],
        "reason": row["reason"],
        "skus": loads(row["skus"]),
        "status": row["status"],
        "refund_method": row["refund_method"],
        "refund_amount": money(row["refund_amount_cents"]),
        "refund_timing": policies.refund_timing(row["refund_method"]),
        "label_url": label_url(public_url, row["id"]),
        "created_at": row["created_at"],
    }


def payment(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "customer_id": row["customer_id"],
        "order_id": row["order_id"],
        "description": row["description"],
        "amount": money(row["amount_cents"]),
        "currency": "USD",
        "method": row["method"],
        "card_last4": row["card_last4"],
        "status": row["status"],
        "decline_code": row["decline_code"],
        "decline_reason": row["decline_reason"],
        "attempted_at": row["attempted_at"],
        "created_at": row["attempted_at"],  # alias: callers that treat payments like events
    }


def subscription(row: Row) -> dict[str, Any]:
    plan = PLANS[row["plan"]]
    cancelled = row["status"] == "cancelled"
    return {
        "customer_id": row["customer_id"],
        "plan": plan.code,
        "plan_name": plan.name,
        "price": money(plan.price_cents),
        "currency": "USD",
        "billing_period": "month",
        "status": row["status"],
        "started_at": row["started_at"],
        "renews_at": None if cancelled else row["renews_at"],
        # A cancelled membership keeps its benefits until the end of the paid period.
        "ends_at": row["renews_at"] if cancelled else None,
        "cancelled_at": row["cancelled_at"],
        "pending_plan": row["pending_plan"],
        "pending_plan_effective": row["renews_at"] if row["pending_plan"] else None,
        "benefits": list(plan.benefits),
    }


def plan(code: str) -> dict[str, Any]:
    p = PLANS[code]
    return {
        "code": p.code,
        "plan": p.code,  # alias of code, matching the "plan" field elsewhere
        "name": p.name,
        "price": money(p.price_cents),
        "currency": "USD",
        "billing_period": "month",
        "return_window_days": p.return_window_days,
        "free_standard_shipping": p.free_standard_shipping,
        "free_express_shipping": p.free_express_shipping,
        "early_access_days": p.early_access_days,
        "priority_support": p.priority_support,
        "benefits": list(p.benefits),
    }


def case(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "order_id": row["order_id"],
        "customer_id": row["customer_id"],
        "kind": row["kind"],
        "description": row["description"],
        "resolution": row["resolution"],
        "skus": loads(row["skus"]),
        "status": row["status"],
        "replacement_order_id": row["replacement_order_id"],
        "refund_id": row["refund_id"],
        "created_at": row["created_at"],
    }


def ticket(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "customer_id": row["customer_id"],
        "category": row["category"],
        "subject": row["subject"],
        "description": row["description"],
        "priority": row["priority"],
        "status": row["status"],
        "channel": row["channel"],
        "conversation_id": row["conversation_id"],
        "context": loads(row["context"]) or {},
        "created_at": row["created_at"],
    }


def product(row: Row) -> dict[str, Any]:
    return {
        "sku": row["sku"],
        "name": row["name"],
        "category": row["category"],
        "price": money(row["price_cents"]),
        "currency": "USD",
        "on_sale": bool(row["on_sale"]),
    }


def outbox_message(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "kind": row["kind"],
        "customer_id": row["customer_id"],
        "to": row["to_address"],
        "subject": row["subject"],
        "body": row["body"],
        "data": loads(row["data"]) or {},
        "created_at": row["created_at"],
    }
