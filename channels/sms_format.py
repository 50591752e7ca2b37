"""Text-message formatting for the Twilio SMS connector (pure functions, no Rasa import).

* One SMS reply per customer turn: the bot's messages are joined (blank line between them),
  its buttons become numbered options, and the result is split into parts.
* Parts are at most ``DEFAULT_PART_CHARS`` = 320 characters (2-3 SMS segments, so a reply reads
  as a few short texts instead of one wall of text), split at paragraph, then sentence, then word
  boundaries, and numbered "(1/3) ..." when there is more than one, because carriers do not
  guarantee the order in which separate messages arrive. Twilio's own limit is 1600 characters
  per message (``MAX_MESSAGE_CHARS``); a part never exceeds it.
* A reply that is just a number ("2", "2.", "#2", "option 2") or a button's title picks that
  option; the connector sends the button's payload to Rasa.
* Carrier keywords (CTIA / Twilio defaults): STOP and its synonyms opt out, START / UNSTOP
  (and YES, only while opted out) opt back in, HELP / INFO get the help text.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

DEFAULT_PART_CHARS = 320
MAX_MESSAGE_CHARS = 1600

OPT_OUT_KEYWORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "revoke"})
OPT_IN_KEYWORDS = frozenset({"start", "unstop"})
OPT_IN_WHEN_OPTED_OUT = frozenset({"yes"})
HELP_KEYWORDS = frozenset({"help", "info"})

DEFAULT_HELP_TEXT = (
    "Brightcart support: text us your question, e.g. \"where is my order BC-123456\". "
    "Reply STOP to stop messages, START to resume. Msg & data rates may apply. "
    "Help online: brightcart.example/help"
)
DEFAULT_STOP_TEXT = (
    "You're unsubscribed from Brightcart support texts and won't get any more messages. "
    "Reply START to resubscribe."
)
DEFAULT_START_TEXT = "You're subscribed to Brightcart support texts again. How can we help? Reply HELP for help, STOP to stop."

NO_TEXT_REPLY = "Sorry, I can only read text messages. Could you describe it in words?"

_SENTENCE_END_RE = re.compile(r"(?<=[.!?:;])(\s+)")
_CHOICE_RE = re.compile(r"^(?:#|no\.?\s*|number\s+|option\s+|choice\s+)?(\d{1,2})[.)]?$", re.IGNORECASE)


def keyword_of(text: Optional[str]) -> Optional[str]:
    """The carrier keyword a message consists of (lower case), or None for a normal message."""
    if not text:
        return None
    word = re.sub(r"(?<![\s.!])[\s.!]+$", "", text.strip()).lower()
    if " " in word:
        return None
    if word in OPT_OUT_KEYWORDS or word in OPT_IN_KEYWORDS or word in OPT_IN_WHEN_OPTED_OUT or word in HELP_KEYWORDS:
        return word
    return None


def options_text(buttons: Sequence[Dict[str, Any]]) -> str:
    lines = [f"{index}) {button.get('title') or button.get('payload')}" for index, button in enumerate(buttons, 1)]
    return "Reply with a number:\n" + "\n".join(lines)


def compose_turn(messages: Iterable[Dict[str, Any]]) -> Tuple[str, List[Dict[str, Any]]]:
    """Join one turn's bot messages into one text; the last buttons become numbered options.

    Returns the text and the buttons the numbers refer to (empty when the turn had none).
    """
    texts: List[str] = []
    buttons: List[Dict[str, Any]] = []
    for message in messages:
        text = (message.get("text") or "").strip()
        if text:
            texts.append(text)
        for key in ("image", "media_url"):
            if message.get(key):
                texts.append(str(message[key]))
        if message.get("buttons") or message.get("quick_replies"):
            buttons = list(message.get("buttons") or message.get("quick_replies"))
    if buttons:
        texts.append(options_text(buttons))
    return "\n\n".join(texts), buttons


def choice_payload(text: Optional[str], buttons: Sequence[Dict[str, Any]]) -> Optional[str]:
    """The payload the customer picked by number or by title, or None if the text is no choice."""
    if not text or not buttons:
        return None
    cleaned = text.strip()
    match = _CHOICE_RE.match(cleaned)
    if match:
        index = int(match.group(1))
        if 1 <= index <= len(buttons):
            return str(buttons[index - 1].get("payload") or buttons[index - 1].get("title"))
        return None
    lowered = cleaned.rstrip(".!").lower()
    for button in buttons:
        if str(button.get("title", "")).strip().lower() == lowered:
            return str(button.get("payload") or button.get("title"))
    return None


def _pieces(text: str, limit: int) -> List[Tuple[str, str]]:
    """Break text into (separator before it, piece) pairs, each piece no longer than limit:
    paragraphs, then sentences, then words. The separators are the original whitespace."""
    pieces: List[Tuple[str, str]] = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        first_separator = "\n\n"
        if len(paragraph) <= limit:
            pieces.append((first_separator, paragraph))
            continue
        tokens = _SENTENCE_END_RE.split(paragraph)  # sentence, whitespace, sentence, ...
        sentences = [(first_separator if i == 0 else tokens[i - 1], tokens[i]) for i in range(0, len(tokens), 2)]
        for separator, sentence in sentences:
            if len(sentence) <= limit:
                pieces.append((separator, sentence))
                continue
            for word in sentence.split(" "):
                while len(word) > limit:  # a URL longer than a part: cut it
                    pieces.append((separator, word[:limit]))
                    word, separator = word[limit:], ""
                pieces.append((separator, word))
                separator = " "
    return pieces


def split_message(text: str, part_chars: int = DEFAULT_PART_CHARS) -> List[str]:
    """Split a reply into SMS-sized parts (see the module docstring). Always at least one part
    for a non-empty text; each part is at most ``min(part_chars, 1600)`` characters."""
    text = (text or "").strip()
    if not text:
        return []
    limit = max(40, min(part_chars, MAX_MESSAGE_CHARS))
    if len(text) <= limit:
        return [text]
    room = limit - len("(99/99) ")
    parts: List[str] = []
    current = ""
    for separator, piece in _pieces(text, room):
        candidate = f"{current}{separator}{piece}" if current else piece
        if len(candidate) <= room:
            current = candidate
        else:
            parts.append(current)
            current = piece
    if current:
        parts.append(current)
    total = len(parts)
    return [f"({index}/{total}) {part}" for index, part in enumerate(parts, 1)] if total > 1 else parts
