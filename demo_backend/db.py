"""SQLite storage: schema, connections and small JSON helpers.

Every request opens its own short-lived connection (cheap for SQLite) and the database runs in
WAL mode, so tests and tools can read the file while the server writes to it.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    sku TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    price_cents INTEGER NOT NULL,
    on_sale INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS customers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    phone TEXT NOT NULL,
    tier TEXT NOT NULL CHECK (tier IN ('standard', 'vip')),
    account_state TEXT NOT NULL CHECK (account_state IN ('active', 'locked')),
    lock_reason TEXT,
    locked_at TEXT,
    address TEXT NOT NULL,             -- JSON object: default shipping address
    created_at TEXT NOT NULL,
    pending_email TEXT,
    email_code TEXT
);
CREATE TABLE IF NOT EXISTS subscriptions (
    customer_id TEXT PRIMARY KEY REFERENCES customers(id),
    plan TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'cancelled')),
    started_at TEXT NOT NULL,
    renews_at TEXT,                    -- end of the current paid period; NULL on the free plan
    cancelled_at TEXT,
    pending_plan TEXT                  -- scheduled downgrade, applied at renews_at
);
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    status TEXT NOT NULL CHECK (status IN
        ('processing', 'shipped', 'delivered', 'delayed', 'cancelled', 'returned')),
    placed_at TEXT NOT NULL,
    subtotal_cents INTEGER NOT NULL,
    shipping_cents INTEGER NOT NULL,
    tax_cents INTEGER NOT NULL,
    total_cents INTEGER NOT NULL,
    currency TEXT NOT NULL DEFAULT 'USD',
    shipping_method TEXT NOT NULL,
    shipping_address TEXT NOT NULL,    -- JSON object
    payment_method TEXT NOT NULL,
    carrier TEXT,
    tracking_number TEXT,
    shipped_at TEXT,
    original_eta TEXT,
    eta TEXT,
    delay_reason TEXT,
    delivered_at TEXT,
    cancelled_at TEXT,
    returned_at TEXT,
    replacement_for TEXT               -- order id this order replaces (damaged/wrong item cases)
);
CREATE INDEX IF NOT EXISTS orders_by_customer ON orders(customer_id);
CREATE TABLE IF NOT EXISTS order_items (
    order_id TEXT NOT NULL REFERENCES orders(id),
    line INTEGER NOT NULL,
    sku TEXT NOT NULL REFERENCES products(sku),
    name TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    unit_price_cents INTEGER NOT NULL,
    on_sale INTEGER NOT NULL,
    PRIMARY KEY (order_id, line)
);
CREATE TABLE IF NOT EXISTS refunds (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders(id),
    customer_id TEXT NOT NULL REFERENCES customers(id),
    amount_cents INTEGER NOT NULL,
    method TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'processed', 'failed')),
    reason TEXT NOT NULL,
    failure_reason TEXT,
    created_at TEXT NOT NULL,
    expected_by TEXT NOT NULL,
    processed_at TEXT
);
CREATE INDEX IF NOT EXISTS refunds_by_order ON refunds(order_id);
CREATE TABLE IF NOT EXISTS returns (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders(id),
    customer_id TEXT NOT NULL REFERENCES customers(id),
    reason TEXT NOT NULL,
    skus TEXT NOT NULL,                -- JSON list
    status TEXT NOT NULL CHECK (status IN ('label_created', 'in_transit', 'received', 'refunded')),
    refund_method TEXT NOT NULL,
    refund_amount_cents INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS payments (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    order_id TEXT,
    description TEXT NOT NULL,
    amount_cents INTEGER NOT NULL,
    method TEXT NOT NULL,
    card_last4 TEXT,
    status TEXT NOT NULL CHECK (status IN ('succeeded', 'failed')),
    decline_code TEXT,
    decline_reason TEXT,
    attempted_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS payments_by_customer ON payments(customer_id);
CREATE TABLE IF NOT EXISTS payment_links (
    token TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cases (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders(id),
    customer_id TEXT NOT NULL REFERENCES customers(id),
    kind TEXT NOT NULL,
    description TEXT NOT NULL,
    resolution TEXT NOT NULL,
    skus TEXT NOT NULL,                -- JSON list
    status TEXT NOT NULL,
    replacement_order_id TEXT,
    refund_id TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tickets (
    id TEXT PRIMARY KEY,
    customer_id TEXT REFERENCES customers(id),
    category TEXT NOT NULL,
    subject TEXT NOT NULL,
    description TEXT NOT NULL,
    priority TEXT NOT NULL,
    status TEXT NOT NULL,
    channel TEXT,
    conversation_id TEXT,
    context TEXT NOT NULL,             -- JSON object
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    customer_id TEXT,
    to_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    data TEXT NOT NULL,                -- JSON object (codes, links) for tests and demos
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS service_status (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

# Tables in dependency order; also the order used when comparing two databases.
TABLES = (
    "meta", "products", "customers", "subscriptions", "orders", "order_items", "refunds",
    "returns", "payments", "payment_links", "cases", "tickets", "outbox", "service_status",
)


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def loads(text: str | None) -> Any:
    return json.loads(text) if text else None


class Database:
    """A SQLite file. Use ``read()`` for queries and ``write()`` for a transaction."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        conn = self._connect()
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: committed on success, rolled back on any exception."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    def is_seeded(self) -> bool:
        if not self.path.exists():
            return False
        with self.read() as conn:
            row = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'"
            ).fetchone()
            if row is None:
                return False
            return conn.execute("SELECT 1 FROM meta WHERE key='seeded_at'").fetchone() is not None

    def create_schema(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._connect()
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(SCHEMA)
        finally:
            conn.close()


def dump_tables(conn: sqlite3.Connection) -> dict[str, list[tuple]]:
    """Every row of every table, in a stable order (used to compare two seeded databases)."""
    result: dict[str, list[tuple]] = {}
    for table in TABLES:
        # rowid order is insertion order, which a deterministic seeder reproduces exactly.
        rows = conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()  # noqa: S608
        result[table] = [tuple(r) for r in rows]
    return result
