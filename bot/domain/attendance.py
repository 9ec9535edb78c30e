"""Attendance: members answer whether they will attend, or name a deputy; the board shows quorum.

Only an invited member answers for their seat, or the deputy they named confirms or withdraws.
Answering the same way twice changes nothing. Projected quorum comes from bot/domain/quorum.py alone.

Everyone added to a case (issue 12, rules 1 and 2) is an active person of the workspace on the
roster: a deputy a member names holds a roster role (a chair role of the terms for the chair's
seat), and a seat filled from the quorum warning takes someone whose roster role fits the seat.
Each addition invites the person to the case channel, is announced there and is kept in the
history. Once the call has ended, answers no longer change the record where a roll-call was taken
(the roll-call is the record), and answers close altogether with the roll-call's grace period.

Every attendance button (invitation, reminder, the board) carries the case reference and the
schedule version it was sent for ("PMCCG-2026-001:3", ":board" on the board). An answer for a
superseded version is refused with the new time. The value is client input, so the version only
ever refuses: who may answer comes from the signed user id and the stored invitees. An answer takes
the case's lock (storage/locks.case_lock), as reschedule and cancel do, so the two never interleave.

Once a member answers, their invitation and reminder direct messages are redrawn in place from the
ledger (bot/domain/ledger.py): what they said, when, and only the buttons that would change it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.domain import ledger, roster
from bot.domain.case_views import AnswerDm, AttendanceBoard, BoardRow, local_time_text
from bot.domain.cases import find_case
from bot.domain.errors import InvalidInput, NotAllowed, PlatformFailure
from bot.domain.history import events, record_event
from bot.domain.notify import Message, MessageKind, Workspace, attempt
from bot.domain.people import People, require_people
from bot.domain.permissions import may_add_people, may_administer
from bot.domain.quorum import Attendee, QuorumResult, assess_quorum
from bot.domain.roles import ROLE_LABELS, Role
from bot.domain.roster import RosterEntry
from bot.domain.terms import Terms
from storage.db import SessionFactory, transaction
from storage.locks import case_lock, named_lock
from storage.tables import Case, CaseEvent, CaseStatus, DeliveryRecord, Invitee, Reply, RollCallMark, ScheduledMessage

log = logging.getLogger(__name__)

REPLY_LABELS = {
    Reply.NO_REPLY: "No reply yet",
    Reply.ATTENDING: "Attending",
    Reply.DEPUTY: "Sending a deputy",
    Reply.APOLOGIES: "Can't attend",
}


# The direct messages that carry a member's attendance buttons, found again in the ledger to redraw them.
ANSWER_KINDS = ("invitation", "reply_chase", "rescheduled_notice")
BOARD_MARK = "board"
_VERSION = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True)
class AnswerButton:
    """What an attendance button carried (client input): the version only ever refuses an answer."""

    reference: str
    version: int | None  # None: a button sent before buttons carried it
    on_board: bool = False


def answer_value(reference: str, version: int, *, board: bool = False) -> str:
    """The value of the attendance buttons sent for this schedule version, e.g. "PMCCG-2026-001:3"."""
    return f"{reference}:{version}" + (f":{BOARD_MARK}" if board else "")


def parse_answer_value(value: str) -> AnswerButton:
    parts = value.split(":")
    on_board = len(parts) > 1 and parts[-1] == BOARD_MARK
    if on_board:
        parts = parts[:-1]
    version = None
    if len(parts) > 1 and _VERSION.fullmatch(parts[-1]):
        version = int(parts[-1])
        parts = parts[:-1]
    return AnswerButton(":".join(parts), version, on_board)


def answer_detail(version: int) -> dict[str, Any]:
    """What the ledger keeps with a direct message that carries attendance buttons: the version they are for."""
    return {"answer_version": version}


@dataclass(frozen=True)
class PersonAdded:
    """Someone added to a case: invited to its channel and announced there (templates/slack/person_added)."""

    case_id: int
    reference: str
    room_id: str
    user_id: str
    seat_label: str
    stands_in_for: str  # the member whose seat they fill
    added_by: str
    from_quorum_warning: bool  # else named as a deputy by the member


@dataclass(frozen=True)
class ReplyRecorded:
    case_id: int
    reference: str
    changed: bool
    board: AttendanceBoard
    room_id: str
    board_ref: str | None
    added: PersonAdded | None = None  # a deputy newly named: owed an invitation and an announcement
    # The members whose answer now reads differently: their invitation and reminder DMs are redrawn.
    members: tuple[str, ...] = ()


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
                invitees: Sequence[Invitee], entries: dict[str, RosterEntry], *, open_: bool = True,
                schedule_version: int = 1) -> AttendanceBoard:
    result = projected_quorum(terms, profession, invitees, entries)
    rows = tuple(BoardRow(label=i.seat_label, user_id=i.user_id, reply=str(i.reply),
                          reply_label=REPLY_LABELS[Reply(i.reply)], deputy_id=i.deputy_id)
                 for i in sorted(invitees, key=lambda i: i.position))
    return AttendanceBoard(reference=reference, group_short_name=terms.short_name, call_at=call_at,
                           call_at_local=local_time_text(call_at, zone), rows=rows, quorate=result.quorate,
                           quorum_reason=result.reason, open=open_,
                           answer_value=answer_value(reference, schedule_version, board=True))


def _invitees(session: Session, case_id: int) -> list[Invitee]:
    return list(session.exec(select(Invitee).where(Invitee.case_id == case_id).order_by(Invitee.position)))


def _entries_for(session: Session, invitees: Sequence[Invitee]) -> dict[str, RosterEntry]:
    ids = {i.user_id for i in invitees} | {i.deputy_id for i in invitees if i.deputy_id}
    return roster.entries_for(session, ids)


def board(session: Session, terms: Terms, case: Case, zone: ZoneInfo) -> AttendanceBoard:
    """The attendance board as it stands, for rendering."""
    invitees = _invitees(session, case.id or 0)
    return build_board(terms, case.reference, case.profession, case.call_at, zone, invitees,
                       _entries_for(session, invitees), open_=case.status == CaseStatus.CONVENED,
                       schedule_version=case.schedule_version)




def seats_of(session: Session, case: Case, user_id: str) -> list[Invitee]:
    """The seats `user_id` holds on this case (empty when they are not invited)."""
    return [i for i in _invitees(session, case.id or 0) if i.user_id == user_id]


def call_end(case: Case) -> datetime:
    return case.call_at + timedelta(minutes=case.duration_minutes)


def _roll_call_taken(session: Session, case: Case) -> bool:
    # As the record reads it (bot/records/attendance_matrix.py): posted, someone marked, or a result recorded.
    if case.roll_call_ref is not None or case.quorate is not None:
        return True
    return session.exec(select(RollCallMark.id).where(RollCallMark.case_id == case.id)).first() is not None


def _check_before_the_end(session: Session, terms: Terms, case: Case, now: datetime) -> None:
    """After the call, answers no longer change the record (issue 12, rule 6)."""
    if now < call_end(case):
        return
    if _roll_call_taken(session, case):
        raise NotAllowed(f"The call for {case.reference} has ended: who attended is taken from its roll-call. "
                         "If the roll-call is wrong, ask the chair to correct it.")
    if now >= call_end(case) + timedelta(minutes=terms.roll_call_grace_minutes):
        raise NotAllowed(f"The call for {case.reference} has ended: attendance answers are closed.")


def _check_current(case: Case, button: AnswerButton | None, zone: ZoneInfo) -> None:
    """Refuse an answer given on a button sent for a schedule the case has since left (a reschedule)."""
    # A button without a version was sent before buttons carried one, when every case was on its
    # first schedule: taken as version 1, so removing the version from a value never gets past a reschedule.
    if button is None or (button.version or 1) == case.schedule_version:
        return
    where = "please answer again on the board" if button.on_board else "please answer on the new invitation"
    raise NotAllowed(f"The call moved to {local_time_text(case.call_at, zone)}; {where}.")


def check_can_answer(session: Session, terms: Terms, case: Case, user_id: str, now: datetime, zone: ZoneInfo,
                     button: AnswerButton | None = None) -> None:
    """Raise unless `user_id` may answer for a seat on this case now (member or named deputy), on a
    button sent for the case's schedule as it stands (`button`; `zone` words the new time)."""
    if case.status != CaseStatus.CONVENED:
        raise NotAllowed(f"{case.reference} is {case.status}: attendance is closed.")
    rows = _invitees(session, case.id or 0)
    if not any(user_id in (r.user_id, r.deputy_id) for r in rows):
        raise NotAllowed(f"Only the members invited to {case.reference}, or a deputy they named, can answer "
                         f"here. If you should be on this case, ask the person who convened it.")
    _check_current(case, button, zone)
    _check_before_the_end(session, terms, case, now)


def check_can_name_deputy(session: Session, terms: Terms, reference: str, user_id: str, now: datetime,
                          zone: ZoneInfo, button: AnswerButton | None = None) -> Case:
    """Raise unless `user_id` holds a seat on the case and may name a deputy for it now; writes nothing."""
    case = find_case(session, reference)
    check_can_answer(session, terms, case, user_id, now, zone, button)
    if not seats_of(session, case, user_id):
        raise NotAllowed("You are attending as a deputy; only the member can name a different deputy.")
    return case


def _chair_roles(terms: Terms) -> frozenset[Role]:
    return terms.quorum.chair_roles or frozenset({Role.CHAIR})


def _roles_text(roles: frozenset[Role] | set[Role]) -> str:
    labels = [ROLE_LABELS[r].lower() for r in sorted(roles)]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " or " + labels[-1]


def _deputy_problem(terms: Terms, seats: Sequence[Invitee], entry: RosterEntry | None) -> str | None:
    """Why this person cannot deputise for these seats (rule 2), or None."""
    if entry is None:
        return (f"Choose someone on the {terms.short_name} roster. Governance can add a person with "
                "/pmccg roster.")
    chair = _chair_roles(terms)
    if any(s.seat in terms.chair_seats for s in seats) and not entry.roles & chair:
        return f"A deputy for the chair must be a {_roles_text(chair)} on the roster."
    return None


def seat_problem(terms: Terms, case: Case, seat_key: str, entry: RosterEntry | None) -> str | None:
    """Why this person cannot fill this seat from the quorum warning (rule 1), or None.

    The chair's seat takes one of the terms' chair roles; a professional lead's seat a lead for the
    case's profession; any other seat the seat's roster role or `member`.
    """
    seat = terms.seat(seat_key)
    if seat is not None and seat.key in terms.chair_seats:
        wanted, profession = set(_chair_roles(terms)), None
    elif seat is not None and seat.match_profession:
        wanted, profession = {Role.PROFESSIONAL_LEAD}, case.profession
    else:
        wanted, profession = {seat.roster_role if seat else Role.MEMBER, Role.MEMBER}, None
    if entry is not None and entry.roles & wanted and (profession is None or profession in entry.professions):
        return None
    if profession is not None:
        found = terms.profession(profession)
        return (f"Choose a professional lead for {(found.label if found else profession).lower()} from the roster "
                "(governance can add one with /pmccg roster).")
    return f"Choose someone on the roster as {_roles_text(wanted)} for this seat."


def locked_case(session: Session, reference: str) -> Case:
    """The case, with its lock taken (storage/locks.case_lock) and read again under it."""
    case = find_case(session, reference)
    case_lock(session, case.id or 0)
    session.refresh(case)
    return case


def record_reply(session: Session, terms: Terms, reference: str, user_id: str, reply: Reply, now: datetime,
                 zone: ZoneInfo, deputy_id: str | None = None, *, people: People | None = None,
                 button: AnswerButton | None = None) -> ReplyRecorded:
    """Record `user_id`'s answer for every seat they hold (or as a named deputy).

    Takes the case's lock first, so a reschedule or cancel of the case waits for this transaction (or
    this waits for it). Naming a deputy needs `people`: the deputy must be an active person of the
    workspace, on the roster, and for the chair's seat hold a chair role of the terms (rule 2). Writes
    the invitee rows and a history event in the caller's transaction, only when something changed.
    Raises NotFound (no such case), NotAllowed (not invited, case closed, the call has ended or moved
    since `button` was sent) or InvalidInput (field "deputy": a bad deputy, nothing written).
    """
    case = locked_case(session, reference)
    check_can_answer(session, terms, case, user_id, now, zone, button)
    rows = _invitees(session, case.id or 0)
    own = [r for r in rows if r.user_id == user_id]
    changed = False
    added: PersonAdded | None = None
    members: tuple[str, ...] = ()

    if own:
        if reply == Reply.DEPUTY:
            if people is None:
                raise ValueError("naming a deputy needs the workspace's people to check them")
            _check_deputy(rows, user_id, deputy_id)
            assert deputy_id is not None
            require_people(people, {"deputy": deputy_id})
            problem = _deputy_problem(terms, own, roster.entry(session, deputy_id))
            if problem:
                raise InvalidInput({"deputy": problem})
        new_deputy = deputy_id if reply == Reply.DEPUTY else None
        newly_added = new_deputy is not None and all(r.deputy_id != new_deputy for r in own)
        for row in own:
            if row.reply != reply or row.deputy_id != new_deputy:
                row.reply, row.deputy_id, row.replied_at = reply, new_deputy, now
                session.add(row)
                changed = True
        if changed:
            record_event(session, case.id or 0, user_id, "attendance_reply", now, reply=str(reply),
                         deputy=new_deputy)
            members = (user_id,)
        if changed and newly_added and new_deputy is not None:
            added = PersonAdded(case.id or 0, case.reference, case.room_id, new_deputy,
                                ", ".join(r.seat_label for r in own), user_id, user_id, from_quorum_warning=False)
    else:
        # A named deputy: "Attending" confirms (nothing to change); "Can't attend" withdraws, and
        # the member's seat goes back to awaiting a reply so the board shows the gap.
        if reply == Reply.DEPUTY:
            raise NotAllowed("You are attending as a deputy; only the member can name a different deputy.")
        withdrawn: list[str] = []
        for row in rows:
            if row.deputy_id == user_id and reply == Reply.APOLOGIES:
                row.reply, row.deputy_id, row.replied_at = Reply.NO_REPLY, None, now
                session.add(row)
                changed = True
                withdrawn.append(row.user_id)
        if changed:
            record_event(session, case.id or 0, user_id, "deputy_withdrew", now)
            members = tuple(dict.fromkeys(withdrawn))
    session.flush()
    invitees = _invitees(session, case.id or 0)
    new_board = build_board(terms, case.reference, case.profession, case.call_at, zone, invitees,
                            _entries_for(session, invitees), schedule_version=case.schedule_version)
    return ReplyRecorded(case.id or 0, case.reference, changed, new_board, case.room_id, case.board_ref, added,
                         members)


def answer(sessions: SessionFactory, terms: Terms, reference: str, user_id: str, reply: Reply, now: datetime,
           zone: ZoneInfo, *, people: People, deputy_id: str | None = None,
           button: AnswerButton | None = None) -> ReplyRecorded:
    """record_reply in a transaction of its own: committed, or nothing written."""
    with transaction(sessions) as session:
        return record_reply(session, terms, reference, user_id, reply, now, zone, deputy_id, people=people,
                            button=button)


def _check_deputy(rows: Sequence[Invitee], user_id: str, deputy_id: str | None) -> None:
    if not deputy_id:
        raise InvalidInput({"deputy": "Choose who will attend in your place."})
    if deputy_id == user_id:
        raise InvalidInput({"deputy": "Choose someone other than yourself."})
    if any(r.user_id == deputy_id for r in rows):
        raise InvalidInput({"deputy": "They are already invited to this case in their own right."})
    if any(r.deputy_id == deputy_id and r.user_id != user_id for r in rows):
        raise InvalidInput({"deputy": "They are already deputising for someone else on this case."})


def announce_addition(workspace: Workspace, added: PersonAdded) -> list[str]:
    """After the commit: invite the person to the case channel and announce them there; return failed steps."""
    failed: list[str] = []
    attempt("inviting them to the case channel", failed, added.reference,
            lambda: workspace.invite(added.room_id, [added.user_id]))
    attempt("announcing them in the case channel", failed, added.reference,
            lambda: workspace.post(added.room_id, Message(MessageKind.PERSON_ADDED, added)))
    return failed


def announce_reply(sessions: SessionFactory, engine: Engine, terms: Terms, workspace: Workspace, zone: ZoneInfo,
                   result: ReplyRecorded) -> list[str]:
    """After the commit: invite and announce a newly named deputy, and redraw the board; return failed steps."""
    failed = announce_addition(workspace, result.added) if result.added else []
    if result.changed:
        attempt("updating the attendance board", failed, result.reference,
                lambda: refresh_board(sessions, engine, terms, result.case_id, workspace, zone))
    if result.members and refresh_answer_dms(sessions, engine, terms, workspace, zone, result.case_id,
                                             result.members):
        failed.append("updating the invitation messages")
    return failed


def _answer_version(session: Session, row: DeliveryRecord) -> int | None:
    """The schedule version a direct message's buttons were sent for, from what the ledger kept; None
    when it cannot be known (then the message is left as it is)."""
    found = ledger.detail_of(row).get("answer_version")
    if isinstance(found, int):
        return found
    # Sent before the ledger kept it: an invitation goes out when the case is convened (version 1); a
    # reminder's scheduled message says which version it was planned for.
    if row.kind == "invitation":
        return 1
    if row.kind == "reply_chase" and row.scheduled_message_id is not None:
        scheduled = session.get(ScheduledMessage, row.scheduled_message_id)
        try:
            version = json.loads(scheduled.detail or "{}").get("version") if scheduled else None
        except ValueError:
            version = None
        return version if isinstance(version, int) else None
    return None


def answer_dm(terms: Terms, case: Case, seats: Sequence[Invitee], version: int, zone: ZoneInfo) -> AnswerDm:
    """How a member's invitation or reminder sent for `version` reads now (templates/slack/answer_dm)."""
    if case.status != CaseStatus.CONVENED:
        state = "closed"
    elif version != case.schedule_version:
        state = "moved"
    else:
        state = "open"
    first = seats[0]
    answered = [s.replied_at for s in seats if s.replied_at is not None]
    return AnswerDm(reference=case.reference, group_name=terms.name, group_short_name=terms.short_name,
                    room_id=case.room_id, seat_label=", ".join(s.seat_label for s in seats), call_at=case.call_at,
                    call_at_local=local_time_text(case.call_at, zone), duration_minutes=case.duration_minutes,
                    state=state, reply=str(first.reply), reply_label=REPLY_LABELS[Reply(first.reply)],
                    deputy_id=first.deputy_id,
                    answered_at_local=local_time_text(max(answered), zone) if answered else None,
                    answer_value=answer_value(case.reference, case.schedule_version), status=str(case.status))


def refresh_answer_dms(sessions: SessionFactory, engine: Engine, terms: Terms, workspace: Workspace, zone: ZoneInfo,
                       case_id: int, user_ids: Iterable[str] | None = None) -> int:
    """Redraw members' invitation and reminder direct messages about the case in place; return how many
    the platform refused.

    `user_ids` given (after an answer): each of their messages shows the answer, when it was given, and
    only the buttons that would change it. None (after a reschedule or cancel): every member's messages
    that are out of date say so ("the call moved to ...", or cancelled), with no buttons; those of the
    schedule as it stands are left as sent. The messages are found from the ledger, never from a
    request. Serialised per case and read inside the lock, so the last drawing is of the latest answer.
    A refusal is logged (by event name) and the rest are still redrawn: the answer stands either way.
    """
    failed = 0
    with named_lock(engine, f"answer_dms:{case_id}"):
        drawn: list[tuple[DeliveryRecord, AnswerDm]] = []
        with sessions() as session:
            case = session.get(Case, case_id)
            if case is None:
                return 0
            reference = case.reference
            invitees = _invitees(session, case_id)
            members = list(dict.fromkeys(user_ids if user_ids is not None else (i.user_id for i in invitees)))
            for user in members:
                seats = [i for i in invitees if i.user_id == user]
                for row in ledger.messages_to(session, case_id, user, ANSWER_KINDS) if seats else []:
                    version = _answer_version(session, row)
                    if version is None:
                        continue
                    model = answer_dm(terms, case, seats, version, zone)
                    if user_ids is not None or model.state != "open":
                        drawn.append((row, model))
        # The platform's calls after the read, holding no database connection while Slack takes its time.
        for row, model in drawn:
            try:
                workspace.update(str(row.room), str(row.ref), Message(MessageKind.ANSWER_DM, model))
            except PlatformFailure as exc:
                failed += 1
                log.warning("answer_dm_update_failed", extra={
                    "event": "answer_dm_update_failed", "case_ref": reference, "delivery_id": row.id,
                    "kind": row.kind, "error": exc.error})
    return failed


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
        workspace.update(case.room_id, case.board_ref,
                         Message(MessageKind.ATTENDANCE_BOARD, board(session, terms, case, zone)))


def may_fix_quorum(session: Session, terms: Terms, case: Case, user_id: str) -> None:
    """The convener, the case's chair (or the deputy they named) and governance act on a quorum warning."""
    may_administer(session, terms, case, user_id, action="act on its quorum warning")


def open_seats(session: Session, case: Case) -> list[Invitee]:
    """Seats nobody is expected to fill: no reply yet, or apologies without a deputy."""
    return [i for i in _invitees(session, case.id or 0) if i.reply in (Reply.NO_REPLY, Reply.APOLOGIES)]


@dataclass(frozen=True)
class FillChoices:
    """What the "fill a seat" form offers: the open seats (key, label) and who the roster proposes."""

    reference: str
    seats: tuple[tuple[str, str], ...]
    proposed: str | None


def _require_open_call(case: Case, now: datetime) -> None:
    if case.status != CaseStatus.CONVENED:
        raise NotAllowed(f"{case.reference} is {case.status}.")
    if now >= call_end(case):
        raise NotAllowed(f"The call for {case.reference} has ended: nobody can be added to it now.")


def fill_choices(session: Session, terms: Terms, reference: str, actor: str, now: datetime) -> FillChoices:
    """The open seats `actor` may fill from the quorum warning, and a fitting person from the roster.

    Raises NotFound or NotAllowed (not the convener, the case's chair or governance; the call over).
    """
    case = find_case(session, reference)
    _require_open_call(case, now)
    may_add_people(session, terms, case, actor)
    seats = open_seats(session, case)
    rows = _invitees(session, case.id or 0)
    taken = {i.user_id for i in rows} | {i.deputy_id for i in rows if i.deputy_id}
    proposed = None

    def weight(row: Invitee) -> int:
        # The seats quorum turns on first: the chair's, then the professional lead's.
        found = terms.seat(row.seat)
        return 0 if row.seat in terms.chair_seats else 1 if found is not None and found.match_profession else 2

    ordered = sorted(seats, key=weight)
    if ordered:
        fitting = [e.user_id for e in roster.all_entries(session)
                   if e.user_id not in taken and seat_problem(terms, case, ordered[0].seat, e) is None]
        proposed = fitting[0] if fitting else None
    return FillChoices(case.reference, tuple((i.seat, i.seat_label) for i in ordered), proposed)


def invite_deputy(session: Session, terms: Terms, reference: str, actor: str, seat: str, deputy_id: str | None,
                  now: datetime, *, people: People) -> PersonAdded:
    """Fill an open seat with someone from the roster (the fix offered when the call may be inquorate).

    Only the convener, the case's chair (or the deputy they named) and governance may (rule 1); the
    person must be an active person of the workspace whose roster role fits the seat. Raises NotAllowed,
    NotFound, or InvalidInput keyed "seat" or "deputy". Writes the seat and a history event in the
    caller's transaction.
    """
    case = locked_case(session, reference)  # never interleaved with a reschedule clearing the seats
    _require_open_call(case, now)
    may_add_people(session, terms, case, actor)
    rows = _invitees(session, case.id or 0)
    target = next((r for r in rows if r.seat == seat), None)
    if target is None or target.reply not in (Reply.NO_REPLY, Reply.APOLOGIES):
        raise InvalidInput({"seat": "Choose a member who has sent apologies or not answered yet: this one needs "
                                    "nobody to stand in."})
    _check_deputy(rows, target.user_id, deputy_id)
    assert deputy_id is not None
    require_people(people, {"deputy": deputy_id})
    problem = seat_problem(terms, case, target.seat, roster.entry(session, deputy_id))
    if problem:
        raise InvalidInput({"deputy": problem})
    target.reply, target.deputy_id, target.replied_at = Reply.DEPUTY, deputy_id, now
    session.add(target)
    record_event(session, case.id or 0, actor, "deputy_invited", now, seat=seat, deputy=deputy_id,
                 stands_in_for=target.user_id)
    return PersonAdded(case.id or 0, case.reference, case.room_id, deputy_id, target.seat_label, target.user_id,
                       actor, from_quorum_warning=True)


def fill_seat(sessions: SessionFactory, terms: Terms, reference: str, actor: str, seat: str, person: str | None,
              now: datetime, *, people: People) -> PersonAdded:
    """invite_deputy in a transaction of its own: committed, or nothing written."""
    with transaction(sessions) as session:
        return invite_deputy(session, terms, reference, actor, seat, person, now, people=people)


def proceed_may_be_inquorate(session: Session, terms: Terms, reference: str, actor: str, now: datetime
                             ) -> tuple[Case, bool]:
    """Record the decision to hold the call although it may be inquorate, once per schedule of the case:
    the case and whether this call recorded it (False: already recorded for this time, by anyone)."""
    case = find_case(session, reference)
    if case.status != CaseStatus.CONVENED:
        raise NotAllowed(f"{case.reference} is {case.status}.")
    may_fix_quorum(session, terms, case, actor)
    case_lock(session, case.id or 0)  # a double click waits for the first, then finds its event
    session.refresh(case)
    for event in events(session, case.id or 0):
        if event.kind == "proceed_may_be_inquorate" and _event_version(event) == case.schedule_version:
            return case, False
    record_event(session, case.id or 0, actor, "proceed_may_be_inquorate", now, version=case.schedule_version)
    return case, True


def _event_version(event: CaseEvent) -> int:
    try:
        found = json.loads(event.detail or "{}").get("version")
    except (ValueError, AttributeError):
        found = None
    return found if isinstance(found, int) else 1  # recorded before the version was kept: the first schedule


def note_proceed(sessions: SessionFactory, terms: Terms, reference: str, actor: str, now: datetime
                 ) -> tuple[str, bool]:
    """A platform's one call for "go ahead": `proceed_may_be_inquorate` in its own transaction; the room's id
    and whether the decision was recorded now (False when it already was, for the call's present time)."""
    with transaction(sessions) as session:
        case, recorded = proceed_may_be_inquorate(session, terms, reference, actor, now)
        return case.room_id, recorded
