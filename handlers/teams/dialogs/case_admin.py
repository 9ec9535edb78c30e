"""Rescheduling and cancelling a call as Teams dialogs: Slack's modals (handlers/slack/listeners/case_admin.py),
the same words and field ids, read into the same values for rescheduling.submit_reschedule / submit_cancel."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain import convening, rescheduling
from bot.domain.case_views import local_time_text
from bot.domain.rescheduling import CaseToAdminister
from handlers.teams.cards import escape_text
from handlers.teams.dialogs.fields import CardForm, Reader, Reading, adaptive_card

RESCHEDULE_SUBMIT = "reschedule_submit"
CANCEL_SUBMIT = "cancel_submit"
RESCHEDULE_TITLE, CANCEL_TITLE = "Reschedule the call", "Cancel the call"
CALL_DATE, CALL_TIME, DURATION = "call_date", "call_time", "duration"
REASON = "reason"


def reschedule_dialog(values: Mapping[str, Any] = {}, errors: Mapping[str, str] = {}, *, nonce: str,
                      case: CaseToAdminister, zone: ZoneInfo) -> dict[str, Any]:
    """Date, time (in the organisation's zone) and duration, starting from the current ones."""
    local = case.call_at.astimezone(zone)
    form = CardForm(values, errors)
    form.note(f"Move the call for **{escape_text(case.reference)}** (now {local_time_text(case.call_at, zone)}). "
              "Every member is asked again whether they will attend, and the reminders follow the new time.")
    form.date(CALL_DATE, "New date of the call", initial=local.date())
    form.time(CALL_TIME, f"New time of the call ({zone.key} time)", initial=local.time())
    durations = sorted({*convening.DURATION_CHOICES, case.duration_minutes})
    form.choice(DURATION, "Duration", [(str(d), f"{d} minutes") for d in durations],
                initial=str(case.duration_minutes))
    return adaptive_card(form.body, submit_title="Reschedule", action=RESCHEDULE_SUBMIT, nonce=nonce)


def cancel_dialog(values: Mapping[str, Any] = {}, errors: Mapping[str, str] = {}, *, nonce: str,
                  case: CaseToAdminister) -> dict[str, Any]:
    form = CardForm(values, errors)
    form.note(f"Cancel the call for **{escape_text(case.reference)}**. The members are told, with your reason, and no "
              "more reminders are sent. This cannot be undone: convene a new group if one is needed later.")
    form.text(REASON, "Reason", limit=rescheduling.REASON_LIMIT, multiline=True,
              placeholder="Why the call is not needed, or will not take place",
              hint="The members see this. Refer to the staff member by case number or initials only.")
    return adaptive_card(form.body, submit_title="Cancel the call", action=CANCEL_SUBMIT, nonce=nonce)


@dataclass(frozen=True)
class NewTime:
    """For rescheduling.submit_reschedule: None where nothing was given (the domain says what is missing;
    a duration of None keeps the case's)."""

    call_date: date | None
    call_time: time | None
    duration_minutes: int | None


def read_reschedule(data: Mapping[str, Any]) -> Reading[NewTime]:
    read = Reader(data)
    return read.reading(NewTime(read.date(CALL_DATE), read.time(CALL_TIME), read.number(DURATION)))


def read_cancel(data: Mapping[str, Any]) -> Reading[str]:
    """The reason, for rescheduling.submit_cancel."""
    read = Reader(data)
    return read.reading(read.text(REASON))
