"""Brightcart's commercial rules as pure functions: shipping, tax, return windows, refund timing.

Kept apart from the HTTP layer so the seeder and the routes apply exactly the same rules.
"""

from __future__ import annotations

from datetime import date, timedelta

from .catalog import PLANS
from .dates import add_business_days

STANDARD_SHIPPING_CENTS = 599
EXPRESS_SHIPPING_CENTS = 1299
FREE_STANDARD_SHIPPING_OVER_CENTS = 5000
TAX_RATE_BASIS_POINTS = 800  # flat 8% demo sales tax
SALE_RETURN_WINDOW_DAYS = 14

CARD_METHODS = ("visa", "mastercard", "amex")

# method -> (min business days, max business days, human wording)
_REFUND_TIMING: dict[str, tuple[int, int, str]] = {
    "card": (5, 10, "5-10 business days"),
    "paypal": (3, 5, "3-5 business days"),
    "gift_card": (0, 0, "instantly, as store credit"),
}

_METHOD_LABELS = {
    "visa": "Visa card",
    "mastercard": "Mastercard",
    "amex": "American Express card",
    "paypal": "PayPal",
    "gift_card": "gift card / store credit",
}


def shipping_cents(plan: str, subtotal_cents: int, method: str) -> int:
    """Shipping charged for an order of ``subtotal_cents`` by a member of ``plan``."""
    rules = PLANS[plan]
    if method == "express":
        return 0 if rules.free_express_shipping else EXPRESS_SHIPPING_CENTS
    if rules.free_standard_shipping or subtotal_cents >= FREE_STANDARD_SHIPPING_OVER_CENTS:
        return 0
    return STANDARD_SHIPPING_CENTS


def tax_cents(subtotal_cents: int) -> int:
    # Round half up on whole cents.
    return (subtotal_cents * TAX_RATE_BASIS_POINTS + 5000) // 10000


def default_shipping_method(plan: str) -> str:
    return "express" if PLANS[plan].free_express_shipping else "standard"


def item_return_window_days(plan: str, on_sale: bool) -> int:
    """Sale/clearance items: 14 days for everyone; otherwise 30 days, or 60 on Premium."""
    return SALE_RETURN_WINDOW_DAYS if on_sale else PLANS[plan].return_window_days


def return_deadline(delivered: date, window_days: int) -> date:
    return delivered + timedelta(days=window_days)


def refund_kind(payment_method: str) -> str:
    """Which refund rail a payment method uses: card, paypal or gift_card."""
    return "card" if payment_method in CARD_METHODS else payment_method


def refund_timing(payment_method: str) -> str:
    return _REFUND_TIMING[refund_kind(payment_method)][2]


def refund_expected_by(payment_method: str, created: date) -> date:
    """Latest date the customer should see the money, counted in business days."""
    return add_business_days(created, _REFUND_TIMING[refund_kind(payment_method)][1])


def refund_is_instant(payment_method: str) -> bool:
    return refund_kind(payment_method) == "gift_card"


def payment_method_label(payment_method: str) -> str:
    return _METHOD_LABELS.get(payment_method, payment_method)
