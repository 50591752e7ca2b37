"""Small helpers that turn backend records into sentences a customer reads."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Mapping


def money(amount: Any, currency: str = "USD") -> str:
    """$12.50 style amounts; other currencies keep their code."""
    try:
        value = float(amount)
    except (TypeError, ValueError):
        return str(amount)
    symbol = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$"}.get(currency, "")
    return f"{symbol}{value:,.2f}" if symbol else f"{value:,.2f} {currency}"


def day(value: Any) -> str:
    """'Tuesday 24 November' from an ISO date or datetime string."""
    if not value:
        return ""
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(str(value)[:10]), datetime.min.time())
        except ValueError:
            return str(value)
    return parsed.strftime("%A %-d %B")


def item_summary(order: Mapping[str, Any], limit: int = 3) -> str:
    """'Wireless Earbuds and 2 × Yoga Mat' for an order's items."""
    items = order.get("items") or []
    parts = []
    for item in items[:limit]:
        qty = item.get("qty") or item.get("quantity") or 1
        name = item.get("name") or item.get("sku") or "item"
        parts.append(f"{qty} × {name}" if qty and int(qty) > 1 else str(name))
    if len(items) > limit:
        parts.append(f"{len(items) - limit} more")
    if not parts:
        return "your items"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
