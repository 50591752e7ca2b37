"""Product catalogue and membership plans."""

from __future__ import annotations

from sanic import Blueprint, Request

from .. import serializers
from ..catalog import PLAN_ORDER
from ..errors import bad_request
from ..web import db, reply

bp = Blueprint("catalog", url_prefix="/api")


@bp.get("/products")
async def list_products(request: Request):
    """All products; optional filters ``category`` and ``on_sale=true|false``."""
    clauses, params = [], []
    category = request.args.get("category")
    if category:
        clauses.append("category = ?")
        params.append(category.lower())
    on_sale = request.args.get("on_sale")
    if on_sale is not None:
        if on_sale.lower() not in ("true", "false"):
            raise bad_request("Query parameter 'on_sale' must be true or false.", code="invalid_field")
        clauses.append("on_sale = ?")
        params.append(1 if on_sale.lower() == "true" else 0)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    with db(request).read() as conn:
        rows = conn.execute(f"SELECT * FROM products {where} ORDER BY sku", params).fetchall()  # noqa: S608
    return reply({"products": [serializers.product(r) for r in rows]})


@bp.get("/plans")
async def list_plans(request: Request):
    return reply({"plans": [serializers.plan(code) for code in PLAN_ORDER]})
