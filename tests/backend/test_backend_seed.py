"""The seeded database: deterministic, big enough, and consistent with the fixtures."""

from __future__ import annotations

import re
import sqlite3
from datetime import date
from pathlib import Path

import httpx

from demo_backend.db import Database, dump_tables
from demo_backend.seed import ensure_database

TODAY = date(2026, 11, 20)


def seeded(path: Path, today: date = TODAY) -> dict:
    db = Database(path)
    assert ensure_database(db, today) is True
    with db.read() as conn:
        return dump_tables(conn)


def test_two_fresh_databases_are_identical(tmp_path: Path) -> None:
    first = seeded(tmp_path / "a.sqlite3")
    second = seeded(tmp_path / "b.sqlite3")
    assert first == second
    assert seeded(tmp_path / "c.sqlite3", date(2027, 1, 5)) != first  # dates follow BACKEND_TODAY


def test_seeding_only_happens_once(tmp_path: Path) -> None:
    db = Database(tmp_path / "x" / "nested" / "db.sqlite3")  # parent directories are created
    assert ensure_database(db, TODAY) is True
    with db.write() as conn:
        conn.execute("UPDATE customers SET name = 'Changed' WHERE id = 'C0001'")
    assert ensure_database(db, TODAY) is False
    with db.read() as conn:
        assert conn.execute("SELECT name FROM customers WHERE id = 'C0001'").fetchone()[0] == "Changed"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_volume_and_shape(tmp_path: Path) -> None:
    tables = seeded(tmp_path / "db.sqlite3")
    assert len(tables["products"]) == 40
    assert len(tables["customers"]) >= 60
    assert len(tables["orders"]) >= 220
    conn = sqlite3.connect(tmp_path / "db.sqlite3")
    statuses = {s for (s,) in conn.execute("SELECT DISTINCT status FROM orders")}
    assert statuses == {"processing", "shipped", "delivered", "delayed", "cancelled", "returned"}
    ids = [i for (i,) in conn.execute("SELECT id FROM orders")]
    assert all(re.fullmatch(r"BC-\d{6}", i) for i in ids)
    generated = [int(i[3:]) for i in ids if not i.startswith("BC-1000")]
    assert generated and min(generated) >= 200000
    phones = [p for (p,) in conn.execute("SELECT phone FROM customers")]
    assert all(re.fullmatch(r"\+1555555\d{4}", p) for p in phones) and len(set(phones)) == len(phones)
    # Every order's total adds up and every order has its successful payment.
    assert conn.execute("SELECT count(*) FROM orders WHERE total_cents !="
                        " subtotal_cents + shipping_cents + tax_cents").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM payments p"
                        " WHERE p.order_id = o.id AND p.status = 'succeeded')").fetchone()[0] == 0
    declines = {c for (c,) in conn.execute("SELECT DISTINCT decline_code FROM payments"
                                           " WHERE status = 'failed'")}
    assert declines == {"insufficient_funds", "expired_card", "do_not_honor", "incorrect_cvc",
                        "processing_error", "address_mismatch"}
    assert {s for (s,) in conn.execute("SELECT DISTINCT status FROM refunds")} == {
        "pending", "processed", "failed"}
    assert conn.execute("SELECT count(*) FROM customers WHERE account_state = 'locked'").fetchone()[0] >= 2
    conn.close()


def test_two_fresh_backends_serve_the_same_data(backend, mutable_backend) -> None:
    # mutable_backend is fresh for this module and this test changes nothing.
    for path in ("/api/customers/C0042/orders", "/api/orders/BC-200150", "/api/tickets/T-10030",
                 "/api/customers/C0017/payments"):
        a = httpx.get(backend.url + path, headers=backend.headers()).json()
        b = httpx.get(mutable_backend.url + path, headers=mutable_backend.headers()).json()
        assert a == b, path
