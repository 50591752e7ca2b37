"""Deterministic seeding of a fresh database.

Everything is derived from the fixed seed and the reference "today", never from the wall clock,
so two fresh databases are identical row for row. The well-known fixtures (fixtures.py) are
inserted first, then generated customers (C0005...) and orders (BC-200001...).
"""

from __future__ import annotations

import random
import sqlite3
from datetime import date, timedelta
from typing import Any, Sequence

from . import policies
from .catalog import PRODUCTS, PRODUCTS_BY_SKU
from .config import SEED
from .dates import add_business_days, add_months, at
from .db import Database, dumps
from .fixtures import add_well_known_fixtures
from .ids import IdSequence
from .status import seeded_status

SCHEMA_VERSION = "1"

DECLINES: dict[str, str] = {
    "insufficient_funds": "The card was declined because the account has insufficient funds.",
    "expired_card": "The card has expired.",
    "do_not_honor": "The card issuer declined the payment without giving a reason (do not honor).",
    "incorrect_cvc": "The card's security code (CVC) was incorrect.",
    "processing_error": "A processing error occurred at the card network; the charge may be retried.",
    "address_mismatch": "The billing address did not match the address on file with the card issuer.",
}

CARRIER_TRACKING_FORMATS = ("UPS", "FedEx", "USPS", "DHL")


def tracking_number(rng: random.Random, carrier: str) -> str:
    """A realistic-looking tracking number for ``carrier``."""
    digits = lambda n: "".join(rng.choice("0123456789") for _ in range(n))  # noqa: E731
    if carrier == "UPS":
        letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTVWXYZ0123456789") for _ in range(6))
        return f"1Z{letters}03{digits(8)}"
    if carrier == "FedEx":
        return digits(12)
    if carrier == "USPS":
        return "9400" + digits(18)
    return digits(10)  # DHL


class Seeder:
    """Inserts consistent records: order totals follow the customer's plan, refunds follow the
    payment method's timing, and every order has its successful payment."""

    def __init__(self, conn: sqlite3.Connection, today: date, rng: random.Random) -> None:
        self.conn = conn
        self.today = today
        self.rng = rng
        self.refund_ids = IdSequence("refund")
        self.return_ids = IdSequence("return")
        self.case_ids = IdSequence("case")
        self.ticket_ids = IdSequence("ticket")
        self.payment_ids = IdSequence("payment")
        self._plans: dict[str, str] = {}
        self._card_last4: dict[str, str] = {}

    def day(self, offset: int) -> date:
        """Reference today plus ``offset`` days (negative = in the past)."""
        return self.today + timedelta(days=offset)

    # -- customers -------------------------------------------------------------------------
    def customer(
        self,
        *,
        id: str,
        name: str,
        email: str,
        phone: str,
        tier: str,
        address: dict[str, str],
        created: date,
        plan: str,
        state: str = "active",
        lock_reason: str | None = None,
        locked_at: str | None = None,
        subscription_status: str = "active",
        subscription_started: date | None = None,
        renews_at: date | None = None,
        card_last4: str = "4242",
    ) -> None:
        self.conn.execute(
            "INSERT INTO customers (id, name, email, phone, tier, account_state, lock_reason,"
            " locked_at, address, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (id, name, email, phone, tier, state, lock_reason, locked_at, dumps(address),
             at(created, 10, 30)),
        )
        started = subscription_started or created
        if plan == "free":
            renews_at = None
        elif renews_at is None:
            # The next monthly anniversary of the start date after today.
            renews_at = started
            while renews_at <= self.today:
                renews_at = add_months(renews_at, 1)
        self.conn.execute(
            "INSERT INTO subscriptions (customer_id, plan, status, started_at, renews_at,"
            " cancelled_at) VALUES (?, ?, ?, ?, ?, ?)",
            (id, plan, subscription_status, started.isoformat(),
             renews_at.isoformat() if renews_at else None,
             at(self.day(-3), 18, 5) if subscription_status == "cancelled" else None),
        )
        self._plans[id] = plan
        self._card_last4[id] = card_last4

    # -- orders ----------------------------------------------------------------------------
    def order(
        self,
        *,
        id: str,
        customer_id: str,
        status: str,
        items: Sequence[tuple[str, int]],
        payment_method: str,
        placed: date,
        address: dict[str, str],
        carrier: str | None = None,
        tracking: str | None = None,
        shipped: date | None = None,
        eta: date | None = None,
        original_eta: date | None = None,
        delay_reason: str | None = None,
        delivered: date | None = None,
        cancelled: date | None = None,
        returned: date | None = None,
        placed_hour: int = 9,
    ) -> int:
        """Insert an order with its lines and its successful payment; returns the total."""
        plan = self._plans[customer_id]
        subtotal = sum(PRODUCTS_BY_SKU[sku].price_cents * qty for sku, qty in items)
        method = policies.default_shipping_method(plan)
        shipping = policies.shipping_cents(plan, subtotal, method)
        tax = policies.tax_cents(subtotal)
        total = subtotal + shipping + tax
        d = lambda v: v.isoformat() if v else None  # noqa: E731
        self.conn.execute(
            "INSERT INTO orders (id, customer_id, status, placed_at, subtotal_cents,"
            " shipping_cents, tax_cents, total_cents, currency, shipping_method,"
            " shipping_address, payment_method, carrier, tracking_number, shipped_at,"
            " original_eta, eta, delay_reason, delivered_at, cancelled_at, returned_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'USD', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (id, customer_id, status, at(placed, placed_hour, 14), subtotal, shipping, tax,
             total, method, dumps(address), payment_method, carrier, tracking, d(shipped),
             d(original_eta), d(eta), delay_reason, d(delivered), d(cancelled), d(returned)),
        )
        for line, (sku, qty) in enumerate(items, start=1):
            product = PRODUCTS_BY_SKU[sku]
            self.conn.execute(
                "INSERT INTO order_items (order_id, line, sku, name, quantity,"
                " unit_price_cents, on_sale) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (id, line, sku, product.name, qty, product.price_cents, int(product.on_sale)),
            )
        self.payment(
            customer_id=customer_id, order_id=id, description=f"Order {id}", amount=total,
            method=payment_method, when=at(placed, placed_hour, 14),
        )
        return total

    def order_total(self, order_id: str) -> tuple[int, str, str]:
        row = self.conn.execute(
            "SELECT total_cents, payment_method, customer_id FROM orders WHERE id = ?", (order_id,)
        ).fetchone()
        return row[0], row[1], row[2]

    def returnable_amount(self, order_id: str) -> int:
        """What a full return refunds: items and their tax; shipping is not refunded."""
        return self.conn.execute(
            "SELECT subtotal_cents + tax_cents FROM orders WHERE id = ?", (order_id,)
        ).fetchone()[0]

    # -- money -----------------------------------------------------------------------------
    def payment(
        self,
        *,
        customer_id: str,
        order_id: str | None,
        description: str,
        amount: int,
        method: str,
        when: str,
        decline_code: str | None = None,
        card_last4: str | None = None,
    ) -> str:
        pid = self.payment_ids.take()
        last4 = None
        if method in policies.CARD_METHODS:
            last4 = card_last4 or self._card_last4[customer_id]
        self.conn.execute(
            "INSERT INTO payments (id, customer_id, order_id, description, amount_cents, method,"
            " card_last4, status, decline_code, decline_reason, attempted_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (pid, customer_id, order_id, description, amount, method, last4,
             "failed" if decline_code else "succeeded", decline_code,
             DECLINES[decline_code] if decline_code else None, when),
        )
        return pid

    def refund(
        self,
        *,
        order_id: str,
        status: str,
        created: date,
        reason: str,
        processed: date | None = None,
        amount: int | None = None,
        failure_reason: str | None = None,
    ) -> str:
        total, method, customer_id = self.order_total(order_id)
        rid = self.refund_ids.take()
        self.conn.execute(
            "INSERT INTO refunds (id, order_id, customer_id, amount_cents, method, status, reason,"
            " failure_reason, created_at, expected_by, processed_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (rid, order_id, customer_id, total if amount is None else amount, method, status,
             reason, failure_reason, at(created, 15),
             policies.refund_expected_by(method, created).isoformat(),
             at(processed, 11) if processed else None),
        )
        return rid

    def return_(self, *, order_id: str, reason: str, status: str, created: date) -> str:
        total, method, customer_id = self.order_total(order_id)
        skus = [r[0] for r in self.conn.execute(
            "SELECT sku FROM order_items WHERE order_id = ? ORDER BY line", (order_id,))]
        rid = self.return_ids.take()
        self.conn.execute(
            "INSERT INTO returns (id, order_id, customer_id, reason, skus, status, refund_method,"
            " refund_amount_cents, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (rid, order_id, customer_id, reason, dumps(skus), status, method,
             self.returnable_amount(order_id),
             at(created, 16, 40)),
        )
        return rid

    # -- support ---------------------------------------------------------------------------
    def ticket(self, *, customer_id: str | None, category: str, subject: str, description: str,
               priority: str, status: str, channel: str, created: date) -> str:
        tid = self.ticket_ids.take()
        self.conn.execute(
            "INSERT INTO tickets (id, customer_id, category, subject, description, priority,"
            " status, channel, conversation_id, context, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, '{}', ?)",
            (tid, customer_id, category, subject, description, priority, status, channel,
             at(created, 14, 20)),
        )
        return tid

    def case(self, *, order_id: str, kind: str, description: str, resolution: str,
             status: str, created: date) -> str:
        _, _, customer_id = self.order_total(order_id)
        cid = self.case_ids.take()
        self.conn.execute(
            "INSERT INTO cases (id, order_id, customer_id, kind, description, resolution, skus,"
            " status, created_at) VALUES (?, ?, ?, ?, ?, ?, '[]', ?, ?)",
            (cid, order_id, customer_id, kind, description, resolution, status,
             at(created, 13, 5)),
        )
        return cid


# ----------------------------------------------------------------------------------------
# Generated data
# ----------------------------------------------------------------------------------------

FIRST_NAMES = (
    "Ava", "Liam", "Sofia", "Noah", "Maya", "Ethan", "Chloe", "Lucas", "Priya", "Mateo",
    "Grace", "Daniel", "Aisha", "Samuel", "Nora", "Hiroshi", "Elena", "Kwame", "Isla", "Diego",
    "Hannah", "Tariq", "Mei", "Oliver", "Zara", "Jonas", "Fatima", "Leo", "Ingrid", "Rafael",
)
LAST_NAMES = (
    "Nguyen", "Patel", "Garcia", "Kim", "Okafor", "Johansson", "Rossi", "Silva", "Cohen",
    "Murphy", "Tanaka", "Schmidt", "Dubois", "Novak", "Mendes", "Clarke", "Bauer", "Ortiz",
    "Larsen", "Adeyemi", "Brooks", "Kowalski", "Moreau", "Reyes", "Walsh", "Yilmaz",
)
STREETS = (
    "Maple Avenue", "Oak Street", "Harbor Road", "Pine Lane", "Elm Court", "Sunset Boulevard",
    "River Drive", "Hillcrest Way", "Cedar Street", "Lakeview Terrace", "Mill Road", "Park Place",
)
CITIES = (
    ("Portland", "OR", "97205"), ("Austin", "TX", "78701"), ("Denver", "CO", "80202"),
    ("Columbus", "OH", "43215"), ("Raleigh", "NC", "27601"), ("Madison", "WI", "53703"),
    ("Tucson", "AZ", "85701"), ("Burlington", "VT", "05401"), ("Boise", "ID", "83702"),
    ("Richmond", "VA", "23219"), ("Albany", "NY", "12207"), ("Sacramento", "CA", "95814"),
)
DELAY_REASONS = ("weather", "carrier_backlog", "address_verification", "customs_inspection")
RETURN_REASONS = ("doesn't fit", "changed my mind", "arrived too late", "not as described",
                  "better price elsewhere")
TICKET_TOPICS = (
    ("order_status", "Where is my order?", "My tracking hasn't updated in a few days."),
    ("returns", "Return label not received", "I requested a return but never got the label."),
    ("billing", "Charged twice", "I see two charges for the same order on my statement."),
    ("account", "Can't log in", "The password reset email never arrives."),
    ("shipping", "Change delivery date", "Can the parcel be held until next week?"),
    ("product_question", "Product sizing", "Does the jacket run small?"),
    ("refunds", "Refund not received", "My refund was approved but I haven't seen it yet."),
)


def _weighted(rng: random.Random, options: Sequence[tuple[Any, float]]) -> Any:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options], k=1)[0]


def _generate_customers(s: Seeder, count: int, first_number: int) -> list[tuple[str, dict]]:
    rng = s.rng
    used_emails = {r[0] for r in s.conn.execute("SELECT lower(email) FROM customers")}
    customers: list[tuple[str, dict]] = []
    for i in range(count):
        cid = f"C{first_number + i:04d}"
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first}.{last}@example.com".lower()
        if email in used_emails:
            email = f"{first}.{last}{first_number + i}@example.com".lower()
        used_emails.add(email)
        city, region, postcode = rng.choice(CITIES)
        address = {
            "line1": f"{rng.randint(10, 9899)} {rng.choice(STREETS)}",
            "line2": None,
            "city": city,
            "region": region,
            "postcode": postcode,
            "country": "US",
        }
        locked = rng.random() < 0.08
        lock_reason = None
        if locked:
            lock_reason = rng.choice(("too_many_failed_logins", "too_many_failed_logins",
                                      "suspected_fraud"))
        plan = _weighted(rng, (("free", 0.5), ("plus", 0.3), ("premium", 0.2)))
        sub_status = "cancelled" if plan != "free" and rng.random() < 0.12 else "active"
        created = s.day(-rng.randint(30, 1500))
        s.customer(
            id=cid,
            name=f"{first} {last}",
            email=email,
            phone=f"+1555555{200 + i:04d}",
            tier="vip" if rng.random() < 0.15 else "standard",
            address=address,
            created=created,
            plan=plan,
            state="locked" if locked else "active",
            lock_reason=lock_reason,
            locked_at=at(s.day(-rng.randint(0, 5)), 7, 45) if locked else None,
            subscription_status=sub_status,
            subscription_started=created + timedelta(days=rng.randint(0, 20)),
            card_last4=f"{rng.randint(1000, 9999)}",
        )
        customers.append((cid, address))
    return customers


def _generate_orders(s: Seeder, customers: list[tuple[str, dict]], count: int) -> list[str]:
    rng = s.rng
    delivered_ids: list[str] = []
    statuses = (("delivered", 0.45), ("shipped", 0.14), ("processing", 0.1), ("delayed", 0.07),
                ("cancelled", 0.11), ("returned", 0.13))
    methods = (("visa", 0.35), ("mastercard", 0.25), ("amex", 0.1), ("paypal", 0.2),
               ("gift_card", 0.1))
    for n in range(count):
        oid = f"BC-{200001 + n}"
        # Round-robin first so every generated customer has at least one order.
        cid, address = customers[n] if n < len(customers) else rng.choice(customers)
        status = _weighted(rng, statuses)
        method = _weighted(rng, methods)
        skus = rng.sample([p.sku for p in PRODUCTS], k=rng.randint(1, 4))
        items = [(sku, 2 if rng.random() < 0.1 else 1) for sku in skus]
        carrier = rng.choice(CARRIER_TRACKING_FORMATS)
        fields: dict[str, Any] = {}
        if status == "processing":
            placed = s.day(-rng.randint(0, 2))
        elif status == "shipped":
            placed = s.day(-rng.randint(1, 6))
            fields = dict(shipped=placed + timedelta(days=1), eta=s.day(rng.randint(1, 5)))
        elif status == "delayed":
            placed = s.day(-rng.randint(5, 12))
            fields = dict(shipped=placed + timedelta(days=1), original_eta=s.day(rng.randint(-2, 0)),
                          eta=s.day(rng.randint(2, 7)), delay_reason=rng.choice(DELAY_REASONS))
        elif status == "cancelled":
            placed = s.day(-rng.randint(1, 90))
            fields = dict(cancelled=placed + timedelta(days=rng.randint(0, 1)))
        else:  # delivered, returned
            placed = s.day(-rng.randint(8, 200))
            delivered = min(placed + timedelta(days=rng.randint(2, 6)), s.day(-1))
            fields = dict(shipped=placed + timedelta(days=1), delivered=delivered)
            if status == "returned":
                fields["returned"] = min(delivered + timedelta(days=rng.randint(3, 12)), s.day(0))
        if status in ("shipped", "delayed", "delivered", "returned"):
            fields.update(carrier=carrier, tracking=tracking_number(rng, carrier))
        s.order(id=oid, customer_id=cid, status=status, items=items, payment_method=method,
                placed=placed, address=address, placed_hour=rng.randint(7, 22), **fields)

        if status == "cancelled":
            _refund_for(s, oid, method, fields["cancelled"], "order cancelled")
        elif status == "returned":
            returned = fields["returned"]
            received_long_ago = (s.today - returned).days > 7
            s.return_(order_id=oid, reason=rng.choice(RETURN_REASONS),
                      status="refunded" if received_long_ago else "received",
                      created=fields["delivered"] + timedelta(days=1))
            _refund_for(s, oid, method, returned, "return received",
                        amount=s.returnable_amount(oid))
        elif status == "delivered":
            delivered_ids.append(oid)
    return delivered_ids


def _refund_for(s: Seeder, order_id: str, method: str, created: date, reason: str,
                amount: int | None = None) -> None:
    """Refund state follows the payment method's timing; a few card refunds failed."""
    expected = policies.refund_expected_by(method, created)
    if policies.refund_is_instant(method) or expected < s.today:
        if method in policies.CARD_METHODS and s.rng.random() < 0.06:
            s.refund(order_id=order_id, status="failed", created=created, reason=reason,
                     amount=amount, failure_reason="The card was closed; the bank returned the refund.")
        else:
            s.refund(order_id=order_id, status="processed", created=created, reason=reason,
                     amount=amount, processed=min(add_business_days(created, 3), expected)
                     if not policies.refund_is_instant(method) else created)
    else:
        s.refund(order_id=order_id, status="pending", created=created, reason=reason,
                 amount=amount)


def _generate_failed_payments(s: Seeder, customers: list[tuple[str, dict]]) -> None:
    rng = s.rng
    for cid, _ in rng.sample(customers, k=14):
        for _ in range(rng.randint(1, 2)):
            code = rng.choice(sorted(DECLINES))
            when = s.day(-rng.randint(0, 20))
            s.payment(customer_id=cid, order_id=None, description="Checkout attempt (order not placed)",
                      amount=rng.randint(1500, 25000), method=rng.choice(policies.CARD_METHODS),
                      when=at(when, rng.randint(8, 21), rng.randint(0, 59)), decline_code=code)


def _generate_support(s: Seeder, customers: list[tuple[str, dict]], delivered: list[str]) -> None:
    rng = s.rng
    for _ in range(30):
        cid, _ = rng.choice(customers)
        category, subject, description = rng.choice(TICKET_TOPICS)
        s.ticket(customer_id=cid, category=category, subject=subject, description=description,
                 priority=_weighted(rng, (("low", .2), ("normal", .6), ("high", .15), ("urgent", .05))),
                 status=rng.choice(("open", "pending", "solved", "solved")),
                 channel=rng.choice(("email", "web", "sms", "voice")),
                 created=s.day(-rng.randint(0, 60)))
    for oid in rng.sample(delivered, k=8):
        kind = rng.choice(("damaged", "wrong_item", "missing_item"))
        s.case(order_id=oid, kind=kind, description=f"Customer reported a {kind.replace('_', ' ')}.",
               resolution=rng.choice(("replacement", "refund")),
               status=rng.choice(("open", "resolved")), created=s.day(-rng.randint(0, 30)))


def seed(conn: sqlite3.Connection, today: date, seed_value: int = SEED) -> None:
    """Fill an empty schema. Call inside one transaction."""
    rng = random.Random(seed_value)
    s = Seeder(conn, today, rng)
    for p in PRODUCTS:
        conn.execute(
            "INSERT INTO products (sku, name, category, price_cents, on_sale) VALUES (?, ?, ?, ?, ?)",
            (p.sku, p.name, p.category, p.price_cents, int(p.on_sale)),
        )
    add_well_known_fixtures(s)
    customers = _generate_customers(s, count=60, first_number=5)
    delivered = _generate_orders(s, customers, count=220)
    _generate_failed_payments(s, customers)
    _generate_support(s, customers, delivered)
    conn.execute("INSERT INTO service_status (id, doc) VALUES (1, ?)", (dumps(seeded_status(today)),))
    for key, value in (("schema_version", SCHEMA_VERSION), ("seed", str(seed_value)),
                       ("today", today.isoformat()), ("seeded_at", at(today, 0))):
        conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))


def ensure_database(db: Database, today: date, seed_value: int = SEED) -> bool:
    """Create and seed the database file unless it is already seeded. True if it seeded."""
    if db.is_seeded():
        return False
    db.create_schema()
    with db.write() as conn:
        seed(conn, today, seed_value)
    return True

