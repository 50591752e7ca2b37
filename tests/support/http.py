"""A plain JSON POST for tests that talk to a server directly, with its answer even when an error."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Dict, Optional, Tuple


def post_json(url: str, body: bytes, timeout: float = 60, headers: Optional[Dict[str, str]] = None) -> Tuple[int, Any]:
    """POST ``body`` (already JSON, or deliberately not) and return (status, parsed answer)."""
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def rasa_headers(stack: Any) -> Dict[str, str]:
    """What Rasa's action endpoint sends the action server (endpoints.yml)."""
    return {"X-Action-Token": stack.env["ACTION_SERVER_TOKEN"]}
