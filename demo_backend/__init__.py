"""Brightcart demo backend: the retailer's systems (customers, orders, refunds, subscriptions,
accounts, tickets, service status) as a small Sanic + SQLite JSON API, plus the demo store page.

Run it with ``python -m demo_backend``. It is the demo tenant only: a real deployment points the
action server's ``BACKEND_URL`` at the company's own API and this package goes away.
"""

__version__ = "1.0.0"
