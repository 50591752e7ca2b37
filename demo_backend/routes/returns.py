"""Returns (eligibility, creating a return with a label) and damaged / wrong-item cases."""

from __future__ import annotations

from sanic import Blueprint, Request

from .. import policies, repo, serializers, validation
from ..dates import iso_datetime
from ..db import dumps
from ..eligibility import assess, item_windows
from ..errors import bad_request, conflict
from ..ids import next_id
from ..web import body, clock, db, reply, settings

bp = Blueprint("returns", url_prefix="/api/orders")

CASE_KINDS = ("damaged", "wrong_item", "missing_item")
RESOLUTIONS = ("replacement", "refund")


def _context(conn, order_id: str):
    order = repo.order_row(conn, order_id)
    items = repo.order_items(conn, order_id)
    plan = repo.subscription_row(conn, order["customer_id"])["plan"]
    existing = conn.execute(
        "SELECT id FROM returns WHERE order_id = ? ORDER BY id DESC LIMIT 1", (order_id,)
    ).fetchone()
    return order, items, plan, existing["id"] if existing else None


@bp.get("/<order_id>/return-eligibility")
async def return_eligibility(request: Request, order_id: str):
    validation.order_id(order_id)
    with db(request).read() as conn:
        order, items, plan, existing = _context(conn, order_id)
    return reply(assess(order, items, plan, clock(request).today(), existing))


def _selected_items(order_id: str, items, skus: list[str] | None):
    if skus is None:
        return list(items)
    by_sku = {i["sku"]: i for i in items}
    unknown = [s for s in skus if s not in by_sku]
    if unknown:
        raise bad_request(f"Order {order_id} has no item with SKU {', '.join(unknown)}.",
                          code="invalid_field", field="skus")
    if not skus:
        raise bad_request("Field 'skus' must name at least one item.", code="invalid_field",
                          field="skus")
    return [by_sku[s] for s in skus]


@bp.post("/<order_id>/returns")
async def create_return(request: Request, order_id: str):
    """Start a return: checks the window, creates the return and its prepaid label."""
    validation.order_id(order_id)
    data = body(request)
    reason = validation.require_str(data, "reason", max_len=500)
    skus = validation.optional_str_list(data, "skus")
    today, now = clock(request).today(), iso_datetime(clock(request).now())
    public_url = settings(request).public_url
    with db(request).write() as conn:
        order, items, plan, existing = _context(conn, order_id)
        verdict = assess(order, items, plan, today, existing)
        if not verdict["eligible"]:
            raise conflict(verdict["reason_code"], verdict["reason"])
        chosen = _selected_items(order_id, items, skus)
        windows = {w.sku: w for w in item_windows(order, chosen, plan, today)}
        expired = [w for w in windows.values() if not w.eligible]
        if expired:
            raise conflict(
                "outside_window",
                "These items are past their return window: "
                + ", ".join(f"{w.name} (closed {w.deadline.isoformat()})" for w in expired) + ".",
            )
        items_cents = sum(i["unit_price_cents"] * i["quantity"] for i in chosen)
        # Items and their tax are refunded; the original shipping charge is not.
        refund_cents = items_cents + policies.tax_cents(items_cents)
        return_id = next_id(conn, "return")
        conn.execute(
            "INSERT INTO returns (id, order_id, customer_id, reason, skus, status, refund_method,"
            " refund_amount_cents, created_at) VALUES (?, ?, ?, ?, ?, 'label_created', ?, ?, ?)",
            (return_id, order_id, order["customer_id"], reason, dumps([i["sku"] for i in chosen]),
             order["payment_method"], refund_cents, now),
        )
        row = conn.execute("SELECT * FROM returns WHERE id = ?", (return_id,)).fetchone()
        result = serializers.return_(row, public_url)
        customer = repo.customer_row(conn, order["customer_id"])
        repo.add_outbox(
            conn, kind="return_label", customer_id=customer["id"], to=customer["email"],
            subject=f"Your return label for order {order_id}",
            body=f"Print this prepaid label and drop the parcel at any carrier location: "
                 f"{result['label_url']}. Your refund of ${result['refund_amount']:.2f} is issued "
                 f"when we receive the items and arrives {result['refund_timing']}.",
            data={"order_id": order_id, "return_id": return_id, "label_url": result["label_url"]},
            created_at=now,
        )
    return reply(result, status=201)


@bp.post("/<order_id>/cases")
async def create_case(request: Request, order_id: str):
    """Report a damaged, wrong or missing item and choose a replacement or a refund."""
    validation.order_id(order_id)
    data = body(request)
    kind = validation.choice(validation.require_str(data, "kind", max_len=30), "kind", CASE_KINDS)
    description = validation.require_str(data, "description", max_len=validation.MAX_TEXT)
    resolution = validation.choice(
        validation.require_str(data, "resolution", max_len=30), "resolution", RESOLUTIONS
    )
    skus = validation.optional_str_list(data, "skus")
    today, now = clock(request).today(), iso_datetime(clock(request).now())
    with db(request).write() as conn:
        order = repo.order_row(conn, order_id)
        if order["status"] not in ("delivered", "shipped"):
            raise conflict(
                "case_not_allowed",
                f"Order {order_id} is {order['status']}; damaged, wrong or missing items can only "
                "be reported for orders that have shipped or been delivered.",
                order_status=order["status"],
            )
        chosen = _selected_items(order_id, repo.order_items(conn, order_id), skus)
        case_id = next_id(conn, "case")
        replacement_id = refund_id = None
        if resolution == "replacement":
            replacement_id = _create_replacement(conn, order, chosen, now)
            status = "replacement_created"
        else:
            items_cents = sum(i["unit_price_cents"] * i["quantity"] for i in chosen)
            refund = repo.create_refund(conn, order, items_cents + policies.tax_cents(items_cents),
                                        f"{kind.replace('_', ' ')} reported", today, now)
            refund_id = refund["id"]
            status = "refund_issued"
        conn.execute(
            "INSERT INTO cases (id, order_id, customer_id, kind, description, resolution, skus,"
            " status, replacement_order_id, refund_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (case_id, order_id, order["customer_id"], kind, description, resolution,
             dumps([i["sku"] for i in chosen]), status, replacement_id, refund_id, now),
        )
        result = serializers.case(conn.execute("SELECT * FROM cases WHERE id = ?", (case_id,))
                                  .fetchone())
        if refund_id:
            result["refund"] = serializers.refund(
                conn.execute("SELECT * FROM refunds WHERE id = ?", (refund_id,)).fetchone())
        if replacement_id:
            result["replacement_order"] = repo.order_dict(conn, repo.order_row(conn, replacement_id))
    return reply(result, status=201)


def _create_replacement(conn, order, items, now: str) -> str:
    """A free replacement order for the affected items, shipped to the same address."""
    new_id = next_id(conn, "order")
    conn.execute(
        "INSERT INTO orders (id, customer_id, status, placed_at, subtotal_cents, shipping_cents,"
        " tax_cents, total_cents, currency, shipping_method, shipping_address, payment_method,"
        " replacement_for) VALUES (?, ?, 'processing', ?, 0, 0, 0, 0, 'USD', 'express', ?, ?, ?)",
        (new_id, order["customer_id"], now, order["shipping_address"], order["payment_method"],
         order["id"]),
    )
    for line, item in enumerate(items, start=1):
        conn.execute(
            "INSERT INTO order_items (order_id, line, sku, name, quantity, unit_price_cents,"
            " on_sale) VALUES (?, ?, ?, ?, ?, 0, ?)",
            (new_id, line, item["sku"], item["name"], item["quantity"], item["on_sale"]),
        )
    return new_id
