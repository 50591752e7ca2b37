"""Health, public service status, and the admin endpoints tests and demos use."""

from __future__ import annotations

from sanic import Blueprint, Request

from .. import __version__, serializers
from ..db import dumps, loads
from ..errors import bad_request
from ..status import validate_status_doc
from ..web import body, clock, db, reply

bp = Blueprint("system")


@bp.get("/health")
async def health(request: Request):
    with db(request).read() as conn:
        conn.execute("SELECT 1 FROM meta LIMIT 1").fetchone()
    return reply({"status": "ok", "service": "brightcart-backend", "version": __version__,
                  "today": clock(request).today().isoformat()})


@bp.get("/api/status")
async def get_status(request: Request):
    with db(request).read() as conn:
        row = conn.execute("SELECT doc FROM service_status WHERE id = 1").fetchone()
    return reply(loads(row["doc"]))


@bp.put("/api/admin/status")
async def put_status(request: Request):
    doc = validate_status_doc(body(request))
    with db(request).write() as conn:
        conn.execute("INSERT OR REPLACE INTO service_status (id, doc) VALUES (1, ?)", (dumps(doc),))
    return reply(doc)


@bp.get("/api/admin/outbox")
async def outbox(request: Request):
    """Messages the backend "sent", newest first. Filters: to, kind, customer_id, limit."""
    clauses, params = [], []
    for arg, column in (("to", "to_address"), ("kind", "kind"), ("customer_id", "customer_id")):
        value = request.args.get(arg)
        if value:
            clauses.append(f"{column} = ? COLLATE NOCASE")
            params.append(value)
    limit_arg = request.args.get("limit", "100")
    if not limit_arg.isdigit() or not 1 <= int(limit_arg) <= 1000:
        raise bad_request("Query parameter 'limit' must be a number from 1 to 1000.",
                          code="invalid_field")
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    with db(request).read() as conn:
        rows = conn.execute(
            f"SELECT * FROM outbox {where} ORDER BY id DESC LIMIT ?",  # noqa: S608 - fixed columns
            (*params, int(limit_arg)),
        ).fetchall()
    return reply({"messages": [serializers.outbox_message(r) for r in rows]})
