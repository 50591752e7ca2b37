"""Lookups shared by several route modules. Each ``get_*`` raises a 404 ApiError when missing."""

from __future__ import annotations

import sqlite3
from typing import Any

from datetime import date

from . import policies, serializers
from .db import dumps, loads
from .errors import not_found
from .ids import next_id

Row = sqlite3.Row


def customer_row(conn: sqlite3.Connection, customer_id: str) -> Row:
    row = conn.execute("SELECT * FROM customers WHERE id = ?", (customer_id,)).fetchone()
    if row is None:
        raise not_found("customer", customer_id)
    return row


def order_row(conn: sqlite3.Connection, order_id: str) -> Row:
    row = conn.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
    if row is None:
        raise not_found("order", order_id)
    return row


def order_items(conn: sqlite3.Connection, order_id: str) -> list[Row]:
    return conn.execute(
        "SELECT * FROM order_items WHERE order_id = ? ORDER BY line", (order_id,)
    ).fetchall()


def subscription_row(conn: sqlite3.Connection, customer_id: str) -> Row:
    row = conn.execute(
        "SELECT * FROM subscriptions WHERE customer_id = ?", (customer_id,)
    ).fetchone()
    if row is None:  # every customer is seeded with one; guard against hand-edited databases
        raise not_found("subscription for customer", customer_id)
    return row


def customer_dict(conn: sqlite3.Connection, row: Row) -> dict[str, Any]:
    sub = conn.execute(
        "SELECT plan FROM subscriptions WHERE customer_id = ?", (row["id"],)
    ).fetchone()
    return serializers.customer(row, sub["plan"] if sub else None)


def order_dict(conn: sqlite3.Connection, row: Row) -> dict[str, Any]:
    data = serializers.order(row, order_items(conn, row["id"]))
    latest_return = conn.execute(
        "SELECT id, status FROM returns WHERE order_id = ? ORDER BY id DESC LIMIT 1", (row["id"],)
    ).fetchone()
    data["return_id"] = latest_return["id"] if latest_return else None
    data["return_status"] = latest_return["status"] if latest_return else None
    return data


def create_refund(
    conn: sqlite3.Connection, order: Row, amount_cents: int, reason: str, today: date, now: str
) -> dict[str, Any]:
    """Refund to the order's original payment method. Gift-card refunds are instant store
    credit; card and PayPal refunds stay pending until the payment provider settles them."""
    instant = policies.refund_is_instant(order["payment_method"])
    refund_id = next_id(conn, "refund")
    conn.execute(
        "INSERT INTO refunds (id, order_id, customer_id, amount_cents, method, status, reason,"
        " created_at, expected_by, processed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (refund_id, order["id"], order["customer_id"], amount_cents, order["payment_method"],
         "processed" if instant else "pending", reason, now,
         policies.refund_expected_by(order["payment_method"], today).isoformat(),
         now if instant else None),
    )
    row = conn.execute("SELECT * FROM refunds WHERE id = ?", (refund_id,)).fetchone()
    return serializers.refund(row)


def add_outbox(
    conn: sqlite3.Connection,
    *,
    kind: str,
    customer_id: str | None,
    to: str,
    subject: str,
    body: str,
    data: dict[str, Any],
    created_at: str,
) -> None:
    """Record a message the backend "sent" (the demo has no mail server; tests read these)."""
    conn.execute(
        "INSERT INTO outbox (kind, customer_id, to_address, subject, body, data, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (kind, customer_id, to, subject, body, dumps(data), created_at),
    )


def loads_address(text: str) -> str:
    """A stored address as one line: "12 Market Street, Apt 4B, Springfield, IL 62701, US"."""
    a = loads(text) or {}
    region_post = " ".join(p for p in (a.get("region"), a.get("postcode")) if p)
    parts = (a.get("line1"), a.get("line2"), a.get("city"), region_post, a.get("country"))
    return ", ".join(p for p in parts if p)


def mask_email(address: str) -> str:
    """jane.doe@example.com -> j*******@example.com (enough to recognise, not to harvest)."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}{'*' * max(len(local) - 1, 1)}@{domain}"
