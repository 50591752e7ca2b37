"""Printable documents the API links to: return labels and invoices (placeholder PDFs)."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import raw

from .. import links, repo, serializers, validation
from ..errors import forbidden, not_found
from ..ids import order_id_for_invoice
from ..pdf import simple_pdf
from ..web import db

bp = Blueprint("documents")


def _strip_pdf(request: Request, name: str, kind: str) -> str:
    if not links.valid(request.path, request.args.get("sig")):
        raise forbidden("invalid_link", f"This {kind} link is not valid; ask for the {kind} again to get a new link.")
    if not name.endswith(".pdf"):
        raise not_found(kind, name)
    return name[: -len(".pdf")]


def _pdf(data: bytes, filename: str):
    return raw(data, content_type="application/pdf",
               headers={"Content-Disposition": f'inline; filename="{filename}"'})


@bp.get("/labels/<name>")
async def return_label(request: Request, name: str):
    return_id = validation.return_id(_strip_pdf(request, name, "return label"))
    with db(request).read() as conn:
        row = conn.execute("SELECT * FROM returns WHERE id = ?", (return_id,)).fetchone()
        if row is None:
            raise not_found("return", return_id)
        order = repo.order_row(conn, row["order_id"])
    address = repo.loads_address(order["shipping_address"])
    lines = [
        "BRIGHTCART PREPAID RETURN LABEL (demo placeholder)",
        f"Return {return_id}   Order {row['order_id']}",
        f"From: {address}",
        "To: Brightcart Returns, 1 Warehouse Way, Reno, NV 89501, US",
        f"Items: {', '.join(serializers.loads_list(row['skus']))}",
        "Drop the parcel at any UPS, FedEx or USPS location.",
    ]
    return _pdf(simple_pdf(lines), f"{return_id}.pdf")


@bp.get("/invoices/<name>")
async def invoice_pdf(request: Request, name: str):
    number = validation.invoice_number(_strip_pdf(request, name, "invoice"))
    order_id = order_id_for_invoice(number)
    with db(request).read() as conn:
        order = repo.order_row(conn, order_id)
        items = repo.order_items(conn, order_id)
    money = serializers.money
    lines = [f"BRIGHTCART INVOICE {number} (demo placeholder)",
             f"Order {order_id}   Date {order['placed_at'][:10]}   Customer {order['customer_id']}"]
    lines += [f"{i['quantity']} x {i['name']} ({i['sku']})  ${money(i['unit_price_cents'] * i['quantity']):.2f}"
              for i in items]
    lines += [f"Subtotal ${money(order['subtotal_cents']):.2f}",
              f"Shipping ${money(order['shipping_cents']):.2f}",
              f"Tax ${money(order['tax_cents']):.2f}",
              f"Total ${money(order['total_cents']):.2f} {order['currency']}"]
    return _pdf(simple_pdf(lines), f"{number}.pdf")
