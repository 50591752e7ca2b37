"""Brightcart's product catalogue and membership plans.

These facts are also stated in the knowledge base (knowledge/); keep the two consistent.
Money is held in integer cents everywhere inside the backend.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    category: str
    price_cents: int
    on_sale: bool


# (sku, name, category, price in cents, on sale / clearance)
PRODUCTS: tuple[Product, ...] = tuple(
    Product(*row)
    for row in (
        ("ELE-101", "Aurora Wireless Headphones", "electronics", 12999, False),
        ("ELE-102", "Pulse Bluetooth Speaker", "electronics", 5999, False),
        ("ELE-103", "VoltGo 20,000 mAh Power Bank", "electronics", 3999, True),
        ("ELE-104", "ClearView 1080p Webcam", "electronics", 6999, False),
        ("ELE-105", "Tempo Fitness Tracker", "electronics", 7999, True),
        ("HOM-201", "Linen Blend Throw Blanket", "home", 4999, False),
        ("HOM-202", "Cedar & Sage Soy Candle", "home", 2499, False),
        ("HOM-203", "Woven Storage Basket Set", "home", 3999, True),
        ("HOM-204", "Lumen LED Desk Lamp", "home", 4599, False),
        ("HOM-205", "Cotton Percale Sheet Set (Queen)", "home", 8999, False),
        ("KIT-301", "Brightcart Pour-Over Coffee Maker", "kitchen", 3499, False),
        ("KIT-302", "Cast Iron Skillet 10\"", "kitchen", 3999, False),
        ("KIT-303", "Chef's Knife 8\"", "kitchen", 7499, False),
        ("KIT-304", "Glass Meal Prep Containers (10 pack)", "kitchen", 2999, True),
        ("KIT-305", "Electric Gooseneck Kettle", "kitchen", 6999, False),
        ("APP-401", "Everyday Merino Crew Sweater", "apparel", 8900, False),
        ("APP-402", "Trailblazer Rain Jacket", "apparel", 11900, False),
        ("APP-403", "Organic Cotton Tee (3 pack)", "apparel", 3600, True),
        ("APP-404", "Cloudstep Running Shoes", "apparel", 9900, False),
        ("APP-405", "Wool Blend Beanie", "apparel", 2200, True),
        ("OUT-501", "Summit 28L Daypack", "outdoors", 7900, False),
        ("OUT-502", "Insulated Steel Water Bottle 750 ml", "outdoors", 2800, False),
        ("OUT-503", "Two-Person Camping Tent", "outdoors", 18900, False),
        ("OUT-504", "Folding Camp Chair", "outdoors", 4500, True),
        ("OUT-505", "Headlamp 400 Lumen", "outdoors", 2400, False),
        ("BEA-601", "Daily Hydrating Face Cream", "beauty", 2800, False),
        ("BEA-602", "Vitamin C Serum", "beauty", 3400, False),
        ("BEA-603", "Bamboo Hairbrush", "beauty", 1600, True),
        ("BEA-604", "Mineral Sunscreen SPF 50", "beauty", 1900, False),
        ("BEA-605", "Lavender Bath Salts", "beauty", 1500, False),
        ("TOY-701", "Wooden Building Blocks (60 pieces)", "toys", 3900, False),
        ("TOY-702", "Remote Control Stunt Car", "toys", 4900, True),
        ("TOY-703", "1000-Piece Puzzle: Coastal Towns", "toys", 2200, False),
        ("TOY-704", "Plush Fox", "toys", 1800, False),
        ("TOY-705", "Family Strategy Board Game", "toys", 3900, False),
        ("BOO-801", "The Quiet Kitchen (cookbook)", "books", 3200, False),
        ("BOO-802", "Trails of the Pacific Northwest", "books", 2800, False),
        ("BOO-803", "Notebook Set, Dotted (3 pack)", "books", 1400, True),
        ("BOO-804", "Learn Watercolor in 30 Days", "books", 2400, False),
        ("BOO-805", "Starlight Bedtime Stories", "books", 1900, False),
    )
)

PRODUCTS_BY_SKU: dict[str, Product] = {p.sku: p for p in PRODUCTS}


@dataclass(frozen=True)
class Plan:
    code: str
    name: str
    price_cents: int  # per month
    return_window_days: int
    free_standard_shipping: bool
    free_express_shipping: bool
    early_access_days: int
    priority_support: bool
    benefits: tuple[str, ...]


PLANS: dict[str, Plan] = {
    "free": Plan(
        code="free",
        name="Brightcart Free",
        price_cents=0,
        return_window_days=30,
        free_standard_shipping=False,
        free_express_shipping=False,
        early_access_days=0,
        priority_support=False,
        benefits=(
            "30-day returns",
            "Standard shipping $5.99, free on orders over $50",
        ),
    ),
    "plus": Plan(
        code="plus",
        name="Brightcart Plus",
        price_cents=999,
        return_window_days=30,
        free_standard_shipping=True,
        free_express_shipping=False,
        early_access_days=2,
        priority_support=False,
        benefits=(
            "Free standard shipping on every order",
            "Early access to sales (2 days early)",
        ),
    ),
    "premium": Plan(
        code="premium",
        name="Brightcart Premium",
        price_cents=1999,
        return_window_days=60,
        free_standard_shipping=True,
        free_express_shipping=True,
        early_access_days=2,
        priority_support=True,
        benefits=(
            "Free express shipping on every order",
            "60-day return window",
            "Priority support",
            "Early access to sales (2 days early)",
        ),
    ),
}

PLAN_ORDER = ("free", "plus", "premium")
