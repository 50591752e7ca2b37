"""Detect and mask personal data (emails, phone numbers, card numbers, street addresses) in free text.

``mask`` is what agents (Slack cases, backend tickets) and logs see of a customer's words; the
order number (BC-100002) stays readable because the agent needs it. Card numbers are already
replaced by the channels before Rasa stores a message (channels/redaction.py); ``mask`` catches
them again for text that did not come through a channel (bot messages, slots, entity values).

Every pattern here runs in linear time on any input: each repetition is bounded (RFC 5321 limits
for email addresses, E.164 for phone numbers) and starts only where the lookbehind allows, so the
engine never rescans a long run from every position. docs/privacy.md has the measurements.
Pure Python, no Rasa import: the channels import this module from the Rasa environment.
"""
from __future__ import annotations

import re

from typing import List

from actions.card_numbers import Span, contains_card_number, find_payment_details, luhn_valid, without_overlaps

__all__ = ["EMAIL_RE", "PHONE_RE", "ADDRESS_RE", "Span", "contains_card_number", "detect", "luhn_valid", "mask",
           "mask_email_address"]

# Local part at most 64 characters, up to 10 dot-separated domain labels of at most 63, a TLD of
# letters. The lookbehind keeps the engine from starting again inside a run of address characters
# (the old unbounded pattern re-scanned 'aaaa…@' from every position: quadratic); a label's class
# has no dot, so the split into labels is unambiguous.
EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@"
    r"(?:[A-Za-z0-9-]{1,63}\.){1,10}[A-Za-z]{2,63}(?![A-Za-z0-9-])"
)
# A phone number candidate: an optional +, then 7-20 characters of digits and the usual
# separators, ending on a digit; ``_mask_phone`` then counts the digits. Not inside a word, an
# order number (BC-100002), a decimal, a date or a time of day (lookbehind / lookahead).
PHONE_RE = re.compile(r"(?<![\w+./:-])\+?\(?[0-9][0-9 ().-]{5,18}[0-9](?![\w/:]|[.-][0-9])")
# Dates, amounts and ZIP+4 codes a phone candidate must not be: 2026-04-27, 27.04.2026, 1.299.000,
# 12999.00, 02139-4307
# (fullmatch on a candidate of at most 21 characters: constant time)
_NOT_A_PHONE_RE = re.compile(
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|[0-9]{1,2}[.-][0-9]{1,2}[.-][0-9]{2,4}|[0-9]{1,3}(?:\.[0-9]{3}){1,4}"
    r"|[0-9]{1,12}\.[0-9]{2}|[0-9]{5}-[0-9]{4}"
)

_SINGLE_DIGIT_INSIDE_RE = re.compile(r"[^0-9+(][0-9][^0-9]|[^0-9+(][0-9]$")

# Street types that are not everyday words match in any case; everyday words ("way", "drive",
# "court") only capitalised, so "3 items on the way" stays.
_STREET_TYPE = (
    r"(?:(?i:street|st|avenue|ave|boulevard|blvd|rd|ln|dr|ct|pkwy|hwy|terr)"
    r"|Road|Lane|Drive|Way|Court|Place|Pl|Square|Sq|Terrace|Close|Crescent|Parkway|Highway|Circle|Trail)\b\.?"
)
# "221B Baker Street", "12 north main st, apt 4", "1600 Pennsylvania Avenue NW": a house number,
# one to four words, a street type, optionally a direction and an apartment/unit. Words are
# letters only, separated by spaces, so the split into words is unambiguous.
ADDRESS_RE = re.compile(
    r"(?<![\w.,/$£€#-])[0-9]{1,6}[A-Za-z]?(?:-[0-9]{1,4})?"
    r"(?: {1,3}[A-Za-z][A-Za-z'.]{0,24}){1,4} {1,3}" + _STREET_TYPE +
    r"(?: (?:N|S|E|W|NE|NW|SE|SW)\b)?"
    r"(?:,? {0,3}(?i:apt|apartment|unit|suite|ste|flat|#)\.? {0,3}#?[A-Za-z0-9-]{1,6})?"
)


def _mask_email(match: re.Match[str]) -> str:
    return _masked_email(match.group())


def _masked_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


# what PHONE_RE lets stand between digits, deleted at C speed
_PHONE_PUNCTUATION = str.maketrans("", "", "+() .-")


def _is_phone(candidate: str) -> bool:
    digits = candidate.translate(_PHONE_PUNCTUATION)
    # 7-15 digits (E.164); contiguous ones need 10 or a +, else they are more likely an amount,
    # an account or a reference number than a phone number
    if not 7 <= len(digits) <= 15 or _NOT_A_PHONE_RE.fullmatch(candidate):
        return False
    if digits == candidate:  # 4155550123, 14155550123; longer runs are barcodes and references
        return 10 <= len(digits) <= 11
    # a single digit inside is an ISBN (978-0-306-40615-7), not a phone number (only a country
    # or trunk code, first, is that short: +1 555 0101, 1-800-555-0199)
    return _SINGLE_DIGIT_INSIDE_RE.search(candidate) is None


def detect(text: str | None) -> List[Span]:
    """The personal data in ``text`` as spans of kind email, card, expiry, cvc, address or phone,
    in text order, not overlapping (an email or a card wins over a phone-looking part of it)."""
    if not text:
        return []
    spans = [Span(*m.span(), "email") for m in EMAIL_RE.finditer(text)]
    spans += find_payment_details(text)
    spans += [Span(*m.span(), "address") for m in ADDRESS_RE.finditer(text)]
    spans += [Span(*m.span(), "phone") for m in PHONE_RE.finditer(text) if _is_phone(m.group())]
    return without_overlaps(spans)


def _replacement(text: str, span: Span) -> str:
    found = text[span.start:span.end]
    if span.kind == "email":
        return _masked_email(found)
    if span.kind == "card":
        return f"[card ****{span.last4}]"
    if span.kind == "phone":
        return f"[phone ***{found.translate(_PHONE_PUNCTUATION)[-2:]}]"
    return {"expiry": "[expiry removed]", "cvc": "[security code removed]", "address": "[address]"}[span.kind]


def mask(text: str | None) -> str:
    """Mask emails, card numbers (with expiry and security code), street addresses and phone
    numbers; order numbers (BC-123456) stay readable."""
    if not text:
        return ""
    parts: List[str] = []
    pos = 0
    for span in detect(text):
        parts += [text[pos:span.start], _replacement(text, span)]
        pos = span.end
    parts.append(text[pos:])
    return "".join(parts)


def mask_email_address(email: str | None) -> str:
    """j***@example.com, for telling a customer where we sent something."""
    if not email or "@" not in email:
        return ""
    return EMAIL_RE.sub(_mask_email, email)
