"""The bench's fictional workspace: roster roles and directory entries (no real person's name)."""

from __future__ import annotations

from bot.sandbox.slack_api import FakeSlack

CONVENER = "U0BMANAGER"
# user id -> (fictional name, roles, professions)
PEOPLE: dict[str, tuple[str, str, str]] = {
    "U0BCHAIR01": ("Bench Chair", "chair", ""),
    "U0BDEPUTY1": ("Bench Deputy", "deputy_chair", ""),
    CONVENER: ("Bench Manager", "manager", ""),
    "U0BSERVICE": ("Bench Service Lead", "service_lead", ""),
    "U0BPEOPLE1": ("Bench People Team", "people_team", ""),
    "U0BGOVERN1": ("Bench Governance", "governance", ""),
    "U0BCLINDIR": ("Bench Clinical Director", "clinical_director", ""),
    "U0BNURSELD": ("Bench Nursing Lead", "professional_lead", "nursing"),
}
SEATS: dict[str, str] = {"chair": "U0BCHAIR01", "line_manager": CONVENER, "service_lead": "U0BSERVICE",
                         "people_team": "U0BPEOPLE1", "governance": "U0BGOVERN1",
                         "clinical_director": "U0BCLINDIR", "professional_lead": "U0BNURSELD"}


def roster_csv() -> str:
    lines = ["user_id,roles,professions"] + [f"{uid},{roles},{profs}" for uid, (_, roles, profs) in PEOPLE.items()]
    return "\n".join(lines) + "\n"


def seed_directory(fake: FakeSlack) -> None:
    for uid, (name, _, _) in PEOPLE.items():
        fake.add_user(uid, name)
