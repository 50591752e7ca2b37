"""Support tickets (what a handoff or an escalation leaves behind for the human team)."""

from __future__ import annotations

from sanic import Blueprint, Request

from .. import repo, serializers, validation
from ..dates import iso_datetime
from ..db import dumps
from ..errors import bad_request, not_found
from ..ids import next_id
from ..web import body, clock, db, reply

bp = Blueprint("tickets", url_prefix="/api/tickets")

PRIORITIES = ("low", "normal", "high", "urgent")
MAX_CONTEXT_CHARS = 50_000


@bp.post("")
async def create_ticket(request: Request):
    data = body(request)
    customer_id = validation.optional_str(data, "customer_id", max_len=20)
    if customer_id:
        validation.customer_id(customer_id)
    category = validation.require_str(data, "category", max_len=60)
    subject = validation.require_str(data, "subject", max_len=200)
    description = validation.require_str(data, "description", max_len=validation.MAX_TEXT)
    priority = validation.choice(
        validation.optional_str(data, "priority", max_len=20) or "normal", "priority", PRIORITIES
    )
    channel = validation.optional_str(data, "channel", max_len=30)
    conversation_id = validation.optional_str(data, "conversation_id", max_len=200)
    context = validation.optional_object(data, "context")
    context_json = dumps(context)
    if len(context_json) > MAX_CONTEXT_CHARS:
        raise bad_request(f"Field 'context' is too large (at most {MAX_CONTEXT_CHARS} characters "
                          "of JSON).", code="invalid_field", field="context")
    now = iso_datetime(clock(request).now())
    with db(request).write() as conn:
        if customer_id:
            repo.customer_row(conn, customer_id)
        ticket_id = next_id(conn, "ticket")
        conn.execute(
            "INSERT INTO tickets (id, customer_id, category, subject, description, priority,"
            " status, channel, conversation_id, context, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?)",
            (ticket_id, customer_id, category, subject, description, priority, channel,
             conversation_id, context_json, now),
        )
        row = conn.execute("SELECT * FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
    return reply(serializers.ticket(row), status=201)


@bp.get("")
async def list_tickets(request: Request):
    """Tickets filtered by ``customer_id`` and/or ``conversation_id`` (at least one)."""
    clauses, params = [], []
    customer_id = request.args.get("customer_id")
    if customer_id:
        clauses.append("customer_id = ?")
        params.append(validation.customer_id(customer_id))
    conversation_id = request.args.get("conversation_id")
    if conversation_id:
        clauses.append("conversation_id = ?")
        params.append(conversation_id)
    if not clauses:
        raise bad_request("Provide a 'customer_id' or 'conversation_id' query parameter.",
                          code="missing_field")
    with db(request).read() as conn:
        rows = conn.execute(
            f"SELECT * FROM tickets WHERE {' AND '.join(clauses)} ORDER BY id DESC",  # noqa: S608
            params,
        ).fetchall()
    return reply({"tickets": [serializers.ticket(r) for r in rows]})


@bp.get("/<ticket_id>")
async def get_ticket(request: Request, ticket_id: str):
    validation.ticket_id(ticket_id)
    with db(request).read() as conn:
        row = conn.execute("SELECT * FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
    if row is None:
        raise not_found("ticket", ticket_id)
    return reply(serializers.ticket(row))
