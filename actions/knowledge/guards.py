"""Questions the help center must not answer, whatever retrieval finds.

A knowledge base answers *policy* questions. Some questions look similar but need something it
cannot give: the customer's own data ("where is MY order", "why was I charged"), a decision only a
person may take (exceptions, waivers), or facts about another company. Retrieval would happily
return a close article for these, so they are caught by explicit, reviewable patterns first.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

ACCOUNT_DATA = "account_data"
EXCEPTION = "policy_exception"
OTHER_COMPANY = "other_company"
COMPANY_MATTERS = "company_matters"

_I = re.IGNORECASE
_ACCOUNT_PATTERNS = [
    # A Brightcart order number means "look at this order".
    re.compile(r"\bbc[\s-]?\d{6}\b", _I),
    re.compile(r"\bwhere('?s| is| are)? (is |are )?my (order|package|parcel|stuff|delivery|refund|"
               r"return|item|items|money|shipment)\b", _I),
    re.compile(r"\b(has|have|did|is|was) my (order|package|parcel|refund|return|item|items|"
               r"shipment|payment)s? (been |already |even )?(ship|shipped|arrive|arrived|processed|"
               r"sent|go|gone|come|received|approved|deliver|delivered|through|issued)", _I),
    re.compile(r"\bstatus (of|on) my\b", _I),
    re.compile(r"\bwhen (will|does|is) my (order|package|parcel|delivery|shipment)\b.*\b(arrive|"
               r"come|ship|get here|deliver|be delivered)", _I),
    re.compile(r"\bwhy (was|were|did|am|have|has) (i|you|we|my card|my account)\b.*"
               r"\b(charg|bill|debit|take|taken)", _I),
    re.compile(r"\bwhy (did|have) you (charge|bill|debit)", _I),
    re.compile(r"\b(what'?s|what is|check|tell me|show me) my (current )?(gift card |store "
               r"credit |account )?(balance|plan|membership|order history|renewal date|orders)\b", _I),
    re.compile(r"\bwhat (plan|membership) am i (on|in)\b", _I),
    re.compile(r"\bhow much (store credit|credit|money) do i have\b", _I),
]
_EXCEPTION_PATTERNS = [
    re.compile(r"\b(make|grant|do) (me )?(an |one )?exception", _I),
    re.compile(r"\bwaive\b", _I),
    re.compile(r"\bjust this (once|one time)\b", _I),
    re.compile(r"\b(bend|break|overlook) the (rules?|policy)\b", _I),
    re.compile(r"\bextend (my|the) (return|refund) (window|period|deadline)\b", _I),
    re.compile(r"\b(give|offer|send) me (a |an |some )?(discount|credit|coupon|free|refund|"
               r"compensation)\b.*\b(because|since|as|for being)\b", _I),
]
_OTHER_COMPANIES = re.compile(
    r"\b(amazon|walmart|best ?buy|ebay|etsy|costco|ikea|shein|temu|netflix|spotify|"
    r"apple tv|hulu|disney\+?|uber|doordash|wayfair|aliexpress|zara|h&m)('?s)?\b"
    # "target" is also an ordinary word, so only the possessive/store forms count.
    r"|\btarget'?s\b|\b(at|to|from) target\b", _I
)
# Brightcart as a company rather than as a shop: careers, investors, press, selling to or through
# Brightcart. Customer support has no answers there, and a near-miss article would mislead.
_COMPANY_MATTERS = re.compile(
    r"\b(hiring|careers?|job openings?|apply for (a )?job|work (at|for) (brightcart|you)|"
    r"internships?|stock price|share price|shares|investors?|ipo|stock ticker|press (inquiry|"
    r"contact|release)|journalist|third[- ]party sellers?|sell (my|our) (products|items|goods|"
    r"stuff) (on|through|with)|become a (seller|vendor|supplier|partner|affiliate)|"
    r"affiliate program|wholesale|drop ?shipping|supplier)\b", _I
)
# Mentioning another retailer is normal when asking for a Brightcart price match.
_PRICE_MATCH = re.compile(r"\b(price ?match|match|cheaper|lower price|less|beat)\b", _I)


@dataclass(frozen=True)
class GuardHit:
    reason: str
    pattern: str


def check(question: str, audience: str = "public") -> GuardHit | None:
    """The reason this question must be refused regardless of retrieval, or None."""
    for pattern in _ACCOUNT_PATTERNS:
        if pattern.search(question):
            return GuardHit(ACCOUNT_DATA, pattern.pattern)
    if audience != "public":
        # Agents ask about exceptions and other retailers on purpose: their playbooks cover it.
        return None
    for pattern in _EXCEPTION_PATTERNS:
        if pattern.search(question):
            return GuardHit(EXCEPTION, pattern.pattern)
    business = _COMPANY_MATTERS.search(question)
    if business:
        return GuardHit(COMPANY_MATTERS, business.group(0))
    company = _OTHER_COMPANIES.search(question)
    if company and not _PRICE_MATCH.search(question):
        return GuardHit(OTHER_COMPANY, company.group(0))
    return None
