"""Replace payment card numbers in customer text before Rasa stores it.

A card number is 13-19 digits, optionally grouped with spaces or dashes, that passes the Luhn
check. Order numbers (``BC-100002``), phone numbers and short digit runs are left alone. The
replacement keeps the last four digits so a person reading the transcript still knows which card
was meant: ``[card ending 1111]``.

Pure Python (no Rasa import): the channels run in the Rasa environment, the tests in the other;
the Luhn check is shared with actions/pii.py.
"""
from __future__ import annotations

import re
from typing import Tuple

from actions.pii import luhn_valid  # pure Python, importable from the Rasa environment too

# 13-19 digits, single spaces or dashes allowed between them, not glued to other digits/letters.
CARD_CANDIDATE_RE = re.compile(r"(?<![\w-])(?:\d[ -]?){12,18}\d(?![\w-])")

CARD_WARNING = (
    "For your security I removed a card number from your message. Please don't share card "
    "numbers in this chat: we never need them here, and you can update a payment method safely "
    "in your account settings."
)


def _is_card(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    return 13 <= len(digits) <= 19 and luhn_valid(digits)


def redact_card_numbers(text: str) -> Tuple[str, int]:
    """The text with every card number replaced, and how many were replaced."""
    if not text:
        return text, 0
    count = 0

    def replace(match: "re.Match[str]") -> str:
        nonlocal count
        if not _is_card(match.group()):
            return match.group()
        count += 1
        return f"[card ending {re.sub(r'[^0-9]', '', match.group())[-4:]}]"

    return CARD_CANDIDATE_RE.sub(replace, text), count

