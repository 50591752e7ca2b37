"""Find payment card numbers, and the expiry date and security code written next to them.

Shared by the channels (channels/redaction.py: replaced before Rasa stores a message) and by
``actions.pii.mask`` (Slack cases, logs). Pure Python, no Rasa import: both environments load it.

A card number is 13-19 digits passing the Luhn check, written in one of the ways people do:
contiguous, in groups of four (4-4-4-4, 4-4-4-3 for Amex, 4-4-4-4-3 for 19 digits), Amex/Diners
4-6-5 / 4-6-4, or loosely spaced (dictated "4 1 1 1 ..."). Between groups any run of up to six
spaces, tabs, dots, dashes, slashes or line breaks. The expiry date and the security code are only
looked for once a card was found in the same text: on their own "04/27" or "cvv" mean little.

Linear time: no pattern here can backtrack more than a constant amount from any position. Every
repetition in a pattern that scans the text is bounded ({1,6}, {13,19}, ...) or runs over a class
disjoint from what follows it, and none of them nests a quantifier, so the work per start position
is bounded by a constant. The two patterns with a nested quantifier only ever run on one candidate
of at most 38 characters. A candidate that fails the Luhn check is retried from its next digit
group at most twice. tests/security/test_pii.py feeds 1 MB adversarial strings to every public
function to keep it that way; docs/privacy.md has the measurements.
"""
from __future__ import annotations

import bisect
import re
from typing import Callable, List, NamedTuple, Optional, Tuple

# What may stand between two groups of one card number, up to six of them: "4111 - 1111",
# "4111.1111", "4111/1111", "4111\n1111" (pasted across lines).
_SEP = r"[ \t.\-/\r\n\u00a0]{1,6}"
# A card never continues a word or an order/SKU number ("BC-4111...", "A4111..."); lookbehinds are
# fixed-width, so they cost nothing per position.
_START = r"(?<![0-9A-Za-z_])(?<![A-Za-z][-/#])"

# 4-4-4-1..4 with an optional 1-3 digit fifth group: 13-19 digits in groups of four.
_GROUPS_OF_FOUR_RE = re.compile(
    _START + rf"([0-9]{{4}}){_SEP}([0-9]{{4}}){_SEP}([0-9]{{4}}){_SEP}([0-9]{{1,4}})(?:{_SEP}([0-9]{{1,3}}))?(?![0-9])"
)
# Amex 4-6-5 and Diners 4-6-4.
_FOUR_SIX_RE = re.compile(_START + rf"([0-9]{{4}}){_SEP}([0-9]{{6}}){_SEP}([0-9]{{4,5}})(?![0-9])")
_CONTIGUOUS_RE = re.compile(_START + r"([0-9]{13,19})(?![0-9])")
# Anything else: digits with single spaces or dashes anywhere ("4 1 1 1 ...", "41111111 11111111").
# The class overlaps the final digit, but at most 36 characters can be given back per start.
_LOOSE_RE = re.compile(_START + r"[0-9][0-9 \-]{11,36}[0-9](?![0-9])")
# The first n digits of a loose candidate, ending at a group boundary (the candidate is at most 38
# characters, so these cost a constant).
_LOOSE_PREFIX_RES = {n: re.compile(rf"(?:[0-9][ \-]?){{{n - 1}}}[0-9](?![0-9])") for n in range(13, 20)}
# a loose candidate (at most 38 characters, so this costs a constant) made of groups of four
_FOURS_RE = re.compile(r"(?:[0-9]{4}[ \-])*[0-9]{1,4}")
# The month of an expiry date right after a candidate ("... 1111 04/27"): its 1-3 digit "fifth
# group" is then the month, not part of the card.
_DATE_FOLLOWS_RE = re.compile(r" ?[/\-.] ?[0-9]")

_MONTH = r"(?:0?[1-9]|1[0-2])"
_MONTH_NAME = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]{0,6}\.?"
# MM/YY, MM/YYYY, MM-YY, M/YYYY; not part of a longer date (04/27/2026) or number.
_EXPIRY_RE = re.compile(
    rf"(?<![0-9A-Za-z_/.\-]){_MONTH} ?[/\-] ?(?:20)?[0-9]{{2}}(?![0-9A-Za-z_/]|[.\-][0-9])"
)
# After a word that says so, looser forms too: "exp 0427", "expires April 2027", "valid thru 4.27".
_EXPIRY_AFTER_WORD_RE = re.compile(
    r"(?i)\b(?:exp(?:iry|ires|ired|iration|\.)?|valid (?:thru|through|until)|good thru)(?: date)?"
    r"[ \t:.,=-]{0,3}(?:is |on |in )?"
    rf"(?P<date>{_MONTH}[ /.\-]{{0,2}}(?:20)?[0-9]{{2}}|{_MONTH_NAME}[ ,]{{0,2}}(?:20)?[0-9]{{2}})"
    r"(?![0-9])"
)
# "cvv 123", "CVC: 1234", "security code is 123", "the code on the back is 123".
_CODE_WORDS = (
    r"(?:cvc2?|cvv2?|cv2|csc|cid|security code|card code|code on the back|on the back of (?:the|my) card|"
    r"on the back|three digits?|3 digits?)"
)
_CODE_AFTER_WORD_RE = re.compile(
    rf"(?i)\b{_CODE_WORDS}\b[^0-9\n]{{0,24}}?(?<![0-9])(?P<code>[0-9]{{3,4}})(?![0-9])"
)
#: a substring of every word _CODE_AFTER_WORD_RE / _CODE_BEFORE_WORD_RE look for
_CODE_HINTS = ("cv", "csc", "cid", "code", "back", "digit")
# "123 is the cvv", "1234 (security code)".
_CODE_BEFORE_WORD_RE = re.compile(
    r"(?i)(?<![0-9A-Za-z_/.\-])(?P<code>[0-9]{3,4}) ?(?:\(|is |= |as |- )?(?:the |my )?"
    r"(?:cvc2?|cvv2?|cv2|csc|security code)\b"
)
# An expiry date written without a separator straight after the card: "4111111111111111 1225 123"
# (anywhere else four digits are too often something else).
_BARE_EXPIRY_RE = re.compile(r"[ ,;|/]{1,3}(?P<date>(?:0[1-9]|1[0-2])(?:20)?[0-9]{2})(?![0-9A-Za-z_/.\-])")
# A bare 3-4 digit group straight after the expiry date: "4111 1111 1111 1111 04/27 123".
_BARE_CODE_RE = re.compile(r"[ ,;|/]{1,3}(?P<code>[0-9]{3,4})(?![0-9A-Za-z_/.\-])")


#: how far from a card number (characters, either side) its expiry date and security code are
#: looked for: the same message, in practice, and never a whole long text for one card
NEAR = 300
#: stray digit groups before a card that are skipped one by one (see ``_scan``)
MAX_RETRIES = 2


class Span(NamedTuple):
    start: int
    end: int
    kind: str  # "card", "expiry" or "cvc" here; actions.pii adds "email", "address" and "phone"
    last4: str = ""


# Luhn doubles every second digit from the right; str.translate does it for a whole string at C speed.
_DOUBLED = str.maketrans("0123456789", "0246813579")
_NOT_DIGITS = str.maketrans("", "", "0123456789")
_NO_SEPARATORS = str.maketrans("", "", " -")


def luhn_valid(digits: str) -> bool:
    """True when a digit string passes the Luhn checksum used by payment cards."""
    if not digits or not (digits.isascii() and digits.isdigit()):  # not "²" or "٣": ASCII digits
        return False
    # the digit sum of every kept digit and doubled-then-digit-summed one, via bytes (ASCII 48 = "0")
    summed = (digits[-1::-2] + digits[-2::-2].translate(_DOUBLED)).encode()
    return (sum(summed) - 48 * len(summed)) % 10 == 0


def _card(start: int, end: int, digits: str) -> Optional[Span]:
    if 13 <= len(digits) <= 19 and luhn_valid(digits):
        return Span(start, end, "card", digits[-4:])
    return None


def _grouped_card(text: str, match: "re.Match[str]") -> Optional[Span]:
    """A 4-4-4-x(-x) candidate: the whole of it or, when its fifth group is the month of an expiry
    date or is not part of the number, the first four groups."""
    first = "".join(match.group(1, 2, 3, 4))
    if match.group(5):
        if _DATE_FOLLOWS_RE.match(text, match.end()) is None:
            whole = _card(match.start(), match.end(), first + match.group(5))
            if whole is not None:
                return whole
        return _card(match.start(), match.end(4), first)
    return _card(match.start(), match.end(), first)


def _whole(text: str, match: "re.Match[str]") -> Optional[Span]:
    return _card(match.start(), match.end(), "".join(match.groups()))


def _loose(text: str, match: "re.Match[str]") -> Optional[Span]:
    """A leading run of groups that is a card (the match may run on into other numbers): the
    longest of up to 19 digits, else the usual 16 or 15."""
    found = match.group()
    if _FOURS_RE.fullmatch(found):
        return None  # groups of four: _GROUPS_OF_FOUR_RE has tried them
    longest = next((n for n in range(19, 12, -1) if _LOOSE_PREFIX_RES[n].match(found)), None)
    if longest is None:
        return None
    for count in dict.fromkeys(n for n in (longest, 16, 15) if n <= longest):
        prefix = _LOOSE_PREFIX_RES[count].match(found)
        if prefix is not None:
            span = _card(match.start(), match.start() + prefix.end(), prefix.group().translate(_NO_SEPARATORS))
            if span is not None:
                return span
    return None


def _scan(pattern: "re.Pattern[str]", text: str, check: Callable[[str, "re.Match[str]"], Optional[Span]],
          retry: bool) -> List[Span]:
    """Every card ``pattern`` finds. With ``retry`` a candidate that is no card is tried again from
    its next digit group, twice at most ("12 2027 4111 1111 1111 1111": a stray number or two
    before the card); the lookbehind of ``_START`` makes that search skip the rest of the group.
    The bound keeps a long run of non-card digit groups at a few searches per candidate."""
    found: List[Span] = []
    pos, retries, failed_end = 0, 0, -1
    search = pattern.search
    while True:
        match = search(text, pos)
        if match is None:
            return found
        span = check(text, match)
        if span is not None:
            found.append(span)
            pos, retries = span.end, 0
            continue
        if match.start() >= failed_end:
            retries = 0  # a new run of groups, not the retry of the last one
        if retry and retries < MAX_RETRIES:
            retries += 1
            failed_end = max(failed_end, match.end())
            pos = match.start() + 1
        else:
            pos, retries = match.end(), 0


def find_cards(text: str) -> List[Span]:
    """Card numbers in ``text``, in order, not overlapping."""
    if not text or len(text) - len(text.translate(_NOT_DIGITS)) < 13:
        return []  # most messages: not enough digits for a card
    spans = (_scan(_GROUPS_OF_FOUR_RE, text, _grouped_card, retry=True)
             + _scan(_FOUR_SIX_RE, text, _whole, retry=True)
             + _scan(_CONTIGUOUS_RE, text, _whole, retry=False)
             + _scan(_LOOSE_RE, text, _loose, retry=False))
    return without_overlaps(spans)


def without_overlaps(spans: List[Span]) -> List[Span]:
    """Earlier entries win (the caller lists the surer kinds first); the result is in text order.
    Kept spans stay sorted and never overlap, so one bisect finds the only neighbours to check."""
    starts: List[int] = []
    kept: List[Span] = []
    for span in spans:
        at = bisect.bisect_left(starts, span.start)
        if at > 0 and kept[at - 1].end > span.start:
            continue
        if at < len(kept) and kept[at].start < span.end:
            continue
        starts.insert(at, span.start)
        kept.insert(at, span)
    return kept


def _windows(text: str, cards: List[Span]) -> List[Tuple[int, int]]:
    """The stretches of ``text`` within NEAR characters of a card, merged."""
    windows: List[Tuple[int, int]] = []
    for card in cards:
        start, end = max(0, card.start - NEAR), min(len(text), card.end + NEAR)
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], end)
        else:
            windows.append((start, end))
    return windows


def _expiry_and_codes(text: str, start: int, end: int, cards: List[Span]) -> List[Span]:
    # each pattern runs only when its words or characters are there at all (a substring test on
    # the lowered text is far cheaper than a regex pass)
    lower = text[start:end].lower()
    spans: List[Span] = []
    if any(word in lower for word in ("exp", "valid", "good thru")):
        spans += [Span(*m.span("date"), "expiry") for m in _EXPIRY_AFTER_WORD_RE.finditer(text, start, end)]
    if "/" in lower or "-" in lower:
        spans += [Span(*m.span(), "expiry") for m in _EXPIRY_RE.finditer(text, start, end)]
    if any(word in lower for word in _CODE_HINTS):
        spans += [Span(*m.span("code"), "cvc") for m in _CODE_AFTER_WORD_RE.finditer(text, start, end)]
        spans += [Span(*m.span("code"), "cvc") for m in _CODE_BEFORE_WORD_RE.finditer(text, start, end)]
    for card in cards:
        bare = _BARE_EXPIRY_RE.match(text, card.end, end)
        if bare:
            spans.append(Span(*bare.span("date"), "expiry"))
    for expiry in [s for s in spans if s.kind == "expiry"]:
        bare = _BARE_CODE_RE.match(text, expiry.end, end)
        if bare:
            spans.append(Span(*bare.span("code"), "cvc"))
    return spans


def find_payment_details(text: str) -> List[Span]:
    """Card numbers and the expiry dates and security codes near them (NEAR characters)."""
    cards = find_cards(text)
    if not cards:
        return []
    spans = list(cards)
    for start, end in _windows(text, cards):
        spans += _expiry_and_codes(text, start, end, [c for c in cards if start <= c.start < end])
    return without_overlaps(spans)


def replace_payment_details(text: str, card: Callable[[str], str], expiry: str = "[expiry removed]",
                            code: str = "[security code removed]") -> Tuple[str, int]:
    """``text`` with card numbers replaced by ``card(last4)``, expiry dates by ``expiry`` and
    security codes by ``code``; and how many card numbers were replaced."""
    spans = find_payment_details(text or "")
    if not spans:
        return text, 0
    parts: List[str] = []
    pos = 0
    for span in spans:
        parts.append(text[pos:span.start])
        parts.append(card(span.last4) if span.kind == "card" else expiry if span.kind == "expiry" else code)
        pos = span.end
    parts.append(text[pos:])
    return "".join(parts), sum(1 for s in spans if s.kind == "card")


def contains_card_number(text: str) -> bool:
    """True if the text holds something that looks like a real payment card number."""
    return bool(find_cards(text or ""))
