"""Text for TwiML (the Twilio Voice connector's answers), from data we do not control.

The TwiML is built with Twilio's ``VoiceResponse`` (ElementTree underneath), which escapes
``& < >`` (and ``"`` in attributes), so a text such as ``</Say><Dial>+1900...</Dial>`` or ``]]>``
is spoken as words and never becomes a verb. What ElementTree does *not* do is drop characters
XML 1.0 forbids (control characters, lone surrogates, U+FFFE/U+FFFF): one of those in a bot
message, an agent's reply or a customer's name makes the whole answer malformed, and Twilio
ends the call with an application error. :func:`clean` removes them; every text and attribute
value that goes into the TwiML passes through it (channels/voice_format.py).

No Rasa or Sanic import here.
"""
from __future__ import annotations

import re
from typing import Any, Optional

# XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
_NOT_XML_CHAR_RE = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean(value: Any) -> str:
    """``value`` as text that can go into TwiML: characters XML cannot carry become spaces."""
    if value is None:
        return ""
    return _NOT_XML_CHAR_RE.sub(" ", value if isinstance(value, str) else str(value))


def clean_optional(value: Optional[Any]) -> Optional[str]:
    return None if value is None else clean(value)
