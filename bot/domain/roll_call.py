"""Roll-call at the call: who is present, in what capacity, and whether the call was quorate.

The roll-call message is posted in the case channel when the call starts. Each member marks
themself present ("I'm on the call"); the case's chair (the chair seat's holder or the deputy they
named) or governance may mark someone else who joined by phone. Capacity is derived, never typed:
an invitee is a "member", a deputy named on the attendance board is a "deputy" for that member,
anyone else the chair marks is a "guest" (counted only when on the roster). The actual quorum
comes from bot/domain/quorum.py alone; the chair or governance records it on the case, or the bot does
at the end of the call.

After the call (issue 12, rule 6) marking closes when the call ends plus the terms' grace period
(`roll_call_grace_minutes`); from then on only the chair or governance corrects the roll-call, one
person at a time, present or not, with a reason. The reason is kept in `roll_call_corrections`
(which retention purges), the correction in the case history, and a recorded result is revised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select, update

from bot.domain import roster
from bot.domain.case_views import local_time_text
from bot.domain.cases import find_case
from bot.domain.errors import InvalidInput, NotAllowed
from bot.domain.history import record_event
from bot.domain.naming import describe_hits, find_person_names
from bot.domain.notify import Message, MessageKind, Posted, Workspace, attempt
from bot.domain.outbox import Delivery, Drop, Due
from bot.domain.people import People, require_people
from bot.domain.permissions import chair_contacts, has_chair_powers, require_chair_powers
from bot.domain.quorum import Attendee, QuorumResult, assess_quorum
from bot.domain.roster import RosterEntry
from bot.domain.terms import Terms
from storage.db import SessionFactory, transaction
from storage.locks import named_lock
from storage.tables import Case, CaseEvent, CaseStatus, Invitee, RollCallCorrection, RollCallMark

MEMBER, DEPUTY, GUEST = "member", "deputy", "guest"
BOT_ACTOR = "bot"
MARKED_EVENT = "roll_call_marked"
RECORDED_EVENT = "quorum_recorded"
CORRECTED_EVENT = "roll_call_corrected"
REASON_LIMIT = 400  # Case.quorum_reason's column length
CORRECTION_REASON_LIMIT = 500


@dataclass(frozen=True)
class PresentRow:
    user_id: str
    capacity: str  # MEMBER, DEPUTY or GUEST
    seat_label: str  # the member's seat(s) on this case; empty for deputies and guests
    deputy_for: str | None
    marked_by: str | None  # set only when someone else marked them present
    counted: bool  # towards the minimum present, under the terms of reference


@dataclass(frozen=True)
class RollCallView:
    """The roll-call as it stands (for the message, the result post and the listeners)."""

    case_id: int
    room_id: str
    reference: str
    group_short_name: str
    call_at: datetime
    call_at_local: str
    present: tuple[PresentRow, ...]
    # The actual quorum from the marks now.
    quorate: bool
    quorum_reason: str
    detail: str  # the reason without its headline, e.g. "3 of 4 present; 1 more member needed"
    # What is recorded on the case (None until recorded).
    recorded_quorate: bool | None
    recorded_reason: str | None
    recorded_detail: str | None
    recorded_by: str | None  # a user id, or "bot" when recorded automatically at the end of the call
    open: bool
    # When "I'm on the call" closes (the call's end plus the terms' grace period), and how it reads.
    marking_closes_at: datetime | None = None
    marking_closes_local: str = ""
    # Whether the call that returned this view changed anything (a new mark, a new or revised result).
    changed: bool = False

    @property
    def recorded(self) -> bool:
        return self.recorded_quorate is not None

    @property
    def automatic(self) -> bool:
        return self.recorded_by == BOT_ACTOR

    def row(self, user_id: str) -> PresentRow | None:
        return next((r for r in self.present if r.user_id == user_id), None)


# --- reading ----------------------------------------------------------------------------------




def _invitees(session: Session, case_id: int) -> list[Invitee]:
    return list(session.exec(select(Invitee).where(Invitee.case_id == case_id).order_by(col(Invitee.position))))


def _marks(session: Session, case_id: int) -> list[RollCallMark]:
    return list(session.exec(select(RollCallMark).where(RollCallMark.case_id == case_id)
                             .order_by(col(RollCallMark.at), col(RollCallMark.id))))


def _attendee(entries: dict[str, RosterEntry], user_id: str, deputy_for: str | None) -> Attendee:
    found = entries.get(user_id)
    return found.as_attendee(deputy_for) if found else Attendee(user_id, deputy_for=deputy_for)


def _profession_label(terms: Terms, case: Case) -> str:
    found = terms.profession(case.profession)
    return found.label if found else case.profession


def _assess(terms: Terms, case: Case, present: Sequence[Attendee]) -> QuorumResult:
    return assess_quorum(terms.quorum, case.profession, _profession_label(terms, case), present, projected=False)


def actual_quorum(session: Session, terms: Terms, case: Case) -> QuorumResult:
    """The quorum of the call itself, from who is marked present on the roll-call."""
    marks = _marks(session, case.id or 0)
    entries = roster.entries_for(session, [m.user_id for m in marks])
    return _assess(terms, case, [_attendee(entries, m.user_id, m.deputy_for) for m in marks])


def _detail(reason: str) -> str:
    # QuorumResult.reason is "<quorate|not quorate>: N of M present[; what is missing]".
    return reason.split(": ", 1)[1] if ": " in reason else reason


def _recorded_by(session: Session, case_id: int) -> str | None:
    event = session.exec(select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == RECORDED_EVENT)
                         .order_by(col(CaseEvent.id).desc())).first()
    return event.actor_id if event else None


def build_view(session: Session, terms: Terms, case: Case, zone: ZoneInfo, *, changed: bool = False,
               result: QuorumResult | None = None, recorded_by: str | None = None) -> RollCallView:
    """The roll-call as it stands: who is present in what capacity, the actual quorum, the record."""
    case_id = case.id or 0
    marks = _marks(session, case_id)
    entries = roster.entries_for(session, [m.user_id for m in marks])
    seats: dict[str, list[str]] = {}
    for row in _invitees(session, case_id):
        seats.setdefault(row.user_id, []).append(row.seat_label)
    rows = []
    for m in marks:
        person = _attendee(entries, m.user_id, m.deputy_for)
        rows.append(PresentRow(
            user_id=m.user_id, capacity=m.capacity,
            seat_label=", ".join(seats.get(m.user_id, [])) if m.capacity == MEMBER else "",
            deputy_for=m.deputy_for, marked_by=m.marked_by if m.marked_by != m.user_id else None,
            # Asking the rule about one person alone keeps "who counts" in bot/domain/quorum.py.
            counted=_assess(terms, case, [person]).counted == 1))
    result = result or _assess(terms, case, [_attendee(entries, m.user_id, m.deputy_for) for m in marks])
    recorded = case.quorate is not None
    closes = marking_closes_at(terms, case)
    return RollCallView(
        case_id=case_id, room_id=case.room_id, reference=case.reference, group_short_name=terms.short_name,
        call_at=case.call_at, call_at_local=local_time_text(case.call_at, zone), present=tuple(rows),
        quorate=result.quorate, quorum_reason=result.reason, detail=_detail(result.reason),
        recorded_quorate=case.quorate, recorded_reason=case.quorum_reason if recorded else None,
        recorded_detail=_detail(case.quorum_reason or "") if recorded else None,
        recorded_by=(recorded_by or _recorded_by(session, case_id)) if recorded else None,
        open=case.status == CaseStatus.CONVENED, marking_closes_at=closes,
        marking_closes_local=local_time_text(closes, zone), changed=changed)


def roll_call(session: Session, terms: Terms, case: Case, zone: ZoneInfo) -> RollCallView:
    """The roll-call as it stands, for rendering."""
    return build_view(session, terms, case, zone)


# --- who may do what ------------------------------------------------------------------------------


def marking_closes_at(terms: Terms, case: Case) -> datetime:
    """When marking present closes: the end of the call plus the terms' grace period."""
    return case.call_at + timedelta(minutes=case.duration_minutes + terms.roll_call_grace_minutes)


def _check_open(case: Case) -> None:
    if case.status != CaseStatus.CONVENED:
        raise NotAllowed(f"{case.reference} is {case.status}: the roll-call is closed.")


def _check_marking_open(terms: Terms, case: Case, now: datetime, zone: ZoneInfo, contacts: tuple[str, ...],
                        *, own: bool) -> None:
    closes = marking_closes_at(terms, case)
    if now < closes:
        return
    when = local_time_text(closes, zone)
    if own:
        raise NotAllowed(f"\"I'm on the call\" for {case.reference} closed at {when}, "
                         f"{terms.roll_call_grace_minutes} minutes after the call ended. If the roll-call is wrong, "
                         "ask the chair to correct it.", contacts)
    raise NotAllowed(f"The roll-call for {case.reference} closed at {when}. Use \"Correct the roll-call\" to change "
                     "it, with the reason.", contacts)


def check_can_mark_others(session: Session, terms: Terms, case: Case, user_id: str, now: datetime,
                          zone: ZoneInfo) -> None:
    """Raise unless `user_id` chairs this case (the chair seat or the deputy they named) or is governance,
    and marking is still open (after that the roll-call is corrected, with a reason)."""
    _check_open(case)
    contacts = chair_contacts(session, terms, case)
    if not has_chair_powers(session, terms, case, user_id):
        raise NotAllowed(f"Only the chair of {case.reference} (or the deputy they named) or governance can mark "
                         f"someone else present. If you are on the call, press \"I'm on the call\" for yourself.",
                         contacts)
    _check_marking_open(terms, case, now, zone, contacts, own=False)


def check_can_record(session: Session, terms: Terms, case: Case, user_id: str) -> None:
    """Raise unless `user_id` chairs this case (the chair seat or the deputy they named) or is governance."""
    if case.status == CaseStatus.CANCELLED:
        raise NotAllowed(f"{case.reference} was cancelled: there is no call to record.")
    require_chair_powers(session, terms, case, user_id, "record its quorum result")


# --- marking present ------------------------------------------------------------------------------


def _capacity(invitees: Sequence[Invitee], user_id: str) -> tuple[str, str | None] | None:
    """(capacity, deputy_for) for someone invited or named as a deputy; None for anyone else."""
    if any(i.user_id == user_id for i in invitees):
        return MEMBER, None
    named = next((i for i in invitees if i.deputy_id == user_id), None)
    if named is not None:
        return DEPUTY, named.user_id
    return None


def _insert_mark(session: Session, values: dict[str, Any]) -> bool:
    """Insert one mark unless the person is already marked; atomic on both backends (no race, no savepoint)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (insert(RollCallMark).values(**values).on_conflict_do_nothing(index_elements=["case_id", "user_id"])
                 .returning(col(RollCallMark.id)))
    return session.exec(statement).first() is not None  # type: ignore[call-overload]


def mark_present(session: Session, terms: Terms, reference: str, user_id: str, marked_by: str, now: datetime,
                 zone: ZoneInfo, *, people: People | None = None) -> RollCallView:
    """Mark `user_id` present on the call, marked by `marked_by` (themself, or the chair for a phone joiner).

    Marking someone else needs `people`: they must be an active person of the workspace. Writes the
    mark and a history event in the caller's transaction. Marking twice changes nothing. Raises
    NotFound (no such case), NotAllowed (case not open; marking closed; someone without the chair's
    powers marking another person; someone not invited marking themself) or InvalidInput ("person").
    """
    case = find_case(session, reference)
    _check_open(case)
    invitees = _invitees(session, case.id or 0)
    chair = has_chair_powers(session, terms, case, marked_by)
    contacts = chair_contacts(session, terms, case)
    if marked_by != user_id and not chair:
        raise NotAllowed(f"Only the chair of {reference} (or the deputy they named) or governance can mark someone "
                         f"else present. If you are on the call, press \"I'm on the call\" for yourself.", contacts)
    found = _capacity(invitees, user_id)
    if found is None and marked_by == user_id:
        # A stranger cannot join the record on their own say-so (not even governance, who is not invited).
        raise NotAllowed(f"Only the members invited to {reference}, or a deputy they named, can mark themselves "
                         f"present. If you joined the call, ask the chair to mark you present.", contacts)
    _check_marking_open(terms, case, now, zone, contacts, own=marked_by == user_id)
    if marked_by != user_id:
        if people is None:
            raise ValueError("marking someone else present needs the workspace's people to check them")
        require_people(people, {"person": user_id})
    capacity, deputy_for = found or (GUEST, None)
    changed = _insert_mark(session, dict(case_id=case.id, user_id=user_id, capacity=capacity,
                                         deputy_for=deputy_for, marked_by=marked_by, at=now))
    if changed:
        record_event(session, case.id or 0, marked_by, MARKED_EVENT, now, user=user_id, capacity=capacity,
                     deputy_for=deputy_for)
    session.flush()
    return build_view(session, terms, case, zone, changed=changed)


# --- correcting the roll-call --------------------------------------------------------------------


@dataclass(frozen=True)
class CorrectionForm:
    """What the chair entered to correct the roll-call: whose attendance, present or not, and why."""

    reference: str
    actor: str
    person: str | None
    present: bool | None
    reason: str


@dataclass(frozen=True)
class Corrected:
    """templates/slack/roll_call_corrected: the correction as announced in the case channel (no reason)."""

    view: RollCallView
    actor_id: str
    user_id: str
    present: bool
    revised: bool  # the recorded quorum result changed with it


def check_can_correct(session: Session, terms: Terms, reference: str, actor: str, now: datetime) -> Case:
    """Raise NotFound or NotAllowed unless `actor` may correct this roll-call now; writes nothing.

    The chair of the case (the chair seat's holder or the deputy they named) or governance, once
    the call has started, while the case is open.
    """
    case = find_case(session, reference)
    _check_open(case)
    require_chair_powers(session, terms, case, actor, "correct its roll-call")
    if now < case.call_at:
        raise NotAllowed(f"The call for {case.reference} has not started: there is no roll-call to correct yet.")
    return case


def correct(session: Session, terms: Terms, form: CorrectionForm, now: datetime, zone: ZoneInfo, *,
            people: People, directory_names: Sequence[str] = ()) -> Corrected:
    """Correct one person's attendance on the roll-call, with a reason (issue 12, rule 6).

    Marks them present (capacity derived as for any mark; they must be an active person of the
    workspace) or removes their mark. Writes the mark, the correction with its reason, a
    "roll_call_corrected" history event and, when a result was recorded, the revised result, all in
    the caller's transaction. Raises NotFound, NotAllowed or InvalidInput keyed "person", "present"
    or "reason" (nothing written).
    """
    case = check_can_correct(session, terms, form.reference, form.actor, now)
    errors: dict[str, str] = {}
    person = form.person or ""
    if not person:
        errors["person"] = "Choose whose attendance to correct."
    if form.present is None:
        errors["present"] = "Say whether they were on the call."
    reason = form.reason.strip()
    if not reason:
        errors["reason"] = "Give the reason for the correction: it is kept in the case record."
    elif len(reason) > CORRECTION_REASON_LIMIT:
        errors["reason"] = f"Keep this under {CORRECTION_REASON_LIMIT} characters."
    elif hits := find_person_names(reason, directory_names):
        errors["reason"] = describe_hits(hits)
    marks = {m.user_id: m for m in _marks(session, case.id or 0)}
    if person and form.present is True:
        if person in marks:
            errors["person"] = "They are already marked present."
        else:
            try:
                require_people(people, {"person": person})
            except InvalidInput as exc:
                errors.update(exc.fields)
    elif person and form.present is False and person not in marks:
        errors["person"] = "They are not marked present."
    if errors:
        raise InvalidInput(errors)
    present = bool(form.present)
    if present:
        capacity, deputy_for = _capacity(_invitees(session, case.id or 0), person) or (GUEST, None)
        if not _insert_mark(session, dict(case_id=case.id, user_id=person, capacity=capacity, deputy_for=deputy_for,
                                          marked_by=form.actor, at=now)):
            raise InvalidInput({"person": "They are already marked present."})
    else:
        previous = marks[person]
        capacity, deputy_for = previous.capacity, previous.deputy_for
        session.exec(delete(RollCallMark).where(col(RollCallMark.id) == previous.id))  # type: ignore[call-overload]
    correction = RollCallCorrection(case_id=case.id or 0, user_id=person, present=present, reason=reason,
                                    corrected_by=form.actor, at=now)
    session.add(correction)
    session.flush()
    record_event(session, case.id or 0, form.actor, CORRECTED_EVENT, now, user=person, present=present,
                 capacity=capacity, deputy_for=deputy_for, correction=correction.id)
    revised = False
    if case.quorate is not None:
        current = build_view(session, terms, case, zone)
        revised = _store(session, case, current.quorate, current.quorum_reason, _present_detail(current), form.actor,
                         now)
    session.flush()
    view = build_view(session, terms, case, zone, changed=True, recorded_by=form.actor if revised else None)
    return Corrected(view, form.actor, person, present, revised)


def announce_correction(sessions: SessionFactory, engine: Engine, terms: Terms, workspace: Workspace,
                        zone: ZoneInfo, corrected: Corrected) -> list[str]:
    """After the commit: say in the case channel that the roll-call was corrected, and redraw it."""
    failed: list[str] = []
    reference = corrected.view.reference
    attempt("announcing the correction", failed, reference,
            lambda: workspace.post(corrected.view.room_id, Message(MessageKind.ROLL_CALL_CORRECTED, corrected)))
    attempt("updating the roll-call", failed, reference,
            lambda: refresh_roll_call(sessions, engine, terms, corrected.view.case_id, workspace, zone))
    return failed


def correct_roll_call(sessions: SessionFactory, terms: Terms, form: CorrectionForm, now: datetime, zone: ZoneInfo,
                      *, people: People, directory_names: Sequence[str] = ()) -> Corrected:
    """`correct` in a transaction of its own: committed, or nothing written."""
    with transaction(sessions) as session:
        return correct(session, terms, form, now, zone, people=people, directory_names=directory_names)


# --- recording the result -------------------------------------------------------------------------


def _present_detail(view: RollCallView) -> list[dict[str, Any]]:
    return [{"user": r.user_id, "capacity": r.capacity, "deputy_for": r.deputy_for, "counted": r.counted}
            for r in view.present]


def _store(session: Session, case: Case, quorate: bool, reason: str, present: list[dict[str, Any]], actor: str,
           now: datetime) -> bool:
    """Store the result on the case with a history event; keep an identical earlier result. Return changed."""
    reason = reason[:REASON_LIMIT]
    if case.quorate is not None and (case.quorate, case.quorum_reason) == (quorate, reason):
        return False
    previous = {"previous_quorate": case.quorate, "previous_reason": case.quorum_reason} \
        if case.quorate is not None else {}
    # Conditional on the result read: of two recordings at once (two clicks, or a click and the
    # end-of-call recording), one wins and the other changes nothing, on both backends.
    written = session.exec(update(Case).where(  # type: ignore[call-overload]
        col(Case.id) == case.id, col(Case.quorate).is_not_distinct_from(case.quorate),
        col(Case.quorum_reason).is_not_distinct_from(case.quorum_reason),
    ).values(quorate=quorate, quorum_reason=reason)).rowcount
    session.refresh(case)
    if not written:
        return False
    record_event(session, case.id or 0, actor, RECORDED_EVENT, now, quorate=quorate, reason=reason,
                 flagged=not quorate, automatic=actor == BOT_ACTOR, revised=bool(previous), present=present,
                 **previous)
    return True


def mark(sessions: SessionFactory, terms: Terms, reference: str, user_id: str, marked_by: str, now: datetime,
         zone: ZoneInfo, *, people: People | None = None) -> RollCallView:
    """A platform's one call for a mark: `mark_present` in its own transaction."""
    with transaction(sessions) as session:
        return mark_present(session, terms, reference, user_id, marked_by, now, zone, people=people)


def record(sessions: SessionFactory, terms: Terms, reference: str, actor: str, now: datetime,
           zone: ZoneInfo) -> RollCallView:
    """A platform's one call for the quorum result: `record_result` in its own transaction."""
    with transaction(sessions) as session:
        return record_result(session, terms, reference, actor, now, zone)


def record_result(session: Session, terms: Terms, reference: str, actor: str, now: datetime,
                  zone: ZoneInfo) -> RollCallView:
    """Record the actual quorum on the case: whether the call was quorate, and why not.

    Only the case's chair (or the deputy they named) or governance may. An inquorate call is recorded
    too, flagged.
    Recording again keeps the first result unless the roll-call changed since (then the result is
    revised, with an event). Writes in the caller's transaction.
    """
    case = find_case(session, reference)
    check_can_record(session, terms, case, actor)
    current = build_view(session, terms, case, zone)
    changed = _store(session, case, current.quorate, current.quorum_reason, _present_detail(current), actor, now)
    session.flush()
    return build_view(session, terms, case, zone, changed=changed, recorded_by=actor if changed else None)


# --- scheduled messages ---------------------------------------------------------------------------


def compose_roll_call(due: Due) -> list[Delivery] | Drop:
    """At the start of the call: post the roll-call in the case channel and keep its reference."""
    case = due.case
    if case is None or case.status != CaseStatus.CONVENED:
        return Drop("case not open")
    case_id = case.id

    def on_sent(session: Session, posted: Posted) -> None:
        row = session.get(Case, case_id)
        if row is not None:
            row.roll_call_ref = posted.ref
            session.add(row)

    view = build_view(due.session, due.terms, case, due.zone)
    return [Delivery(Message(MessageKind.ROLL_CALL, view), room=case.room_id, on_sent=on_sent)]


def compose_roll_call_close(due: Due) -> list[Delivery] | Drop:
    """At the end of the call: record the result automatically unless someone already did, and post it."""
    case = due.case
    if case is None:
        return Drop("case not found")
    if case.status == CaseStatus.CANCELLED:
        return Drop("cancelled")
    if case.quorate is not None:
        return Drop("recorded")
    marked = due.session.exec(select(RollCallMark.id).where(RollCallMark.case_id == case.id)).first()
    if case.roll_call_ref is None and marked is None:
        # The bot was down for the whole call: no roll-call was taken, so none is recorded; the
        # outcome then states whether the call was quorate, with a reason.
        return Drop("roll-call not taken")
    current = build_view(due.session, due.terms, case, due.zone)
    # The composer's session is read-only (it is never committed): the result is stored when the
    # post succeeds, in the scheduler's "sent" transaction, so a failed post records nothing.
    case_id, present, now = case.id, _present_detail(current), due.now

    def on_sent(session: Session, _posted: Posted) -> None:
        row = session.get(Case, case_id)
        if row is not None and row.quorate is None:  # a person may have recorded it meanwhile
            _store(session, row, current.quorate, current.quorum_reason, present, BOT_ACTOR, now)

    reason = current.quorum_reason[:REASON_LIMIT]
    posted = replace(current, recorded_quorate=current.quorate, recorded_reason=reason, recorded_detail=_detail(reason),
                     recorded_by=BOT_ACTOR, changed=True)
    return [Delivery(Message(MessageKind.ROLL_CALL_RESULT, posted), room=case.room_id, on_sent=on_sent)]


def refresh_roll_call(sessions: SessionFactory, engine: Engine, terms: Terms, case_id: int, workspace: Workspace,
                      zone: ZoneInfo) -> None:
    """Re-render the roll-call from the database and update it in place.

    Serialised per case and read inside the lock, so two marks at once can never leave the older
    roll-call showing. Raises PlatformFailure if the platform refuses.
    """
    with named_lock(engine, f"roll_call:{case_id}"), sessions() as session:
        case = session.get(Case, case_id)
        if case is None or not case.roll_call_ref:
            return
        workspace.update(case.room_id, case.roll_call_ref,
                         Message(MessageKind.ROLL_CALL, roll_call(session, terms, case, zone)))
