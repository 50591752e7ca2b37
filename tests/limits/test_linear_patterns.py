"""Issue 18: every regular expression the project runs over text takes linear time.

One 2 MB REST message froze Rasa for minutes: the e-mail regex of the RegexFeaturizer (data/)
tried every start position of a long run of letters and scanned to its end (quadratic). Each
pattern (data/ as Rasa compiles it, and every pattern in the code: tests/limits/patterns.py)
gets adversarial 1 MB inputs and must finish each in under a second (lookup tables: see
patterns.LOOKUP_BUDGET_SECONDS). A quadratic pattern is caught at 2-16 kB, in seconds.
actions/pii.py and channels/redaction.py are checked by their own branch's tests.
"""
from __future__ import annotations

import re

import pytest

from tests.limits import patterns

DATA = patterns.data_patterns()
CODE = patterns.code_patterns()


def test_every_pattern_was_found():
    """The collection itself: the data/ regexes and lookup, and the code's patterns, inline and
    built at import (a silent empty list would make the guard pass vacuously)."""
    wheres = [f.where for f in DATA]
    assert any("regex email" in w for w in wheres) and any("regex amount" in w for w in wheres)
    assert any("lookup product" in w for w in wheres)
    code = {f.where.split(":")[0].split(" ")[0] for f in CODE}
    for module in ("actions/triage.py", "channels/voice_format.py", "channels/sms_format.py",
                   "actions/knowledge/chunking.py", "actions/knowledge/guards.py", "demo_backend/validation.py"):
        assert module in code, module
    assert not any(w.startswith(tuple(patterns.EXCLUDED)) for w in wheres + [f.where for f in CODE])
    _, dynamic = patterns.literal_call_sites()
    # call sites whose pattern is built at run time: only in modules that build them at import,
    # as module globals, which module_level_patterns() checks
    assert {site.split(":")[0] for site in dynamic} == {"actions/triage.py", "actions/card_numbers.py"}, dynamic
    assert {"actions/card_numbers.py", "actions/pii.py"} <= code, code


@pytest.mark.parametrize("found", DATA + CODE, ids=lambda f: f.where)
def test_pattern_is_linear_on_adversarial_input(found):
    seconds, label, size = patterns.check(found)
    allowed = patterns.budget(found) * size / patterns.FULL_SIZE * (20 if size < patterns.FULL_SIZE else 1)
    assert seconds <= allowed, (
        f"{found.where}: {found.pattern.pattern!r} took {seconds:.2f} s on {size} characters of {label} "
        f"(allowed {allowed:.2f} s): quadratic? Bound its repetitions or anchor them with a lookbehind.")


def test_the_guard_catches_the_patterns_issue_18_found():
    """The old data/ patterns fail the check (quickly), so the guard would have caught them."""
    old = [
        r"[\w.+-]+@[\w-]+\.[\w.-]*\w",
        r"\d+(?:[.,]\d{1,2})?\s?(?:dollars|dollar|bucks|usd|euros|euro|eur|pounds|gbp)",
    ]
    for pattern in old:
        found = patterns.Found("old", re.compile(pattern, re.IGNORECASE))
        seconds, _, size = patterns.check(found)
        assert size < patterns.FULL_SIZE and seconds > patterns.budget(found) * size / patterns.FULL_SIZE * 20
