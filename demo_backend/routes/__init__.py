"""HTTP routes, one blueprint per area of the business."""

from __future__ import annotations

from sanic import Sanic

from . import accounts, catalog, customers, documents, orders, returns, store, subscriptions
from . import privacy, system, tickets

BLUEPRINTS = (
    system.bp, catalog.bp, customers.bp, orders.bp, returns.bp, subscriptions.bp, accounts.bp,
    tickets.bp, documents.bp, store.bp, privacy.bp,
)


def register(app: Sanic) -> None:
    for blueprint in BLUEPRINTS:
        app.blueprint(blueprint)
