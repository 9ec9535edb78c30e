"""What a case is owed, and when: chases, the pre-call check, agenda, roll-call, calendar file.

Offsets from the terms of reference are counted on the organisation's wall clock ("24 hours
before" a 14:00 call is 14:00 the day before, across a clock change too), then stored in UTC.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select, update

from bot.domain.terms import Terms
from storage.tables import Case, Invitee, MessageState, Reply, ScheduledMessage


class Kind(StrEnum):
    REPLY_CHASE = "reply_chase"
    PRE_CALL_CHECK = "pre_call_check"
    AGENDA = "agenda"
    ROLL_CALL = "roll_call"
    ROLL_CALL_CLOSE = "roll_call_close"
    CALENDAR = "calendar"
    CIRCULATION_CHASE = "circulation_chase"
    CIRCULATION_ESCALATE = "circulation_escalate"


ROOM = "room"  # recipient of messages posted in the case channel
GAP = timedelta(minutes=15)  # the least time between two messages chasing the same person


@dataclass(frozen=True)
class Planned:
    kind: Kind
    recipient: str
    due_at: datetime
    expires_at: datetime | None
    key: str
    collapse_key: str | None = None
    detail: dict[str, Any] | None = None


def before(call_at: datetime, hours: float, zone: ZoneInfo) -> datetime:
    """`hours` before the call on the organisation's wall clock, as UTC."""
    local = call_at.astimezone(zone).replace(tzinfo=None) - timedelta(hours=hours)
    aware = local.replace(tzinfo=zone)
    # A wall time skipped by the clocks going forward is moved on by the gap (02:30 -> 03:30)...
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local:
        aware = (local + timedelta(hours=1)).replace(tzinfo=zone)
        # ...unless that is no longer before the call ("30 minutes before" 02:10 BST on the spring
        # night would be 02:40 BST): then it is that many real hours before.
        if hours > 0 and aware.astimezone(UTC) >= call_at:
            return call_at.astimezone(UTC) - timedelta(hours=hours)
    return aware.astimezone(UTC)


def days_after(when: datetime, days: int, zone: ZoneInfo) -> datetime:
    """`days` calendar days after `when` at the same wall-clock time, as UTC."""
    return before(when, -24 * days, zone)


def chase_times(call_at: datetime, terms: Terms, zone: ZoneInfo, now: datetime) -> list[tuple[str, datetime]]:
    """When a member who has not answered is chased, as (key label, due time), earliest first.

    Decided by the notice actually given, not by the short-notice tick box:
    - the usual offsets still ahead, and the short-notice offsets too once the first usual offset
      has passed (a call convened 26 hours ahead is chased at 24, 4, 2 and half an hour before);
    - each member was messaged at `now` (the invitation, or the rescheduled notice), and nobody is
      chased within GAP of their previous message: an offset that close is skipped;
    - if no offset is left (convened 30 minutes ahead), one chase halfway to the call, as the
      pre-call check falls back, but not before GAP after `now`;
    - never at or after the start of the call.
    """
    offsets = terms.reminders
    hours = set(offsets.reply_chase_hours)
    first = max(offsets.reply_chase_hours, default=None)
    if first is None or before(call_at, first, zone) <= now:
        hours |= set(offsets.short_notice_reply_chase_hours)
    if not hours:
        return []  # the terms ask for no chases at all
    candidates = sorted((before(call_at, h, zone), h) for h in hours)
    chosen: list[tuple[str, datetime]] = []
    previous = now
    for due, h in candidates:
        if due <= now or due >= call_at or due < previous + GAP:
            continue
        chosen.append((f"{h:g}", due))
        previous = due
    if not chosen:
        due = max(now + (call_at - now) / 2, now + GAP)
        if due < call_at:
            chosen.append(("halfway", due))
    return chosen


def plan(case: Case, invitees: Sequence[Invitee], terms: Terms, zone: ZoneInfo, now: datetime) -> list[Planned]:
    """Every message the case is owed from `now` on, for its current schedule version."""
    assert case.id is not None
    offsets = terms.reminders
    short = case.short_notice  # the tick box: the pre-call check and agenda come at their short offsets
    version = case.schedule_version
    prefix = f"case:{case.id}:v{version}"
    call_at = case.call_at
    call_end = call_at + timedelta(minutes=case.duration_minutes)
    lead = call_at - now
    planned: list[Planned] = []

    chases = chase_times(call_at, terms, zone, now)
    for label, due in chases:
        for row in invitees:
            if row.reply != Reply.NO_REPLY:
                continue
            planned.append(Planned(Kind.REPLY_CHASE, row.user_id, due, call_at,
                                   f"{prefix}:reply_chase:{row.user_id}:{label}",
                                   f"{prefix}:reply_chase:{row.user_id}", {"chase": label}))

    def not_before_now(hours: float) -> datetime:
        due = before(call_at, hours, zone)
        # Convened later than the usual offset (short notice): halfway to the call instead.
        return due if due > now else now + lead / 2

    check_hours = offsets.short_notice_pre_call_check_hours if short else offsets.pre_call_check_hours
    planned.append(Planned(Kind.PRE_CALL_CHECK, ROOM, not_before_now(check_hours), call_at,
                           f"{prefix}:pre_call_check"))
    agenda_hours = offsets.short_notice_agenda_hours if short else offsets.agenda_hours
    planned.append(Planned(Kind.AGENDA, ROOM, not_before_now(agenda_hours), call_end, f"{prefix}:agenda"))
    planned.append(Planned(Kind.ROLL_CALL, ROOM, call_at, call_end, f"{prefix}:roll_call"))
    planned.append(Planned(Kind.ROLL_CALL_CLOSE, ROOM, call_end, None, f"{prefix}:roll_call_close"))
    planned.append(Planned(Kind.CALENDAR, ROOM, now, call_at, f"{prefix}:calendar"))
    # Action points are circulated within a week of the call: chase at five days, escalate at seven.
    planned.append(Planned(Kind.CIRCULATION_CHASE, ROOM, days_after(call_end, offsets.circulation_chase_days, zone),
                           None, f"{prefix}:circulation_chase"))
    planned.append(Planned(Kind.CIRCULATION_ESCALATE, ROOM,
                           days_after(call_end, offsets.circulation_escalate_days, zone), None,
                           f"{prefix}:circulation_escalate"))
    return planned


def schedule(session: Session, case: Case, invitees: Sequence[Invitee], terms: Terms, zone: ZoneInfo,
             now: datetime) -> int:
    """Write the case's planned messages in the caller's transaction; already-planned keys are kept."""
    planned = plan(case, invitees, terms, zone, now)
    existing = set(session.exec(select(ScheduledMessage.idempotency_key).where(
        ScheduledMessage.case_id == case.id)))
    added = 0
    for p in planned:
        if p.key in existing:
            continue
        detail = {"version": case.schedule_version, **(p.detail or {})}
        session.add(ScheduledMessage(case_id=case.id, kind=p.kind, recipient=p.recipient, due_at=p.due_at,
                                     expires_at=p.expires_at, idempotency_key=p.key, collapse_key=p.collapse_key,
                                     detail=json.dumps(detail)))
        added += 1
    return added


def cancel_pending(session: Session, case_id: int, kinds: Sequence[Kind] | None = None,
                   recipient: str | None = None) -> int:
    """Cancel messages not yet sent (a reply came in, the case moved or was cancelled)."""
    statement = update(ScheduledMessage).where(ScheduledMessage.case_id == case_id,
                                               ScheduledMessage.state == MessageState.PENDING)
    if kinds:
        statement = statement.where(ScheduledMessage.kind.in_([str(k) for k in kinds]))  # type: ignore[attr-defined]
    if recipient:
        statement = statement.where(ScheduledMessage.recipient == recipient)
    result = session.exec(statement.values(state=MessageState.CANCELLED))  # type: ignore[call-overload]
    return int(result.rowcount or 0)
