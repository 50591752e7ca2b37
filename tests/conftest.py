"""Fixtures that start the real processes on free loopback ports.

The whole stack (demo backend, action server, Rasa) is started once per test session by the
``stack`` fixture; tests talk to it over HTTP like a channel would.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.stack import Stack, StackConfig, free_port  # noqa: E402

REPORTS = ROOT / "reports"


def latest_model() -> Path:
    explicit = os.environ.get("RASA_MODEL")
    if explicit:
        return Path(explicit)
    models = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        pytest.fail("no trained model in models/: run `make train` (make test does it for you)")
    return models[-1]


def api_token_query(stack: Stack) -> str:
    """``token=...`` for Rasa's HTTP API (it takes the token as a query parameter)."""
    return "token=" + urllib.parse.quote(stack.env["RASA_API_TOKEN"])


class RestChat:
    """Talks to Rasa's REST channel the way a client integration would.

    ``api_token`` is Rasa's HTTP API token (for reading the tracker, as an operator would);
    ``identity_token`` is the signed identity JWT of a signed-in customer, sent with every message.
    """

    def __init__(self, rasa_url: str, sender: Optional[str] = None, api_token: Optional[str] = None,
                 identity_token: Optional[str] = None) -> None:
        self.rasa_url = rasa_url
        self.sender = sender or f"test-{uuid.uuid4().hex[:10]}"
        self.api_token = api_token
        self.identity_token = identity_token

    @classmethod
    def for_stack(cls, stack: Stack, sender: Optional[str] = None, customer_id: Optional[str] = None) -> "RestChat":
        """A chat with the stack's API token; signed in as ``customer_id`` when given."""
        from tests.support.identity import hs256_token

        token = hs256_token(stack.env["IDENTITY_JWT_SECRET"], customer_id) if customer_id else None
        return cls(stack.config.rasa_url, sender, api_token=stack.env["RASA_API_TOKEN"], identity_token=token)

    def send(self, text: str, metadata: Optional[Dict[str, Any]] = None,
             input_channel: Optional[str] = None) -> List[Dict[str, Any]]:
        body: Dict[str, Any] = {"sender": self.sender, "message": text}
        if metadata:
            body["metadata"] = metadata
        if input_channel:  # a client may try to name another channel (tests/security)
            body["input_channel"] = input_channel
        headers = {"Content-Type": "application/json"}
        if self.identity_token:
            headers["Authorization"] = f"Bearer {self.identity_token}"
        request = urllib.request.Request(
            f"{self.rasa_url}/webhooks/rest/webhook", data=json.dumps(body).encode(), headers=headers,
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def say(self, text: str, metadata: Optional[Dict[str, Any]] = None, input_channel: Optional[str] = None) -> str:
        """Send a message and return the bot's replies joined into one string."""
        return "\n".join(m.get("text", "") for m in self.send(text, metadata, input_channel) if m.get("text"))

    def tracker(self) -> Dict[str, Any]:
        return rasa_tracker(self.rasa_url, self.sender, self.api_token)


def rasa_tracker(rasa_url: str, sender: str, api_token: Optional[str]) -> Dict[str, Any]:
    """GET /conversations/<sender>/tracker with Rasa's API token."""
    query = f"?token={urllib.parse.quote(api_token)}" if api_token else ""
    # Rasa takes the conversation id from the raw path: "+1555..." must not be percent-encoded
    with urllib.request.urlopen(f"{rasa_url}/conversations/{sender}/tracker{query}", timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="session")
def stack_var_dir(tmp_path_factory) -> Path:
    var = tmp_path_factory.mktemp("stack-var")
    # The knowledge index built by `make ingest` is copied so tests never write to var/.
    source = ROOT / "var" / "chroma"
    if source.exists():
        shutil.copytree(source, var / "chroma")
    return var


@pytest.fixture(scope="session")
def identity_keys(stack_var_dir: Path):
    """(private, public) PEM files of the RSA key pair a site would sign identity tokens with."""
    from tests.support.identity import rsa_key_pair

    return rsa_key_pair(stack_var_dir)


@pytest.fixture(scope="session")
def stack(stack_var_dir: Path, identity_keys) -> Iterator[Stack]:
    # Rasa runs with the patch layer RASA_PATCHES selects (inherited from the environment; default
    # all, as in production): `RASA_PATCHES=none make test` runs every e2e test on Rasa's own code.
    # tests/e2e/test_patches_off.py always starts a second stack with RASA_PATCHES=none.
    config = StackConfig(
        backend_port=free_port(),
        action_port=free_port(),
        rasa_port=free_port(),
        var_dir=stack_var_dir,
        model=latest_model(),
        # RS256 identity tokens are accepted too (a site that signs with a private key)
        extra_env={"CHROMA_PATH": str(stack_var_dir / "chroma"), "IDENTITY_JWT_PUBLIC_KEY": str(identity_keys[1])},
    )
    running = Stack(config)
    running.start(verbose=False)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def patches_off_stack(tmp_path_factory, identity_keys) -> Iterator[Stack]:
    """A second stack whose Rasa runs without the patch layer (RASA_PATCHES=none: Rasa's own code)."""
    var = tmp_path_factory.mktemp("stack-var-patches-off")
    source = ROOT / "var" / "chroma"
    if source.exists():
        shutil.copytree(source, var / "chroma")
    config = StackConfig(
        backend_port=free_port(), action_port=free_port(), rasa_port=free_port(), var_dir=var, model=latest_model(),
        extra_env={"CHROMA_PATH": str(var / "chroma"), "IDENTITY_JWT_PUBLIC_KEY": str(identity_keys[1]),
                   "RASA_PATCHES": "none"},
    )
    running = Stack(config)
    running.start(verbose=False)
    yield running
    running.stop()


@pytest.fixture
def chat(stack: Stack) -> RestChat:
    return RestChat.for_stack(stack)


@pytest.fixture
def jane(stack: Stack) -> RestChat:
    """A REST conversation of the signed-in demo customer Jane Doe (C0001), with her identity token."""
    return RestChat.for_stack(stack, customer_id="C0001")
