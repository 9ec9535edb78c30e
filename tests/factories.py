"""A realistic, fictional roster and directory, and builders for a convene form."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.domain import roster
from bot.domain.convening import ConveneForm
from bot.domain.people import FixedPeople
from bot.domain.terms import Terms

LONDON = ZoneInfo("Europe/London")

# Fictional people. Their names are in the fake directory only, so tests can check no name leaks.
PEOPLE: dict[str, tuple[str, str, str]] = {
    # user id: (real name, roles, professions)
    "U0CHAIR01": ("Imogen Thistlewood", "chair", ""),
    "U0DEPUTY1": ("Barnaby Quill", "deputy_chair", ""),
    "U0MANAGER": ("Rosalind Fairweather", "manager", ""),
    "U0SERVICE": ("Desmond Okonkwo-Hale", "service_lead", ""),
    "U0PEOPLE1": ("Priya Venkataraman", "people_team", ""),
    "U0GOVERN1": ("Gwendolyn Ashcombe", "governance", ""),
    "U0CLINDIR": ("Tobias Wrenfield", "clinical_director", ""),
    "U0NURSELD": ("Marisol Pennington", "professional_lead", "nursing"),
    "U0GPLEAD1": ("Cedric Blackwood", "professional_lead", "doctor;paramedic"),
    "U0MEDDIR1": ("Henrietta Lowe", "medical_director", ""),
    "U0MEMBER1": ("Oswald Finchley", "member", ""),
}
OUTSIDER = "U0OUTSIDE"
OUTSIDER_NAME = "Wilfred Ambleside"
# The staff member under discussion: never typed into the bot, but a directory member.
STAFF_MEMBER = ("U0STAFF01", "Cordelia Marchbanks")
# Someone who has left: their Slack account is deactivated, they are on no roster.
DEACTIVATED = ("U0LEFT001", "Ambrose Hollingworth")
BOT_USER = "U0BOTUSER"
# The same workspace for domain tests that run without the fake Slack (bot/domain/people.py's People).
HERE = FixedPeople(active=frozenset([*PEOPLE, OUTSIDER, STAFF_MEMBER[0]]), deactivated=frozenset({DEACTIVATED[0]}),
                   bots=frozenset({BOT_USER}))


def roster_csv() -> str:
    lines = ["user_id,roles,professions"]
    lines += [f"{uid},{roles},{profs}" for uid, (_, roles, profs) in PEOPLE.items()]
    return "\n".join(lines) + "\n"


def load_roster(session: Session, terms: Terms) -> None:
    roster.replace_roster(session, roster.parse_csv(roster_csv(), terms), "test", datetime.now(LONDON))
    session.commit()


def all_names() -> list[str]:
    return [name for name, _, _ in PEOPLE.values()] + [OUTSIDER_NAME, STAFF_MEMBER[1]]


def seat_choices() -> dict[str, str]:
    return {"chair": "U0CHAIR01", "line_manager": "U0MANAGER", "service_lead": "U0SERVICE",
            "people_team": "U0PEOPLE1", "governance": "U0GOVERN1", "clinical_director": "U0CLINDIR",
            "professional_lead": "U0NURSELD"}


def call_in(now: datetime, days: int = 3, at: time = time(14, 0)) -> tuple[date, time]:
    day = (now.astimezone(LONDON) + timedelta(days=days)).date()
    return day, at


def form(now: datetime, **overrides: Any) -> ConveneForm:
    call_date, call_time = call_in(now)
    values: dict[str, Any] = dict(
        convener_id="U0MANAGER", submission_key="V-TEST-1", profession="nursing", route="incident",
        concern="Two medication errors on night shifts in October; one patient harmed (moderate).",
        risks="Patient safety on night shifts; rota gap if restricted.", call_date=call_date, call_time=call_time,
        duration_minutes=60, call_details="https://meet.example.org/pmccg Dial-in 0300 000 0000 PIN 1234",
        seats=seat_choices(), extra_members=(), short_notice=False)
    values.update(overrides)
    return ConveneForm(**values)


def convene_state(now: datetime, **overrides: Any) -> dict[str, Any]:
    """view.state.values as Slack sends them for the convene modal."""
    f = form(now)
    fields: dict[str, Any] = {
        "profession": {"type": "static_select", "selected_option": {"value": f.profession}},
        "route": {"type": "static_select", "selected_option": {"value": f.route}},
        "concern_raised": {"type": "datepicker", "selected_date": None},  # optional: Slack sends null
        "concern": {"type": "plain_text_input", "value": f.concern},
        "risks": {"type": "plain_text_input", "value": f.risks},
        "call_date": {"type": "datepicker", "selected_date": f.call_date.isoformat() if f.call_date else None},
        "call_time": {"type": "timepicker", "selected_time": f"{f.call_time:%H:%M}" if f.call_time else None},
        "duration": {"type": "static_select", "selected_option": {"value": "60"}},
        "call_details": {"type": "plain_text_input", "value": f.call_details},
        "extra_members": {"type": "multi_users_select", "selected_users": []},
        "short_notice": {"type": "checkboxes", "selected_options": []},
    }
    for seat, user in seat_choices().items():
        fields[f"seat_{seat}"] = {"type": "users_select", "selected_user": user}
    for key, value in overrides.items():
        element = fields[key]
        kind = element["type"]
        if kind == "plain_text_input":
            element["value"] = value
        elif kind in ("static_select",):
            element["selected_option"] = {"value": value} if value is not None else None
        elif kind == "users_select":
            element["selected_user"] = value
        elif kind == "multi_users_select":
            element["selected_users"] = value
        elif kind == "datepicker":
            element["selected_date"] = value
        elif kind == "timepicker":
            element["selected_time"] = value
        elif kind == "checkboxes":
            element["selected_options"] = [{"value": "yes"}] if value else []
    return {field: {field: element} for field, element in fields.items()}
