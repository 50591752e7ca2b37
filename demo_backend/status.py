"""The public service-status document (what a status page would show) and its validation."""

from __future__ import annotations

from datetime import date
from typing import Any

from .dates import at
from .errors import bad_request

OVERALL = ("operational", "degraded", "outage")
COMPONENT_STATES = ("operational", "degraded", "outage", "maintenance")
INCIDENT_STATES = ("investigating", "identified", "monitoring", "resolved")


def seeded_status(today: date) -> dict[str, Any]:
    """The status a fresh database starts with: one ongoing incident affecting tracking."""
    return {
        "overall": "degraded",
        "components": [
            {"name": "Website and app", "status": "operational"},
            {"name": "Checkout and payments", "status": "operational"},
            {"name": "Order tracking", "status": "degraded"},
            {"name": "Customer accounts", "status": "operational"},
            {"name": "Email notifications", "status": "operational"},
        ],
        "incidents": [
            {
                "id": "INC-2041",
                "title": "Order tracking updates delayed",
                "status": "identified",
                "started_at": at(today, 7, 45),
                "updated_at": at(today, 9, 10),
                "message": (
                    "Tracking updates from some carriers are arriving late. Parcels are moving "
                    "normally, but tracking pages and delivery estimates may lag by up to 12 "
                    "hours. No action is needed from customers."
                ),
                "affected": ["Order tracking"],
            }
        ],
    }


def _field(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"{where}: field '{key}' must be a non-empty string.", code="invalid_field")
    return value


def validate_status_doc(doc: dict[str, Any]) -> dict[str, Any]:
    """Check the shape of a replacement status document and return a normalised copy."""
    overall = _field(doc, "overall", "status")
    if overall not in OVERALL:
        raise bad_request(f"'overall' must be one of: {', '.join(OVERALL)}.", code="invalid_field")
    components = doc.get("components", [])
    incidents = doc.get("incidents", [])
    if not isinstance(components, list) or not isinstance(incidents, list):
        raise bad_request("'components' and 'incidents' must be lists.", code="invalid_field")
    clean_components = []
    for i, comp in enumerate(components):
        if not isinstance(comp, dict):
            raise bad_request(f"components[{i}] must be an object.", code="invalid_field")
        state = _field(comp, "status", f"components[{i}]")
        if state not in COMPONENT_STATES:
            raise bad_request(
                f"components[{i}].status must be one of: {', '.join(COMPONENT_STATES)}.",
                code="invalid_field",
            )
        clean_components.append({"name": _field(comp, "name", f"components[{i}]"), "status": state})
    clean_incidents = []
    for i, inc in enumerate(incidents):
        if not isinstance(inc, dict):
            raise bad_request(f"incidents[{i}] must be an object.", code="invalid_field")
        where = f"incidents[{i}]"
        state = _field(inc, "status", where)
        if state not in INCIDENT_STATES:
            raise bad_request(
                f"{where}.status must be one of: {', '.join(INCIDENT_STATES)}.", code="invalid_field"
            )
        affected = inc.get("affected", [])
        if not isinstance(affected, list) or not all(isinstance(a, str) for a in affected):
            raise bad_request(f"{where}.affected must be a list of strings.", code="invalid_field")
        clean_incidents.append({
            "id": _field(inc, "id", where),
            "title": _field(inc, "title", where),
            "status": state,
            "started_at": _field(inc, "started_at", where),
            "updated_at": inc.get("updated_at") or inc["started_at"],
            "message": _field(inc, "message", where),
            "affected": affected,
        })
    return {"overall": overall, "components": clean_components, "incidents": clean_incidents}
