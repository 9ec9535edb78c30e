"""Reschedule or cancel a convened case: every pending message moves or stops, and members are told.

Only the person who convened the case, its chair (the chair seat on the case, or a chair or deputy
chair on the roster) and governance may do either. `reschedule` and `cancel` write the case, its
invitees, its scheduled messages and a history event in the caller's transaction and return what
people must be told; `announce_rescheduled` and `announce_cancelled` tell them after the commit.

Rescheduling re-asks attendance: every answer and named deputy is cleared, the messages still
pending for the old time are cancelled, and the new time's are planned under a new
`schedule_version`. Cancelling stops every pending message. Both bump the version, so a message of
the old schedule that a worker had already claimed is dropped when it is composed (bot/domain/reminders.py),
and an attendance button sent for the old schedule is refused with the new time (bot/domain/attendance.py).

Both take the case's lock (storage/locks.case_lock) that an attendance answer takes, so an answer and
a reschedule of the same case never interleave: the answer lands on the old schedule before the
reschedule clears it, or waits and is refused. `submit_reschedule` and `submit_cancel` are the entry
points for a submitted form. After the commit, the members' invitations and reminders of the old
schedule are redrawn in place to say the call moved (or was cancelled), without their buttons.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.domain import attendance, calendar, case_header, convening, forms, ledger, planning
from bot.domain.case_views import local_time_text
from bot.domain.cases import find_case
from bot.domain.errors import InvalidInput, NotAllowed, PlatformFailure
from bot.domain.forms import Form
from bot.domain.history import record_event
from bot.domain.naming import describe_hits, find_person_names
from bot.domain.notify import Message, MessageKind, Workspace, attempt
from bot.domain.outcomes import outcome_of
from bot.domain.permissions import may_administer
from bot.domain.terms import Terms
from storage.db import SessionFactory
from storage.locks import named_lock
from storage.tables import Case, CaseStatus, Invitee, Reply

log = logging.getLogger(__name__)

REASON_LIMIT = 1000


@dataclass(frozen=True)
class Told:
    """Someone to tell directly: a member (who answers again), or a deputy they had named."""

    user_id: str
    seat_label: str
    deputy_for: str | None = None


@dataclass(frozen=True)
class Rescheduled:
    case_id: int
    reference: str
    room_id: str
    actor_id: str
    previous_call_at: datetime
    call_at: datetime
    duration_minutes: int
    short_notice: bool
    schedule_version: int
    cancelled_messages: int
    planned_messages: int
    told: tuple[Told, ...]
    rescheduled_at: datetime


@dataclass(frozen=True)
class Cancelled:
    case_id: int
    reference: str
    room_id: str
    actor_id: str
    call_at: datetime
    reason: str
    cancelled_messages: int
    told: tuple[Told, ...]


@dataclass(frozen=True)
class Announced:
    """What could not be done after the commit: people not reached, steps Slack refused."""

    undelivered: tuple[str, ...] = ()
    failed_steps: tuple[str, ...] = ()
    superseded: bool = False


# --- view models (templates/slack/case_rescheduled, rescheduled_notice, case_cancelled, cancelled_notice)


@dataclass(frozen=True)
class RescheduledPost:
    reference: str
    group_short_name: str
    actor_id: str
    call_at: datetime
    call_at_local: str
    previous_call_at: datetime
    previous_call_at_local: str
    duration_minutes: int
    undelivered: tuple[str, ...]


@dataclass(frozen=True)
class RescheduleNotice:
    reference: str
    group_name: str
    group_short_name: str
    room_id: str
    seat_label: str
    deputy_for: str | None
    call_at: datetime
    call_at_local: str
    previous_call_at: datetime
    previous_call_at_local: str
    duration_minutes: int
    short_notice: bool
    # What its attendance buttons carry (a member's notice only: a deputy's has none).
    answer_value: str


@dataclass(frozen=True)
class CancelledPost:
    reference: str
    group_short_name: str
    actor_id: str
    reason: str
    call_at: datetime
    call_at_local: str
    undelivered: tuple[str, ...]


@dataclass(frozen=True)
class CancelNotice:
    reference: str
    group_short_name: str
    room_id: str
    actor_id: str
    reason: str
    seat_label: str
    deputy_for: str | None
    call_at: datetime
    call_at_local: str


# --- rules -----------------------------------------------------------------------------------


def _invitees(session: Session, case_id: int) -> list[Invitee]:
    return list(session.exec(select(Invitee).where(Invitee.case_id == case_id).order_by(Invitee.position)))


def require_convened(session: Session, case: Case) -> None:
    """Only a convened case can move or be cancelled (not one cancelled or closed)."""
    if case.status != CaseStatus.CONVENED:
        raise NotAllowed(f"{case.reference} is {case.status}: its call can no longer be rescheduled or cancelled.")
    if outcome_of(session, case.id or 0) is not None:
        raise NotAllowed(f"The call for {case.reference} has been held and its outcome recorded: it can no longer be "
                         "rescheduled or cancelled. Close the case instead.")




def case_admin_lock(engine: Engine, reference: str) -> AbstractContextManager[None]:
    """The lock rescheduling, cancelling and closing a case take, so two of them never interleave."""
    return named_lock(engine, f"case_admin:{reference}")


@dataclass(frozen=True)
class CaseToAdminister:
    """What the reschedule and cancel forms show: plain values, no table row."""

    reference: str
    call_at: datetime
    duration_minutes: int


def case_to_administer(sessions: SessionFactory, terms: Terms, reference: str, user_id: str) -> CaseToAdminister:
    """A platform's one call before the reschedule or cancel form opens (`check_can_administer`)."""
    with sessions() as session:
        case = check_can_administer(session, terms, reference, user_id)
        return CaseToAdminister(case.reference, case.call_at, case.duration_minutes)


def check_can_administer(session: Session, terms: Terms, reference: str, user_id: str) -> Case:
    """The case, if `user_id` may reschedule or cancel it now; raise NotFound or NotAllowed otherwise."""
    case = find_case(session, reference)
    may_administer(session, terms, case, user_id)
    require_convened(session, case)
    return case


def _told(invitees: Sequence[Invitee], actor_id: str) -> tuple[Told, ...]:
    """Each member once (in seat order), then each deputy they had named; never the person acting."""
    members: dict[str, Told] = {}
    for row in invitees:
        members.setdefault(row.user_id, Told(row.user_id, row.seat_label))
    deputies: dict[str, Told] = {}
    for row in invitees:
        if row.deputy_id and row.deputy_id not in members:
            deputies.setdefault(row.deputy_id, Told(row.deputy_id, row.seat_label, deputy_for=row.user_id))
    return tuple(t for t in [*members.values(), *deputies.values()] if t.user_id != actor_id)


def reschedule(session: Session, terms: Terms, reference: str, user_id: str, call_date: date | None,
               call_time: time | None, duration_minutes: int | None, now: datetime, zone: ZoneInfo) -> Rescheduled:
    """Move the call to `call_date` `call_time` (the organisation's wall clock), and re-ask attendance.

    `duration_minutes` None keeps the duration. The time is checked as convening checks it; raises
    InvalidInput keyed "call_date", "call_time" or "duration", NotAllowed or NotFound. Takes the case's
    lock, then writes the case, its invitees, its scheduled messages and a "rescheduled" history event
    in the caller's transaction.
    """
    case = attendance.locked_case(session, reference)
    may_administer(session, terms, case, user_id)
    require_convened(session, case)
    assert case.id is not None

    errors: dict[str, str] = {}
    call_at = convening.call_at_in_zone(call_date, call_time, zone, errors)
    if call_at is not None:
        notice = terms.short_notice_min_notice_minutes if case.short_notice else terms.min_notice_minutes
        convening.check_notice(call_at, call_date, notice, now, zone, errors)
    duration = case.duration_minutes if duration_minutes is None else duration_minutes
    low, high = convening.DURATION_MINUTES
    if not low <= duration <= high:
        errors["duration"] = f"Choose a duration between {low} and {high} minutes."
    if not errors and call_at == case.call_at and duration == case.duration_minutes:
        errors["call_time"] = f"The call is already {local_time_text(case.call_at, zone)}. Choose a new time."
    if errors:
        raise InvalidInput(errors)
    assert call_at is not None

    previous = case.call_at
    invitees = _invitees(session, case.id)
    told = _told(invitees, user_id)
    case.call_at, case.duration_minutes = call_at, duration
    case.schedule_version += 1
    session.add(case)
    for row in invitees:
        # Reschedule re-asks attendance: an answer (or a deputy) for the old time says nothing of the new.
        row.reply, row.deputy_id, row.replied_at = Reply.NO_REPLY, None, None
        if row.user_id == case.convener_id:  # as at convening: whoever convened attends, unchased
            row.reply, row.replied_at = Reply.ATTENDING, now
        session.add(row)
    session.flush()
    cancelled = planning.cancel_pending(session, case.id)
    planned = planning.schedule(session, case, invitees, terms, zone, now)
    record_event(session, case.id, user_id, "rescheduled", now, previous_call_at=previous.isoformat(),
                 call_at=call_at.isoformat(), duration_minutes=duration, schedule_version=case.schedule_version,
                 cancelled_messages=cancelled, planned_messages=planned)
    log.info("case_rescheduled", extra={"event": "case_rescheduled", "case_ref": case.reference,
                                        "version": case.schedule_version, "cancelled": cancelled,
                                        "planned": planned})
    return Rescheduled(case_id=case.id, reference=case.reference, room_id=case.room_id, actor_id=user_id,
                       previous_call_at=previous, call_at=call_at, duration_minutes=duration,
                       short_notice=case.short_notice, schedule_version=case.schedule_version,
                       cancelled_messages=cancelled, planned_messages=planned, told=told, rescheduled_at=now)


def cancel(session: Session, terms: Terms, reference: str, user_id: str, reason: str, now: datetime, *,
           directory_names: Sequence[str] = ()) -> Cancelled:
    """Cancel the call, giving a reason that members see; no reminder for the case is sent after this.

    Raises InvalidInput keyed "reason" (missing, too long, or naming someone), NotAllowed or NotFound.
    Writes the case, its scheduled messages and a "cancelled" history event (without the reason's
    text: the case keeps it) in the caller's transaction, under the case's lock.
    """
    case = attendance.locked_case(session, reference)
    may_administer(session, terms, case, user_id)
    require_convened(session, case)
    assert case.id is not None

    text = (reason or "").strip()
    if not text:
        raise InvalidInput({"reason": "Give the reason for cancelling: the members are told it."})
    if len(text) > REASON_LIMIT:
        raise InvalidInput({"reason": f"Keep this under {REASON_LIMIT} characters (it has {len(text)})."})
    hits = find_person_names(text, directory_names)
    if hits:
        raise InvalidInput({"reason": describe_hits(hits)})

    invitees = _invitees(session, case.id)
    case.status, case.cancel_reason = CaseStatus.CANCELLED, text
    # A new version too: a message of the old schedule already claimed by a worker is dropped.
    case.schedule_version += 1
    session.add(case)
    session.flush()
    cancelled = planning.cancel_pending(session, case.id)
    record_event(session, case.id, user_id, "cancelled", now, cancelled_messages=cancelled,
                 schedule_version=case.schedule_version)
    log.info("case_cancelled", extra={"event": "case_cancelled", "case_ref": case.reference,
                                      "cancelled": cancelled})
    return Cancelled(case_id=case.id, reference=case.reference, room_id=case.room_id, actor_id=user_id,
                     call_at=case.call_at, reason=text, cancelled_messages=cancelled,
                     told=_told(invitees, user_id))


def submit_reschedule(sessions: SessionFactory, engine: Engine, form: Form, terms: Terms, user_id: str,
                      call_date: date | None, call_time: time | None, duration_minutes: int | None, now: datetime,
                      zone: ZoneInfo) -> Rescheduled:
    """A submitted reschedule form: `reschedule` of the form's case, once however often it is delivered.

    Raises AlreadySubmitted, InvalidInput, NotAllowed or NotFound, with nothing written."""
    reference = form.subject
    with case_admin_lock(engine, reference):
        return forms.submit_once(sessions, form, now, lambda session: reschedule(
            session, terms, reference, user_id, call_date, call_time, duration_minutes, now, zone))


def submit_cancel(sessions: SessionFactory, engine: Engine, form: Form, terms: Terms, user_id: str, reason: str,
                  now: datetime, *, directory_names: Sequence[str] = ()) -> Cancelled:
    """A submitted cancel form: `cancel` of the form's case, once however often it is delivered."""
    reference = form.subject
    with case_admin_lock(engine, reference):
        return forms.submit_once(sessions, form, now, lambda session: cancel(
            session, terms, reference, user_id, reason, now, directory_names=directory_names))


# --- telling people, after the commit ----------------------------------------------------------



def _send_each(workspace: Workspace, reference: str, told: Sequence[Told],
               message_for: Callable[[Told], Message]) -> list[str]:
    undelivered: list[str] = []
    for person in told:
        try:
            workspace.send_direct(person.user_id, message_for(person))
        except PlatformFailure as exc:
            log.warning("notice_undelivered", extra={"event": "notice_undelivered", "case_ref": reference,
                                                     "error": exc.error})
            undelivered.append(person.user_id)
    return undelivered


def announce_rescheduled(sessions: SessionFactory, engine: Engine, terms: Terms, workspace: Workspace,
                         zone: ZoneInfo, result: Rescheduled) -> Announced:
    """Update the header and board in place, direct-message each member (with the attendance
    buttons), then post in the channel. One refusal never stops the rest; what failed is returned.

    If the case moved again (or was cancelled) before this runs, the later change tells people and
    only the header and board are refreshed here.
    """
    failed: list[str] = []
    ref = result.reference
    workspace = ledger.recording(workspace, sessions, lambda: result.rescheduled_at, result.case_id)
    attempt("updating the case header", failed, ref,
             lambda: case_header.refresh_header(sessions, terms, result.case_id, workspace, zone,
                                                result.rescheduled_at.astimezone(zone).date()))
    attempt("updating the attendance board", failed, ref,
             lambda: attendance.refresh_board(sessions, engine, terms, result.case_id, workspace, zone))
    with sessions() as session:
        case = session.get(Case, result.case_id)
        current = case is not None and case.schedule_version == result.schedule_version
    if not current:
        return Announced(failed_steps=tuple(failed), superseded=True)

    call_local = local_time_text(result.call_at, zone)
    previous_local = local_time_text(result.previous_call_at, zone)
    # The old invitations and reminders first: no button of the old time is left to press.
    if attendance.refresh_answer_dms(sessions, engine, terms, workspace, zone, result.case_id):
        failed.append("marking the old invitations out of date")
    version = result.schedule_version
    undelivered = _send_each(workspace, ref, result.told, lambda t: Message(
        MessageKind.RESCHEDULED_NOTICE, RescheduleNotice(
        reference=ref, group_name=terms.name, group_short_name=terms.short_name, room_id=result.room_id,
        seat_label=t.seat_label, deputy_for=t.deputy_for, call_at=result.call_at, call_at_local=call_local,
        previous_call_at=result.previous_call_at, previous_call_at_local=previous_local,
        duration_minutes=result.duration_minutes, short_notice=result.short_notice,
        answer_value=attendance.answer_value(ref, version)),
        ledger_detail=None if t.deputy_for else attendance.answer_detail(version)))
    post = RescheduledPost(reference=ref, group_short_name=terms.short_name, actor_id=result.actor_id,
                           call_at=result.call_at, call_at_local=call_local, previous_call_at=result.previous_call_at,
                           previous_call_at_local=previous_local, duration_minutes=result.duration_minutes,
                           undelivered=tuple(undelivered))
    attempt("posting the new time", failed, ref,
             lambda: workspace.post(result.room_id, Message(MessageKind.CASE_RESCHEDULED, post)))
    return Announced(tuple(undelivered), tuple(failed))


def announce_cancelled(sessions: SessionFactory, engine: Engine, terms: Terms, workspace: Workspace,
                       zone: ZoneInfo, result: Cancelled, now: datetime) -> Announced:
    """Close the header and board (no buttons), direct-message each member, post the reason in the
    channel, and share a cancelled calendar invite so calendars drop the call."""
    failed: list[str] = []
    ref = result.reference
    workspace = ledger.recording(workspace, sessions, lambda: now, result.case_id)
    attempt("updating the case header", failed, ref,
             lambda: case_header.refresh_header(sessions, terms, result.case_id, workspace, zone,
                                                now.astimezone(zone).date()))
    attempt("closing the attendance board", failed, ref,
             lambda: attendance.refresh_board(sessions, engine, terms, result.case_id, workspace, zone))
    if attendance.refresh_answer_dms(sessions, engine, terms, workspace, zone, result.case_id):
        failed.append("closing the invitations")
    call_local = local_time_text(result.call_at, zone)
    undelivered = _send_each(workspace, ref, result.told, lambda t: Message(MessageKind.CANCELLED_NOTICE, CancelNotice(
        reference=ref, group_short_name=terms.short_name, room_id=result.room_id, actor_id=result.actor_id,
        reason=result.reason, seat_label=t.seat_label, deputy_for=t.deputy_for, call_at=result.call_at,
        call_at_local=call_local)))
    post = CancelledPost(reference=ref, group_short_name=terms.short_name, actor_id=result.actor_id,
                         reason=result.reason, call_at=result.call_at, call_at_local=call_local,
                         undelivered=tuple(undelivered))
    attempt("posting the cancellation", failed, ref,
             lambda: workspace.post(result.room_id, Message(MessageKind.CASE_CANCELLED, post)))

    def share_calendar() -> None:
        with sessions() as session:
            case = session.get(Case, result.case_id)
            if case is None:
                return
            content = calendar.build_ics(case, terms, zone, now)
        workspace.upload_file(result.room_id, f"{ref}.ics", content, f"{ref}: cancelled, remove it from your calendar")

    attempt("sharing the cancelled calendar invite", failed, ref, share_calendar)
    return Announced(tuple(undelivered), tuple(failed))
