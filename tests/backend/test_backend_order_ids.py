"""normalize_order_id: the forms customers type order numbers in."""

from __future__ import annotations

import pytest

from actions.backend_client import normalize_order_id


@pytest.mark.parametrize("text", [
    "BC-123456", "bc123456", "BC 123456", "bc-123456", "#123456", "123456", "Bc_123456",
    "my order is bc 123456, please help", "order #123456.", "BC-123456?", "(BC123456)",
    "  123456  ", "bc - 123456",
])
def test_recognised_forms(text: str) -> None:
    assert normalize_order_id(text) == "BC-123456"


@pytest.mark.parametrize("text", [
    "", "   ", "hello", "BC-12345", "12345", "1234567", "BC-1234567", "call me on 5555550101",
    "card 4242424242424242", None, 123456,
])
def test_rejected(text) -> None:
    assert normalize_order_id(text) is None


def test_prefixed_id_wins_over_other_numbers() -> None:
    assert normalize_order_id("zip 902100, order BC-100002") == "BC-100002"
    assert normalize_order_id("zip 902100") == "BC-902100"  # bare six digits are accepted
