"""Who is the customer? Only what a channel proved, or an order number with its email.

A customer counts as verified when a channel *proved* who they are, or when they gave an order
number together with the email address on that order. A channel proves identity with a signed
attestation in the message metadata (``common.attestation``, signed under ``CHANNEL_SECRET`` by
the Rasa channels after checking an identity token or Twilio's signature); plain metadata fields
such as ``customer_id`` or ``phone`` are never believed, whoever sent them.

Two strengths (docs/security.md):

* ``token``: the site's signed identity token (web widget, REST). Full access for the
  conversation, *as long as the messages keep carrying it*: a message without the same proven
  customer ends the verification (someone else is typing into that conversation id).
* ``phone``: the caller's number on SMS or voice, proven by Twilio's signature. Weaker: reading
  orders is fine, but changing the account (email, address, cancellations, plan, payment link,
  unlock) first asks for the email on the account as a second factor.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Dict, List, Mapping, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet

from actions.backend_client import BackendError, NotFound, get_client
from actions.pii import mask
from common import attestation

logger = logging.getLogger(__name__)

TOKEN, PHONE, ORDER_EMAIL = "token", "phone", "order_email"
IDENTITY_SLOTS = ("customer_id", "customer_name", "customer_tier", "verified", "identity_method", "second_factor")


def customer_slots(customer: Mapping[str, Any], method: str = ORDER_EMAIL) -> Dict[str, Any]:
    """The slots that describe a verified customer, and how they were verified."""
    return {
        "customer_id": customer.get("id"),
        "customer_name": customer.get("name"),
        "customer_tier": customer.get("tier"),
        "verified": True,
        "identity_failures": 0.0,
        "identity_method": method,
    }


def cleared_identity() -> Dict[str, Any]:
    return {"customer_id": None, "customer_name": None, "customer_tier": None, "verified": False,
            "identity_method": None, "second_factor": None, "customer_email": None}


def _secret() -> str:
    return os.environ.get("CHANNEL_SECRET", "")


def proven_identity(tracker: Tracker, include_session_start: bool = False) -> Optional[Dict[str, Any]]:
    """The identity a channel proved for this conversation's latest message, or None."""
    sources: List[Any] = [((tracker.latest_message or {}).get("metadata") or {})]
    if include_session_start:
        sources.append(tracker.get_slot("session_started_metadata") or {})
    for metadata in sources:
        if not isinstance(metadata, Mapping) or attestation.METADATA_KEY not in metadata:
            continue
        statement = attestation.verify(_secret(), metadata.get(attestation.METADATA_KEY), conversation_id=tracker.sender_id)
        if statement:
            return statement
        logger.warning("an identity statement that does not verify was ignored (conversation %s)", mask(tracker.sender_id))
    return None


async def identity_from_metadata(tracker: Tracker, include_session_start: bool = False) -> Optional[Dict[str, Any]]:
    """Slots for the customer a channel proved, or None when it proved nobody.

    Unknown ids and phone numbers are ignored rather than trusted: the customer is then asked
    to verify like anyone else.
    """
    statement = proven_identity(tracker, include_session_start)
    if not statement:
        return None
    client = get_client()
    try:
        if statement["method"] == TOKEN and statement.get("customer_id"):
            return customer_slots(await client.get_customer(str(statement["customer_id"])), TOKEN)
        if statement["method"] == PHONE and statement.get("phone"):
            customer = await client.find_customer(phone=str(statement["phone"]))
            if customer:
                return customer_slots(customer, PHONE)
    except NotFound:
        logger.info("a proven identity names an unknown customer; asking to verify instead")
    except BackendError as error:
        logger.warning("could not resolve the proven customer: %s", error)
    return None


async def ensure_identity_events(tracker: Tracker) -> List[EventType]:
    """SlotSet events that verify the customer from a proven identity, if not verified yet."""
    if tracker.get_slot("verified"):
        return []
    slots = await identity_from_metadata(tracker)
    return [SlotSet(key, value) for key, value in (slots or {}).items()]


def binding_events(tracker: Tracker) -> List[EventType]:
    """A conversation verified by token stays verified only while its messages prove the same
    customer; otherwise the identity is dropped and the customer is asked again."""
    if tracker.get_slot("identity_method") != TOKEN or not tracker.get_slot("verified"):
        return []
    statement = proven_identity(tracker)
    if statement and statement["method"] == TOKEN and statement.get("customer_id") == tracker.get_slot("customer_id"):
        return []
    logger.warning("conversation %s: a message without the verified customer's token; identity dropped", mask(tracker.sender_id))
    return [SlotSet(key, value) for key, value in cleared_identity().items()]


def needs_second_factor(tracker: Tracker) -> bool:
    """True when the customer is verified only by phone and has not confirmed their email yet."""
    return bool(tracker.get_slot("verified")) and tracker.get_slot("identity_method") == PHONE \
        and not tracker.get_slot("second_factor")


def owns_order(tracker: Tracker, order: Mapping[str, Any]) -> bool:
    """True if the verified customer is the owner of this order."""
    return bool(tracker.get_slot("verified")) and order.get("customer_id") == tracker.get_slot(
        "customer_id"
    )
