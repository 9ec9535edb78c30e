"""Attendance: members answer whether they will attend, or name a deputy; the board shows quorum.

Only an invited member answers for their seat, or the deputy they named confirms or withdraws.
Answering the same way twice changes nothing. Projected quorum comes from bot/quorum.py alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot import roster
from bot.case_views import AttendanceBoard, BoardRow, local_time_text
from bot.cases import find_case
from bot.errors import InvalidInput, NotAllowed
from bot.history import record_event
from bot.notify import Message, Workspace
from bot.permissions import may_administer
from bot.quorum import Attendee, QuorumResult, assess_quorum
from bot.roster import RosterEntry
from bot.terms import Terms
from storage.db import SessionFactory
from storage.locks import named_lock
from storage.tables import Case, CaseStatus, Invitee, Reply

REPLY_LABELS = {
    Reply.NO_REPLY: "No reply yet",
    Reply.ATTENDING: "Attending",
    Reply.DEPUTY: "Sending a deputy",
    Reply.APOLOGIES: "Can't attend",
}


@dataclass(frozen=True)
class ReplyRecorded:
    case_id: int
    reference: str
    changed: bool
    board: AttendanceBoard
    room_id: str
    board_ref: str | None


def _person(entries: dict[str, RosterEntry], user_id: str, deputy_for: str | None = None) -> Attendee:
    found = entries.get(user_id)
    return found.as_attendee(deputy_for) if found else Attendee(user_id, deputy_for=deputy_for)


def projected_quorum(terms: Terms, profession: str, invitees: Sequence[Invitee],
                     entries: dict[str, RosterEntry]) -> QuorumResult:
    """Projected quorum from replies: attending members and named deputies count as present."""
    present: list[Attendee] = []
    awaiting: list[Attendee] = []
    for row in invitees:
        if row.reply == Reply.ATTENDING:
            present.append(_person(entries, row.user_id))
        elif row.reply == Reply.DEPUTY and row.deputy_id:
            present.append(_person(entries, row.deputy_id, deputy_for=row.user_id))
        elif row.reply == Reply.NO_REPLY:
            awaiting.append(_person(entries, row.user_id))
    found = terms.profession(profession)
    label = found.label if found else profession
    return assess_quorum(terms.quorum, profession, label, present, awaiting, projected=True)


def build_board(terms: Terms, reference: str, profession: str, call_at: datetime, zone: ZoneInfo,
                invitees: Sequence[Invitee], entries: dict[str, RosterEntry], *, open_: bool = True) -> AttendanceBoard:
    result = projected_quorum(terms, profession, invitees, entries)
    rows = tuple(BoardRow(label=i.seat_label, user_id=i.user_id, reply=str(i.reply),
                          reply_label=REPLY_LABELS[Reply(i.reply)], deputy_id=i.deputy_id)
                 for i in sorted(invitees, key=lambda i: i.position))
    return AttendanceBoard(reference=reference, group_short_name=terms.short_name, call_at=call_at,
                           call_at_local=local_time_text(call_at, zone), rows=rows, quorate=result.quorate,
                           quorum_reason=result.reason, open=open_)


def _invitees(session: Session, case_id: int) -> list[Invitee]:
    return list(session.exec(select(Invitee).where(Invitee.case_id == case_id).order_by(Invitee.position)))


def _entries_for(session: Session, invitees: Sequence[Invitee]) -> dict[str, RosterEntry]:
    ids = {i.user_id for i in invitees} | {i.deputy_id for i in invitees if i.deputy_id}
    return roster.entries_for(session, ids)


def board(session: Session, terms: Terms, case: Case, zone: ZoneInfo) -> AttendanceBoard:
    """The attendance board as it stands, for rendering."""
    invitees = _invitees(session, case.id or 0)
    return build_board(terms, case.reference, case.profession, case.call_at, zone, invitees,
                       _entries_for(session, invitees), open_=case.status == CaseStatus.CONVENED)




def seats_of(session: Session, case: Case, user_id: str) -> list[Invitee]:
    """The seats `user_id` holds on this case (empty when they are not invited)."""
    return [i for i in _invitees(session, case.id or 0) if i.user_id == user_id]


def check_can_answer(session: Session, case: Case, user_id: str) -> None:
    """Raise unless `user_id` may answer for a seat on this case (member or named deputy)."""
    if case.status != CaseStatus.CONVENED:
        raise NotAllowed(f"{case.reference} is {case.status}: attendance is closed.")
    rows = _invitees(session, case.id or 0)
    if not any(user_id in (r.user_id, r.deputy_id) for r in rows):
        raise NotAllowed(f"Only the members invited to {case.reference}, or a deputy they named, can answer "
                         f"here. If you should be on this case, ask the person who convened it.")


def record_reply(session: Session, terms: Terms, reference: str, user_id: str, reply: Reply, now: datetime,
                 zone: ZoneInfo, deputy_id: str | None = None) -> ReplyRecorded:
    """Record `user_id`'s answer for every seat they hold (or as a named deputy).

    Writes the invitee rows and a history event in the caller's transaction, only when something
    changed. Raises NotFound (no such case), NotAllowed (not invited, case closed) or InvalidInput
    (field "deputy": a bad deputy).
    """
    case = find_case(session, reference)
    check_can_answer(session, case, user_id)
    rows = _invitees(session, case.id or 0)
    own = [r for r in rows if r.user_id == user_id]
    changed = False

    if own:
        if reply == Reply.DEPUTY:
            _check_deputy(rows, user_id, deputy_id)
        for row in own:
            new_deputy = deputy_id if reply == Reply.DEPUTY else None
            if row.reply != reply or row.deputy_id != new_deputy:
                row.reply, row.deputy_id, row.replied_at = reply, new_deputy, now
                session.add(row)
                changed = True
        if changed:
            record_event(session, case.id or 0, user_id, "attendance_reply", now, reply=str(reply),
                         deputy=deputy_id if reply == Reply.DEPUTY else None)
    else:
        # A named deputy: "Attending" confirms (nothing to change); "Can't attend" withdraws, and
        # the member's seat goes back to awaiting a reply so the board shows the gap.
        if reply == Reply.DEPUTY:
            raise NotAllowed("You are attending as a deputy; only the member can name a different deputy.")
        for row in rows:
            if row.deputy_id == user_id and reply == Reply.APOLOGIES:
                row.reply, row.deputy_id, row.replied_at = Reply.NO_REPLY, None, now
                session.add(row)
                changed = True
        if changed:
            record_event(session, case.id or 0, user_id, "deputy_withdrew", now)
    session.flush()
    invitees = _invitees(session, case.id or 0)
    new_board = build_board(terms, case.reference, case.profession, case.call_at, zone, invitees,
                            _entries_for(session, invitees))
    return ReplyRecorded(case.id or 0, case.reference, changed, new_board, case.room_id, case.board_ref)


def _check_deputy(rows: Sequence[Invitee], user_id: str, deputy_id: str | None) -> None:
    if not deputy_id:
        raise InvalidInput({"deputy": "Choose who will attend in your place."})
    if deputy_id == user_id:
        raise InvalidInput({"deputy": "Choose someone other than yourself."})
    if any(r.user_id == deputy_id for r in rows):
        raise InvalidInput({"deputy": "They are already invited to this case in their own right."})
    if any(r.deputy_id == deputy_id and r.user_id != user_id for r in rows):
        raise InvalidInput({"deputy": "They are already deputising for someone else on this case."})


def refresh_board(sessions: SessionFactory, engine: Engine, terms: Terms, case_id: int, workspace: Workspace,
                  zone: ZoneInfo) -> None:
    """Re-render the board from the database and update it in place.

    Serialised per case and read inside the lock, so two answers at once can never leave the
    older board showing. Raises PlatformFailure if the platform refuses.
    """
    with named_lock(engine, f"board:{case_id}"), sessions() as session:
        case = session.get(Case, case_id)
        if case is None or not case.board_ref:
            return
        workspace.update(case.room_id, case.board_ref, Message("attendance_board", board(session, terms, case, zone)))


def may_fix_quorum(session: Session, terms: Terms, case: Case, user_id: str) -> None:
    """The convener, the chair (or deputy chair) and governance act on a quorum warning."""
    may_administer(session, terms, case, user_id, action="act on its quorum warning")


def open_seats(session: Session, case: Case) -> list[Invitee]:
    """Seats nobody is expected to fill: no reply yet, or apologies without a deputy."""
    return [i for i in _invitees(session, case.id or 0) if i.reply in (Reply.NO_REPLY, Reply.APOLOGIES)]


@dataclass(frozen=True)
class DeputyInvited:
    case_id: int
    reference: str
    room_id: str
    deputy_id: str
    seat_label: str


def invite_deputy(session: Session, terms: Terms, reference: str, actor: str, seat: str, deputy_id: str | None,
                  now: datetime) -> DeputyInvited:
    """Fill an open seat with a named deputy (the fix offered when the call may be inquorate).

    Raises NotAllowed (not convener/chair/governance), NotFound, or InvalidInput keyed "seat" or
    "deputy". Writes the seat and a history event in the caller's transaction.
    """
    case = find_case(session, reference)
    if case.status != CaseStatus.CONVENED:
        raise NotAllowed(f"{case.reference} is {case.status}.")
    may_fix_quorum(session, terms, case, actor)
    rows = _invitees(session, case.id or 0)
    target = next((r for r in rows if r.seat == seat), None)
    if target is None or target.reply not in (Reply.NO_REPLY, Reply.APOLOGIES):
        raise InvalidInput({"seat": "Choose a seat that nobody is expected to fill."})
    _check_deputy(rows, target.user_id, deputy_id)
    target.reply, target.deputy_id, target.replied_at = Reply.DEPUTY, deputy_id, now
    session.add(target)
    record_event(session, case.id or 0, actor, "deputy_invited", now, seat=seat, deputy=deputy_id)
    return DeputyInvited(case.id or 0, case.reference, case.room_id, deputy_id or "", target.seat_label)


def proceed_may_be_inquorate(session: Session, terms: Terms, reference: str, actor: str, now: datetime) -> Case:
    """Record the decision to hold the call although it may be inquorate."""
    case = find_case(session, reference)
    if case.status != CaseStatus.CONVENED:
        raise NotAllowed(f"{case.reference} is {case.status}.")
    may_fix_quorum(session, terms, case, actor)
    record_event(session, case.id or 0, actor, "proceed_may_be_inquorate", now)
    return case
