"""The action server's request-body parser (actions/request_json.py): orjson where it can, the same
values as ``json.loads`` always, and the same answers over HTTP for bodies orjson refuses."""
from __future__ import annotations

import json
import math

import pytest

from actions import request_json
from tests.support.http import post_json, rasa_headers

BODIES = [
    '{"next_action": "action_order_status", "tracker": {"events": [{"event": "user", "text": "wo ist meine Bestellung \\u00e4 \\ud83d\\ude00", '
    '"timestamp": 1732963200.123456, "parse_data": {"intent": {"name": "order_status", "confidence": 0.9312345678901234}}}]}}',
    '[1, -0.0, 1e-310, 2.5E+300, 12345678901234567, "", null, true, false, {"a": {"b": []}}]',
    '{"dup": 1, "dup": 2}',
    '  "plain string with \\" and \\\\ and \\n"  ',
]
# valid for Python's json, refused by orjson: must still parse, to the same value
LENIENT = [
    '{"confidence": NaN, "other": Infinity, "low": -Infinity}',
    '{"big": 123456789012345678901234567890, "neg": -98765432109876543210}',
    '{"text": "lone surrogate \\ud800 here"}',
    '{"overflow": 1e400, "under": -1e400}',
    '{"u64": 18446744073709551615, "beyond": 18446744073709551616, "i64": -9223372036854775809}',
    '{"id": 1234567890123456789}',
]


@pytest.mark.parametrize("text", BODIES + LENIENT)
def test_same_value_as_json_loads(text: str) -> None:
    expected = json.loads(text)
    got = request_json.loads(text.encode())
    assert repr(got) == repr(expected)  # repr: NaN != NaN, and -0.0 == 0.0 would hide a difference


def test_random_numbers_same_as_json_loads() -> None:
    """Floats written every way Python writes them, and integers of every size around 64 bits."""
    import random

    rng = random.Random(7)
    for _ in range(20000):
        x = rng.choice([rng.random() * 10 ** rng.randint(-320, 308), rng.uniform(-1, 1), rng.getrandbits(60) / 7])
        text = rng.choice([repr(x), "%.25g" % x, "%.20e" % x, "%.3f" % x])
        whole = str(rng.getrandbits(rng.randint(1, 80)) * rng.choice([1, -1]))
        body = f'{{"f": {text}, "i": {whole}}}'
        assert repr(request_json.loads(body.encode())) == repr(json.loads(body)), body


def test_long_fractions_go_to_orjson_long_integers_do_not() -> None:
    """Trackers are full of small confidences Python writes with long fractions; only digit runs
    that can be integers send a body to json.loads."""
    assert not request_json._maybe_long_integer(b'{"confidence": 0.00012345678901234567, "b": 1.5e-07}')
    assert not request_json._maybe_long_integer(b'[0.000123456789012345678901234, 0.000123456789012345678901234]')
    assert request_json._maybe_long_integer(b'{"a": 0.000123456789012345678, "id": 1234567890123456789}')
    assert request_json._maybe_long_integer(b'{"id": -1234567890123456789}')
    assert request_json._maybe_long_integer(b'1234567890123456789')
    assert request_json._maybe_long_integer(b'{"x": 12345678901234567890.5}')


def test_nan_stays_a_float_nan() -> None:
    assert math.isnan(request_json.loads(b'{"x": NaN}')["x"])


@pytest.mark.parametrize("text", ["", "{", '{"a": 1,}', "{'a': 1}", '{"a": 1} trailing', "\xff"])
def test_malformed_bodies_fail_like_json_loads(text: str) -> None:
    with pytest.raises(ValueError) as expected:
        json.loads(text.encode("latin-1"))
    with pytest.raises(ValueError) as got:
        request_json.loads(text.encode("latin-1"))
    assert type(got.value) is type(expected.value) and str(got.value) == str(expected.value)


def test_action_server_parses_with_it(stack) -> None:
    """Over HTTP: a malformed body is a 400 with a message, a body only Python's json accepts is
    parsed (the unknown action is then reported by name), a normal one likewise."""
    url = stack.config.action_url
    status, answer = post_json(url, b'{"next_action": "action_x", "tracker": ', timeout=30, headers=rasa_headers(stack))
    assert status == 400 and answer["description"] == "Bad Request" and "parsing body as json" in answer["message"]
    for body in (b'{"next_action": "action_does_not_exist", "tracker": {"events": [], "slots": {"x": NaN}}}',
                 b'{"next_action": "action_does_not_exist", "tracker": {"events": []}, "n": 123456789012345678901234567890}'):
        status, answer = post_json(url, body, timeout=30, headers=rasa_headers(stack))
        assert status == 404 and answer["action_name"] == "action_does_not_exist", answer
