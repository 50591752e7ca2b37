"""Hand the conversation to a person in Slack, and relay both ways until it is handed back.

``action_handoff_to_human``
    Builds the case (customer, channel, tier, the escalation rule and its reason, triage, a
    short summary, the masked transcript, the customer's orders from the backend, a suggested
    reply drafted from the help center with its citations), creates the backend ticket, and
    queues the Slack message in the durable outbox (actions/outbox.py), which posts it at once
    when Slack is up. The customer is told the truth (a person is coming, or the case is saved
    and will reach the team when the connection is back) and the conversation is paused.

While paused (called from ``action_validate_slot_mappings``, which Rasa runs for every message,
paused or not): each customer message is queued into the case's Slack thread.

From Slack (actions/slack_events.py): agent replies in the thread are delivered to the customer
through Rasa's HTTP API; "Send suggested reply" sends the draft as is; "resolve" (button or a
thread message) resumes the conversation and the bot answers again. Whether the draft was sent
as is, edited or discarded is recorded in ``handoff_cases.draft_outcome``.
"""
from __future__ import annotations

import asyncio
import logging
import os
import re
import time
import uuid
from difflib import SequenceMatcher
from typing import Any, Dict, List, Optional, Set, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import rasa_conversations, slack_client, slack_text
from actions.backend_client import BackendError, get_client
from actions.escalation import RulesFileError, get_rules
from actions.formatting import item_summary, money
from actions.intent_catalog import get_catalog
from actions.outbox import HandoffStore, get_outbox, get_store
from actions.pii import mask
from actions.privacy import erasure as privacy_erasure
from actions.triage import assess_message

logger = logging.getLogger(__name__)

# which intents open a high-priority ticket (handoff_priority) and which never state the customer's
# issue (carries_issue: false): config/intents.yml
#: escalations decided by a flow rather than by config/escalation_rules.yml
FLOW_REASONS = {
    "account_security_review": "The account was locked by the security team; a specialist must review it before it can be unlocked.",
}
RESOLVE_COMMANDS = {"resolve", "!resolve", "resolved", "!resolved", "/resolve"}
NOTE_PREFIXES = ("!note", "(internal)", "[internal]")

RESUMED_TEXT = "You're back with Brightcart's virtual assistant. Our support team has finished with your case; is there anything else I can help with?"
DELIVERED_LATE_TEXT = "Good news: our support team now has your case. A person will reply here shortly."
TICKET_REFERENCE = "Your reference is {reference}."

ACTION_SEND_DRAFT = "handoff_send_draft"
ACTION_DISCARD_DRAFT = "handoff_discard_draft"
ACTION_RESOLVE = "handoff_resolve"

_background: Set[asyncio.Task] = set()


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, "").strip() or default)
    except ValueError:
        return default


def draft_wait() -> float:
    """Seconds the handoff waits for the suggested reply before posting without it (it follows)."""
    return _env_float("HANDOFF_DRAFT_WAIT", 3.0)


def draft_audience() -> str:
    """The suggested reply can be sent to the customer verbatim, so it is drafted from public
    articles unless HANDOFF_DRAFT_AUDIENCE=internal (docs/escalation.md)."""
    return os.environ.get("HANDOFF_DRAFT_AUDIENCE", "").strip() or "public"


def pull_channels() -> Set[str]:
    """Channels Rasa cannot push to: agent messages are also returned with the customer's next message."""
    raw = os.environ.get("HANDOFF_PULL_CHANNELS", "rest,cmdline")
    return {item.strip() for item in raw.split(",") if item.strip()}


def _spawn(coro) -> None:
    task = asyncio.get_running_loop().create_task(coro)
    _background.add(task)
    task.add_done_callback(_background.discard)


# --- what the agent sees -------------------------------------------------------------------------


def transcript_lines(events: List[Dict[str, Any]]) -> List[Dict[str, str]]:
    """Customer and bot messages of ``events``, personal data masked, oldest first."""
    lines: List[Dict[str, str]] = []
    for event in events:
        if event.get("event") == "user" and event.get("text"):
            lines.append({"from": "customer", "text": mask(event["text"])})
        elif event.get("event") == "bot" and event.get("text"):
            lines.append({"from": "bot", "text": mask(event["text"])})
    return lines


def transcript(tracker: Tracker, limit: int = 30) -> List[Dict[str, str]]:
    """The conversation in the tracker Rasa sent, personal data masked, oldest first."""
    return transcript_lines(tracker.events or [])[-limit:]


def is_windowed(tracker: Tracker) -> bool:
    """True when Rasa sent a working window of a long conversation (rasa_addons/sqlite_stores.py):
    every whole session starts with session_started; a window starts with the slots instead."""
    return bool(tracker.events) and not any(e.get("event") == "session_started" for e in tracker.events)


async def conversation_transcript(tracker: Tracker, limit: int = 30) -> List[Dict[str, str]]:
    """What the agent reads: the latest ``limit`` messages of the session, also when Rasa sent only
    a window of a long conversation (then the stored session comes from Rasa's API, and this turn,
    not stored yet, from the tracker). Falls back to the window if Rasa's API does not answer."""
    if not is_windowed(tracker):
        return transcript(tracker, limit)
    try:
        stored = await rasa_conversations.stored_events(tracker.sender_id)
    except rasa_conversations.RasaUnavailable as error:
        logger.warning("full transcript unavailable for %s (%s): the agent sees the latest turns only", mask(tracker.sender_id), error)
        return transcript(tracker, limit)
    starts = [i for i, e in enumerate(stored) if e.get("event") == "session_started"]
    session = stored[starts[-1]:] if starts else stored
    last_stored = max((e.get("timestamp") or 0.0 for e in stored), default=0.0)
    this_turn = [e for e in tracker.events if (e.get("timestamp") or 0.0) > last_stored]
    return (transcript_lines(session) + transcript_lines(this_turn))[-limit:]


def handoff_reason(tracker: Tracker) -> str:
    return tracker.get_slot("escalation_rule") or (tracker.latest_message.get("intent") or {}).get("name") or "request_human"


def rule_and_reason(tracker: Tracker) -> Dict[str, str]:
    rule = tracker.get_slot("escalation_rule")
    reason = tracker.get_slot("escalation_reason")
    if not rule:
        intent = (tracker.latest_message.get("intent") or {}).get("name") or "request_human"
        rule = "customer_asks_for_human" if intent == "request_human" else f"intent_{intent}"
    if not reason:
        try:
            known = get_rules().get(rule)
        except RulesFileError:
            known = None
        reason = known.reason if known else FLOW_REASONS.get(rule, "The assistant handed this conversation over.")
    return {"rule": rule, "reason": reason}


def customer_issue(tracker: Tracker) -> Optional[Dict[str, Any]]:
    """The customer's latest message that carries their issue (not "a person please"): {text, intent}."""
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        text = (event.get("text") or "").strip()
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if not text or text.startswith("/") or text.startswith("EXTERNAL:") or intent in get_catalog().not_carrying_issue:
            continue
        if len(text.split()) < 3:
            continue
        if "wants_human" in assess_message(text, intent).signals:
            continue  # "can I speak to a human agent", whatever intent the classifier gave it
        return {"text": mask(text), "intent": intent}
    return None


def question_for_draft(tracker: Tracker) -> Optional[str]:
    issue = customer_issue(tracker)
    return issue["text"] if issue else None


def summary(tracker: Tracker, triage: Dict[str, Any], rule: Dict[str, str], turns: int) -> str:
    """Two sentences for the agent: who, what about (in the customer's words), and how it went."""
    from actions.triage import product_area

    name = tracker.get_slot("customer_name") or "The customer"
    issue = customer_issue(tracker)
    who = f"{name} ({'verified' if tracker.get_slot('verified') else 'not verified'}, {tracker.get_slot('customer_tier') or 'tier unknown'})"
    if issue:
        area = product_area(issue["intent"], issue["text"].lower())
        first = f"{who} needs help with {area if area != 'general' else 'a question'}: “{_clip(issue['text'], 220)}”."
    else:
        first = f"{who} asked for a person without describing the issue yet."
    facts = [f"{turns} customer message{'s' if turns != 1 else ''}"]
    frustration = triage.get("frustration")
    if isinstance(frustration, (int, float)) and frustration >= 0.3:
        facts.append(f"frustration {frustration:.2f}")
    if triage.get("churn_signals"):
        facts.append("churn risk: " + ", ".join(triage["churn_signals"]))
    failures = int(float(tracker.get_slot("kb_failed_count") or 0))
    if failures:
        facts.append(f"the help center could not answer {failures}× in a row")
    if tracker.get_slot("order_id"):
        facts.append(f"order {tracker.get_slot('order_id')}")
    return f"{first} {'; '.join(facts)}."


def _clip(text: str, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _order_line(order: Dict[str, Any]) -> str:
    bits = [str(order.get("status") or "").replace("_", " ")]
    if order.get("total") is not None:
        bits.append(money(order.get("total"), order.get("currency") or "USD"))
    if order.get("placed_at"):
        bits.append(f"placed {str(order['placed_at'])[:10]}")
    if order.get("carrier") and order.get("tracking_number"):
        bits.append(f"{order['carrier']} {order['tracking_number']}")
    if order.get("eta"):
        bits.append(f"ETA {str(order['eta'])[:10]}")
    line = " · ".join([f"*{slack_text.inline(order.get('id'))}*"] + [slack_text.inline(b) for b in bits if b])
    return line + f" — {slack_text.inline(item_summary(order))}"


async def relevant_orders(tracker: Tracker) -> List[Dict[str, Any]]:
    """The order the customer mentioned and, if we know who they are, their latest orders."""
    client = get_client()
    orders: List[Dict[str, Any]] = []
    order_id = tracker.get_slot("order_id")
    customer_id = tracker.get_slot("customer_id")
    try:
        if order_id:
            orders.append(await client.get_order(order_id))
        if customer_id:
            for order in await client.list_orders(customer_id):
                if all(order.get("id") != known.get("id") for known in orders):
                    orders.append(order)
                if len(orders) >= 3:
                    break
    except BackendError as error:
        logger.warning("orders for the handoff could not be read: %s", error)
    return orders[:3]


async def draft_for(question: Optional[str]) -> Dict[str, Any]:
    """The suggested reply: {status: ready|none|failed, text, citations}."""
    if not question:
        return {"status": "none", "text": None, "citations": [], "note": "no question to answer in the conversation"}
    try:
        from actions.knowledge import draft_reply

        answer = await draft_reply(question, audience=draft_audience())
    except Exception as error:  # the knowledge base is optional for a handoff
        logger.warning("suggested reply failed: %s", error)
        return {"status": "failed", "text": None, "citations": [], "note": f"help center unavailable ({type(error).__name__})"}
    if getattr(answer, "refused", False):
        reason = getattr(answer, "refusal_reason", None) or "no answer"
        return {"status": "none", "text": None, "citations": [], "note": f"the help center has no answer ({reason})"}
    return {"status": "ready", "text": answer.text, "citations": list(getattr(answer, "citations", []) or [])}


# --- Block Kit -----------------------------------------------------------------------------------


def _section(text: str) -> Dict[str, Any]:
    """A mrkdwn section; every untrusted part of ``text`` went through actions/slack_text.py."""
    return {"type": "section", "text": slack_text.mrkdwn(text, 2900)}


def _escape(text: str) -> str:
    """Untrusted text for mrkdwn (see actions/slack_text.py): no mention, link or formatting."""
    return slack_text.block(text)


def render_case(case: Dict[str, Any]) -> Dict[str, Any]:
    """The Slack message of a case (text fallback + blocks), from the stored case alone, so it can
    be re-rendered later (draft ready, resolved, ...)."""
    if case.get("status") == "erased":  # a deletion request that was carried out: no personal data left
        return privacy_erasure.render_erased(case)
    ctx = case.get("context") or {}
    triage = ctx.get("triage") or {}
    resolved = case.get("status") == "resolved"
    customer = ctx.get("customer") or {}
    who = customer.get("name") or "Unknown customer"
    if customer.get("id"):
        who += f" ({customer['id']})"
    title = f"{'Resolved' if resolved else 'Handoff'}: {case.get('rule')} · {who}"
    blocks: List[Dict[str, Any]] = [{"type": "header", "text": slack_text.plain(_clip(title, 150), 150)}]
    inline = slack_text.inline
    fields = [
        f"*Customer*\n{inline(who)}",
        f"*Tier*\n{inline(customer.get('tier') or 'unknown')}{' :star:' if customer.get('tier') == 'vip' else ''}",
        f"*Channel*\n{inline(case.get('input_channel') or 'unknown')}",
        f"*Identity*\n{'verified' if customer.get('verified') else 'not verified'}",
        # an SMS conversation id is the customer's number: the agent replies in the thread and needs no number
        f"*Conversation*\n{slack_text.code_span(mask(str(case.get('conversation_id') or '')))}",
        f"*Reference*\n{inline(case.get('ticket_id') or case.get('case_id'))}",
    ]
    blocks.append({"type": "section", "fields": [slack_text.mrkdwn(f, 1900) for f in fields]})
    blocks.append(_section(f"*Why:* {slack_text.code_span(case.get('rule'))} — {inline(case.get('reason') or '')}"))
    blocks.append(_section(f"*Summary:* {inline(ctx.get('summary') or '')}"))
    triage_line = " · ".join(
        bit for bit in [
            f"intent {slack_text.code_span(triage.get('intent'))}" if triage.get("intent") else "",
            f"area {inline(triage.get('product_area'))}" if triage.get("product_area") else "",
            f"frustration {triage.get('frustration', 0):.2f}" if isinstance(triage.get("frustration"), (int, float)) else "",
            f"urgency {inline(triage.get('urgency'))}" if triage.get("urgency") else "",
            f"risk {inline(triage.get('risk_class'))}" if triage.get("risk_class") else "",
            ("churn: " + inline(", ".join(map(str, triage.get("churn_signals") or [])))) if triage.get("churn_signals") else "",
            ("signals: " + inline(", ".join(map(str, triage.get("signals") or [])))) if triage.get("signals") else "",
        ] if bit
    )
    if triage_line:
        blocks.append({"type": "context", "elements": [slack_text.mrkdwn(f"Triage: {triage_line}", 2900)]})
    orders = ctx.get("orders") or []
    blocks.append(_section("*Orders*\n" + ("\n".join(_order_line(o) for o in orders) if orders else "_none found for this customer_")))
    lines = ctx.get("transcript") or []
    rendered = "\n".join(f"{'Customer' if l['from'] == 'customer' else 'Bot'}: {_clip(l['text'], 280)}" for l in lines[-14:])
    blocks.append(_section("*Transcript* (personal data masked)\n" + slack_text.code_block(rendered or "(empty)")))
    blocks.append({"type": "divider"})
    draft_status = case.get("draft_status")
    if case.get("draft_text"):
        citations = case.get("draft_citations") or []
        sources = "\n".join(f"• {slack_text.link(c.get('url'), c.get('title') or c.get('url') or '')}" for c in citations if isinstance(c, dict))
        outcome = case.get("draft_outcome")
        label = {"sent_as_is": "sent as is", "edited": "sent edited", "discarded": "discarded"}.get(outcome or "", "")
        head = "*Suggested reply* (help center)" + (f" — _{label}_" if label else "")
        blocks.append(_section(f"{head}\n>{_escape(_clip(case['draft_text'], 2000)).replace(chr(10), chr(10) + '>')}"))
        if sources:
            blocks.append({"type": "context", "elements": [slack_text.mrkdwn("Sources:\n" + sources, 2900)]})
    elif draft_status == "pending":
        blocks.append(_section("*Suggested reply:* _drafting from the help center…_"))
    else:
        note = (ctx.get("draft_note") or "none").rstrip(".")
        blocks.append(_section(f"*Suggested reply:* _none — {inline(note)}._"))
    if resolved:
        blocks.append({"type": "context", "elements": [slack_text.mrkdwn(f":white_check_mark: Resolved by {_who(case.get('resolved_by'))}; the assistant answers again.")]})
    else:
        buttons: List[Dict[str, Any]] = []
        if case.get("draft_text") and not case.get("draft_outcome"):
            buttons.append({"type": "button", "action_id": ACTION_SEND_DRAFT, "value": case["case_id"], "style": "primary",
                            "text": {"type": "plain_text", "text": "Send suggested reply"}})
            buttons.append({"type": "button", "action_id": ACTION_DISCARD_DRAFT, "value": case["case_id"],
                            "text": {"type": "plain_text", "text": "Discard draft"}})
        if privacy_erasure.is_deletion_request(case):
            buttons.append(privacy_erasure.approve_button(case))
        buttons.append({"type": "button", "action_id": ACTION_RESOLVE, "value": case["case_id"],
                        "text": {"type": "plain_text", "text": "Resolve"},
                        "confirm": {"title": {"type": "plain_text", "text": "Hand back to the bot?"},
                                    "text": {"type": "mrkdwn", "text": "The assistant will answer this customer again."},
                                    "confirm": {"type": "plain_text", "text": "Resolve"}, "deny": {"type": "plain_text", "text": "Cancel"}}})
        blocks.append({"type": "actions", "block_id": "case_actions", "elements": buttons})
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text":
                       "Reply in this thread to answer the customer. `!note …` stays internal; `resolve` hands the conversation back to the bot."}]})
    text = f"{inline(title)} — {inline(case.get('reason') or '')}"
    return {"text": slack_text.clip(text, 3000), "blocks": blocks}


def _who(user: Optional[str]) -> str:
    if not user:
        return "an agent"
    return f"<@{user}>" if re.fullmatch(r"[UW][A-Z0-9]+", user) else slack_text.inline(user)


def thread_note(store: HandoffStore, case_id: str, text: str, key: str) -> int:
    item = store.enqueue("reply", {"text": text}, case_id=case_id, dedupe_key=f"note:{case_id}:{key}")
    get_outbox().wake()
    return item


def refresh_case_message(store: HandoffStore, case_id: str, key: str) -> None:
    case = store.get_case(case_id)
    if case:
        store.enqueue("update", render_case(case), case_id=case_id, dedupe_key=f"update:{case_id}:{key}")
        get_outbox().wake()


# --- the action ----------------------------------------------------------------------------------


class ActionHandoffToHuman(Action):
    def name(self) -> Text:
        return "action_handoff_to_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        try:
            store = get_store()
        except Exception:  # no durable storage: do not pretend a person is coming
            logger.exception("handoff store unavailable")
            dispatcher.utter_message(
                text="I want to bring in a person, but our support system isn't responding right now. "
                "Please try again in a few minutes; nothing you've told me is lost."
            )
            return []
        existing = store.open_case_for(tracker.sender_id)
        if existing:
            # the conversation was handed back by Rasa itself (session expiry) while the case is open
            thread_note(store, existing["case_id"], ":arrows_counterclockwise: The customer is asking for a person again.",
                        f"again:{time.time():.0f}")
            dispatcher.utter_message(response="utter_handoff_started")
            return self._pause(tracker, existing)

        rule = rule_and_reason(tracker)
        triage = tracker.get_slot("triage") or {}
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        lines = await conversation_transcript(tracker)
        turns = sum(1 for line in lines if line["from"] == "customer")
        draft_task = asyncio.get_running_loop().create_task(draft_for(question_for_draft(tracker)))
        orders_task = asyncio.get_running_loop().create_task(relevant_orders(tracker))
        customer = {
            "id": tracker.get_slot("customer_id"), "name": tracker.get_slot("customer_name"),
            "tier": tracker.get_slot("customer_tier"), "verified": bool(tracker.get_slot("verified")),
        }
        ticket_id = await self._ticket(tracker, intent, rule, triage, lines)
        orders = await orders_task
        done, _ = await asyncio.wait({draft_task}, timeout=draft_wait())
        draft = draft_task.result() if done else {"status": "pending", "text": None, "citations": []}

        case: Dict[str, Any] = {
            "conversation_id": tracker.sender_id,
            "input_channel": tracker.get_latest_input_channel(),
            "customer_id": customer["id"], "customer_name": customer["name"], "tier": customer["tier"],
            "rule": rule["rule"], "reason": rule["reason"], "ticket_id": ticket_id,
            "draft_text": draft.get("text"), "draft_citations": draft.get("citations"), "draft_status": draft["status"],
            "context": {
                "customer": customer, "triage": triage, "summary": summary(tracker, triage, rule, turns),
                "transcript": lines, "orders": [_order_view(o) for o in orders], "draft_note": draft.get("note"),
            },
        }
        case_id = f"H-{uuid.uuid4().hex[:10]}"
        case["case_id"] = case_id
        rendered = render_case({**case, "status": "open"})
        case_id, item_id = store.create_case(case, rendered)
        if not done:
            _spawn(self._finish_draft(store, case_id, draft_task))

        outbox = get_outbox()
        slack_on = slack_client.settings().configured
        status = await outbox.flush(item_id, timeout=slack_client.settings().timeout + 1.0) if slack_on else "pending"
        if status != "sent" and slack_on:
            store.update_case(case_id, customer_told="queued")
            status = (store.item(item_id) or {}).get("status", status)
        # Without Slack configured (no bot token) the backend ticket is how the team gets the case:
        # with a ticket the customer is told a person will take over. With Slack configured but
        # unreachable the customer is told the case is saved and not with the team yet.
        told = "live" if status == "sent" or (not slack_on and ticket_id) else "queued"
        store.update_case(case_id, customer_told=told)
        outbox.wake()
        logger.info("handoff %s for %s (rule %s): Slack %s", case_id, mask(tracker.sender_id), rule["rule"], status)

        if told == "live":
            dispatcher.utter_message(response="utter_handoff_started")
        else:  # saved in the outbox; the customer is told it has not reached the team yet
            dispatcher.utter_message(response="utter_handoff_queued")
        dispatcher.utter_message(text=TICKET_REFERENCE.format(reference=ticket_id or case_id))
        return [SlotSet("handoff_ticket_id", ticket_id)] + self._pause(tracker, store.get_case(case_id) or case)

    @staticmethod
    def _pause(tracker: Tracker, case: Dict[str, Any]) -> List[EventType]:
        events: List[EventType] = [SlotSet("handoff_case_id", case["case_id"])]
        if tracker.active_loop_name:
            events += [ActiveLoop(None), SlotSet("requested_slot", None)]
        return events + [ConversationPaused()]

    @staticmethod
    async def _ticket(tracker: Tracker, intent: Optional[str], rule: Dict[str, str], triage: Dict[str, Any],
                      lines: List[Dict[str, str]]) -> Optional[str]:
        priority = "normal"
        if triage.get("urgency") == "critical":
            priority = "urgent"
        elif intent in get_catalog().high_priority or triage.get("risk_class") == "high" or tracker.get_slot("customer_tier") == "vip":
            priority = "high"
        try:
            ticket = await get_client().create_ticket(
                customer_id=tracker.get_slot("customer_id"),
                category=intent or "general",
                subject=f"Handoff from the assistant: {rule['rule']}",
                description=mask((tracker.latest_message or {}).get("text") or ""),
                priority=priority,
                conversation_id=tracker.sender_id,
                channel=tracker.get_latest_input_channel(),
                context={"reason": rule["reason"], "rule": rule["rule"], "intent": intent, "order_id": tracker.get_slot("order_id"),
                         "verified": bool(tracker.get_slot("verified")), "tier": tracker.get_slot("customer_tier"),
                         "triage": triage, "transcript": lines},
            )
        except BackendError as error:
            # the Slack case carries the whole context; the ticket can be created by the agent
            logger.error("handoff ticket could not be created: %s", error)
            return None
        return ticket.get("id")

    @staticmethod
    async def _finish_draft(store: HandoffStore, case_id: str, task: "asyncio.Task[Dict[str, Any]]") -> None:
        try:
            draft = await task
        except Exception:
            logger.exception("suggested reply for %s failed", case_id)
            draft = {"status": "failed", "text": None, "citations": [], "note": "help center unavailable"}
        case = store.get_case(case_id)
        if case is None or case.get("status") == "erased":
            return
        context = dict(case.get("context") or {}, draft_note=draft.get("note"))
        store.update_case(case_id, draft_text=draft.get("text"), draft_citations=draft.get("citations"),
                          draft_status=draft["status"], context=context)
        refresh_case_message(store, case_id, "draft")


def _order_view(order: Dict[str, Any]) -> Dict[str, Any]:
    keys = ("id", "status", "total", "currency", "placed_at", "carrier", "tracking_number", "eta", "items", "delivered_at")
    view = {k: order.get(k) for k in keys if order.get(k) is not None}
    view["items"] = [{"name": i.get("name"), "quantity": i.get("quantity")} for i in order.get("items") or []]
    return view


# --- while paused: the customer's messages go to the thread ---------------------------------------


async def while_paused(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
    """Relay the customer's message into the case thread; return unseen agent replies on pull channels."""
    store = get_store()
    case = store.open_case_for(tracker.sender_id)
    if case is None:
        return []
    message = tracker.latest_message or {}
    text = (message.get("text") or "").strip()
    key = None
    for event in reversed(tracker.events or []):
        if event.get("event") == "user":
            key = str(event.get("message_id") or event.get("timestamp"))
            break
    if text and key and not text.startswith("EXTERNAL: "):
        store.enqueue("reply", customer_message(mask(text)), case_id=case["case_id"],
                      conversation_id=tracker.sender_id, dedupe_key=f"customer:{case['case_id']}:{key}")
        get_outbox().wake()
    hand_back_unseen(dispatcher, tracker)
    return []


def customer_message(text: str) -> Dict[str, Any]:
    """A customer's message for the case thread: shown exactly as written (a plain_text block);
    the notification text has it escaped and neutralised for mrkdwn (actions/slack_text.py)."""
    return {"text": f":speech_balloon: *Customer:* {_escape(text)}",
            "blocks": [{"type": "section", "text": slack_text.mrkdwn(":speech_balloon: *Customer:*")},
                       {"type": "section", "text": slack_text.plain(text)}]}


def hand_back_unseen(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """On channels Rasa cannot push to (REST), agent messages the customer has not received yet
    are returned with the response to their next message."""
    if (tracker.get_latest_input_channel() or "rest") not in pull_channels():
        return
    store = get_store()
    unseen = store.unseen_replies(tracker.sender_id)
    for reply in unseen:
        dispatcher.utter_message(text=reply["text"], handoff_redelivery=True, handoff_case_id=reply["case_id"])
    store.mark_seen([reply["id"] for reply in unseen])


# --- from Slack: agent replies, the suggested reply, resolve ---------------------------------------


def similarity(reply: str, draft: str) -> float:
    """How much of the draft an agent's reply reuses, 0..1: the character-level ratio, or the
    share of the draft's words found in the reply (x 0.9, so an extended draft counts as edited)."""
    def norm(text: str) -> str:
        return " ".join(re.sub(r"[^\w\s]", " ", (text or "").lower()).split())

    x, y = norm(reply), norm(draft)
    if not x or not y:
        return 0.0
    ratio = SequenceMatcher(None, x, y).ratio()
    draft_words = set(y.split())
    reused = len(set(x.split()) & draft_words) / len(draft_words)
    return round(max(ratio, reused * 0.9), 3)


async def deliver_to_customer(store: HandoffStore, case: Dict[str, Any], text: str, agent: Optional[str], source: str,
                              slack_ts: Optional[str] = None, similarity_to_draft: Optional[float] = None) -> Optional[str]:
    """Send an agent's message to the customer's own channel. Returns None on success, or the error."""
    reply_id = store.add_agent_reply(case, text, agent, source, slack_ts=slack_ts, similarity=similarity_to_draft)
    if reply_id is None:
        return None  # this Slack message was handled before (a retried event)
    channel = case.get("input_channel") or "rest"
    try:
        await rasa_conversations.append_events(
            case["conversation_id"],
            [rasa_conversations.bot_event(text, handoff_case_id=case["case_id"], handoff_agent=agent, handoff_source=source)],
        )
    except rasa_conversations.RasaUnavailable as error:
        store.mark_reply(reply_id, "failed", error=str(error))
        logger.error("agent reply for %s not delivered: %s", case["case_id"], error)
        return str(error)
    store.mark_reply(reply_id, "delivered", via=channel, seen=channel not in pull_channels())
    return None


async def on_agent_message(case: Dict[str, Any], text: str, user: Optional[str], slack_ts: str) -> None:
    """A human wrote in the case thread: a command, an internal note, or a reply to the customer."""
    store = get_store()
    command = text.strip().lower()
    if command in RESOLVE_COMMANDS:
        await resolve(case, user, via="thread")
        return
    if command.startswith(NOTE_PREFIXES):
        return
    draft = case.get("draft_text")
    score = similarity(text, draft) if draft else None
    error = await deliver_to_customer(store, case, text, user, "thread", slack_ts=slack_ts, similarity_to_draft=score)
    if error:
        thread_note(store, case["case_id"], f":warning: Not delivered to the customer (the assistant is unreachable: {_escape(error[:200])}). Please send it again.", f"fail:{slack_ts}")
        return
    if draft and score is not None and not case.get("draft_outcome"):
        outcome = "sent_as_is" if score >= 0.97 else "edited" if score >= 0.5 else None
        if outcome and store.record_draft_outcome(case["case_id"], outcome, user, score):
            refresh_case_message(store, case["case_id"], f"outcome:{slack_ts}")


async def send_draft(case: Dict[str, Any], user: Optional[str], action_ts: str) -> None:
    store = get_store()
    if not case.get("draft_text"):
        thread_note(store, case["case_id"], "There is no suggested reply for this case.", f"nodraft:{action_ts}")
        return
    if case.get("draft_outcome") == "sent_as_is":
        return
    error = await deliver_to_customer(store, case, case["draft_text"], user, "suggested_reply", slack_ts=f"draft:{case['case_id']}",
                                      similarity_to_draft=1.0)
    if error:
        thread_note(store, case["case_id"], f":warning: The suggested reply was not delivered ({_escape(error[:200])}).", f"fail:{action_ts}")
        return
    store.record_draft_outcome(case["case_id"], "sent_as_is", user, 1.0)
    thread_note(store, case["case_id"], f":outbox_tray: {_who(user)} sent the suggested reply to the customer.", f"sent:{action_ts}")
    refresh_case_message(store, case["case_id"], f"sent:{action_ts}")


async def discard_draft(case: Dict[str, Any], user: Optional[str], action_ts: str) -> None:
    store = get_store()
    if store.record_draft_outcome(case["case_id"], "discarded", user, None):
        refresh_case_message(store, case["case_id"], f"discard:{action_ts}")


async def resolve(case: Dict[str, Any], user: Optional[str], via: str) -> bool:
    """Hand the conversation back to the bot: resume it in Rasa and close the case."""
    store = get_store()
    if not store.resolve_case(case["case_id"], user or via):
        return False
    events = [
        {"event": "resume"},
        rasa_conversations.slot_event("escalation_rule", None),
        rasa_conversations.slot_event("escalation_reason", None),
        rasa_conversations.slot_event("frustration", 0.0),
        rasa_conversations.slot_event("kb_failed_count", 0.0),
        rasa_conversations.slot_event("handoff_case_id", None),
        rasa_conversations.bot_event(RESUMED_TEXT, handoff_case_id=case["case_id"], handoff_source="system"),
        # the bot listens again: without this the next message follows action_handoff_to_human in
        # the dialogue state, no rule matches it and Rasa falls back instead of answering
        {"event": "action", "name": "action_listen"},
    ]
    try:
        await rasa_conversations.append_events(case["conversation_id"], events)
    except rasa_conversations.RasaUnavailable as error:
        with store.connect() as conn:
            conn.execute("UPDATE handoff_cases SET status = 'open', resolved_at = NULL, resolved_by = NULL WHERE case_id = ?", (case["case_id"],))
        thread_note(store, case["case_id"], f":warning: Could not hand the conversation back ({_escape(str(error)[:200])}). Try again.", f"resolvefail:{time.time():.0f}")
        return False
    if (case.get("input_channel") or "rest") in pull_channels():
        # REST customers see the hand-back with their next message
        reply_id = store.add_agent_reply(case, RESUMED_TEXT, None, "system", slack_ts=f"resume:{case['case_id']}")
        if reply_id:
            store.mark_reply(reply_id, "delivered", via=case.get("input_channel") or "rest", seen=False)
    thread_note(store, case["case_id"], f":white_check_mark: Resolved by {_who(user)}. The assistant answers this customer again.", "resolved")
    refresh_case_message(store, case["case_id"], "resolved")
    logger.info("case %s resolved by %s via %s", case["case_id"], user, via)
    return True


async def notify_if_delivered_late(item: Dict[str, Any], _row: Dict[str, Any]) -> None:
    """Outbox hook: a case that waited for Slack has reached the team; tell the customer."""
    if item.get("kind") != "post" or not item.get("case_id"):
        return
    store = get_store()
    case = store.get_case(item["case_id"])
    if not case or case.get("customer_told") != "queued" or case.get("queued_notice_sent") or case.get("status") != "open":
        return
    store.update_case(case["case_id"], queued_notice_sent=1)
    error = await deliver_to_customer(store, case, DELIVERED_LATE_TEXT, None, "system", slack_ts=f"late:{case['case_id']}")
    if error:
        logger.warning("could not tell %s that the case reached the team: %s", case["conversation_id"], error)
