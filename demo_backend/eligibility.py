"""Return eligibility for an order: which items can still go back, and until when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Sequence

from . import policies
from .dates import parse_date


@dataclass(frozen=True)
class ItemWindow:
    sku: str
    name: str
    on_sale: bool
    window_days: int
    deadline: date
    eligible: bool


_NOT_DELIVERED = {
    "processing": "Order {id} hasn't shipped yet, so there is nothing to return; it can be "
                  "cancelled instead.",
    "shipped": "Order {id} is still on its way; it can be returned once it has been delivered.",
    "delayed": "Order {id} is still on its way; it can be returned once it has been delivered.",
    "cancelled": "Order {id} was cancelled, so there is nothing to return.",
}


def assess(
    order: Any, items: Sequence[Any], plan: str, today: date, existing_return: str | None
) -> dict[str, Any]:
    """The eligibility document for ``order`` (a row with id, status, delivered_at).

    The window runs from the delivery date: 30 days (60 on Premium), and 14 days for sale or
    clearance items. The order is eligible while at least one item is inside its window."""
    order_id = order["id"]
    base = {"order_id": order_id, "plan": plan, "delivered_at": order["delivered_at"],
            "refund_method": order["payment_method"],
            "refund_timing": policies.refund_timing(order["payment_method"])}
    if existing_return or order["status"] == "returned":
        return {**base, "eligible": False, "reason_code": "already_returned",
                "reason": f"A return ({existing_return or 'completed'}) already exists for order "
                          f"{order_id}.",
                "window_days": None, "deadline": None, "items": [], "return_id": existing_return}
    if order["status"] != "delivered":
        return {**base, "eligible": False, "reason_code": "not_delivered",
                "reason": _NOT_DELIVERED[order["status"]].format(id=order_id),
                "window_days": None, "deadline": None, "items": []}

    windows = item_windows(order, items, plan, today)
    eligible = [w for w in windows if w.eligible]
    # Report the longest window: that is when the order stops being returnable at all.
    widest = max(windows, key=lambda w: w.window_days)
    delivered = order["delivered_at"]
    if eligible:
        code = "within_window"
        reason = (f"Order {order_id} was delivered on {delivered}; it can be returned until "
                  f"{widest.deadline.isoformat()} ({widest.window_days}-day window).")
        if len(eligible) < len(windows):
            code = "partially_eligible"
            reason += " Sale items have a 14-day window and some of them can no longer be returned."
    else:
        code = "outside_window"
        reason = (f"Order {order_id} was delivered on {delivered}, and its {widest.window_days}-"
                  f"day return window closed on {widest.deadline.isoformat()}.")
    return {**base, "eligible": bool(eligible), "reason_code": code, "reason": reason,
            "window_days": widest.window_days, "deadline": widest.deadline.isoformat(),
            "items": [_item_dict(w) for w in windows]}


def item_windows(order: Any, items: Sequence[Any], plan: str, today: date) -> list[ItemWindow]:
    delivered = parse_date(order["delivered_at"])
    assert delivered is not None, "delivered orders always have delivered_at"
    result = []
    for item in items:
        on_sale = bool(item["on_sale"])
        days = policies.item_return_window_days(plan, on_sale)
        deadline = policies.return_deadline(delivered, days)
        result.append(ItemWindow(item["sku"], item["name"], on_sale, days, deadline,
                                 today <= deadline))
    return result


def _item_dict(w: ItemWindow) -> dict[str, Any]:
    return {"sku": w.sku, "name": w.name, "on_sale": w.on_sale, "window_days": w.window_days,
            "deadline": w.deadline.isoformat(), "eligible": w.eligible}
