"""Turning bot messages into speech and TwiML for the Twilio Voice connector (no Rasa import).

* Spoken replies are short and plain: Markdown, URLs, citation lines and emoji are removed,
  order numbers and references are read character by character ("B C 1 0 0 0 0 2"), long codes
  such as tracking numbers only by their last four characters, and each message is cut
  at a sentence boundary after ``DEFAULT_MAX_SPOKEN_CHARS`` characters.
* Buttons are read out as numbered choices: "Press or say 1 for Talk to a person". The caller
  answers by keypad or by saying the number (or the choice's title).
* 0 on the keypad, or a short "agent / representative / operator / a person" means: transfer.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, Optional, Sequence

from twilio.twiml.voice_response import Gather, VoiceResponse

from channels.twiml_text import clean

DEFAULT_MAX_SPOKEN_CHARS = 400
DEFAULT_VOICE = "Polly.Joanna"
DEFAULT_LANGUAGE = "en-US"

NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5,
    "won": 1, "to": 2, "too": 2, "for": 4,  # what speech recognition makes of a lone number
}

# Every pattern here must take linear time on any text (tests/limits/test_linear_patterns.py):
# a repeated run may only start where that run starts (a lookbehind), and a bracketed part
# may not contain its own opening bracket, so that no long run is rescanned from each position.
_MD_LINK_RE = re.compile(r"\[([^\[\]]+)\]\((?:[^()\s]+)\)")
_URL_RE = re.compile(r"(?:https?://|www\.)[^\s)\]]+", re.IGNORECASE)
_EMPTY_BRACKETS_RE = re.compile(r"[(\[]\s*[,;:]?\s*[)\]]")
_EMOJI_RE = re.compile(
    "[\U0001F000-\U0001FAFF\U00002600-\U000027BF\U0001F1E6-\U0001F1FF\u200d\ufe0f]", re.UNICODE
)
_REFERENCE_RE = re.compile(r"\b([A-Z]{1,3})-(\d{4,8})\b")  # BC-100002, T-10031: read character by character
_LONG_CODE_RE = re.compile(r"\b(?=[A-Z0-9]*\d)(?=[A-Z0-9]*[A-Z])[A-Z0-9]{10,}\b")  # tracking numbers
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+")
_TRANSFER_RE = re.compile(
    r"^(?:(?:i want|i'd like|i would like|can i|let me|please)\s+)?(?:to\s+)?(?:(?:talk|speak)\s+(?:to|with)\s+)?"
    r"(?:an?\s+|the\s+|someone|somebody|a real\s+)?"
    r"(?:agent|representative|rep|operator|human|person|real person|someone|somebody|customer service)"
    r"(?:\s+please)?$",
    re.IGNORECASE,
)


def speakable(text: Optional[str], max_chars: int = DEFAULT_MAX_SPOKEN_CHARS) -> str:
    """Plain, short text for <Say>: no URLs, no Markdown, no emoji."""
    if not text:
        return ""
    spoken = re.sub(r"(?im)^[^\S\n]*sources?\s*:.*$", "", text)  # citation lines are for reading, not hearing
    spoken = _MD_LINK_RE.sub(r"\1", spoken)
    spoken = re.sub(r"\[\d+\]", "", spoken)  # [1] citation markers
    spoken = _URL_RE.sub("", spoken)
    spoken = _EMOJI_RE.sub("", spoken)
    spoken = re.sub(r"[*_`#>|]+|\s[—–-]+(?=\s*$)", " ", spoken)          # emphasis, code, headings, quotes, tables
    spoken = re.sub(r"^[^\S\n]*(?:[-•]|\d+[.)])\s+", "", spoken, flags=re.MULTILINE)  # list markers
    spoken = re.sub(r"(?<!\s)\s*\n+\s*", ". ", spoken)
    spoken = _EMPTY_BRACKETS_RE.sub("", spoken)
    spoken = re.sub(r"(?i)\b(?:sources?|see)\s*:\s*(?=[.;]|$)", "", spoken)
    spoken = _REFERENCE_RE.sub(lambda m: " ".join(m.group(1) + m.group(2)), spoken)
    spoken = _LONG_CODE_RE.sub(lambda m: "ending in " + " ".join(m.group()[-4:]), spoken)
    spoken = re.sub(r"(?<!\s)\s+([,.;:!?])", r"\1", spoken)
    spoken = re.sub(r"(?<![:;,])[:;,]+(?=\s*(?:[.!?]|$))", "", spoken)  # "Track it: <url>." -> "Track it."
    spoken = re.sub(r"([.!?:;])\s*\.+", r"\1", spoken)
    spoken = re.sub(r"\s{2,}", " ", spoken).strip(" .;,")
    if spoken and spoken[-1] not in ".!?":
        spoken += "."
    if len(spoken) <= max_chars:
        return spoken
    kept = ""
    for sentence in _SENTENCE_RE.split(spoken):
        if kept and len(kept) + 1 + len(sentence) > max_chars:
            break
        kept = f"{kept} {sentence}".strip()
    if len(kept) > max_chars:  # one very long sentence
        kept = kept[:max_chars].rsplit(" ", 1)[0].rstrip(",;:") + "."
    return kept


def choices_prompt(buttons: Sequence[Dict[str, Any]]) -> str:
    parts = [
        f"Press or say {index} for {speakable(str(button.get('title') or ''), 80).rstrip('.')}."
        for index, button in enumerate(buttons, 1)
    ]
    return " ".join(parts)


def spoken_choice(speech: Optional[str], digits: Optional[str], buttons: Sequence[Dict[str, Any]]) -> Optional[str]:
    """The payload of the choice the caller pressed or said, or None."""
    if not buttons:
        return None
    number: Optional[int] = None
    if digits and digits.isdigit():
        number = int(digits)
    elif speech:
        words = re.sub(r"[^a-z0-9 ]", " ", speech.lower()).split()
        words = [w for w in words if w not in ("option", "number", "press", "choice", "the", "one's", "please")]
        if len(words) == 1:
            word = words[0]
            number = int(word) if word.isdigit() else NUMBER_WORDS.get(word)
        if number is None:
            said = " ".join(re.sub(r"[^a-z0-9 ]", " ", speech.lower()).split())
            for button in buttons:
                title = " ".join(re.sub(r"[^a-z0-9 ]", " ", str(button.get("title", "")).lower()).split())
                if title and said == title:
                    return str(button.get("payload") or button.get("title"))
    if number is not None and 1 <= number <= len(buttons):
        button = buttons[number - 1]
        return str(button.get("payload") or button.get("title"))
    return None


def asks_for_person(speech: Optional[str]) -> bool:
    """A short request for a person ("agent", "representative please", "talk to a human")."""
    if not speech:
        return False
    cleaned = " ".join(re.sub(r"[^a-zA-Z' ]", " ", speech).split())
    return bool(_TRANSFER_RE.match(cleaned))


def compose_speech(messages: Iterable[Dict[str, Any]], max_chars: int = DEFAULT_MAX_SPOKEN_CHARS) -> tuple:
    """(spoken sentences, buttons of the last message that had any) for one bot turn."""
    spoken: List[str] = []
    buttons: List[Dict[str, Any]] = []
    for message in messages:
        text = speakable(message.get("text"), max_chars)
        if text:
            spoken.append(text)
        if message.get("buttons") or message.get("quick_replies"):
            buttons = list(message.get("buttons") or message.get("quick_replies"))
    return spoken, buttons


def gather_response(
    sentences: Sequence[str],
    action: str,
    *,
    voice: str = DEFAULT_VOICE,
    language: str = DEFAULT_LANGUAGE,
    timeout: int = 5,
    speech_timeout: str = "auto",
    speech_model: Optional[str] = None,
    hints: Optional[str] = None,
) -> VoiceResponse:
    """Say the sentences inside a <Gather> (so the caller can barge in), then listen.

    ``actionOnEmptyResult`` makes Twilio post to the action even on silence; the <Redirect>
    after the <Gather> covers the same case should it not.
    """
    response = VoiceResponse()
    options: Dict[str, Any] = dict(
        input="speech dtmf",
        action=action,
        method="POST",
        timeout=timeout,
        speech_timeout=speech_timeout,
        num_digits=1,
        action_on_empty_result=True,
        language=language,
    )
    if speech_model:
        options["speech_model"] = speech_model
    if hints:
        options["hints"] = clean(hints)
    gather = Gather(**options)
    for sentence in sentences:
        if sentence:
            gather.say(clean(sentence), voice=voice, language=language)
    response.append(gather)
    response.redirect(action, method="POST")
    return response


def dial_response(
    sentences: Sequence[str],
    number: Optional[str],
    *,
    caller_id: Optional[str] = None,
    action: Optional[str] = None,
    voice: str = DEFAULT_VOICE,
    language: str = DEFAULT_LANGUAGE,
    unavailable_text: str = "",
) -> VoiceResponse:
    """Say the sentences, then transfer the call to ``number`` with <Dial>.

    Without a support number configured there is no one to dial: the caller hears
    ``unavailable_text`` and the call ends.
    """
    response = VoiceResponse()
    for sentence in sentences:
        if sentence:
            response.say(clean(sentence), voice=voice, language=language)
    if not number:
        if unavailable_text:
            response.say(clean(unavailable_text), voice=voice, language=language)
        response.hangup()
        return response
    dial_options: Dict[str, Any] = {"timeout": 30}
    if caller_id:
        dial_options["caller_id"] = caller_id
    if action:
        dial_options["action"] = action
        dial_options["method"] = "POST"
    response.dial(number, **dial_options)
    return response


def goodbye_response(sentences: Sequence[str], *, voice: str = DEFAULT_VOICE, language: str = DEFAULT_LANGUAGE) -> VoiceResponse:
    response = VoiceResponse()
    for sentence in sentences:
        if sentence:
            response.say(clean(sentence), voice=voice, language=language)
    response.hangup()
    return response
