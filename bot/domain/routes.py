"""How a concern was identified (agenda item 3 of seed 000): complaint, incident, whistleblowing..."""

from __future__ import annotations

from enum import StrEnum


class Route(StrEnum):
    COMPLAINT = "complaint"
    INCIDENT = "incident"
    WHISTLEBLOWING = "whistleblowing"
    INTERNAL_REPORTING = "internal_reporting"
    OTHER = "other"


ROUTE_LABELS: dict[str, str] = {
    Route.COMPLAINT: "Complaint",
    Route.INCIDENT: "Incident",
    Route.WHISTLEBLOWING: "Whistleblowing",
    Route.INTERNAL_REPORTING: "Internal staff reporting",
    Route.OTHER: "Other",
}
