"""Detect and mask personal data (emails, phone numbers, card numbers) in free text."""
from __future__ import annotations

import re

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# 13-19 digits, optionally grouped by spaces or dashes: the shape of a payment card number
CARD_RE = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
PHONE_RE = re.compile(r"(?<![\w-])\+?\d[\d ().-]{7,}\d\b")


def luhn_valid(digits: str) -> bool:
    """True when a digit string passes the Luhn checksum used by payment cards."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def contains_card_number(text: str) -> bool:
    """True if the text holds something that looks like a real payment card number."""
    for match in CARD_RE.finditer(text or ""):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            return True
    return False


def _mask_email(match: re.Match[str]) -> str:
    local, _, domain = match.group().partition("@")
    return f"{local[:1]}***@{domain}"


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    if 13 <= len(digits) <= 19:
        return f"[card ****{digits[-4:]}]"
    return match.group()


def _mask_phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    if len(digits) < 8:
        return match.group()
    return f"[phone ***{digits[-2:]}]"


def mask(text: str | None) -> str:
    """Mask emails, card numbers and phone numbers; order numbers (BC-123456) stay readable."""
    if not text:
        return ""
    masked = EMAIL_RE.sub(_mask_email, text)
    masked = CARD_RE.sub(_mask_card, masked)
    return PHONE_RE.sub(_mask_phone, masked)


def mask_email_address(email: str | None) -> str:
    """j***@example.com, for telling a customer where we sent something."""
    if not email or "@" not in email:
        return ""
    return EMAIL_RE.sub(_mask_email, email)
