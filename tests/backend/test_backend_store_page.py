"""The demo store page and its static assets."""

from __future__ import annotations

import httpx


def test_store_page_signed_in_as_jane_by_default(api: httpx.Client) -> None:
    page = api.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "Signed in as <strong>Jane Doe</strong>" in html
    assert 'data-customer-id="C0001"' in html
    assert "Aurora Wireless Headphones" in html and "$129.99" in html
    # The chat widget mounts here (its socket URL comes from CHAT_SOCKET_URL / RASA_URL).
    assert '<div id="chat-root" data-socket-url="http' in html
    assert '<script src="/static/chat/widget.js" defer></script>' in html
    assert html.rindex("chat-root") > html.rindex("</footer>")  # at the end of <body>


def test_demo_login_selector(api: httpx.Client) -> None:
    html = api.get("/", params={"customer": "C0002"}).text
    assert "Signed in as <strong>Omar Haddad</strong>" in html
    assert '<option value="C0002" selected>' in html
    guest = api.get("/", params={"customer": "guest"}).text
    assert "Not signed in" in guest and "data-customer-id" not in guest
    unknown = api.get("/", params={"customer": "<script>"})
    assert unknown.status_code == 200 and "<script>\"" not in unknown.text


def test_static_stylesheet(api: httpx.Client) -> None:
    css = api.get("/static/store.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
