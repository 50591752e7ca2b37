"""The well-known fixtures: customers and orders that tests across the project rely on.

Dates are offsets from the reference today so that the fixtures keep their meaning ("inside the
return window", "ETA in four days") whatever BACKEND_TODAY is. With the default today
(2026-11-20) they are exactly the dates listed in docs/backend_api.md. Change nothing here
without updating that document and telling the other test suites.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .dates import at

if TYPE_CHECKING:
    from .seed import Seeder

JANE_ADDRESS = {"line1": "12 Market Street", "line2": "Apt 4B", "city": "Springfield",
                "region": "IL", "postcode": "62701", "country": "US"}
OMAR_ADDRESS = {"line1": "88 Harbor View Road", "line2": None, "city": "Seattle",
                "region": "WA", "postcode": "98101", "country": "US"}
LENA_ADDRESS = {"line1": "5 Linden Court", "line2": None, "city": "Minneapolis",
                "region": "MN", "postcode": "55401", "country": "US"}
VICTOR_ADDRESS = {"line1": "400 Commerce Blvd", "line2": "Suite 12", "city": "Miami",
                  "region": "FL", "postcode": "33101", "country": "US"}


def add_well_known_fixtures(s: "Seeder") -> None:
    _jane(s)
    _omar(s)
    _lena(s)
    _victor(s)


def _jane(s: "Seeder") -> None:
    """C0001 Jane Doe: one order in every state, two recent declined payments."""
    s.customer(id="C0001", name="Jane Doe", email="jane.doe@example.com", phone="+15555550101",
               tier="standard", address=JANE_ADDRESS, created=s.day(-600), plan="plus",
               subscription_started=s.day(-260), renews_at=s.day(15), card_last4="4242")
    s.order(id="BC-100001", customer_id="C0001", status="processing", placed=s.day(-1),
            items=[("KIT-301", 1), ("BOO-801", 1)], payment_method="visa", address=JANE_ADDRESS)
    s.order(id="BC-100002", customer_id="C0001", status="shipped", placed=s.day(-4),
            items=[("ELE-102", 1)], payment_method="mastercard", address=JANE_ADDRESS,
            carrier="UPS", tracking="1Z999AA10123456784", shipped=s.day(-2), eta=s.day(4))
    s.order(id="BC-100003", customer_id="C0001", status="delivered", placed=s.day(-15),
            items=[("ELE-101", 1), ("HOM-202", 2)], payment_method="visa", address=JANE_ADDRESS,
            carrier="USPS", tracking="9400111899223197428490", shipped=s.day(-13),
            delivered=s.day(-10))
    s.order(id="BC-100004", customer_id="C0001", status="delayed", placed=s.day(-7),
            items=[("APP-402", 1)], payment_method="amex", address=JANE_ADDRESS,
            carrier="FedEx", tracking="771234567890", shipped=s.day(-5), original_eta=s.day(1),
            eta=s.day(7), delay_reason="weather")
    s.order(id="BC-100005", customer_id="C0001", status="cancelled", placed=s.day(-9),
            items=[("OUT-501", 1)], payment_method="visa", address=JANE_ADDRESS,
            cancelled=s.day(-8))
    s.refund(order_id="BC-100005", status="processed", created=s.day(-8), processed=s.day(-4),
             reason="order cancelled")
    s.order(id="BC-100006", customer_id="C0001", status="returned", placed=s.day(-35),
            items=[("APP-404", 1)], payment_method="paypal", address=JANE_ADDRESS,
            carrier="UPS", tracking="1Z999AA10123450016", shipped=s.day(-33),
            delivered=s.day(-30), returned=s.day(-3))
    s.return_(order_id="BC-100006", reason="doesn't fit", status="received", created=s.day(-12))
    s.refund(order_id="BC-100006", status="pending", created=s.day(-2), reason="return received",
             amount=s.returnable_amount("BC-100006"))
    s.order(id="BC-100007", customer_id="C0001", status="delivered", placed=s.day(-117),
            items=[("HOM-205", 1)], payment_method="visa", address=JANE_ADDRESS,
            carrier="DHL", tracking="4812093375", shipped=s.day(-115), delivered=s.day(-111))
    # A checkout she tried twice last week; both declines are on file.
    s.payment(customer_id="C0001", order_id=None, description="Checkout attempt (order not placed)",
              amount=6478, method="visa", card_last4="1881", when=at(s.day(-3), 19, 2),
              decline_code="expired_card")
    s.payment(customer_id="C0001", order_id=None, description="Checkout attempt (order not placed)",
              amount=6478, method="mastercard", card_last4="5454", when=at(s.day(-2), 8, 47),
              decline_code="insufficient_funds")


def _omar(s: "Seeder") -> None:
    """C0002 Omar Haddad: VIP on Premium (express shipping, 60-day returns)."""
    s.customer(id="C0002", name="Omar Haddad", email="omar.haddad@example.com",
               phone="+15555550102", tier="vip", address=OMAR_ADDRESS, created=s.day(-900),
               plan="premium", subscription_started=s.day(-400), renews_at=s.day(8),
               card_last4="3005")
    s.order(id="BC-100010", customer_id="C0002", status="shipped", placed=s.day(-2),
            items=[("ELE-104", 1), ("KIT-305", 1)], payment_method="amex", address=OMAR_ADDRESS,
            carrier="DHL", tracking="4812093410", shipped=s.day(-1), eta=s.day(1))
    s.order(id="BC-100011", customer_id="C0002", status="delivered", placed=s.day(-20),
            items=[("OUT-503", 1)], payment_method="paypal", address=OMAR_ADDRESS,
            carrier="FedEx", tracking="771234560011", shipped=s.day(-18), delivered=s.day(-15))


def _lena(s: "Seeder") -> None:
    """C0003 Lena Fischer: locked after too many failed logins (self-service unlock allowed)."""
    s.customer(id="C0003", name="Lena Fischer", email="lena.fischer@example.com",
               phone="+15555550103", tier="standard", address=LENA_ADDRESS, created=s.day(-300),
               plan="free", state="locked", lock_reason="too_many_failed_logins",
               locked_at=at(s.day(0), 8, 2), card_last4="7710")
    s.order(id="BC-100020", customer_id="C0003", status="delivered", placed=s.day(-12),
            items=[("BEA-601", 1), ("BEA-604", 1)], payment_method="visa", address=LENA_ADDRESS,
            carrier="USPS", tracking="9400111899223197420020", shipped=s.day(-10),
            delivered=s.day(-6))


def _victor(s: "Seeder") -> None:
    """C0004 Victor Stone: locked for suspected fraud; only a human specialist may unlock."""
    s.customer(id="C0004", name="Victor Stone", email="victor.stone@example.com",
               phone="+15555550104", tier="standard", address=VICTOR_ADDRESS, created=s.day(-3),
               plan="free", state="locked", lock_reason="suspected_fraud",
               locked_at=at(s.day(-1), 23, 40), card_last4="9921")
    s.order(id="BC-100030", customer_id="C0004", status="processing", placed=s.day(-1),
            items=[("ELE-101", 2), ("ELE-105", 1)], payment_method="mastercard",
            address=VICTOR_ADDRESS)
