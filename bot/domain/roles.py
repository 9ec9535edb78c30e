"""Roster roles: who holds which part in the group (the terms of reference name the seats)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CHAIR = "chair"
    DEPUTY_CHAIR = "deputy_chair"
    MANAGER = "manager"
    SERVICE_LEAD = "service_lead"
    PEOPLE_TEAM = "people_team"
    GOVERNANCE = "governance"
    CLINICAL_DIRECTOR = "clinical_director"
    PROFESSIONAL_LEAD = "professional_lead"
    MEDICAL_DIRECTOR = "medical_director"
    MEMBER = "member"


ROLE_LABELS: dict[Role, str] = {
    Role.CHAIR: "Chair",
    Role.DEPUTY_CHAIR: "Deputy chair",
    Role.MANAGER: "Manager",
    Role.SERVICE_LEAD: "Service lead",
    Role.PEOPLE_TEAM: "People team",
    Role.GOVERNANCE: "Governance",
    Role.CLINICAL_DIRECTOR: "Clinical director",
    Role.PROFESSIONAL_LEAD: "Professional lead",
    Role.MEDICAL_DIRECTOR: "Medical Director",
    Role.MEMBER: "Member",
}
