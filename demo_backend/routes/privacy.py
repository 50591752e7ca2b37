"""Right to erasure: ``POST /api/admin/customers/<customer_id>/erase`` (admin key required).

Body (optional): ``{"conversation_ids": ["...", ...]}``, the assistant's conversations of the
customer, so tickets filed without a customer id go too.

- deleted: the customer's tickets (and tickets of those conversations), emails in the outbox
  (to the customer or about them), payment-method links;
- anonymised: the customer record. Orders, payments, refunds, returns, cases and the membership
  are kept for the books, moved to a new random id (``X...``) whose record has no name, email,
  phone or address; shipping addresses and the customer's free text (return reasons, case
  descriptions) are blanked. Nothing left points back to the old id.

The answer holds counts only. Idempotent: an unknown (already erased) customer answers 200 with
``"customer": "not_found"`` and whatever tickets of the conversations were still there deleted.
"""

from __future__ import annotations

import secrets

from sanic import Blueprint, Request

from .. import validation
from ..admin_auth import require_admin_key
from ..dates import iso_datetime
from ..errors import bad_request
from ..web import clock, db, reply

bp = Blueprint("privacy", url_prefix="/api/admin/customers")

REKEYED = ("subscriptions", "orders", "refunds", "returns", "payments", "cases")


def _conversation_ids(request: Request) -> list[str]:
    data = validation.json_body(request.body) if request.body else {}
    ids = data.get("conversation_ids") or []
    if not isinstance(ids, list) or not all(isinstance(i, str) and 0 < len(i) <= 200 for i in ids) or len(ids) > 1000:
        raise bad_request("'conversation_ids' must be a list of conversation ids.", code="invalid_field",
                          field="conversation_ids")
    return ids


@bp.post("/<customer_id>/erase")
async def erase_customer(request: Request, customer_id: str):
    require_admin_key(request)
    validation.customer_id(customer_id)
    conversations = _conversation_ids(request)
    now = iso_datetime(clock(request).now())
    counts: dict[str, int] = {}
    with db(request).write() as conn:
        row = conn.execute("SELECT * FROM customers WHERE id = ?", (customer_id,)).fetchone()
        marks = ", ".join("?" for _ in conversations)
        where_conv = f" OR conversation_id IN ({marks})" if conversations else ""
        counts["tickets"] = conn.execute(
            f"DELETE FROM tickets WHERE customer_id = ?{where_conv}",  # noqa: S608 - placeholders only
            (customer_id, *conversations)).rowcount
        if row is None:
            return reply({"customer": "not_found", "counts": counts})
        addresses = [a for a in (row["email"], row["pending_email"]) if a]
        counts["emails"] = conn.execute(
            f"DELETE FROM outbox WHERE customer_id = ? OR to_address COLLATE NOCASE IN ({', '.join('?' for _ in addresses)})",  # noqa: S608
            (customer_id, *addresses)).rowcount
        counts["payment_links"] = conn.execute("DELETE FROM payment_links WHERE customer_id = ?", (customer_id,)).rowcount
        pseudonym = "X" + secrets.token_hex(6).upper()
        conn.execute(
            "INSERT INTO customers (id, name, email, phone, tier, account_state, lock_reason, locked_at, address,"
            " created_at) VALUES (?, 'Erased customer', ?, '', ?, 'locked', 'erased', ?, '{}', ?)",
            (pseudonym, f"{pseudonym.lower()}@erased.invalid", row["tier"], now, row["created_at"]),
        )
        for table in REKEYED:
            counts[table] = conn.execute(
                f"UPDATE {table} SET customer_id = ? WHERE customer_id = ?", (pseudonym, customer_id)  # noqa: S608
            ).rowcount
        conn.execute("UPDATE orders SET shipping_address = '{}' WHERE customer_id = ?", (pseudonym,))
        conn.execute("UPDATE returns SET reason = '[erased]' WHERE customer_id = ?", (pseudonym,))
        conn.execute("UPDATE cases SET description = '[erased]' WHERE customer_id = ?", (pseudonym,))
        conn.execute("DELETE FROM customers WHERE id = ?", (customer_id,))
        counts["customer"] = 1
    return reply({"customer": "anonymised", "counts": counts})
