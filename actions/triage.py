"""Triage of every customer message, and the escalation decision, in ``action_validate_slot_mappings``.

Rasa runs its default ``action_extract_slots`` after every user message (before any policy
predicts) and calls this project's ``action_validate_slot_mappings`` from it, keeping the
``SlotSet`` and ``BotUttered`` events it returns. That makes it the one hook that sees every
customer message, even while the conversation is paused for a human agent:

- not paused: score the message (frustration, urgency, risk, churn, product area), build the
  normalized ticket, evaluate config/escalation_rules.yml and set ``triage``, ``frustration``,
  ``risk_class``, ``escalation_rule`` and ``escalation_reason``. The EscalationPolicy
  (rasa_addons/) then makes Rasa run ``action_handoff_to_human``.
- paused (a person has the conversation): relay the message into the case's Slack thread and,
  on channels that cannot receive pushed messages (REST), hand back the agent replies the
  customer has not seen yet (actions/handoff.py).

Everything here is pure Python over the tracker: no model, no network on the triage path.
Frustration is a transparent lexicon-and-features score; docs/escalation.md explains the weights.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import ValidationAction
from rasa_sdk.types import DomainDict

from actions import escalation, identity
from actions.intent_catalog import get_catalog
from actions.pii import contains_card_number, mask

logger = logging.getLogger(__name__)

NLU_FALLBACK = "nlu_fallback"

# --- intent knowledge ------------------------------------------------------------------------

# What each intent means for triage (risk class, product area, base urgency, whether it needs the
# backend, is generic or a complaint, is a customer message at all) is data: config/intents.yml,
# read through actions/intent_catalog.py. Adding an intent needs no change here.
#: words that tell the area when the intent does not (questions, fallbacks, chit-chat)
AREA_KEYWORDS: Sequence[Tuple[str, re.Pattern]] = [
    ("security", re.compile(r"\b(hack(ed|er)?|fraud\w*|phishing|unauthori[sz]ed|stolen|compromised)\b")),
    ("legal", re.compile(r"\b(lawyer|attorney|lawsuit|sue|legal|court|gdpr|ccpa|subpoena)\b")),
    ("refunds", re.compile(r"\brefund\w*\b")),
    ("returns", re.compile(r"\b(return\w*|exchange|damaged|broken|wrong item|defective)\b")),
    ("shipping", re.compile(r"\b(deliver\w*|shipping|shipment|ship|parcel|package|courier|tracking|ups|fedex|usps|dhl)\b")),
    ("billing", re.compile(r"\b(charge[ds]?|invoice|receipt|payment|paid|card|billing|bill|overcharged)\b")),
    ("membership", re.compile(r"\b(membership|subscription|plan|premium|plus)\b")),
    ("account", re.compile(r"\b(password|log ?in|sign ?in|account|e-?mail address)\b")),
    ("technical", re.compile(r"\b(app|website|site|crash\w*|bug|error|glitch|down|outage)\b")),
    ("orders", re.compile(r"\b(order\w*|bc-?\s?\d{6})\b")),
]
URGENCY_ORDER = ["low", "normal", "high", "critical"]

# --- message cues (lower-cased text) ---------------------------------------------------------------


def _words(*items: str) -> re.Pattern:
    return re.compile(r"\b(?:" + "|".join(items) + r")\b")


STRONG_NEGATIVE = _words(
    "ridiculous", "unacceptable", "useless", "pathetic", "terrible", "horrible", "awful", "worst",
    "disgusting", "disgrace(?:ful)?", "scam(?:med|mers?)?", "rip[- ]?off", "incompetent", "furious", "livid",
    "outraged", "outrageous", "fed up", "sick (?:and tired )?of", "had enough", "nightmare", "joke",
    "appalling", "shocking", "insane", "absurd", "fuming",
)
MILD_NEGATIVE = _words(
    "annoy(?:ed|ing)", "frustrat(?:ed|ing)", "disappoint(?:ed|ing)", "upset", "unhappy", "angry", "not happy",
    "waste of (?:my )?time", "come on", "seriously", "ugh+", "fml", "stupid", "dumb", "bad service",
    "poor service", "not ok(?:ay)?", "not good enough", "unbelievable", "can'?t believe", "ffs",
)
PROFANITY = re.compile(
    r"\b(?:f+u+c+k+\w*|sh[i1]+t+\w*|bullshit|crap+y?|damn(?:ed|it)?|goddamn\w*|wtf|stfu|hell|bloody|"
    r"bastards?|asshole?s?|arse|piss(?:ed)?|bitch\w*|dick(?:head)?s?|screw (?:you|this|that))\b|"
    r"\bf[*#@!]{2,}k?\w*|\bs[*#@!]{2,}t\b|\b[a-z][*#@$%!]{3,}\b"
)
NEGATION = re.compile(r"\b(?:not|no|never|isn'?t|wasn'?t|aren'?t|don'?t|didn'?t|without)\s+(?:\w+\s+)?$")
REPEAT_CUES = re.compile(
    r"\b(?:(?:second|third|fourth|fifth|2nd|3rd|4th|5th|\d+th|umpteenth|hundredth) time|"
    r"how many (?:more )?times|(?:again and again|over and over)|i (?:already|have already|'ve already) "
    r"(?:told|said|asked|explained|sent|given)|i keep (?:asking|telling|calling|writing|getting)|"
    r"(?:asked|told you|contacted you|written|called|emailed|messaged) (?:\w+ )?(?:twice|three times|\d+ times|several times|multiple times|many times)|"
    r"once again|yet again|every time|same (?:answer|thing|reply|response|problem) (?:again|over)|"
    r"you (?:already|just) (?:said|told)|not (?:this|that) again)\b"
)
WAITING_CUES = re.compile(
    r"\b(?:still (?:waiting|no|not|nothing|haven'?t|hasn'?t|don'?t|didn'?t|can'?t|broken|missing|charged|pending)|"
    r"(?:been )?waiting (?:for )?(?:\w+ )?(?:days|weeks|months|ages|forever|so long|over a week)|"
    r"nobody (?:has )?(?:helped|answered|replied|responded|got back|cares)|no one (?:has )?(?:helped|answered|replied|responded|got back|cares)|"
    r"never (?:got|received|heard back|arrived|came)|(?:weeks|days) (?:and (?:weeks|days) )?(?:later|ago) and|"
    r"no (?:reply|response|answer|update) (?:yet|from)|where the hell)\b"
)
LEAVE_CUES = re.compile(
    r"\b(?:(?:i'?m|i am|we'?re|going to|gonna|will|i'?ll) (?:be )?(?:leaving|switching|moving|taking my (?:business|money))|"
    r"take my (?:business|money) elsewhere|never (?:order(?:ing)?|shop(?:ping)?|buy(?:ing)?|use|using|come|coming) "
    r"(?:\w+ )?(?:again|from you|here)|last time i (?:order|shop|buy|use)\w*|done with (?:you|brightcart|this company)|"
    r"(?:switch(?:ing)?|go(?:ing)?|move|moving) (?:over )?to (?:amazon|walmart|target|ebay|etsy|a competitor|your competitors?)|"
    r"(?:amazon|walmart|target|ebay) (?:would|does|never)|lost (?:a|me as a) customer|closing my account|"
    r"cancel(?:l?ing)? (?:everything|all my|my whole))\b"
)
COMPETITOR = _words("amazon", "walmart", "target", "ebay", "etsy", "a competitor", "your competitors?")
PUBLIC_COMPLAINT = re.compile(
    r"\b(?:(?:bad|1[- ]star|one[- ]star|negative|terrible) review|review (?:you|this)|trustpilot|yelp|bbb|better business bureau|"
    r"post (?:this|it|about (?:this|you)) (?:on|to)|social media|twitter|tiktok|facebook|tell (?:everyone|all my friends)|"
    r"consumer (?:protection|rights|agency)|report (?:you|this))\b"
)
EMOTIONAL = _words(
    "crying", "in tears", "desperate", "so stressed", "stressed out", "panick?(?:ing|ed)?", "heartbroken",
    "devastated", "scared", "terrified", "anxious", "at my wits'? end", "begging", "please please",
    "i need help", "help me",
)
URGENT = _words(
    "urgent(?:ly)?", "asap", "a\\.s\\.a\\.p", "immediately", "right now", "right away", "emergency", "today",
    "tonight", "by tomorrow", "deadline", "time[- ]sensitive", "as soon as possible", "can'?t wait",
    "need it (?:by|for|before)",
)
WANTS_HUMAN = re.compile(
    r"\b(?:(?:talk|speak|chat) (?:to|with) (?:a |an |some |your )?(?:real |actual |live )?(?:human|person|agent|someone|somebody|representative|rep|manager|supervisor|people)|"
    r"(?:real|actual|live) (?:human|person|agent)|human (?:being|agent|please)|customer (?:service|support) (?:agent|rep(?:resentative)?)|"
    r"(?:get|give|put|transfer|connect|escalate) me (?:to|through to|with)? ?(?:a |an |your )?(?:human|person|agent|someone|manager|supervisor|representative)|"
    r"escalate (?:this|it|my)|your (?:manager|supervisor)|stop (?:the )?bot|not (?:a|this) bot|(?:hate|useless|stupid) (?:bot|robot|machine))\b"
)
LEGAL = re.compile(
    r"\b(?:lawyers?|attorneys?|solicitors?|lawsuit|sue|suing|legal action|take (?:you|this) to court|small claims|court|"
    r"subpoena|cease and desist|gdpr|ccpa|data (?:subject )?access request|dsar|class action|legal department)\b"
)
SECURITY = re.compile(
    r"\b(?:hack(?:ed|er|ing)?|account (?:was |has been |got )?(?:compromised|taken over|breached)|someone (?:else )?(?:logged|got) into|"
    r"(?:didn'?t|did not|never) (?:make|place|authori[sz]e) (?:this|that|these|those|an?) (?:order|purchase|charge|payment)s?|"
    r"unauthori[sz]ed (?:order|purchase|charge|payment|access|login)s?|identity theft|stolen (?:card|account|identity|password)|"
    r"phishing|suspicious (?:email|login|activity|text|sms)|fraud(?:ulent)? (?:order|charge|activity|purchase)s?)\b"
)
DATA_DELETION = re.compile(
    r"\b(?:delete (?:my|all my|the) (?:account|data|personal data|information|info|details|profile)|"
    r"(?:erase|remove|wipe) (?:all )?(?:my )?(?:personal )?(?:data|information|info|details|account)|right to be forgotten|"
    r"close (?:and delete )?my account(?: for good| permanently)?|forget (?:me|my data))\b"
)
BILLING_DISPUTE = re.compile(
    r"\b(?:charged (?:me )?(?:twice|two times|double|2x|three times|again|the wrong amount|more than|too much|for something)|"
    r"double[- ]charged|overcharged|(?:wrong|incorrect|unexpected|unrecogni[sz]ed|unknown) (?:charge|amount|payment)s?|"
    r"charge ?back|dispute (?:the|this|a|my|that) (?:charge|payment|transaction)|(?:contact|call|ask) my bank|"
    r"(?:never|didn'?t) (?:receive|get) (?:it|my order|the item|anything) but (?:was |got )?charged|still charged|"
    r"charged (?:after|even though|although) (?:i )?cancel\w*)\b"
)
POLICY_EXCEPTION = re.compile(
    r"\b(?:(?:make|do me|grant) an exception|exception to (?:the|your) policy|bend the rules?|one[- ]time (?:exception|courtesy)|"
    r"(?:past|outside|after|beyond|over|missed) (?:the )?(?:\d+[- ]day )?(?:return |refund )?(?:window|deadline|period|30 days|return policy)|"
    r"even though (?:it'?s|it is|its) (?:been )?(?:past|over|after|more than|outside)|"
    r"(?:refund|reimburse|compensat\w*) (?:me )?(?:anyway|regardless|even though|even if)|"
    r"(?:goodwill|courtesy) (?:refund|credit|gesture)|(?:want|demand|deserve) (?:some )?compensation|"
    r"refund (?:for )?(?:the )?shipping (?:too|as well)|waive (?:the )?(?:fee|restocking|charge)|price (?:match|adjustment))\b"
)
OUTAGE = re.compile(
    r"\b(?:(?:site|website|app|checkout|payments?) (?:is |are )?(?:down|not loading|not working|broken)|outage|"
    r"(?:can'?t|cannot|unable to) (?:access|load|open|reach) (?:the )?(?:site|website|app|checkout)|500 error|service unavailable)\b"
)
CANCEL_MEMBERSHIP = re.compile(r"\bcancel\w* (?:my |the )?(?:membership|subscription|plan|plus|premium)\b")
DOWNGRADE = re.compile(r"\bdowngrad\w*|\b(?:switch|move|go) (?:back )?(?:down )?to (?:the )?free\b")
ORDER_ID_CAPS = re.compile(r"\b[A-Z]{2}-?\s?\d{6}\b")
ACRONYMS = {"I", "OK", "BC", "UPS", "DHL", "USPS", "USA", "UK", "EU", "ID", "PIN", "FAQ", "ASAP", "PDF", "CEO", "TV", "PC", "SMS", "GDPR", "VAT"}


@dataclass
class MessageAssessment:
    """What one customer message shows on its own."""

    frustration: float = 0.0
    features: Dict[str, float] = field(default_factory=dict)  # feature -> points, for the agent and the audit
    signals: List[str] = field(default_factory=list)
    churn_signals: List[str] = field(default_factory=list)
    urgency: str = "normal"
    product_area: str = "general"


def _count_unnegated(pattern: re.Pattern, text: str) -> int:
    count = 0
    for match in pattern.finditer(text):
        if NEGATION.search(text[max(0, match.start() - 24):match.start()]):
            continue
        count += 1
    return count


def _shouting(original: str) -> float:
    cleaned = ORDER_ID_CAPS.sub(" ", original)
    words = re.findall(r"[A-Za-z][A-Za-z']*", cleaned)
    letters = [c for c in cleaned if c.isalpha()]
    if len(letters) < 8:
        return 0.0
    caps_words = [w for w in words if len(w) >= 2 and w.isupper() and w not in ACRONYMS]
    ratio = sum(1 for c in letters if c.isupper()) / len(letters)
    if ratio >= 0.7 and len(caps_words) >= 2:
        return 0.35
    if len(caps_words) >= 3 or (ratio >= 0.45 and len(caps_words) >= 2):
        return 0.2
    return 0.0


def assess_message(text: str, intent: Optional[str] = None) -> MessageAssessment:
    """Score one message. Points add up and are capped at 1; each feature is listed."""
    result = MessageAssessment()
    original = text or ""
    if original.startswith("/"):  # a button payload: no wording to judge
        original = ""
    lower = original.lower().replace("’", "'")
    points: Dict[str, float] = {}
    signals: List[str] = []

    strong = _count_unnegated(STRONG_NEGATIVE, lower)
    mild = _count_unnegated(MILD_NEGATIVE, lower)
    if strong or mild:
        points["negative_words"] = min(0.5, 0.25 * strong + 0.15 * mild)
        signals.append("negative_words")
    swearing = len(PROFANITY.findall(lower))
    if swearing:
        points["profanity"] = min(0.5, 0.4 + 0.1 * (swearing - 1))
        signals.append("profanity")
    shouting = _shouting(original)
    if shouting:
        points["shouting"] = shouting
        signals.append("shouting")
    if re.search(r"!{3,}|(?:[!?]\s*){4,}", original):
        points["exclamations"] = 0.25
        signals.append("exclamations")
    elif re.search(r"!!|\?!|!\?|\?{3,}", original):
        points["exclamations"] = 0.15
        signals.append("exclamations")
    if REPEAT_CUES.search(lower):
        points["repeat_complaint"] = 0.3
        signals.append("repeat_complaint")
    if WAITING_CUES.search(lower):
        points["still_waiting"] = 0.25
        signals.append("still_waiting")
    leaving = bool(LEAVE_CUES.search(lower))
    if leaving:
        points["threat_to_leave"] = 0.3
        signals.append("threat_to_leave")
    if EMOTIONAL.search(lower):
        points["emotional"] = 0.2
        signals.append("emotional")
    result.frustration = round(min(1.0, sum(points.values())), 3)
    result.features = points

    # topics that decide risk and escalation even when NLU picked another intent
    if WANTS_HUMAN.search(lower):
        signals.append("wants_human")
    if LEGAL.search(lower):
        signals.append("legal")
    if SECURITY.search(lower):
        signals.append("security")
    if DATA_DELETION.search(lower):
        signals.append("data_deletion")
    if BILLING_DISPUTE.search(lower):
        signals.append("billing_dispute")
    if POLICY_EXCEPTION.search(lower):
        signals.append("policy_exception")
    if OUTAGE.search(lower):
        signals.append("outage")
    if URGENT.search(lower):
        signals.append("urgent")
    if contains_card_number(original):
        signals.append("card_number")
    result.signals = signals

    churn: List[str] = []
    if intent == "cancel_subscription" or CANCEL_MEMBERSHIP.search(lower):
        churn.append("cancel_membership")
    if DOWNGRADE.search(lower) or (intent == "change_plan" and re.search(r"\bfree\b", lower)):
        churn.append("downgrade")
    if intent == "delete_account" or "data_deletion" in signals:
        churn.append("delete_account")
    if leaving and COMPETITOR.search(lower):
        churn.append("competitor")
    if leaving:
        churn.append("never_again")
    if re.search(r"\bcharge ?back\b|\b(?:contact|call) my bank\b", lower):
        churn.append("chargeback")
    if PUBLIC_COMPLAINT.search(lower):
        churn.append("public_complaint")
    result.churn_signals = list(dict.fromkeys(churn))

    result.product_area = product_area(intent, lower)
    return result


def product_area(intent: Optional[str], lower_text: str) -> str:
    area = get_catalog().get(intent).product_area
    if area:
        return area
    for area, pattern in AREA_KEYWORDS:
        if pattern.search(lower_text):
            return area
    return "general"


def combine_frustration(message: float, previous: float) -> float:
    """Conversation-level frustration: the message, plus what remains of earlier anger.

    ``1 - (1 - m)(1 - 0.6 p)``: with a calm history it is the message score; with a calm
    message it decays to 60 % of the previous value per turn; two moderately annoyed messages
    (0.5, 0.5) add up to 0.65, a third one crosses 0.7.
    """
    previous = min(1.0, max(0.0, previous or 0.0))
    return round(1.0 - (1.0 - message) * (1.0 - 0.6 * previous), 3)


def raise_urgency(level: str, steps: int = 1) -> str:
    index = min(len(URGENCY_ORDER) - 1, URGENCY_ORDER.index(level) + steps)
    return URGENCY_ORDER[index]


# --- conversation state from the tracker -------------------------------------------------------


@dataclass
class Turn:
    text: str
    intent: Optional[str]
    failed: bool = False  # not understood, or answered with a knowledge refusal
    kb_refusal_reason: Optional[str] = None
    backend_errors: int = 0
    subject: Optional[str] = None  # the order the message is about, if it names one


@dataclass
class ConversationState:
    turns: List[Turn]  # customer turns since the session started or the bot got the conversation back; last = latest
    backend_errors: int = 0
    # False when the events do not reach back to that start: Rasa's tracker store served a
    # working window of a long conversation (rasa_addons/sqlite_stores.py)
    from_start: bool = True

    @property
    def current(self) -> Turn:
        return self.turns[-1]

    @property
    def previous(self) -> List[Turn]:
        return self.turns[:-1]


def _user_intent(event: Dict[str, Any]) -> Optional[str]:
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name")


def conversation_state(events: Sequence[Dict[str, Any]]) -> ConversationState:
    """Customer turns after the latest session start, restart or resume, with what came of each."""
    start = 0
    from_start = False
    for index, event in enumerate(events):
        if event.get("event") in ("session_started", "restart", "resume"):
            start = index + 1
            from_start = True
    turns: List[Turn] = []
    backend_errors = 0
    for event in events[start:]:
        kind = event.get("event")
        if kind == "user":
            intent = _user_intent(event)
            turns.append(Turn(text=event.get("text") or "", intent=intent, failed=intent == NLU_FALLBACK,
                              subject=_subject((event.get("parse_data") or {}).get("entities"))))
        elif not turns:
            continue
        elif kind == "slot" and event.get("name") == "kb_last_refused" and event.get("value") is True:
            turns[-1].failed = True
        elif kind == "slot" and event.get("name") == "kb_last_retrieval" and isinstance(event.get("value"), dict):
            if event["value"].get("refused"):
                turns[-1].kb_refusal_reason = event["value"].get("reason")
        elif kind == "bot" and ((event.get("metadata") or {}).get("utter_action") == "utter_backend_down"):
            turns[-1].backend_errors += 1
            backend_errors += 1
    if not turns:
        turns.append(Turn(text="", intent=None))
    return ConversationState(turns=turns, backend_errors=backend_errors, from_start=from_start)


def turn_number(tracker: Tracker, state: ConversationState) -> int:
    """The latest message's number since the session start (or the bot got the conversation back).

    Counted from the events when they reach back to that start; in a working window, one more than
    the previous message's number, which the `triage` slot carries across the window's cut."""
    count = len(state.turns)
    if not state.from_start:
        previous = tracker.get_slot("triage")
        if isinstance(previous, dict) and isinstance(previous.get("turn"), (int, float)):
            count = max(count, int(previous["turn"]) + 1)
    return count


def _subject(entities: Any) -> Optional[str]:
    for entity in entities or []:
        if isinstance(entity, dict) and entity.get("entity") == "order_id" and entity.get("value"):
            return re.sub(r"[^0-9]", "", str(entity["value"])) or None
    return None


def same_issue_count(state: ConversationState, intent: Optional[str]) -> int:
    """How often the customer raised this issue: same intent, and the same order when both name
    one (three different orders' status is routine; the same order three times is not)."""
    if not intent or intent in get_catalog().generic:
        return 0
    subject = state.current.subject
    return sum(1 for turn in state.turns
               if turn.intent == intent and (subject is None or turn.subject is None or turn.subject == subject))


def _similar(a: str, b: str) -> bool:
    a, b = a.lower().strip(), b.lower().strip()
    return len(a) >= 15 and len(b) >= 15 and SequenceMatcher(None, a, b).ratio() >= 0.85


def _number(value: Any) -> float:
    try:
        return float(value) if value is not None else 0.0
    except (TypeError, ValueError):
        return 0.0


@dataclass
class TriageResult:
    ticket: Dict[str, Any]  # the normalized ticket, stored in the `triage` slot
    facts: Dict[str, Any]  # what escalation rules see
    rule: Optional[escalation.Rule]


# Words that may surround a bare value ("it's jane@x.com", "order number BC-123456 thanks").
VALUE_FILLER = {
    "it", "its", "it's", "is", "my", "the", "email", "e-mail", "address", "order", "number", "no",
    "yes", "sure", "ok", "okay", "here", "thanks", "thank", "you", "please", "pls", "that", "this",
}


def is_bare_value(text: str, entities: List[Dict[str, Any]]) -> bool:
    """True when a message is only an order number or email (plus filler words): an answer to a
    question, whatever intent the classifier guessed for it."""
    if not any(e.get("entity") in ("order_id", "email") for e in entities):
        return False
    rest = text
    for entity in sorted(entities, key=lambda e: e.get("start", 0), reverse=True):
        if isinstance(entity.get("start"), int) and isinstance(entity.get("end"), int):
            rest = rest[: entity["start"]] + " " + rest[entity["end"]:]
    words = [w for w in re.findall(r"[a-z']+", rest.lower()) if w not in VALUE_FILLER]
    return not words


def triage(tracker: Tracker, rules: Optional[escalation.RuleSet] = None) -> TriageResult:
    """Triage the latest customer message of ``tracker`` and evaluate the escalation rules."""
    message = tracker.latest_message or {}
    intent_data = message.get("intent") or {}
    intent = intent_data.get("name")
    text = message.get("text") or ""
    entities = message.get("entities") or []
    if is_bare_value(text, entities):
        # a classifier may call a lone email "security_concern"; a bare value is never a topic
        intent = "inform"
    state = conversation_state(tracker.events or [])
    assessment = assess_message(text, intent)
    features = dict(assessment.features)
    signals = list(assessment.signals)

    # the conversation adds what one message cannot show: the same complaint raised again
    same_issue = same_issue_count(state, intent)
    subject = state.current.subject
    repeated_text = any(_similar(text, turn.text) for turn in state.previous
                        if not turn.text.startswith("/") and (subject is None or turn.subject in (None, subject)))
    repeat_points = 0.0
    info = get_catalog().get(intent)
    if info.complaint and same_issue >= 3:
        repeat_points = 0.3
    elif (info.complaint and same_issue == 2) or repeated_text:
        repeat_points = 0.2
    if repeat_points:
        features["asked_before"] = repeat_points
        if "repeat_complaint" not in signals:
            signals.append("repeat_complaint")
    message_frustration = round(min(1.0, assessment.frustration + repeat_points), 3)
    previous = _number(tracker.get_slot("frustration"))
    frustration = combine_frustration(message_frustration, previous)

    emotionally_charged = message_frustration >= 0.6 or "emotional" in signals and message_frustration >= 0.4
    high_risk_signals = {"legal", "security", "data_deletion", "billing_dispute", "outage"}
    risk_class = "high" if (info.risk == "high" or high_risk_signals & set(signals) or emotionally_charged) else "low"

    urgency = info.urgency
    if "security" in signals:
        urgency = "critical"
    elif ("urgent" in signals or "outage" in signals) and urgency in ("low", "normal"):
        urgency = "high"
    if frustration >= 0.7 or "threat_to_leave" in signals:
        urgency = raise_urgency(urgency)

    tier = tracker.get_slot("customer_tier")
    ticket = {
        "turn_key": turn_key(tracker),
        "intent": intent,
        "confidence": round(_number(intent_data.get("confidence")), 3),
        "entities": {e.get("entity"): mask(str(e.get("value"))) for e in entities if e.get("entity")},
        "product_area": assessment.product_area,
        "frustration": frustration,
        "message_frustration": message_frustration,
        "frustration_features": features,
        "urgency": urgency,
        "risk_class": risk_class,
        "churn_signals": assessment.churn_signals,
        "signals": signals,
        "tier": tier,
        "turn": turn_number(tracker, state),
    }
    facts = {**ticket_facts(ticket, entities),
             **state_facts(tracker, state, intent, after_action=False, turn_count=ticket["turn"])}
    ruleset = rules or escalation.get_rules()
    rule = ruleset.first_match(facts)
    if rule:
        ticket["escalation_rule"] = rule.name
    ticket["rules_version"] = ruleset.version
    return TriageResult(ticket=ticket, facts=facts, rule=rule)


def ticket_facts(ticket: Dict[str, Any], entities: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
    """The facts rules see about the latest message, from its normalized ticket."""
    names = [e.get("entity") for e in entities if e.get("entity")] if entities is not None else list(ticket.get("entities") or {})
    return {
        "intent": ticket.get("intent"),
        "intent_confidence": _number(ticket.get("confidence")),
        "entities": names,
        "risk_class": ticket.get("risk_class"),
        "frustration": _number(ticket.get("frustration")),
        "message_frustration": _number(ticket.get("message_frustration")),
        "urgency": ticket.get("urgency"),
        "product_area": ticket.get("product_area"),
        "signals": list(ticket.get("signals") or []),
        "churn_signals": list(ticket.get("churn_signals") or []),
        "tier": ticket.get("tier"),
    }


def state_facts(tracker: Tracker, state: ConversationState, intent: Optional[str], after_action: bool,
                turn_count: Optional[int] = None) -> Dict[str, Any]:
    """The facts rules see about the conversation.

    At triage time (``after_action=False``) the latest message has not been answered yet: failures
    are the previous turns', plus this message if it was not understood. After an action
    (:func:`escalation_after_action`) the latest turn's own outcome counts."""
    turns = state.turns if after_action else state.previous
    failed_in_a_row = 0
    for turn in reversed(turns):
        if not turn.failed:
            break
        failed_in_a_row += 1
    if not after_action and intent == NLU_FALLBACK:
        failed_in_a_row += 1
    consecutive_fallbacks = 0
    for turn in reversed(state.turns):
        if turn.intent != NLU_FALLBACK:
            break
        consecutive_fallbacks += 1
    refusal_turn = state.current if after_action else (state.previous[-1] if state.previous else None)
    same_issue = same_issue_count(state, intent)
    return {
        "verified": bool(tracker.get_slot("verified")),
        "kb_failed_count": _number(tracker.get_slot("kb_failed_count")),
        "kb_refusal_reason": refusal_turn.kb_refusal_reason if refusal_turn else None,
        "failed_answers_in_a_row": failed_in_a_row,
        "consecutive_fallbacks": consecutive_fallbacks,
        "turn_count": turn_count if turn_count is not None else len(state.turns),
        "same_issue_count": same_issue,
        "identity_failures": _number(tracker.get_slot("identity_failures")),
        "backend_errors": state.backend_errors,
        "needs_backend": intent in get_catalog().needs_backend,
        "channel": tracker.get_latest_input_channel(),
        "active_loop": tracker.active_loop_name,
    }


def escalation_after_action(tracker: Tracker, new_events: List[EventType],
                            rules: Optional[escalation.RuleSet] = None) -> List[EventType]:
    """Escalation events for an action to append to its own, so the handoff follows in the same turn.

    For actions whose outcome the rules look at (a knowledge refusal, a backend failure): the
    rules are evaluated again on the state *after* ``new_events`` (the latest message's triage is
    reused, not re-scored). If a rule fires, returns ``SlotSet(escalation_rule)`` and
    ``SlotSet(escalation_reason)``; the EscalationPolicy then runs the handoff next. Example, at
    the end of ``action_answer_from_knowledge``::

        events = [SlotSet(...), ...]
        return events + escalation_after_action(tracker, events)
    """
    ticket = tracker.get_slot("triage")
    if not isinstance(ticket, dict) or ticket.get("turn_key") != turn_key(tracker) or tracker.is_paused():
        return []
    if tracker.get_slot("escalation_rule"):
        return []  # already escalating for this message
    slots = dict(tracker.slots)
    events = list(tracker.events or [])
    for event in new_events:
        event = dict(event)
        events.append(event)
        if event.get("event") == "slot":
            slots[event["name"]] = event.get("value")
    after = Tracker(tracker.sender_id, slots, tracker.latest_message, events, False, None,
                    tracker.active_loop, tracker.latest_action_name)
    state = conversation_state(events)
    facts = {**ticket_facts(ticket), **state_facts(after, state, ticket.get("intent"), after_action=True,
                                                   turn_count=ticket.get("turn"))}
    rule = (rules or escalation.get_rules()).first_match(facts)
    if rule is None:
        return []
    logger.info("escalation rule %s fired after an action for %s", rule.name, mask(tracker.sender_id))
    return [SlotSet("escalation_rule", rule.name), SlotSet("escalation_reason", rule.reason)]


def turn_key(tracker: Tracker) -> Optional[str]:
    """Identifies the latest customer message (Rasa may run slot extraction twice for it)."""
    for event in reversed(tracker.events or []):
        if event.get("event") == "user":
            return str(event.get("message_id") or event.get("timestamp") or "")
    return None


def is_customer_message(tracker: Tracker) -> bool:
    message = tracker.latest_message or {}
    intent = (message.get("intent") or {}).get("name")
    text = message.get("text") or ""
    if intent in get_catalog().not_customer_messages or text.startswith("EXTERNAL: "):
        return False
    return bool(text or intent)


def triage_events(tracker: Tracker, rules: Optional[escalation.RuleSet] = None) -> List[EventType]:
    """The slot events for the latest message (empty when it was already triaged)."""
    if not is_customer_message(tracker):
        return []
    previous = tracker.get_slot("triage")
    key = turn_key(tracker)
    if isinstance(previous, dict) and key and previous.get("turn_key") == key:
        return []
    result = triage(tracker, rules)
    ticket = result.ticket
    events: List[EventType] = [SlotSet("triage", ticket)]  # every message: the audit's record of its triage
    # the two scores the rules and the agent read get an event only when they change: each event is
    # carried, replayed and sent to the action server for the rest of the conversation
    for name in ("frustration", "risk_class"):
        if tracker.get_slot(name) != ticket[name]:
            events.append(SlotSet(name, ticket[name]))
    if result.rule:
        logger.info("escalation rule %s fired for %s", result.rule.name, mask(tracker.sender_id))
        events += [SlotSet("escalation_rule", result.rule.name), SlotSet("escalation_reason", result.rule.reason)]
    elif tracker.get_slot("escalation_rule") is not None or tracker.get_slot("escalation_reason") is not None:
        events += [SlotSet("escalation_rule", None), SlotSet("escalation_reason", None)]
    return events


class ActionValidateSlotMappings(ValidationAction):
    """``action_validate_slot_mappings``: triage + escalation, or relay while a person has the chat.

    Keeps rasa-sdk's ``extract_<slot>`` hooks for global custom slots (none yet); per-slot
    ``validate_<slot>`` methods for global slots can be added here as well.
    """

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        paused = tracker.is_paused()
        if not paused:
            # a question the knowledge action will answer: its embedding starts now, in the
            # background, and is ready (or nearly) when the answer is asked for
            try:
                from actions.knowledge import prefetch

                prefetch.start_for(tracker.latest_message)
            except Exception:  # only an earlier start is lost
                logger.exception("starting the question's embedding failed for %s", mask(tracker.sender_id))
        events: List[EventType] = list(await self.get_extraction_events(dispatcher, tracker, domain))
        if is_customer_message(tracker):
            # a token-verified conversation stays verified only while its messages carry that token
            events += identity.binding_events(tracker)
        if paused:
            from actions.handoff import while_paused

            try:
                return events + await while_paused(dispatcher, tracker)
            except Exception:  # relaying must never take the customer's turn down
                logger.exception("relaying a customer message to the agent failed for %s", mask(tracker.sender_id))
                return events
        try:
            events += triage_events(tracker)
        except escalation.RulesFileError:
            raise
        except Exception:  # triage must never take the customer's turn down
            logger.exception("triage failed for %s", mask(tracker.sender_id))
        if any(event.get("event") == "pause" for event in tracker.events or []):
            # after a handoff: REST customers get agent messages they have not seen yet
            try:
                from actions.handoff import hand_back_unseen

                hand_back_unseen(dispatcher, tracker)
            except Exception:
                logger.exception("returning agent messages failed for %s", mask(tracker.sender_id))
        return events
