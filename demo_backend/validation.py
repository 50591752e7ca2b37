"""Input validation for request bodies, query strings and path ids.

Validators raise :class:`ApiError` (400) with a message that names the offending field, so a
bad request never turns into a 500.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable

from .errors import bad_request

ORDER_ID_RE = re.compile(r"^BC-\d{6}$")
CUSTOMER_ID_RE = re.compile(r"^C\d{4,}$")
TICKET_ID_RE = re.compile(r"^T-\d{5,}$")
RETURN_ID_RE = re.compile(r"^RT-\d{5,}$")
INVOICE_NUMBER_RE = re.compile(r"^INV-\d{6}$")
EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")

MAX_TEXT = 5000
MAX_LINE = 200


def json_body(raw: bytes | None) -> dict[str, Any]:
    """Parse a request body that must be a JSON object. An empty body counts as ``{}``."""
    if not raw or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("The request body is not valid JSON.", code="invalid_json") from None
    if not isinstance(value, dict):
        raise bad_request("The request body must be a JSON object.", code="invalid_json")
    return value


def _check_id(value: str, pattern: re.Pattern[str], kind: str, example: str) -> str:
    if not pattern.fullmatch(value):
        raise bad_request(
            f"{value!r} is not a valid {kind} id; expected the form {example}.",
            code=f"invalid_{kind.replace(' ', '_')}_id",
        )
    return value


def order_id(value: str) -> str:
    return _check_id(value, ORDER_ID_RE, "order", "BC-123456")


def customer_id(value: str) -> str:
    return _check_id(value, CUSTOMER_ID_RE, "customer", "C0001")


def ticket_id(value: str) -> str:
    return _check_id(value, TICKET_ID_RE, "ticket", "T-10001")


def return_id(value: str) -> str:
    return _check_id(value, RETURN_ID_RE, "return", "RT-50001")


def invoice_number(value: str) -> str:
    return _check_id(value, INVOICE_NUMBER_RE, "invoice", "INV-100001")


def require_str(body: dict[str, Any], field: str, max_len: int = MAX_LINE) -> str:
    """A required, non-blank string field (surrounding whitespace removed)."""
    if field not in body or body[field] is None:
        raise bad_request(f"Field '{field}' is required.", code="missing_field", field=field)
    return _as_str(body[field], field, max_len, required=True)


def optional_str(body: dict[str, Any], field: str, max_len: int = MAX_LINE) -> str | None:
    if body.get(field) is None:
        return None
    value = _as_str(body[field], field, max_len, required=False)
    return value or None


def _as_str(value: Any, field: str, max_len: int, required: bool) -> str:
    if not isinstance(value, str):
        raise bad_request(f"Field '{field}' must be a string.", code="invalid_field", field=field)
    value = value.strip()
    if required and not value:
        raise bad_request(f"Field '{field}' must not be empty.", code="invalid_field", field=field)
    if len(value) > max_len:
        raise bad_request(
            f"Field '{field}' is too long (at most {max_len} characters).",
            code="invalid_field",
            field=field,
        )
    return value


def choice(value: str, field: str, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    normalized = value.strip().lower()
    if normalized not in allowed:
        raise bad_request(
            f"Field '{field}' must be one of: {', '.join(allowed)} (got {value!r}).",
            code="invalid_field",
            field=field,
        )
    return normalized


def email(value: str, field: str = "email") -> str:
    value = value.strip()
    if len(value) > 254 or not EMAIL_RE.fullmatch(value):
        raise bad_request(
            f"Field '{field}' is not a valid email address.", code="invalid_field", field=field
        )
    return value


def optional_object(body: dict[str, Any], field: str) -> dict[str, Any]:
    value = body.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad_request(f"Field '{field}' must be a JSON object.", code="invalid_field", field=field)
    return value


def optional_str_list(body: dict[str, Any], field: str) -> list[str] | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise bad_request(
            f"Field '{field}' must be a list of non-empty strings.", code="invalid_field", field=field
        )
    # Keep the caller's order but drop duplicates.
    return list(dict.fromkeys(v.strip().upper() for v in value))


def phone_digits(value: str) -> str:
    """Digits of a phone number in North American E.164 form (10 digits get a leading 1)."""
    digits = re.sub(r"\D", "", value)
    if len(digits) == 10:
        digits = "1" + digits
    if not 8 <= len(digits) <= 15:
        raise bad_request("Query parameter 'phone' is not a valid phone number.", code="invalid_field")
    return digits
