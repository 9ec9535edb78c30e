"""View models for what people read about a case: header, attendance board, invitation.

Built in Python so templates only loop and print (hcoop-meetbot's writer.py pattern). They hold
the case reference and Slack-neutral user ids, never the staff member's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.routes import ROUTE_LABELS


@dataclass(frozen=True)
class SeatView:
    label: str
    user_id: str


@dataclass(frozen=True)
class CaseHeader:
    reference: str
    group_name: str
    group_short_name: str
    profession: str
    route: str
    concern: str
    risks: str
    call_at: datetime
    call_at_local: str
    duration_minutes: int
    call_details: str
    short_notice: bool
    convener_id: str
    seats: tuple[SeatView, ...]
    decision_maker: str
    # The case's status: the header offers "Reschedule" and "Cancel the call" only while convened.
    status: str = "convened"
    # Once an outcome is recorded the header shows the action points' counts (bot/domain/case_header.py).
    open_actions: int = 0
    overdue_actions: int = 0
    outcome_recorded: bool = False


@dataclass(frozen=True)
class BoardRow:
    label: str
    user_id: str
    reply: str
    reply_label: str
    deputy_id: str | None


@dataclass(frozen=True)
class AttendanceBoard:
    reference: str
    group_short_name: str
    call_at: datetime
    call_at_local: str
    rows: tuple[BoardRow, ...]
    quorate: bool
    quorum_reason: str
    open: bool
    # What its attendance buttons carry: the case, the schedule version, "board" (bot/domain/attendance.py).
    answer_value: str


@dataclass(frozen=True)
class Invitation:
    reference: str
    group_name: str
    group_short_name: str
    room_id: str
    seat_label: str
    call_at: datetime
    call_at_local: str
    duration_minutes: int
    short_notice: bool
    # What its attendance buttons carry: the case and the schedule version (bot/domain/attendance.py).
    answer_value: str


@dataclass(frozen=True)
class AnswerDm:
    """A member's invitation (or reminder) direct message as it reads once they answered, or once it is
    out of date (templates/slack/answer_dm): what they said and when, and only the buttons that change it.

    `state` is "open" (the call is as invited: the answer and the other choices), "moved" (the call moved
    after this message was sent: no buttons, the new time), or "closed" (the case was cancelled or closed).
    """

    reference: str
    group_name: str
    group_short_name: str
    room_id: str
    seat_label: str
    call_at: datetime
    call_at_local: str
    duration_minutes: int
    state: str
    reply: str  # storage.tables.Reply
    reply_label: str
    deputy_id: str | None
    answered_at_local: str | None
    answer_value: str
    status: str  # the case's status, for "closed"


def local_time_text(when: datetime, zone: ZoneInfo) -> str:
    """The organisation's-zone wording used where a reader's own zone cannot be shown."""
    local = when.astimezone(zone)
    return f"{local:%A} {local.day} {local:%B %Y} at {local:%H:%M} {local.tzname()}"


def route_label(route: str) -> str:
    return ROUTE_LABELS.get(route, route)
