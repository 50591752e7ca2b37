"""Who is the customer? Resolved from channel metadata or by checking an order number + email.

A customer counts as verified when the channel vouches for them (the web shop passes the
logged-in ``customer_id``; SMS and voice pass the caller's ``phone``) or when they gave an order
number together with the email address on that order. Verification lasts for the conversation.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Mapping, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet

from actions.backend_client import BackendError, NotFound, get_client

logger = logging.getLogger(__name__)


def customer_slots(customer: Mapping[str, Any]) -> Dict[str, Any]:
    """The slots that describe a verified customer."""
    return {
        "customer_id": customer.get("id"),
        "customer_name": customer.get("name"),
        "customer_tier": customer.get("tier"),
        "verified": True,
        "identity_failures": 0.0,
    }


def _metadata_sources(tracker: Tracker) -> List[Mapping[str, Any]]:
    sources: List[Mapping[str, Any]] = []
    latest = (tracker.latest_message or {}).get("metadata") or {}
    if isinstance(latest, Mapping):
        sources.append(latest)
    started = tracker.get_slot("session_started_metadata") or {}
    if isinstance(started, Mapping):
        sources.append(started)
    return sources


async def identity_from_metadata(tracker: Tracker) -> Optional[Dict[str, Any]]:
    """Slots for the customer the channel vouches for, or None when it vouches for nobody.

    Unknown ids and phone numbers are ignored rather than trusted: the customer is then asked
    to verify like anyone else.
    """
    client = get_client()
    for metadata in _metadata_sources(tracker):
        customer_id = metadata.get("customer_id")
        phone = metadata.get("phone") or metadata.get("from_phone")
        try:
            if customer_id:
                return customer_slots(await client.get_customer(str(customer_id)))
            if phone:
                customer = await client.find_customer(phone=str(phone))
                if customer:
                    return customer_slots(customer)
        except NotFound:
            logger.info("channel metadata names an unknown customer; asking to verify instead")
        except BackendError as error:
            logger.warning("could not resolve the customer from channel metadata: %s", error)
    return None


async def ensure_identity_events(tracker: Tracker) -> List[EventType]:
    """SlotSet events that verify the customer from metadata, if not verified yet."""
    if tracker.get_slot("verified"):
        return []
    slots = await identity_from_metadata(tracker)
    return [SlotSet(key, value) for key, value in (slots or {}).items()]


def owns_order(tracker: Tracker, order: Mapping[str, Any]) -> bool:
    """True if the verified customer is the owner of this order."""
    return bool(tracker.get_slot("verified")) and order.get("customer_id") == tracker.get_slot(
        "customer_id"
    )
