"""What a Slack payload built from hostile customer input may contain, checked the way Slack
reads it: every ``<...>`` is a mention, link or command, mrkdwn marks format, ``` fences code."""
from __future__ import annotations

import re
from typing import Any, Dict, Iterator, List, Tuple

#: the customer-controlled strings the injection tests send, and what must not survive
MENTIONS = ["<!channel>", "<!here>", "<!everyone>", "<@U123>", "<!subteam^S1>"]
LINK = "<https://evil.example|Click here>"
HOSTILE = " ".join(MENTIONS + [LINK, "*x*", "_y_", "~z~", "```", "`tick`", "& <b>amp</b> @here https://bare.example"])

#: links and mentions we build ourselves: help-center citations and the agent who resolved
ALLOWED_LINK_RE = re.compile(r"<https://help\.brightcart\.example/[^|<>\s]*\|[^<>]*>|<@U[A-Z0-9]+>")


def text_objects(payload: Dict[str, Any]) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """(kind, object) for the top-level text and every text object in the blocks."""
    if payload.get("text") is not None:
        yield "top", {"type": "mrkdwn", "text": payload["text"], "verbatim": False}

    def walk(node: Any) -> Iterator[Tuple[str, Dict[str, Any]]]:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
                yield node["type"], node
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)

    yield from walk(payload.get("blocks") or [])


def problems(payload: Dict[str, Any]) -> List[str]:
    """Everything in ``payload`` that Slack would turn into a mention, link or formatting the
    customer wrote (empty when the payload is safe)."""
    found: List[str] = []
    for kind, obj in text_objects(payload):
        text = obj["text"]
        outside = ALLOWED_LINK_RE.sub("", text)
        if "<" in outside:
            found.append(f"{kind}: raw '<' (mention/link/command) in {text!r}")
        for mention in MENTIONS:
            if mention in text:
                found.append(f"{kind}: live {mention} in {text!r}")
        if kind != "plain_text":
            if text.count("```") % 2:
                found.append(f"{kind}: unbalanced code fence in {text!r}")
            for hostile in ("*x*", "_y_", "~z~", "`tick`", "https://bare.example", "@here"):
                if hostile in _outside_code(text):
                    found.append(f"{kind}: {hostile!r} would format/link/mention in {text!r}")
            if kind == "mrkdwn" and obj.get("verbatim") is not True and ("&lt;" in text or "evil" in text):
                found.append(f"mrkdwn with customer text but without verbatim: {text!r}")
        else:
            if set(obj) - {"type", "text", "emoji"} or obj.get("emoji"):
                found.append(f"plain_text object with extra keys or emoji codes: {obj!r}")
    return found


def _outside_code(text: str) -> str:
    """The mrkdwn text with code blocks and code spans removed (formatting does not apply there)."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return re.sub(r"`[^`\n]*`", "", text)


def assert_safe(payload: Dict[str, Any]) -> None:
    issues = problems(payload)
    assert not issues, "\n".join(issues)
