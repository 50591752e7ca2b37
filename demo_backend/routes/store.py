"""The demo store page at ``/`` (``?customer=C0001`` picks the signed-in demo customer)."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import html

from .. import repo, serializers, validation
from ..store_page import DEMO_LOGINS, FEATURED_SKUS, GUEST, render
from ..web import db

bp = Blueprint("store")

DEFAULT_LOGIN = DEMO_LOGINS[0][0]


@bp.get("/")
async def store(request: Request):
    wanted = (request.args.get("customer") or DEFAULT_LOGIN).strip()
    customer = None
    with db(request).read() as conn:
        if wanted != GUEST and validation.CUSTOMER_ID_RE.fullmatch(wanted):
            row = conn.execute("SELECT * FROM customers WHERE id = ?", (wanted,)).fetchone()
            # An unknown id simply shows the page signed out rather than an error page.
            customer = repo.customer_dict(conn, row) if row else None
        placeholders = ",".join("?" for _ in FEATURED_SKUS)
        rows = conn.execute(
            f"SELECT * FROM products WHERE sku IN ({placeholders})", FEATURED_SKUS  # noqa: S608
        ).fetchall()
    by_sku = {r["sku"]: serializers.product(r) for r in rows}
    products = [by_sku[s] for s in FEATURED_SKUS if s in by_sku]
    return html(render(customer, products))
