"""Action tests: the real demo backend on a free port, actions called in-process.

Actions are run the way rasa-sdk runs them (a Tracker built from slots and the latest message,
a CollectingDispatcher), and their returned events and messages are checked exactly.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

from scripts.stack import APP_PY, Service, free_port


@pytest.fixture(scope="session")
def backend_url(tmp_path_factory) -> Iterator[str]:
    var = tmp_path_factory.mktemp("actions-backend")
    port = free_port()
    # the backend's keys; the actions' client reads BACKEND_API_KEY from the environment
    os.environ.setdefault("BACKEND_API_KEY", secrets.token_urlsafe(16))
    os.environ.setdefault("BACKEND_ADMIN_KEY", secrets.token_urlsafe(16))
    env = dict(os.environ, BACKEND_PORT=str(port), BACKEND_DB=str(var / "backend.sqlite3"), PYTHONPATH=str(Path.cwd()))
    service = Service("demo backend", [str(APP_PY), "-m", "demo_backend"], f"http://127.0.0.1:{port}/health", env, var / "backend.log", 60)
    service.start()
    try:
        service.wait_healthy()
        yield f"http://127.0.0.1:{port}"
    finally:
        service.stop()


@pytest.fixture(scope="session", autouse=True)
def scratch_var_dir(tmp_path_factory) -> None:
    """Stores the actions keep (handoff cases, outbox) go to a throwaway folder, not var/."""
    os.environ["VAR_DIR"] = str(tmp_path_factory.mktemp("actions-var"))


@pytest.fixture(autouse=True)
def client_for(backend_url: str, monkeypatch) -> None:
    """Point the actions' shared backend client at the test backend."""
    from actions import backend_client

    monkeypatch.setattr(backend_client, "_client", backend_client.BackendClient(base_url=backend_url), raising=False)


def make_tracker(
    slots: Optional[Dict[str, Any]] = None,
    intent: str = "inform",
    text: str = "",
    entities: Optional[List[Dict[str, Any]]] = None,
    active_loop: Optional[str] = None,
    metadata: Optional[Dict[str, Any]] = None,
    sender_id: str = "action-test",
):
    from rasa_sdk import Tracker

    latest = {
        "intent": {"name": intent, "confidence": 0.95},
        "entities": entities or [],
        "text": text,
        "metadata": metadata or {},
    }
    events = [{"event": "user", "text": text, "parse_data": latest, "metadata": metadata or {}}]
    return Tracker(
        sender_id=sender_id,
        slots=dict(slots or {}),
        latest_message=latest,
        events=events,
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


DOMAIN: Dict[str, Any] = {}


def load_domain() -> Dict[str, Any]:
    import yaml

    global DOMAIN
    if not DOMAIN:
        DOMAIN = yaml.safe_load((Path(__file__).resolve().parents[2] / "domain.yml").read_text())
    return DOMAIN


def backend_get(url: str, admin: bool = False) -> Any:
    """GET a backend URL with the key the action server (or an admin) sends; the parsed JSON."""
    import json
    import urllib.request

    key = os.environ["BACKEND_ADMIN_KEY" if admin else "BACKEND_API_KEY"]
    with urllib.request.urlopen(urllib.request.Request(url, headers={"X-Api-Key": key}), timeout=10) as response:
        return json.loads(response.read())
