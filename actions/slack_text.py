"""Slack text built from data we do not control (the customer's words, ids, names, entity values,
channel names, error texts): what Slack shows is what was written, and nothing more.

Slack parses ``&``, ``<`` and ``>`` in every text it receives (mentions ``<@U123>``, ``<!channel>``,
``<!here>``, links ``<https://x|label>``, dates ``<!date^...>``), and in ``mrkdwn`` text also
``*bold*``, ``_italic_``, ``~strike~``, ```code``` and ``>`` quotes; a ``mrkdwn`` text object
without ``verbatim`` also turns bare URLs, ``#channel`` names and ``@here``-style words into links
and mentions. There is no escape character for the formatting marks, so:

``escape(text)``      ``& < >`` as ``&amp; &lt; &gt;`` (Slack's documented escaping). Enough for
                      ``plain_text`` objects, which Slack never formats or links.
``plain(text)``       a ``plain_text`` object (escaped, ``emoji: false``): the default for anything a
                      customer wrote when no formatting is needed.
``inline(text)``      for ``mrkdwn``: escaped, on one line, bidi controls removed, the marks
                      ``* _ ~ ``` that could start or end formatting replaced by look-alikes
                      (``∗ ˍ ∼ ˋ``; a mark between two letters or digits, as in ``john_doe``, cannot
                      and is kept), ``@here`` / ``@channel`` / ``@everyone`` and ``://`` broken with
                      an invisible word joiner (no mention, no auto-link even outside ``verbatim``).
``block(text)``       the same for several lines (a quoted draft, a note).
``code_span(text)``   inside inline code: escaped, one line, backticks replaced (cannot close it).
``code_block(text)``  a whole ```...``` block: escaped, backticks replaced, so ``````` in the text
                      cannot end the block early.
``link(url, label)``  a link *we* make (help-center citations): the URL must be http(s) with a host
                      and no ``| < >``, quotes, spaces or control characters; the label is
                      ``inline``-escaped. An invalid URL gives the label alone, not a link.
``mrkdwn(text)``      a ``mrkdwn`` text object with ``verbatim: true`` (Slack links nothing by itself).
``from_slack(text)``  the other way: an agent's Slack message (escaped, ``<url|label>`` links,
                      ``<@U1>`` mentions) as plain text for the customer's channel.
``clip(text, n)``     shorten escaped text without cutting an ``&amp;``-style entity in half or
                      leaving a code block open.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Optional
from urllib.parse import urlsplit

WORD_JOINER = "\u2060"
LOOKALIKES = {"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb"}
_BIDI_RE = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f]")
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MARK_RE = re.compile(r"[*_~`]")
_SPECIAL_MENTION_RE = re.compile(r"@(?=(?:here|channel|everyone)\b)", re.IGNORECASE)
_PARTIAL_ENTITY_RE = re.compile(r"&[a-z#0-9]{0,6}$")


def _text(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return _CONTROL_RE.sub(" ", _BIDI_RE.sub("", text))


def escape(value: Any) -> str:
    """``& < >`` as entities: Slack's escaping, for plain_text and as the first step of mrkdwn."""
    return _text(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _neutral_marks(text: str) -> str:
    def replace(match: "re.Match[str]") -> str:
        i = match.start()
        before = text[i - 1] if i > 0 else ""
        after = text[i + 1] if i + 1 < len(text) else ""
        if match.group() != "`" and before.isalnum() and after.isalnum():
            return match.group()  # john_doe, a*b: cannot open or close formatting
        return LOOKALIKES[match.group()]

    return _MARK_RE.sub(replace, text)


def block(value: Any) -> str:
    """Untrusted text (several lines allowed) for a mrkdwn text: shows literally, forms nothing."""
    text = _neutral_marks(escape(value))
    text = _SPECIAL_MENTION_RE.sub("@" + WORD_JOINER, text)
    return text.replace("://", ":" + WORD_JOINER + "//")


def inline(value: Any) -> str:
    """``block`` on one line: newlines cannot start a quote or fake a new field."""
    return block(" ".join(_text(value).split()))


def code_span(value: Any) -> str:
    """Text for inside ``...`` (one line; a backtick cannot close the span)."""
    text = " ".join(_text(value).split())
    return "`" + (escape(text).replace("`", LOOKALIKES["`"]) or " ") + "`"


def code_block(value: Any) -> str:
    """A ```...``` block of untrusted text: nothing inside can end it or format, link or mention."""
    return "```" + escape(value).replace("`", LOOKALIKES["`"]) + "```"


def safe_url(url: Any) -> Optional[str]:
    """The URL, escaped for a Slack link, if it is an absolute http(s) URL with nothing that could
    end or re-label the link; otherwise None."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    if not url or any(c in url for c in "|<>\"'` \\") or any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        return None
    if _BIDI_RE.search(url) or any(c.isspace() for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url.replace("&", "&amp;")


def link(url: Any, label: Any = None) -> str:
    """``<url|label>`` for a link we make; the label alone (escaped) if the URL is not safe."""
    shown = inline(label if label not in (None, "") else url)
    target = safe_url(url)
    if target is None:
        return shown
    return f"<{target}|{shown.replace('|', '¦')}>"


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters of already-escaped text, ending in … when shortened, without
    leaving half an entity (``&am``) behind."""
    if len(text) <= limit:
        return text
    cut = _PARTIAL_ENTITY_RE.sub("", text[: limit - 4]).rstrip("`")  # no half entity, no half fence
    fence = "```" if cut.count("```") % 2 else ""  # a code block cut open is closed again
    return cut + "…" + fence


def plain(value: Any, limit: int = 3000) -> Dict[str, Any]:
    """A plain_text object: Slack shows it as written (no formatting, links, mentions or emoji codes)."""
    return {"type": "plain_text", "text": clip(escape(value), limit) or " ", "emoji": False}


def mrkdwn(text: str, limit: int = 3000) -> Dict[str, Any]:
    """A mrkdwn object for text whose untrusted parts went through the helpers above; ``verbatim``
    keeps Slack from turning URLs, #channels or @-words in it into links or mentions."""
    return {"type": "mrkdwn", "text": clip(text, limit) or " ", "verbatim": True}


# --- Slack -> customer -----------------------------------------------------------------------------

_SLACK_TOKEN_RE = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")


def _from_token(match: "re.Match[str]") -> str:
    target, label = match.group(1), match.group(2)
    if target.startswith("@"):  # <@U123> or <@U123|alex>
        return "@" + (label or "colleague")
    if target.startswith("#"):  # <#C123|general>
        return "#" + (label or "channel")
    if target.startswith("!"):  # <!here>, <!channel>, <!date^...|fallback>, <!subteam^S1|@team>
        return label or ("@" + target[1:].split("^", 1)[0])
    if target.lower().startswith("mailto:"):
        return label or target[7:]
    if safe_url(target.replace("&amp;", "&")) is not None:
        url = target.replace("&amp;", "&")
        return url if not label or label == target else f"{label} ({url})"
    return label or target  # not a web link: its words, never a link


def from_slack(text: Any) -> str:
    """An agent's Slack message (Slack's escaping and ``<...>`` syntax) as the plain text the
    customer's channel shows: links become "label (url)" (http/https only, anything else keeps
    its label as words), mentions become @names, and ``&lt; &gt; &amp;`` their characters; each
    channel then renders that text its own way (widget textContent, SMS body, TwiML escaping)."""
    decoded = _SLACK_TOKEN_RE.sub(_from_token, _text(text))
    return decoded.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
