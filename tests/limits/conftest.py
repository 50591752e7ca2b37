"""The limit tests use the real stack (tests/conftest.py ``stack``) and, for the Twilio channels,
the Twilio settings and emulator of tests/channels/conftest.py (imported here so they are in the
environment before the stack starts, also when this folder runs alone)."""
from tests.channels.conftest import EMULATOR, TwilioWebhook  # noqa: F401  (sets TWILIO_* for the stack)


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def stack_credentials(request, monkeypatch):
    """The running stack's secrets in this process's environment (and so in the chatter
    subprocess's), where tests/limits/client.py reads them."""
    if "stack" not in request.fixturenames:
        return
    stack = request.getfixturevalue("stack")
    for key in ("RASA_API_TOKEN", "BACKEND_API_KEY", "ACTION_SERVER_TOKEN"):
        monkeypatch.setenv(key, stack.env[key])
