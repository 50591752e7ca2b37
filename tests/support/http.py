"""A plain JSON POST for tests that talk to a server directly, with its answer even when an error."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Tuple


def post_json(url: str, body: bytes, timeout: float = 60) -> Tuple[int, Any]:
    """POST ``body`` (already JSON, or deliberately not) and return (status, parsed answer)."""
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
