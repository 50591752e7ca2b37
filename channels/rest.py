"""The REST channel customers' integrations use: Rasa's REST channel (same name ``rest``, same
URL ``/webhooks/rest/webhook``) with card numbers removed (``channels.redacting``), identity only
from a verified token, and sender ids that cannot name another channel's conversation.

* Identity: ``Authorization: Bearer <identity JWT>`` (``channels.customer_identity``). Without a
  valid token the customer is anonymous and is asked to verify the usual way; ``metadata`` keys
  such as ``customer_id`` or ``phone`` are dropped.
* ``input_channel`` is always ``rest``: a client cannot pretend its message came over SMS.
* A sender id in another channel's format, or malformed, gets 400 with a message.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from sanic import Blueprint, response
from sanic.exceptions import SanicException
from sanic.request import Request

from channels import customer_identity
from common.credentials import bearer
from channels.redacting import MessageHandler, RedactingRestInput


class BadRestRequest(SanicException):
    status_code = 400
    quiet = True


class SecureRestInput(RedactingRestInput):
    @classmethod
    def name(cls) -> Text:
        return "rest"

    async def _extract_sender(self, req: Request) -> Optional[Text]:
        body = req.json if isinstance(req.json, dict) else {}
        sender = body.get("sender")
        problem = customer_identity.rest_sender_problem(sender)
        if problem:
            raise BadRestRequest(problem)
        return sender

    def _extract_input_channel(self, req: Request) -> Text:
        return self.name()

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        body = request.json if isinstance(request.json, dict) else {}
        metadata = customer_identity.client_metadata(body.get("metadata"))
        token = bearer(request.headers.get("authorization"))
        claims = customer_identity.verifier().verify(token) if token else None
        if claims:
            metadata = customer_identity.with_identity(
                metadata, conversation_id=str(body.get("sender")), channel=self.name(), customer_id=claims["sub"])
        return metadata

    def blueprint(self, on_new_message: MessageHandler) -> Blueprint:
        webhook = super().blueprint(on_new_message)

        @webhook.middleware("request")
        async def require_json_object(request: Request) -> Any:
            if request.method == "POST" and request.path.endswith("/webhook"):
                try:
                    body = request.json
                except Exception:  # noqa: BLE001 - Sanic raises its own 400 type, or others on bad bytes
                    body = None
                if not isinstance(body, dict):
                    return response.json({"error": "bad_request", "message": "The body must be a JSON object."}, status=400)
                if not isinstance(body.get("message"), str):
                    return response.json({"error": "bad_request", "message": "'message' must be a string."}, status=400)
            return None

        return webhook


__all__ = ["SecureRestInput", "UserMessage"]
