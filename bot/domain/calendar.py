"""The call as a calendar invite (.ics): the case reference and call details only, never a name.

One VEVENT per case, its UID fixed by the reference so a rescheduled call updates the same calendar
entry (SEQUENCE follows the case's schedule version). The start is given on the organisation's wall
clock with a VTIMEZONE when icalendar can build one; a time the clocks make ambiguous (the second
01:30 when they go back) or an icalendar too old to build a VTIMEZONE falls back to UTC, so the
instant is never in doubt.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone

from bot.domain.outbox import Delivery, Drop, Due
from bot.domain.terms import Terms
from storage.tables import Case, CaseStatus

PRODID = "-//PMCCG bot//Case call//EN"
UID_DOMAIN = "pmccg-bot"
NOTE = "Advisory panel; the staff member is referred to by case number only."
# The VTIMEZONE covers a year either side of the call: enough for any client to place it.
ZONE_MARGIN = timedelta(days=366)
_LINK = re.compile(r"^https?://\S+", re.IGNORECASE)


def uid(case: Case) -> str:
    return f"{case.reference}@{UID_DOMAIN}"


def call_link(call_details: str) -> str | None:
    """The conference-call link when the details start with one."""
    match = _LINK.match(call_details.strip())
    return match.group(0) if match else None


def _vtimezone(zone: ZoneInfo, first: date, last: date) -> Timezone | None:
    """The zone as a VTIMEZONE, or None if this icalendar cannot build one (icalendar < 6)."""
    from_tzinfo = getattr(Timezone, "from_tzinfo", None)
    if from_tzinfo is None or not zone.key:
        return None
    try:
        return from_tzinfo(zone, tzid=zone.key, first_date=first, last_date=last)
    except ValueError:
        return None


def _wall_clock(when: datetime, zone: ZoneInfo) -> datetime | None:
    """`when` on the zone's wall clock, or None if the wall time alone would name another instant.

    RFC 5545 reads an ambiguous local time as its first occurrence; the second 01:30 of the night
    the clocks go back cannot be written with a TZID, only in UTC.
    """
    local = when.astimezone(zone).replace(fold=0)
    return local if local.astimezone(UTC) == when.astimezone(UTC) else None


def build_ics(case: Case, terms: Terms, zone: ZoneInfo, now: datetime) -> bytes:
    """The case's call as an iCalendar file (METHOD:PUBLISH, one VEVENT)."""
    start = case.call_at.astimezone(UTC)
    end = start + timedelta(minutes=case.duration_minutes)

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")

    vtimezone = _vtimezone(zone, (start - ZONE_MARGIN).date(), (end + ZONE_MARGIN).date())
    local_start = _wall_clock(start, zone) if vtimezone is not None else None
    local_end = _wall_clock(end, zone) if vtimezone is not None else None
    if vtimezone is not None and (local_start is not None or local_end is not None):
        calendar.add_component(vtimezone)

    event = Event()
    event.add("uid", uid(case))
    event.add("sequence", max(case.schedule_version - 1, 0))
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", local_start or start)
    event.add("dtend", local_end or end)
    event.add("summary", f"{terms.short_name} {case.reference}")
    event.add("description", f"{case.call_details.strip()}\n\n{NOTE}")
    link = call_link(case.call_details)
    if link is not None:
        event.add("location", link)
    event.add("status", "CANCELLED" if case.status == CaseStatus.CANCELLED else "CONFIRMED")
    calendar.add_component(event)
    return calendar.to_ical()


def compose_calendar(due: Due) -> list[Delivery] | Drop:
    """Share the invite in the case channel once the case is convened (and again when it moves)."""
    case = due.case
    if case is None or case.status != CaseStatus.CONVENED:
        return Drop("case not open")
    content = build_ics(case, due.terms, due.zone, due.now)
    reference = case.reference
    return [Delivery(file=(f"{reference}.ics", content, f"{reference}: add the call to your calendar"),
                     room=case.room_id)]
