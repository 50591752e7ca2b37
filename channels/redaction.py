"""Replace payment card details in customer text before Rasa stores it.

Every channel runs its customer texts through ``redact_card_numbers`` (channels/redacting.py for
REST, channels/twilio_sms.py, channels/twilio_voice.py). A card number is 13-19 digits passing
the Luhn check, written contiguously or in groups separated by spaces, dots, dashes, slashes or
line breaks (actions/card_numbers.py has the shapes). The replacement keeps the last four digits
so a person reading the transcript still knows which card was meant: ``[card ending 1111]``.
When a message holds a card number, its expiry date becomes ``[expiry removed]`` and its security
code ``[security code removed]``. Order numbers (``BC-100002``), phone numbers, prices, dates
without a card and short digit runs are left alone. Linear time on any input.

Pure Python (no Rasa import): the channels run in the Rasa environment, the tests in the other;
the detection is shared with actions/pii.py (masking for agents and logs).
"""
from __future__ import annotations

from typing import Tuple

from actions.card_numbers import replace_payment_details

CARD_WARNING = (
    "For your security I removed a card number from your message. Please don't share card "
    "numbers in this chat: we never need them here, and you can update a payment method safely "
    "in your account settings."
)


def card_label(last4: str) -> str:
    return f"[card ending {last4}]"


def redact_card_numbers(text: str) -> Tuple[str, int]:
    """The text with every card number (and the expiry date and security code written with it)
    replaced, and how many card numbers were replaced."""
    if not text:
        return text, 0
    return replace_payment_details(text, card_label)
