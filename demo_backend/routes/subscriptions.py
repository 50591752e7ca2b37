"""Membership: current subscription, cancellation at period end, plan changes.

Rules (also in the knowledge base): cancelling takes effect at the end of the paid period and
benefits stay until then; upgrades apply at once with a prorated charge; downgrades apply at
the next renewal.
"""

from __future__ import annotations

from sanic import Blueprint, Request

from .. import repo, serializers, validation
from ..catalog import PLANS
from ..dates import add_months, iso_datetime, parse_date
from ..errors import conflict
from ..ids import next_id
from ..web import body, clock, db, reply

bp = Blueprint("subscriptions", url_prefix="/api/customers")


@bp.get("/<customer_id>/subscription")
async def get_subscription(request: Request, customer_id: str):
    validation.customer_id(customer_id)
    with db(request).read() as conn:
        repo.customer_row(conn, customer_id)
        return reply(serializers.subscription(repo.subscription_row(conn, customer_id)))


@bp.post("/<customer_id>/subscription/cancel")
async def cancel_subscription(request: Request, customer_id: str):
    validation.customer_id(customer_id)
    now = iso_datetime(clock(request).now())
    with db(request).write() as conn:
        customer = repo.customer_row(conn, customer_id)
        sub = repo.subscription_row(conn, customer_id)
        plan = PLANS[sub["plan"]]
        if plan.code == "free":
            raise conflict("free_plan", "This account is on the free plan, so there is no paid "
                                        "membership to cancel.")
        if sub["status"] == "cancelled":
            raise conflict("already_cancelled",
                           f"The {plan.name} membership is already cancelled; it ends on "
                           f"{sub['renews_at']}.", effective_date=sub["renews_at"])
        conn.execute(
            "UPDATE subscriptions SET status = 'cancelled', cancelled_at = ?, pending_plan = NULL"
            " WHERE customer_id = ?", (now, customer_id),
        )
        effective = sub["renews_at"]
        repo.add_outbox(
            conn, kind="subscription_cancelled", customer_id=customer_id, to=customer["email"],
            subject=f"Your {plan.name} membership is cancelled",
            body=f"Your {plan.name} membership will end on {effective}. You keep all its "
                 "benefits until then and won't be charged again.",
            data={"plan": plan.code, "effective_date": effective}, created_at=now,
        )
    return reply({
        "customer_id": customer_id,
        "plan": plan.code,
        "status": "cancelled",
        "effective_date": effective,
        "benefits_lost": list(plan.benefits),
        "message": f"The {plan.name} membership is cancelled. Its benefits stay active until "
                   f"{effective}; there will be no further charges.",
    })


@bp.post("/<customer_id>/subscription/change")
async def change_plan(request: Request, customer_id: str):
    validation.customer_id(customer_id)
    data = body(request)
    new_code = validation.choice(validation.require_str(data, "plan", max_len=30), "plan", PLANS)
    clk = clock(request)
    today, now = clk.today(), iso_datetime(clk.now())
    with db(request).write() as conn:
        repo.customer_row(conn, customer_id)
        sub = repo.subscription_row(conn, customer_id)
        old, new = PLANS[sub["plan"]], PLANS[new_code]
        if old.code == new.code:
            raise conflict("same_plan", f"The account is already on the {old.name} plan.")
        if sub["pending_plan"] == new.code:
            raise conflict("already_scheduled", f"A change to {new.name} is already scheduled for "
                                                f"{sub['renews_at']}.")
        renews_at = parse_date(sub["renews_at"])
        if old.price_cents == 0 or renews_at is None:
            # From the free plan: a new paid period starts today, charged in full.
            effective, charge, immediate = today, new.price_cents, True
            conn.execute(
                "UPDATE subscriptions SET plan = ?, status = 'active', started_at = ?,"
                " renews_at = ?, cancelled_at = NULL, pending_plan = NULL WHERE customer_id = ?",
                (new.code, today.isoformat(), add_months(today, 1).isoformat(), customer_id),
            )
        elif new.price_cents > old.price_cents:
            # Upgrade: immediate, pay the price difference for the rest of the current period.
            period_start = add_months(renews_at, -1)
            period_days = max((renews_at - period_start).days, 1)
            days_left = max((renews_at - today).days, 0)
            charge = round((new.price_cents - old.price_cents) * days_left / period_days)
            effective, immediate = today, True
            conn.execute(
                "UPDATE subscriptions SET plan = ?, status = 'active', cancelled_at = NULL,"
                " pending_plan = NULL WHERE customer_id = ?", (new.code, customer_id),
            )
        else:
            # Downgrade: keep what was paid for until renewal, switch then.
            effective, charge, immediate = renews_at, 0, False
            conn.execute(
                "UPDATE subscriptions SET pending_plan = ?, status = 'active', cancelled_at = NULL"
                " WHERE customer_id = ?", (new.code, customer_id),
            )
        if charge:
            conn.execute(
                "INSERT INTO payments (id, customer_id, order_id, description, amount_cents,"
                " method, card_last4, status, attempted_at)"
                " VALUES (?, ?, NULL, ?, ?, 'visa', NULL, 'succeeded', ?)",
                (next_id(conn, "payment"), customer_id,
                 f"{new.name} membership ({'prorated upgrade' if old.price_cents else 'first month'})",
                 charge, now),
            )
    when = "now" if immediate else f"on {effective.isoformat()}"
    return reply({
        "customer_id": customer_id,
        "old_plan": old.code,
        "new_plan": new.code,
        "new_price": serializers.money(new.price_cents),
        "currency": "USD",
        "effective_date": effective.isoformat(),
        "immediate": immediate,
        "prorated_charge": serializers.money(charge),
        "message": f"Changed from {old.name} to {new.name}, effective {when}.",
    })
