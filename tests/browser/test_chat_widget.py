"""The store page's chat widget in a real browser (Debian's Chromium, driven by Playwright),
against the running stack: real Socket.IO, real Rasa, real action server and backend.

Screenshots go to reports/screenshots/.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Browser, Page, WebSocketRoute, expect, sync_playwright

from tests.conftest import REPORTS, rasa_tracker

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
SCREENSHOTS = REPORTS / "screenshots"
BOT_TIMEOUT_MS = 90_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `make chromium` (Debian's chromium package)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    opened = context.new_page()
    yield opened
    context.close()


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def open_chat(page: Page, store_url: str) -> None:
    page.goto(store_url)
    if page.locator(".bc-chat-panel").is_hidden():
        page.click(".bc-chat-launcher")
    expect(page.locator(".bc-chat-panel")).to_be_visible()
    expect(page.locator(".bc-chat-status--online")).to_be_visible(timeout=30_000)


def type_message(page: Page, text: str) -> None:
    page.fill(".bc-chat-input", text)
    page.press(".bc-chat-input", "Enter")


def tracker(stack, session_id: str) -> dict:
    """The conversation behind the widget's (signed) session id, read with Rasa's API token."""
    conversation_id = session_id.rsplit(".", 1)[0]
    return rasa_tracker(stack.config.rasa_url, conversation_id, stack.env["RASA_API_TOKEN"])


def test_order_status_history_and_quick_replies(page: Page, stack) -> None:
    store = f"{stack.config.backend_url}/?customer=C0001"
    open_chat(page, store)
    expect(page.locator(".bc-chat-human")).to_be_visible()  # the way to a person is always there

    type_message(page, "where is my order BC-100002")
    expect(page.locator(".bc-msg--user").last).to_have_text("where is my order BC-100002")
    answer = page.locator(".bc-msg--bot").filter(has_text=re.compile(r"UPS|on its way"))
    expect(answer.first).to_be_visible(timeout=BOT_TIMEOUT_MS)
    expect(answer.first).to_contain_text("BC-100002")
    expect(page.locator(".bc-msg--bot", has_text=re.compile("email", re.I))).to_have_count(0)  # no verification: signed in
    screenshot(page, "chat_order_status")

    session_id = page.evaluate("window.BrightcartChat.sessionId")
    assert session_id
    # The signed-in customer reached the bot as a proven identity (the page's signed token,
    # checked by the channel), never as a customer id the browser wrote.
    state = tracker(stack, session_id)
    user_events = [e for e in state["events"] if e["event"] == "user"]
    proven = user_events[-1]["metadata"].get("identity") or {}
    assert proven.get("customer_id") == "C0001" and proven.get("method") == "token"
    assert "customer_id" not in user_events[-1]["metadata"]
    assert user_events[-1]["input_channel"] == "socketio"
    assert state["slots"].get("customer_id") == "C0001"

    # Reload: same conversation, history still there.
    page.reload()
    expect(page.locator(".bc-chat-panel")).to_be_visible()
    expect(page.locator(".bc-msg--user", has_text="where is my order BC-100002")).to_be_visible()
    expect(page.locator(".bc-msg--bot").filter(has_text=re.compile(r"UPS|on its way")).first).to_be_visible()
    expect(page.locator(".bc-chat-status--online")).to_be_visible(timeout=30_000)
    assert page.evaluate("window.BrightcartChat.sessionId") == session_id
    screenshot(page, "chat_after_reload")

    # Buttons from the bot become quick replies; clicking one sends its payload.
    bot_messages_before = page.locator(".bc-msg--bot").count()
    type_message(page, "I want to change my membership plan")
    quick_reply = page.locator(".bc-quick-reply", has_text="Premium")
    expect(quick_reply).to_be_visible(timeout=BOT_TIMEOUT_MS)
    screenshot(page, "chat_quick_replies")
    replies_before = page.locator(".bc-msg--bot").count()
    assert replies_before > bot_messages_before
    quick_reply.click()
    expect(page.locator(".bc-msg--user").last).to_have_text("Premium")
    expect(page.locator(".bc-quick-reply", has_text="Premium")).to_have_count(0)  # used up
    expect(page.locator(".bc-msg--bot")).not_to_have_count(replies_before, timeout=BOT_TIMEOUT_MS)
    user_texts = [e["text"] for e in tracker(stack, session_id)["events"] if e["event"] == "user"]
    assert user_texts[-1] == '/inform{"plan": "premium"}'
    screenshot(page, "chat_after_quick_reply")


def test_links_are_clickable_and_another_customer_starts_fresh(page: Page, stack) -> None:
    open_chat(page, f"{stack.config.backend_url}/?customer=C0002")
    expect(page.locator(".bc-msg--user")).to_have_count(0)
    type_message(page, "What is your return policy?")
    link = page.locator(".bc-msg--bot a[href^='http']").first
    expect(link).to_be_visible(timeout=BOT_TIMEOUT_MS)
    assert link.get_attribute("target") == "_blank" and "noopener" in (link.get_attribute("rel") or "")
    screenshot(page, "chat_knowledge_links")
    # A different signed-in customer on the same browser does not see this conversation.
    first_session = page.evaluate("window.BrightcartChat.sessionId")
    open_chat(page, f"{stack.config.backend_url}/?customer=C0001")
    expect(page.locator(".bc-msg--user")).to_have_count(0)
    assert page.evaluate("window.BrightcartChat.sessionId") != first_session


def test_connection_drop_and_recovery_notices(page: Page, stack) -> None:
    sockets: list[WebSocketRoute] = []

    def through(ws: WebSocketRoute) -> None:  # a transparent pass-through we can cut
        sockets.append(ws)
        ws.connect_to_server()

    page.route_web_socket(re.compile(r".*/socket\.io/.*"), through)
    open_chat(page, f"{stack.config.backend_url}/?customer=C0001")
    assert sockets, "the widget talks to Rasa over a WebSocket"
    sockets[-1].close()
    notice = page.locator(".bc-chat-notice")
    expect(notice).to_have_class(re.compile("bc-chat-notice--warn"), timeout=15_000)
    expect(notice).to_contain_text("Connection lost")
    expect(page.locator(".bc-chat-send")).to_be_disabled()
    screenshot(page, "chat_connection_lost")
    expect(notice).to_have_class(re.compile("bc-chat-notice--ok"), timeout=30_000)
    expect(notice).to_contain_text("back online")
    expect(page.locator(".bc-chat-send")).to_be_enabled()
    # And the conversation works again on the new connection.
    type_message(page, "where is my order BC-100002")
    expect(page.locator(".bc-msg--bot").filter(has_text=re.compile(r"UPS|on its way")).first).to_be_visible(
        timeout=BOT_TIMEOUT_MS)


def test_talk_to_a_person_button_hands_off(page: Page, stack) -> None:
    open_chat(page, f"{stack.config.backend_url}/?customer=C0002")
    page.click(".bc-chat-human")
    expect(page.locator(".bc-msg--user").last).to_have_text("Talk to a person")
    expect(page.locator(".bc-msg--bot").filter(has_text=re.compile(r"person|support team", re.I)).first).to_be_visible(
        timeout=BOT_TIMEOUT_MS)
    session_id = page.evaluate("window.BrightcartChat.sessionId")
    state = tracker(stack, session_id)
    assert state["slots"].get("handoff_ticket_id") and state["paused"] is True
    screenshot(page, "chat_handoff")
