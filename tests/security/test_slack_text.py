"""Slack escaping (actions/slack_text.py) and every Slack payload the handoff builds, in-process,
with hostile text in every customer-controlled field."""
from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest

from actions import handoff, outbox, rasa_conversations, slack_text
from tests.security.slack_checks import HOSTILE, LINK, MENTIONS, assert_safe, problems
from tests.triage.conversation import Conversation

WJ = slack_text.WORD_JOINER


# --- the helpers -----------------------------------------------------------------------------------


def test_escape_is_slacks_three_entities_only():
    assert slack_text.escape("a & b < c > d \"q\" 'x'") == "a &amp; b &lt; c &gt; d \"q\" 'x'"
    assert slack_text.escape(None) == "" and slack_text.escape(42) == "42"
    assert slack_text.escape("&amp;") == "&amp;amp;"  # what the customer typed is shown, not decoded


@pytest.mark.parametrize("raw", MENTIONS + [LINK, "<#C123|general>", "<!date^1392734382^{date}|x>", "<mailto:a@b.c|x>"])
def test_no_mention_link_or_command_survives(raw):
    for helper in (slack_text.inline, slack_text.block, slack_text.code_span, slack_text.code_block):
        out = helper(raw)
        assert "<" not in out and ">" not in out, (helper.__name__, out)
        assert "&lt;" in out
    assert slack_text.plain(raw)["text"].startswith("&lt;")


def test_formatting_marks_are_neutralised_but_words_keep_their_underscores():
    out = slack_text.inline("*bold* _it_ ~strike~ `code` ```block``` john_doe a*b")
    assert out == "\u2217bold\u2217 \u02cdit\u02cd \u223cstrike\u223c \u02cbcode\u02cb \u02cb\u02cb\u02cbblock\u02cb\u02cb\u02cb john_doe a*b"
    assert "*" not in out.replace("a*b", "")


def test_bare_mentions_and_urls_are_broken_invisibly():
    out = slack_text.inline("@here @Channel @everyone @alex https://bare.example/x www.site")
    assert out == f"@{WJ}here @{WJ}Channel @{WJ}everyone @alex https:{WJ}//bare.example/x www.site"


def test_inline_is_one_line_and_block_keeps_lines_without_quotes():
    assert slack_text.inline("name\n*Tier*\nvip") == "name \u2217Tier\u2217 vip"  # cannot fake another field
    assert slack_text.block("a\n> quoted") == "a\n&gt; quoted"


def test_bidi_and_control_characters_are_removed():
    assert slack_text.inline("abc\u202edcba\u2066x\x00y") == "abcdcbax y"


def test_code_span_and_block_cannot_be_closed_from_inside():
    span = slack_text.code_span("id`<!here>`*x*")
    assert span == "`id\u02cb&lt;!here&gt;\u02cb*x*`" and span.count("`") == 2
    block = slack_text.code_block("line\n```\n<!channel> *x*\n````")
    assert block.startswith("```") and block.endswith("```") and block.count("```") == 2
    assert slack_text.code_span("") == "` `"


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", "data:text/html,<b>x</b>", "https://evil.example|Click", "https://evil.example>x",
    "https://a.example/<b>", "https://a.example/ x", "ftp://a.example/f", "//evil.example/x", "https://", "https:/x",
    "https://a.example/\u202ex", "https://a.example/\nx", None, 42,
])
def test_unsafe_urls_are_not_linked(url):
    assert slack_text.safe_url(url) is None
    out = slack_text.link(url, "Refund timing")
    assert out == "Refund timing"


def test_our_links_are_kept_with_an_escaped_label():
    assert slack_text.link("https://help.brightcart.example/a?b=1&c=2", "Refunds *fast* | <@U1>") == (
        "<https://help.brightcart.example/a?b=1&amp;c=2|Refunds \u2217fast\u2217 ¦ &lt;@U1&gt;>")
    assert slack_text.link("HTTP://help.brightcart.example/x", "") == "<HTTP://help.brightcart.example/x|HTTP:" + WJ + "//help.brightcart.example/x>"


def test_clip_never_cuts_an_entity_or_leaves_a_code_block_open():
    text = "```" + "a" * 40 + "&amp;&lt;" + "b" * 40 + "```"
    for limit in range(10, len(text)):
        out = slack_text.clip(text, limit)
        assert len(out) <= limit and out.count("```") % 2 == 0, (limit, out)
        assert not out.rstrip("…`").endswith(("&", "&a", "&am", "&amp", "&l", "&lt")), (limit, out)
    assert slack_text.clip("short", 10) == "short"


def test_text_objects():
    assert slack_text.plain("<!here> *x*") == {"type": "plain_text", "text": "&lt;!here&gt; *x*", "emoji": False}
    assert slack_text.mrkdwn("*Why:* x") == {"type": "mrkdwn", "text": "*Why:* x", "verbatim": True}


# --- the case message: hostile text in every field -------------------------------------------------


def hostile_case(**overrides):
    citations = [
        {"title": f"Refund timing {HOSTILE}", "url": "https://help.brightcart.example/articles/refund-timing"},
        {"title": "Click me", "url": "javascript:alert(document.cookie)"},
        {"title": "Disguised", "url": "https://evil.example|Click here"},
        {"title": "Broken out", "url": "https://evil.example/>x<!channel>"},
        "not a dict",
    ]
    case = {
        "case_id": "H-0123456789", "conversation_id": f"conv-{HOSTILE}", "input_channel": f"rest {HOSTILE}",
        "customer_id": f"C0001 {HOSTILE}", "customer_name": f"Eve {HOSTILE}", "tier": f"vip {HOSTILE}",
        "rule": f"rule {HOSTILE}", "reason": f"reason {HOSTILE}", "ticket_id": f"T-1 {HOSTILE}", "status": "open",
        "draft_text": f"Draft line one {HOSTILE}\n> second line {HOSTILE}", "draft_citations": citations,
        "draft_status": "ready", "draft_outcome": None,
        "context": {
            "customer": {"id": f"C0001 {HOSTILE}", "name": f"Eve {HOSTILE}", "tier": f"vip {HOSTILE}", "verified": True},
            "triage": {"intent": f"intent {HOSTILE}", "product_area": HOSTILE, "frustration": 0.9, "urgency": HOSTILE,
                       "risk_class": HOSTILE, "churn_signals": [HOSTILE], "signals": [HOSTILE, 3]},
            "summary": f"Eve needs help: “{HOSTILE}”. order BC-1{HOSTILE}",
            "transcript": [{"from": "customer", "text": f"```\n{HOSTILE}\n```"}, {"from": "bot", "text": "Sure."},
                           {"from": "customer", "text": "`" * 7 + HOSTILE}],
            "orders": [{"id": f"BC-1{HOSTILE}", "status": HOSTILE, "total": 10, "currency": "USD", "placed_at": HOSTILE,
                        "carrier": HOSTILE, "tracking_number": HOSTILE, "eta": HOSTILE,
                        "items": [{"name": HOSTILE, "quantity": 2}]}],
            "draft_note": HOSTILE,
        },
    }
    case.update(overrides)
    return case


@pytest.mark.parametrize("variant", [
    {}, {"status": "resolved", "resolved_by": f"thread {HOSTILE}"}, {"status": "resolved", "resolved_by": "U0AGENT\n<!here>"},
    {"draft_text": None, "draft_status": "pending"}, {"draft_text": None, "draft_status": "none"},
    {"draft_outcome": "edited"},
])
def test_render_case_with_hostile_text_everywhere_is_safe(variant):
    rendered = handoff.render_case(hostile_case(**variant))
    assert_safe(rendered)
    everything = json.dumps(rendered, ensure_ascii=False)
    assert "&lt;!channel&gt;" in everything and "&lt;https:" in everything  # shown, escaped
    assert "javascript:" not in everything.replace("Click me", "")  # the bad citation is a label only
    assert everything.count("<https://help.brightcart.example/articles/refund-timing|") == (1 if rendered["blocks"] and variant.get("draft_text", 1) else 0)


def test_render_case_keeps_what_the_agent_needs_readable():
    case = hostile_case()
    rendered = handoff.render_case(case)
    fields = [f["text"] for b in rendered["blocks"] if b.get("fields") for f in b["fields"]]
    assert fields[0].startswith("*Customer*\nEve &lt;!channel&gt;")  # label bold, value literal
    assert fields[4].startswith("*Conversation*\n`conv-&lt;!channel&gt;") and fields[4].count("`") == 2
    transcript = next(b["text"]["text"] for b in rendered["blocks"] if "Transcript" in str(b.get("text")))
    assert transcript.count("```") == 2 and "Customer: \u02cb\u02cb\u02cb" in transcript  # the customer's fence is inert
    assert rendered["blocks"][0]["type"] == "header" and rendered["blocks"][0]["text"]["type"] == "plain_text"


def test_problems_detects_the_unescaped_payloads_this_replaced():
    """The checker itself: what the old code produced is flagged."""
    old = {"text": f"Handoff: rule · Eve {HOSTILE}", "blocks": [
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*Channel*\n{HOSTILE}"}]},
        {"type": "section", "text": {"type": "mrkdwn", "text": "```" + "Customer: ``` *x*" + "```"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "• <https://evil.example|Refund timing>"}]},
    ]}
    found = "\n".join(problems(old))
    for expected in ("live <!channel>", "raw '<'", "unbalanced code fence", "'*x*' would format", "without verbatim"):
        assert expected in found, expected


# --- thread messages ------------------------------------------------------------------------------


def test_customer_message_for_the_thread():
    message = handoff.customer_message(f"hello {HOSTILE}")
    assert_safe(message)
    assert message["blocks"][-1]["text"]["text"] == slack_text.escape(f"hello {HOSTILE}")


@pytest.fixture
def hostile_world(slack_env, monkeypatch):
    from tests.handoff.test_handoff_action import FakeBackend, FakeRasa

    from actions import backend_client

    backend = FakeBackend()

    async def get_order(order_id):
        return {"id": order_id, "status": "shipped", "items": [{"name": HOSTILE, "quantity": 1}], "carrier": HOSTILE,
                "tracking_number": HOSTILE}

    backend.get_order = get_order
    monkeypatch.setattr(backend_client, "_client", backend, raising=False)
    rasa = FakeRasa()
    monkeypatch.setattr(rasa_conversations, "append_events", rasa)

    async def fake_draft(question):
        return {"status": "ready", "text": f"Answer to {question}",
                "citations": [{"title": HOSTILE, "url": "https://evil.example|Click here"},
                              {"title": "Refund timing", "url": "https://help.brightcart.example/articles/refund-timing"}]}

    monkeypatch.setattr(handoff, "draft_for", fake_draft)
    return SimpleNamespace(slack=slack_env, backend=backend, rasa=rasa)


def test_the_whole_handoff_in_process_with_hostile_slots_and_messages(hostile_world, monkeypatch):
    """Slots (name from the backend, order id entity), the channel, the sender id, the customer's
    messages before and while paused, and error texts in thread notes: every Slack call is safe."""
    from tests.handoff.test_handoff_action import run_handoff

    c = Conversation(slots={"customer_id": f"C0009{HOSTILE}", "customer_name": f"Eve {HOSTILE}", "customer_tier": HOSTILE,
                            "verified": True, "order_id": f"BC-1{HOSTILE}"},
                     channel=f"rest{HOSTILE}", sender_id=f"sender-{HOSTILE}")
    c.say(f"my parcel never arrived {HOSTILE}", "order_status")
    c.bot("Let me check.", action="action_order_status").listen()
    c.say(f"I want a person now {HOSTILE}", "request_human")
    run_handoff(c)
    c.say(f"still waiting {HOSTILE}", "inform")
    asyncio.run(outbox.get_outbox().deliver_due())
    case = outbox.get_store().get_case(c.slots["handoff_case_id"])

    async def down(*args, **kwargs):
        raise rasa_conversations.RasaUnavailable(f"HTTP 500: {HOSTILE}")

    monkeypatch.setattr(rasa_conversations, "append_events", down)
    asyncio.run(handoff.on_agent_message(case, "Hi, Alex here", "UAGENT01", "1700000000.000100"))
    asyncio.run(handoff.resolve(case, f"not-a-user {HOSTILE}", via="thread"))
    asyncio.run(outbox.get_outbox().deliver_due())

    calls = [call for call in hostile_world.slack.calls if call.method in ("chat.postMessage", "chat.update")]
    assert len(calls) >= 4, [call.method for call in calls]
    for call in calls:
        params = dict(call.params)
        for key in ("blocks",):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        assert_safe(params)
    posted = json.dumps([call.params for call in calls], ensure_ascii=False)
    assert "&lt;!channel&gt;" in posted and "Not delivered to the customer" in posted and "Could not hand the conversation back" in posted


# --- Slack -> customer ----------------------------------------------------------------------------


@pytest.mark.parametrize("slack, customer", [
    ("Hi &lt;b&gt;Omar&lt;/b&gt; &amp;amp; co", "Hi <b>Omar</b> &amp; co"),  # Slack's escaping undone once, not twice
    ("see <https://help.brightcart.example/a?x=1&amp;y=2|our guide>", "see our guide (https://help.brightcart.example/a?x=1&y=2)"),
    ("see <https://help.brightcart.example/a>", "see https://help.brightcart.example/a"),
    ("<javascript:alert(1)|Open> <data:text/html,x|Data> <ftp://x.example/f>", "Open Data ftp://x.example/f"),
    ("<@U123|alex> and <@U456> in <#C1|support> <!here> <!subteam^S1|@team>", "@alex and @colleague in #support @here @team"),
    ("<mailto:help@brightcart.example|help@brightcart.example>", "help@brightcart.example"),
    ("<!date^1392734382^{date_num}|2014-02-18>", "2014-02-18"),
    ("resolve", "resolve"),
])
def test_agent_text_from_slack_becomes_plain_text(slack, customer):
    assert slack_text.from_slack(slack) == customer
