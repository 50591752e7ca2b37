"""Identifier formats and sequential id allocation.

Ids are sequential per prefix (RT-50001, RT-50002, ...) so seeded data is deterministic and new
records continue the sequence. Allocation happens inside the write transaction that inserts the
row, so two requests can never get the same id.
"""

from __future__ import annotations

import secrets
import sqlite3

SEQUENCES: dict[str, tuple[str, str, int, int]] = {
    # kind: (table, prefix, width, first)
    "order": ("orders", "BC-", 6, 200001),
    "refund": ("refunds", "RF-", 5, 30001),
    "return": ("returns", "RT-", 5, 50001),
    "case": ("cases", "CS-", 5, 70001),
    "ticket": ("tickets", "T-", 5, 10001),
    "payment": ("payments", "PAY-", 6, 1),
}


def next_id(conn: sqlite3.Connection, kind: str) -> str:
    table, prefix, width, first = SEQUENCES[kind]
    rows = conn.execute(f"SELECT id FROM {table} WHERE id LIKE ?", (prefix + "%",))  # noqa: S608
    numbers = [int(r[0][len(prefix):]) for r in rows if r[0][len(prefix):].isdigit()]
    number = max([first - 1, *numbers]) + 1
    return f"{prefix}{number:0{width}d}"


class IdSequence:
    """In-memory counterpart of :func:`next_id`, used by the seeder before rows exist."""

    def __init__(self, kind: str) -> None:
        _, self.prefix, self.width, self.next = SEQUENCES[kind]

    def take(self) -> str:
        value = f"{self.prefix}{self.next:0{self.width}d}"
        self.next += 1
        return value


def invoice_number_for(order_id: str) -> str:
    """Invoices are numbered after their order: BC-100003 -> INV-100003."""
    return "INV-" + order_id.split("-", 1)[1]


def order_id_for_invoice(invoice_number: str) -> str:
    return "BC-" + invoice_number.split("-", 1)[1]


def token(nbytes: int = 16) -> str:
    """Unguessable token for links (payment-method update, password reset)."""
    return secrets.token_urlsafe(nbytes)


def verification_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"
