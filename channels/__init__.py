"""Custom Rasa connectors: Twilio SMS and Voice (with X-Twilio-Signature checks) and card-number
redacting REST / Socket.IO inputs.

Loaded by Rasa from credentials.yml (``channels.twilio_sms.TwilioSmsInput`` ...), so this package
runs in the Rasa environment (Python 3.10). The pure helpers (``twilio_common``, ``sms_format``,
``voice_format``, ``redaction``) import neither Rasa nor Sanic, so they are unit-tested from the
application environment too.
"""
