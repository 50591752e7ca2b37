"""Hostile bot messages in the real chat widget (Debian's Chromium, Playwright), through the real
stack wired to the Slack emulator: an agent's reply from Slack and a bot event pushed through
Rasa's HTTP API carry ``<img src=x onerror=...>``, ``javascript:`` links, a ``javascript:`` image
and HTML in button titles. Nothing may run; the text must be shown literally; only http(s) links.
"""
from __future__ import annotations

import json
import re
import urllib.request
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_chat_widget import BOT_TIMEOUT_MS, browser, open_chat, page, screenshot  # noqa: F401
from tests.handoff.conftest import CHANNEL, RASA_TOKEN, agent, slack_stack, stack_slack, wait_for  # noqa: F401
from tests.security.conftest import posted_case_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

# as Slack delivers what an agent typed: its own escaping, and <url|label> links
AGENT_REPLY = ('Look: &lt;img src=x onerror="window.__pwned=1"&gt; [Click me](javascript:window.__pwned=2) '
               '<javascript:window.__pwned=3|Open this> and <https://help.brightcart.example/articles/refund-timing|our guide>')
AGENT_SHOWN = 'Look: <img src=x onerror="window.__pwned=1"> [Click me](javascript:window.__pwned=2) Open this and our guide'
PUSHED_TEXT = ('<script>window.__pwned=5</script><img src=x onerror="window.__pwned=6"> '
               '[Help](javascript:window.__pwned=7) [Help 2](JAVASCRIPT:window.__pwned=8) [Help 3](https://help.brightcart.example/x"onmouseover="window.__pwned=9)')
BUTTON_TITLE = '<img src=x onerror="window.__pwned=10">'


def push_bot_event(stack, conversation_id: str, event: dict) -> None:
    """A bot message sent to the customer's channel through Rasa's HTTP API (as the handoff does)."""
    url = (f"{stack.config.rasa_url}/conversations/{quote(conversation_id, safe='')}/tracker/events"
           f"?output_channel=latest&execute_side_effects=true&include_events=NONE&token={RASA_TOKEN}")
    request = urllib.request.Request(url, data=json.dumps([event]).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


def test_hostile_bot_messages_are_shown_literally_and_nothing_runs(page: Page, slack_stack, stack_slack, agent):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    stack_slack.set_mode("ok")
    open_chat(page, f"{slack_stack.config.backend_url}/?customer=C0002")
    page.click(".bc-chat-human")
    expect(page.locator(".bc-msg--bot").filter(has_text=re.compile(r"person|support team", re.I)).first).to_be_visible(
        timeout=BOT_TIMEOUT_MS)
    session_id = page.evaluate("window.BrightcartChat.sessionId").rsplit(".", 1)[0]  # the signed id's conversation
    case = wait_for(lambda: posted_case_for(slack_stack, session_id), message="the widget case in Slack")

    # 1. an agent's reply in the Slack thread, pushed live to the widget
    assert agent.agent_reply(CHANNEL, case["slack_ts"], AGENT_REPLY).status == 200
    reply = page.locator(".bc-msg--bot", has_text="Look:")
    expect(reply).to_be_visible(timeout=BOT_TIMEOUT_MS)
    expect(reply.locator(".bc-bubble")).to_have_text(AGENT_SHOWN + " (https://help.brightcart.example/articles/refund-timing)")

    # 2. a bot event with HTML, javascript: links, a javascript: image and an HTML button title
    push_bot_event(slack_stack, case["conversation_id"], {
        "event": "bot", "text": PUSHED_TEXT,
        "data": {"buttons": [{"title": BUTTON_TITLE, "payload": "/greet"}], "image": "javascript:window.__pwned=11"},
    })
    pushed = page.locator(".bc-msg--bot", has_text="<script>")
    expect(pushed.first).to_be_visible(timeout=BOT_TIMEOUT_MS)
    expect(page.locator(".bc-quick-reply", has_text=BUTTON_TITLE)).to_be_visible(timeout=BOT_TIMEOUT_MS)
    page.wait_for_timeout(1500)  # an injected <img src=x> would have fired onerror by now
    screenshot(page, "chat_hostile_messages")

    assert page.evaluate("window.__pwned") is None
    assert dialogs == []
    assert page.locator(".bc-chat-log script, .bc-chat-log img, .bc-chat-log iframe").count() == 0
    assert "<script>window.__pwned=5</script>" in page.locator(".bc-chat-log").inner_text()
    hrefs = page.eval_on_selector_all(".bc-chat-log a", "links => links.map(a => a.getAttribute('href'))")
    assert hrefs and all(re.match(r"^https?://", href) for href in hrefs), hrefs
    assert "https://help.brightcart.example/articles/refund-timing" in hrefs
    attributes = page.eval_on_selector_all(".bc-chat-log *", "els => els.flatMap(e => e.getAttributeNames())")
    assert not [name for name in attributes if name.startswith("on")], attributes
    # the rejected links are words, and clicking them does nothing
    page.get_by_text("[Click me](javascript:window.__pwned=2)", exact=False).click()
    assert page.evaluate("window.__pwned") is None
    # the history survives a reload as text, too
    page.reload()
    expect(page.locator(".bc-msg--bot", has_text="<script>").first).to_be_visible()
    page.wait_for_timeout(1000)
    assert page.evaluate("window.__pwned") is None and dialogs == []
    assert page.locator(".bc-chat-log script, .bc-chat-log img").count() == 0
