"""The limit tests use the real stack (tests/conftest.py ``stack``) and, for the Twilio channels,
the Twilio settings and emulator of tests/channels/conftest.py (imported here so they are in the
environment before the stack starts, also when this folder runs alone)."""
from tests.channels.conftest import EMULATOR, TwilioWebhook  # noqa: F401  (sets TWILIO_* for the stack)
