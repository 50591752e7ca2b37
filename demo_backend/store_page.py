"""The demo Brightcart store page (GET /). Deliberately plain HTML: another module adds the chat
widget through ``#chat-root`` and ``/static/chat/widget.js``, and it reads the signed-in demo
customer from the ``data-customer-*`` attributes on ``<body>``, and the proof of who that is from
``data-identity-token`` (a short-lived JWT the store signs, ``demo_backend.identity_token``)."""

from __future__ import annotations

import os
from html import escape
from typing import Any, Sequence

from . import identity_token

DEMO_LOGINS: tuple[tuple[str, str], ...] = (
    ("C0001", "Jane Doe"),
    ("C0002", "Omar Haddad"),
    ("C0003", "Lena Fischer"),
    ("C0004", "Victor Stone"),
)
GUEST = "guest"

FEATURED_SKUS = ("ELE-101", "KIT-301", "APP-402", "OUT-501", "HOM-201", "ELE-103", "BEA-602",
                 "TOY-705")

CATEGORY_ICONS = {
    "electronics": "🎧", "home": "🛋️", "kitchen": "☕", "apparel": "🧥", "outdoors": "🏕️",
    "beauty": "🧴", "toys": "🧩", "books": "📚",
}


def _product_card(p: dict[str, Any]) -> str:
    badge = '<span class="badge sale">Sale</span>' if p["on_sale"] else ""
    icon = CATEGORY_ICONS.get(p["category"], "🛍️")
    return (
        '<li class="product">'
        f'<div class="thumb" aria-hidden="true">{icon}</div>'
        f'<h3>{escape(p["name"])}</h3>'
        f'<p class="meta">{escape(p["category"].title())} · SKU {escape(p["sku"])}</p>'
        f'<p class="price">${p["price"]:.2f} {badge}</p>'
        '<button type="button" disabled title="Demo store: checkout is not wired up">'
        "Add to cart</button>"
        "</li>"
    )


def _login_selector(selected: str) -> str:
    options = [(GUEST, "Guest (not signed in)"), *DEMO_LOGINS]
    rendered = "".join(
        f'<option value="{escape(value)}"{" selected" if value == selected else ""}>'
        f"{escape(label if value == GUEST else f'{label} ({value})')}</option>"
        for value, label in options
    )
    return (
        '<form class="demo-login" method="get" action="/">'
        '<label for="customer">Demo login</label> '
        f'<select id="customer" name="customer" onchange="this.form.submit()">{rendered}</select>'
        '<noscript><button type="submit">Switch</button></noscript>'
        "</form>"
    )


def chat_socket_url() -> str:
    """Where the chat widget's browser connects to Rasa's Socket.IO channel: CHAT_SOCKET_URL
    (the public address, behind a proxy), else RASA_URL."""
    return (os.environ.get("CHAT_SOCKET_URL") or os.environ.get("RASA_URL") or "http://127.0.0.1:5005").rstrip("/")


def render(customer: dict[str, Any] | None, products: Sequence[dict[str, Any]]) -> str:
    """The whole page. ``customer`` is the signed-in demo customer or None for a guest."""
    if customer:
        who = (f'Signed in as <strong>{escape(customer["name"])}</strong>'
               f' <span class="badge plan">{escape((customer.get("plan") or "free").title())}'
               " member</span>")
        token = identity_token.issue(customer["id"])
        body_attrs = (f' data-customer-id="{escape(customer["id"])}"'
                      f' data-customer-name="{escape(customer["name"])}"'
                      f' data-customer-email="{escape(customer["email"])}"'
                      + (f' data-identity-token="{escape(token)}"' if token else ""))
        selected = customer["id"]
    else:
        who, body_attrs, selected = "Not signed in", "", GUEST
    cards = "".join(_product_card(p) for p in products)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Brightcart · Everyday things, brightly priced</title>
<link rel="stylesheet" href="/static/store.css">
</head>
<body{body_attrs}>
<header class="site-header">
  <a class="logo" href="/">Bright<span>cart</span></a>
  <nav><a href="/">Shop</a> <a href="/#membership">Membership</a> <a href="/#help">Help</a></nav>
  <div class="account"><span class="who">{who}</span> {_login_selector(selected)}</div>
</header>
<main>
  <section class="hero">
    <h1>Everyday things, brightly priced.</h1>
    <p>Free standard shipping with Plus, free express shipping and 60-day returns with Premium.</p>
  </section>
  <section aria-labelledby="featured">
    <h2 id="featured">Featured products</h2>
    <ul class="products">{cards}</ul>
  </section>
  <section id="membership" class="membership">
    <h2>Membership</h2>
    <ul>
      <li><strong>Free</strong> · $0/month · 30-day returns · standard shipping $5.99, free over $50</li>
      <li><strong>Plus</strong> · $9.99/month · free standard shipping · 2 days early access to sales</li>
      <li><strong>Premium</strong> · $19.99/month · free express shipping · 60-day returns · priority support</li>
    </ul>
  </section>
  <section id="help" class="help">
    <h2>Need help?</h2>
    <p>Ask our assistant about an order, a return, a refund or your membership: use the chat button.</p>
  </section>
</main>
<footer class="site-footer">Brightcart is a fictional store used for demonstrations.</footer>
<div id="chat-root" data-socket-url="{escape(chat_socket_url())}"></div>
<script src="/static/chat/widget.js" defer></script>
</body>
</html>
"""
