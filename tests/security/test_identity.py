"""Identity is proven, never asserted: probes against the real stack that must all fail.

Each test is an attack (or the legitimate path next to it) over the network, the way a stranger
on the internet would try it: client-set customer ids, forged, expired, unsigned or misdirected
identity tokens, a token-verified conversation continued without the token, and REST sender ids
that name another channel's conversation.
"""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any, Dict, Optional, Tuple

import jwt
import pytest

from tests.conftest import RestChat
from tests.support.identity import claims, hs256_raw, hs256_token, rs256_token, unsigned_token

VERIFY_QUESTION = "what's the email address on that order"
JANE_ORDER_DETAILS = ("UPS", "on its way", "Jane")


def asks_to_verify(reply: str) -> bool:
    return VERIFY_QUESTION in reply.lower() and not any(detail in reply for detail in JANE_ORDER_DETAILS)


def chat_with_token(stack, token: Optional[str]) -> RestChat:
    return RestChat(stack.config.rasa_url, api_token=stack.env["RASA_API_TOKEN"], identity_token=token)


def test_the_old_metadata_trick_now_leads_to_the_verification_question(stack):
    chat = chat_with_token(stack, None)
    reply = chat.say("where is my order BC-100002", metadata={"customer_id": "C0001", "phone": "+15555550101"})
    assert asks_to_verify(reply), reply
    slots = chat.tracker()["slots"]
    assert not slots.get("verified") and slots.get("customer_id") is None


def test_a_forged_identity_statement_in_metadata_is_ignored(stack):
    chat = chat_with_token(stack, None)
    forged = {"identity": {"conversation_id": chat.sender, "channel": "rest", "method": "token", "customer_id": "C0001",
                           "phone": None, "issued_at": int(time.time()), "signature": "f" * 64}}
    assert asks_to_verify(chat.say("where is my order BC-100002", metadata=forged))
    assert not chat.tracker()["slots"].get("verified")


def _bad_tokens(stack, identity_keys) -> Dict[str, str]:
    secret = stack.env["IDENTITY_JWT_SECRET"]
    public_pem = identity_keys[1].read_text()
    return {
        "expired": hs256_token(secret, "C0001", now=time.time() - 7200, ttl=600),
        "wrong audience": hs256_token(secret, "C0001", audience="some-other-app"),
        "forged signature": hs256_token("not-the-secret-but-long-enough-for-hs256!", "C0001"),
        "unsigned (alg none)": unsigned_token(claims("C0001")),
        "no subject": jwt.encode({k: v for k, v in claims("C0001").items() if k != "sub"}, secret, algorithm="HS256"),
        "no expiry": jwt.encode({k: v for k, v in claims("C0001").items() if k != "exp"}, secret, algorithm="HS256"),
        "lives too long": hs256_token(secret, "C0001", ttl=30 * 24 * 3600),
        # algorithm confusion: an HS256 token keyed with the RS256 *public* key
        "hs256 keyed with the public key": hs256_raw(public_pem.encode(), claims("C0001")),
        "rs256 signed by another key": rs256_token(_other_private_key(identity_keys[0].parent), claims("C0001")),
        "garbage": "not.a.jwt",
    }


def _other_private_key(folder):
    from tests.support.identity import rsa_key_pair

    other = folder / "other-site"
    other.mkdir(exist_ok=True)
    return rsa_key_pair(other)[0]


def test_bad_identity_tokens_never_verify(stack, identity_keys):
    for name, token in _bad_tokens(stack, identity_keys).items():
        chat = chat_with_token(stack, token)
        reply = chat.say("where is my order BC-100002")
        assert asks_to_verify(reply), f"{name}: {reply}"
        assert not chat.tracker()["slots"].get("verified"), name


def test_a_valid_hs256_token_verifies_the_customer(stack):
    chat = chat_with_token(stack, hs256_token(stack.env["IDENTITY_JWT_SECRET"], "C0001"))
    reply = chat.say("where is my order BC-100002")
    assert "on its way" in reply and "email" not in reply.lower()
    slots = chat.tracker()["slots"]
    assert slots["customer_id"] == "C0001" and slots["identity_method"] == "token"


def test_a_valid_rs256_token_verifies_the_customer(stack, identity_keys):
    chat = chat_with_token(stack, rs256_token(identity_keys[0], claims("C0001")))
    assert "on its way" in chat.say("where is my order BC-100002")


def test_a_token_verified_conversation_continued_without_the_token_loses_the_identity(stack):
    """Someone who learns a REST conversation id cannot ride on its owner's verification."""
    owner = chat_with_token(stack, hs256_token(stack.env["IDENTITY_JWT_SECRET"], "C0001"))
    assert "on its way" in owner.say("where is my order BC-100002")
    stranger = RestChat(stack.config.rasa_url, sender=owner.sender, api_token=stack.env["RASA_API_TOKEN"])
    reply = stranger.say("where is my order BC-100004")
    assert asks_to_verify(reply), reply
    slots = stranger.tracker()["slots"]
    assert not slots.get("verified") and slots.get("customer_id") is None


def _post(url: str, body: Any, headers: Optional[Dict[str, str]] = None, method: str = "POST") -> Tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw)
        except ValueError:
            return error.code, raw.decode(errors="replace")


@pytest.mark.parametrize("sender", ["+15555550101", "web-" + "0" * 32, "CA" + "a" * 32, "", "a b", "x" * 200, 42, None])
def test_rest_sender_ids_cannot_name_another_channels_conversation(stack, sender):
    status, answer = _post(f"{stack.config.rasa_url}/webhooks/rest/webhook", {"sender": sender, "message": "hi"})
    assert status == 400, (sender, status, answer)
    assert "sender" in json.dumps(answer)


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'"hi"', json.dumps({"sender": "ok-sender", "message": 5}).encode(),
                                  json.dumps({"sender": "ok-sender"}).encode()])
def test_bad_rest_bodies_get_a_400_with_a_message(stack, body):
    status, answer = _post(f"{stack.config.rasa_url}/webhooks/rest/webhook", body)
    assert status == 400, (status, answer)
    assert "message" in answer


def test_a_rest_client_cannot_claim_another_input_channel(stack):
    chat = chat_with_token(stack, None)
    status, _ = _post(f"{stack.config.rasa_url}/webhooks/rest/webhook",
                      {"sender": chat.sender, "message": "hello", "input_channel": "twilio_sms"})
    assert status == 200
    users = [e for e in chat.tracker()["events"] if e["event"] == "user"]
    assert users and all(e["input_channel"] == "rest" for e in users)


def test_identity_fields_in_client_metadata_never_reach_the_tracker(stack):
    chat = chat_with_token(stack, None)
    chat.say("hello", metadata={"customer_id": "C0001", "phone": "+15555550101", "verified": True, "note": "kept"})
    metadata = [e for e in chat.tracker()["events"] if e["event"] == "user"][-1]["metadata"]
    assert metadata.get("note") == "kept"
    assert not {"customer_id", "phone", "verified", "identity"} & set(metadata)


def test_two_customers_tokens_do_not_mix(stack):
    """A conversation verified for one customer and then sent another customer's token follows
    the token: it is never both, and never the first one's data for the second."""
    secret = stack.env["IDENTITY_JWT_SECRET"]
    chat = chat_with_token(stack, hs256_token(secret, "C0001"))
    assert "on its way" in chat.say("where is my order BC-100002")
    chat.identity_token = hs256_token(secret, "C0002")
    reply = chat.say("where is my order BC-100002")
    assert "couldn't find order BC-100002 on your account" in reply or asks_to_verify(reply), reply
    assert chat.tracker()["slots"]["customer_id"] in (None, "C0002")
