"""Card details are replaced before Rasa stores a message; other numbers are not."""
from __future__ import annotations

import json
import time
from typing import Any, Dict

import pytest

from channels.redaction import redact_card_numbers


@pytest.mark.parametrize("text, expected, count", [
    ("my card is 4111 1111 1111 1111 thanks", "my card is [card ending 1111] thanks", 1),
    ("5500-0000-0000-0004", "[card ending 0004]", 1),
    ("amex 378282246310005 and visa 4012888888881881", "amex [card ending 0005] and visa [card ending 1881]", 2),
    ("4111 1111 1111 1112", "4111 1111 1111 1112", 0),  # fails the Luhn check
    ("where is my order BC-100002", "where is my order BC-100002", 0),
    ("call me on +1 555 555 0101", "call me on +1 555 555 0101", 0),
    ("", "", 0),
])
def test_redaction(text, expected, count):
    assert redact_card_numbers(text) == (expected, count)


@pytest.mark.parametrize("written", [
    "4111111111111111",  # contiguous
    "4111 1111 1111 1111",  # single spaces
    "4111   1111  1111    1111",  # several spaces
    "4111.1111.1111.1111",  # dots
    "4111-1111-1111-1111",  # dashes
    "4111/1111/1111/1111",  # slashes
    "4111 - 1111 - 1111 - 1111",  # spaced dashes
    "4111-1111.1111 1111",  # a mixture
    "4111 1111\n1111 1111",  # split across lines
    "4111\n1111\n1111\n1111",  # a group a line
    "4111 1111 \r\n 1111 1111",  # Windows line break with spaces
    "4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1",  # dictated
    "41111111 11111111",  # two halves
])
def test_every_way_of_writing_a_card(written):
    assert redact_card_numbers(f"my card is {written} thanks") == ("my card is [card ending 1111] thanks", 1)


@pytest.mark.parametrize("text, expected", [
    ("amex 3782 822463 10005", "amex [card ending 0005]"),  # 4-6-5
    ("amex 3782 8224 6310 005", "amex [card ending 0005]"),  # 4-4-4-3
    ("diners 3056 930902 5904", "diners [card ending 5904]"),  # 4-6-4
    ("visa 4222222222222", "visa [card ending 2222]"),  # 13 digits
    ("4000 0000 0000 0000 006", "[card ending 0006]"),  # 19 digits, 4-4-4-4-3
    ("2027 4111 1111 1111 1111", "2027 [card ending 1111]"),  # a stray number before it
    ("4111 1111 1111 1111 and 5555 5555 5555 4444", "[card ending 1111] and [card ending 4444]"),
])
def test_card_shapes(text, expected):
    assert redact_card_numbers(text)[0] == expected


@pytest.mark.parametrize("text, expected", [
    ("4111 1111 1111 1111 04/27 123", "[card ending 1111] [expiry removed] [security code removed]"),
    ("card 5555555555554444 exp 04/27 cvv 321", "card [card ending 4444] exp [expiry removed] cvv [security code removed]"),
    ("4012.8888.8888.1881 expires 4/2027 security code 456",
     "[card ending 1881] expires [expiry removed] security code [security code removed]"),
    ("378282246310005 exp 12-26 cid 1234", "[card ending 0005] exp [expiry removed] cid [security code removed]"),
    ("Card: 6011 1111 1111 1117\nExp: 09/2029\nCVC: 987",
     "Card: [card ending 1117]\nExp: [expiry removed]\nCVC: [security code removed]"),
    ("4111-1111-1111-1111, valid thru 03/28, code on the back is 555",
     "[card ending 1111], valid thru [expiry removed], code on the back is [security code removed]"),
    ("4000056655665556 exp April 2028 and 812 is the cvv",
     "[card ending 5556] exp [expiry removed] and [security code removed] is the cvv"),
    ("my security code is 664 and the card is 4111 1111 1111 1111",
     "my security code is [security code removed] and the card is [card ending 1111]"),
    ("4263 9826 4026 9299 exp. 7/26 CVV2: 019", "[card ending 9299] exp. [expiry removed] CVV2: [security code removed]"),
    ("4111 1111 1111 1111 05/2030 cv2 4321", "[card ending 1111] [expiry removed] cv2 [security code removed]"),
    ("4111111111111111 1225 123", "[card ending 1111] [expiry removed] [security code removed]"),  # MMYY, no separator
])
def test_expiry_and_security_code_with_a_card(text, expected):
    assert redact_card_numbers(text) == (expected, 1)


@pytest.mark.parametrize("text", [
    "where is my order BC-100002 and BC-100003",
    "call me on +1 (415) 555-0199 or 415.555.0172",
    "it cost $1,299.00, refund 49.99 EUR",
    "I ordered on 04/12/2026, expected 04/27",  # dates without a card stay
    "the expiry on the coupon was 04/27 and code 123 didn't work",
    "my cvv is 123",  # a security code alone is not looked for (no card in the message)
    "tracking 1Z999AA10123456784, USPS 9400111899223100000000",
    "SKU-4111111111111111 and item A4111111111111111",  # part of a product code
    "ISBN 978-0-306-40615-7, barcode 123456789012, zip 94107",
    "size 10, 3 items, 2 for 1, 15% off",
    "4111 1111 1111 1112",  # not a card: fails the Luhn check
])
def test_what_is_not_a_card_is_left_alone(text):
    assert redact_card_numbers(text) == (text, 0)


@pytest.mark.parametrize("text", [
    "1 " * 500_000, "1." * 500_000, "1/" * 500_000, "1111 " * 200_000, "1" * 1_000_000,
    "4111 1111 1111 111x " * 50_000, "cvv " * 250_000 + "4111111111111111",
])
def test_linear_time(text):
    """A regression guard against quadratic patterns (minutes on 1 MB), not a benchmark."""
    started, cpu = time.perf_counter(), time.process_time()
    redact_card_numbers(text)
    # the machine is shared: over 2 s of wall time only fails if this process also used 2 s of CPU
    assert time.perf_counter() - started < 2.0 or time.process_time() - cpu < 2.0


def stored_tracker(chat) -> Dict[str, Any]:
    """The conversation as Rasa stored it. One place, so a token for Rasa's API can be added here."""
    return chat.tracker()


def test_rest_channel_never_stores_a_pasted_card_number(chat) -> None:
    """credentials.yml enables channels.redacting.RedactingRestInput for /webhooks/rest/webhook."""
    reply = chat.say("my card 4111 1111 1111 1111 keeps getting declined")
    assert "removed a card number" in reply and "4111" not in reply
    stored = json.dumps(stored_tracker(chat))
    assert "4111 1111 1111 1111" not in stored and "[card ending 1111]" in stored


def test_rest_channel_stores_a_dotted_card_its_expiry_and_code_redacted(chat) -> None:
    reply = chat.say("please charge 4111.1111.1111.1111 exp 04/27 cvv 123 for order BC-100002")
    assert "removed a card number" in reply
    tracker = stored_tracker(chat)
    [text] = [e["text"] for e in tracker["events"] if e.get("event") == "user"]
    assert text == ("please charge [card ending 1111] exp [expiry removed] cvv [security code removed] "
                    "for order BC-100002")
    stored = json.dumps(tracker)
    for secret in ("4111.1111", "04/27", "cvv 123"):
        assert secret not in stored, secret
