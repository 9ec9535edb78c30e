"""Convening a group per the terms of reference: who may convene, a valid request, a whole case.

A case is all or nothing: its reference number, private room, invitations, header and board are
made together, or nothing is kept (no case row, no room left open, no number used up), even when the
process dies part-way (bot/domain/convene_recovery.py finishes or rolls back what it left).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.domain import attendance, ledger, planning, roster
from bot.domain import convene_recovery as recovery
from bot.domain.case_views import CaseHeader, Invitation, SeatView, local_time_text, route_label
from bot.domain.errors import InvalidInput, NotAllowed, PlatformFailure, RoomNameTaken
from bot.domain.history import record_event
from bot.domain.naming import describe_hits, find_person_names
from bot.domain.notify import Message, MessageKind, Workspace
from bot.domain.people import People, person_errors
from bot.domain.roles import ROLE_LABELS, Role
from bot.domain.roster import RosterEntry
from bot.domain.routes import Route
from bot.domain.terms import Seat, Terms
from storage.db import SessionFactory, transaction
from storage.locks import named_lock
from storage.tables import Case, ConveningState, DeliveryState, Invitee, ReferenceCounter, Reply

log = logging.getLogger(__name__)

# Our own limits sit under Slack's (3,000 characters a text block) so a field always fits a block.
TEXT_LIMITS = {"concern": 2000, "risks": 1000, "call_details": 500}
DURATION_MINUTES = (15, 240)
# The durations a form offers (a reschedule adds the case's own): the same choices on every platform.
DURATION_CHOICES = (30, 45, 60, 90, 120)
EXTRA_SEAT = "extra"
ROOM_NAME_ATTEMPTS = 9


@dataclass(frozen=True)
class ConveneForm:
    """What the convener entered, as plain values; field names are the form's field keys."""

    convener_id: str
    submission_key: str
    profession: str | None
    route: str | None
    concern: str
    risks: str
    call_date: date | None
    call_time: time | None
    duration_minutes: int | None
    call_details: str
    seats: Mapping[str, str | None]
    extra_members: tuple[str, ...] = ()
    short_notice: bool = False
    concern_raised: date | None = None  # optional on the form: empty means "today"


@dataclass(frozen=True)
class SeatChoice:
    seat: Seat
    user_id: str


@dataclass(frozen=True)
class ConveneRequest:
    """A form that passed every rule: ready to become a case."""

    convener_id: str
    submission_key: str
    profession: str
    route: Route
    concern: str
    risks: str
    call_at: datetime
    duration_minutes: int
    call_details: str
    seats: tuple[SeatChoice, ...]
    extra_members: tuple[str, ...]
    short_notice: bool
    concern_raised_on: date | None = None

    @property
    def member_ids(self) -> list[str]:
        """Everyone invited, each once, in seat order then extras."""
        seen: dict[str, None] = {}
        for user in [s.user_id for s in self.seats] + list(self.extra_members):
            seen.setdefault(user, None)
        return list(seen)


@dataclass(frozen=True)
class Convened:
    reference: str
    case_id: int
    room_id: str
    room_name: str
    created: bool
    undelivered: tuple[str, ...] = field(default=())


def seat_field(seat: Seat) -> str:
    return f"seat_{seat.key}"


def may_convene(session: Session, terms: Terms, user_id: str) -> RosterEntry:
    """Return the convener's roster entry, or raise NotAllowed naming who to ask."""
    who = roster.entry(session, user_id)
    if who is not None and who.roles & terms.allowed_roles:
        return who
    contacts = tuple(e.user_id for e in roster.holders(session, terms.ask_role))
    allowed = ", ".join(sorted(ROLE_LABELS[r].lower() for r in terms.allowed_roles))
    raise NotAllowed(
        f"Only people the {terms.short_name} terms of reference allow can convene a group ({allowed}). "
        f"If you have a serious concern about someone's performance, please ask your "
        f"{ROLE_LABELS[terms.ask_role].lower()} representative to convene it.",
        contacts=contacts,
    )


def proposed_seats(session: Session, terms: Terms, convener_id: str, profession: str | None = None) -> dict[str, str]:
    """Propose someone from the roster for each seat; the convener can change any of them."""
    taken = {convener_id}
    proposal: dict[str, str] = {}
    for seat in terms.seats:
        if seat.default_to_convener:
            proposal[seat.key] = convener_id
    for seat in terms.seats:
        if seat.key in proposal:
            continue
        if seat.match_profession and profession is None:
            continue
        candidates = roster.holders(session, seat.roster_role, profession if seat.match_profession else None)
        free = [c.user_id for c in candidates if c.user_id not in taken]
        if free:
            proposal[seat.key] = free[0]
            if terms.one_seat_per_person:
                taken.add(free[0])
    return proposal


def propose_for_profession(session: Session, terms: Terms, convener_id: str, profession: str | None,
                           chosen: Mapping[str, str | None]) -> dict[str, str | None]:
    """Once the staff member's profession is chosen (or changed): for each seat that follows it, the
    roster's lead for that profession, or None when the roster has none free. Everyone else already
    `chosen` (seat key -> user) keeps their seat; under one seat per person, none of them is proposed
    again, nor is the convener. An unknown profession proposes nobody."""
    known = terms.profession(profession or "")
    taken = {convener_id}
    if terms.one_seat_per_person:
        taken |= {user for key, user in chosen.items() if user and not _follows_profession(terms, key)}
    proposal: dict[str, str | None] = {}
    for seat in terms.seats:
        if not seat.match_profession:
            continue
        candidates = roster.holders(session, seat.roster_role, known.key) if known else []
        free = [c.user_id for c in candidates if c.user_id not in taken]
        proposal[seat.key] = free[0] if free else None
        if free and terms.one_seat_per_person:
            taken.add(free[0])
    return proposal


def _follows_profession(terms: Terms, seat_key: str) -> bool:
    return any(s.key == seat_key and s.match_profession for s in terms.seats)


def _call_at(form: ConveneForm, zone: ZoneInfo, errors: dict[str, str]) -> datetime | None:
    return call_at_in_zone(form.call_date, form.call_time, zone, errors)


def call_at_in_zone(call_date: date | None, call_time: time | None, zone: ZoneInfo,
                    errors: dict[str, str]) -> datetime | None:
    """The call's wall-clock date and time in `zone`, as UTC; None, with the reason in `errors` under
    "call_date"/"call_time", when either is missing or the time does not exist. Also used to reschedule."""
    if call_date is None:
        errors["call_date"] = "Choose the date of the call."
    if call_time is None:
        errors["call_time"] = "Choose the time of the call."
    if call_date is None or call_time is None:
        return None
    naive = datetime.combine(call_date, call_time)
    local = naive.replace(tzinfo=zone)
    # A wall-clock time skipped when the clocks go forward does not survive a round trip to UTC.
    if local.astimezone(ZoneInfo("UTC")).astimezone(zone).replace(tzinfo=None) != naive:
        errors["call_time"] = (f"{call_time:%H:%M} does not exist on {call_date:%-d %B %Y} in "
                               f"{zone.key}: the clocks go forward. Choose another time.")
        return None
    # An ambiguous time (clocks going back) takes its first occurrence, fold=0, and is shown
    # with its zone abbreviation everywhere, so it is unambiguous once stored in UTC.
    return local.astimezone(ZoneInfo("UTC"))


def check_notice(call_at: datetime, call_date: date | None, notice_minutes: int, now: datetime, zone: ZoneInfo,
                 errors: dict[str, str], *, hint: str = "") -> None:
    """Refuse a call time already passed, or under `notice_minutes` away, at the field that shows it."""
    if call_at <= now:
        errors["call_time" if call_date == now.astimezone(zone).date() else "call_date"] = \
            "That time has already passed. Choose a time in the future."
    elif call_at < now + timedelta(minutes=notice_minutes):
        errors["call_time"] = f"Give members at least {notice_minutes} minutes' notice{hint}."


def _check_text(name: str, value: str, directory_names: Sequence[str], errors: dict[str, str],
                label: str) -> str:
    text = value.strip()
    if not text:
        errors[name] = f"Enter {label}."
    elif len(text) > TEXT_LIMITS[name]:
        errors[name] = f"Keep this under {TEXT_LIMITS[name]} characters (it has {len(text)})."
    else:
        hits = find_person_names(text, directory_names)
        if hits:
            errors[name] = describe_hits(hits)
    return text


def validate(
    form: ConveneForm,
    terms: Terms,
    roster_entries: Mapping[str, RosterEntry],
    directory_names: Sequence[str],
    now: datetime,
    zone: ZoneInfo,
    *,
    people: People,
) -> ConveneRequest:
    """Check every field and return a request; raise InvalidInput keyed by form field.

    `roster_entries` must hold the roster entries of everyone chosen for a seat. Everyone chosen
    (seats and extra members) must be an active person of the workspace (`people`, rule 4).
    Writes nothing.
    """
    errors: dict[str, str] = {}
    profession = terms.profession(form.profession or "")
    if profession is None:
        errors["profession"] = "Choose the staff member's professional group."
    try:
        route = Route(form.route or "")
    except ValueError:
        errors["route"] = "Choose how the concern was identified."
        route = Route.OTHER
    concern = _check_text("concern", form.concern, directory_names, errors, "a short description of the concern")
    risks = _check_text("risks", form.risks, directory_names, errors,
                        "the immediate risks (or 'none identified')")
    call_details = _check_text("call_details", form.call_details, directory_names, errors,
                               "the conference-call link or dial-in")

    if form.concern_raised is not None and form.concern_raised > now.astimezone(zone).date():
        errors["concern_raised"] = "The concern cannot have been raised after today. Leave it empty if it was today."

    call_at = _call_at(form, zone, errors)
    if call_at is not None:
        notice = terms.short_notice_min_notice_minutes if form.short_notice else terms.min_notice_minutes
        hint = "" if form.short_notice else " (tick short notice for a serious incident)"
        check_notice(call_at, form.call_date, notice, now, zone, errors, hint=hint)

    duration = form.duration_minutes
    if duration is None or not DURATION_MINUTES[0] <= duration <= DURATION_MINUTES[1]:
        errors["duration"] = f"Choose a duration between {DURATION_MINUTES[0]} and {DURATION_MINUTES[1]} minutes."

    seats: list[SeatChoice] = []
    seat_of: dict[str, Seat] = {}
    not_people = person_errors(people, {**{seat_field(s): form.seats.get(s.key) for s in terms.seats},
                                        "extra_members": tuple(form.extra_members)})
    for seat in terms.seats:
        name = seat_field(seat)
        user = form.seats.get(seat.key)
        if not user:
            errors[name] = f"Choose the {seat.label.lower()}."
            continue
        if name in not_people:
            errors[name] = not_people[name]
            continue
        if terms.one_seat_per_person and user in seat_of:
            errors[name] = (f"Already chosen as {seat_of[user].label.lower()}. The terms of reference need a "
                            f"different person in each role.")
            continue
        entry = roster_entries.get(user)
        if seat.roster_role is Role.CHAIR and (entry is None or not entry.roles & terms.quorum.chair_roles):
            errors[name] = "Choose the chair or their appointed deputy, as listed on the roster."
            continue
        if seat.match_profession and profession is not None and (
            entry is None or Role.PROFESSIONAL_LEAD not in entry.roles or profession.key not in entry.professions
        ):
            errors[name] = (f"Choose a professional lead for {profession.label.lower()} from the roster "
                            f"(governance can add one with /pmccg roster).")
            continue
        seat_of.setdefault(user, seat)
        seats.append(SeatChoice(seat, user))

    extras: list[str] = []
    for user in form.extra_members:
        if user in seat_of or user in extras:
            continue  # already invited: listing them twice changes nothing
        extras.append(user)
    if "extra_members" in not_people:
        errors["extra_members"] = not_people["extra_members"]
    if len(extras) > terms.max_extra_members:
        errors["extra_members"] = f"Invite at most {terms.max_extra_members} extra members."

    if errors:
        raise InvalidInput(errors)
    assert profession is not None and call_at is not None and duration is not None
    return ConveneRequest(
        convener_id=form.convener_id, submission_key=form.submission_key, profession=profession.key, route=route,
        concern=concern, risks=risks, call_at=call_at, duration_minutes=duration, call_details=call_details,
        seats=tuple(seats), extra_members=tuple(extras), short_notice=form.short_notice,
        concern_raised_on=form.concern_raised,
    )


def _header(request: ConveneRequest, reference: str, terms: Terms, zone: ZoneInfo) -> CaseHeader:
    profession = terms.profession(request.profession)
    assert profession is not None
    return CaseHeader(
        reference=reference, group_name=terms.name, group_short_name=terms.short_name,
        profession=profession.label, route=route_label(request.route), concern=request.concern, risks=request.risks,
        call_at=request.call_at, call_at_local=local_time_text(request.call_at, zone),
        duration_minutes=request.duration_minutes, call_details=request.call_details,
        short_notice=request.short_notice, convener_id=request.convener_id,
        seats=tuple(SeatView(s.seat.label, s.user_id) for s in request.seats)
        + tuple(SeatView("Member", u) for u in request.extra_members),
        decision_maker=terms.decision_maker,
    )


def _invitees(request: ConveneRequest, now: datetime) -> list[Invitee]:
    rows = [Invitee(case_id=0, user_id=s.user_id, seat=s.seat.key, seat_label=s.seat.label, position=i)
            for i, s in enumerate(request.seats)]
    rows += [Invitee(case_id=0, user_id=u, seat=f"{EXTRA_SEAT}_{i + 1}", seat_label="Member",
                     position=len(request.seats) + i) for i, u in enumerate(request.extra_members)]
    for row in rows:
        # Whoever convenes the call is taken to attend it (they can change that on the board),
        # so the bot never chases the person who asked for the meeting.
        if row.user_id == request.convener_id:
            row.reply, row.replied_at = Reply.ATTENDING, now
    return rows


def _existing(session: Session, key: str) -> Case | None:
    return session.exec(select(Case).where(Case.convene_key == key)).first()


def _found(case: Case) -> Convened:
    return Convened(case.reference, case.id or 0, case.room_id, case.room_name, created=False)


def _create_room(workspace: Workspace, reference: str, members: Sequence[str],
                 created: Callable[[str, str], None]) -> tuple[str, str]:
    """The case's private room with its members; `created(room_id, name)` the moment the room exists."""
    base = reference.lower()
    for attempt in range(1, ROOM_NAME_ATTEMPTS + 1):
        name = base if attempt == 1 else f"{base}-{attempt}"
        try:
            return workspace.create_private_room(name, members, lambda room_id, n=name: created(room_id, n)), name
        except RoomNameTaken:
            continue
    raise PlatformFailure("creating the case channel", f"the names {base} to {base}-{ROOM_NAME_ATTEMPTS} are taken")


class _Interrupted(Exception):
    """The convening was rolled back by recovery while this process still worked on it (its lock was lost)."""


def convene(
    sessions: SessionFactory,
    engine: Engine,
    request: ConveneRequest,
    terms: Terms,
    workspace: Workspace,
    now: datetime,
    zone: ZoneInfo,
) -> Convened:
    """Create the case, its private room, invitations, header and attendance board, all or nothing.

    Before the room is made, a convening is recorded with the number it reserves (bot/domain/convene_recovery.py),
    and each step after: the room id, the header, the board. The case, its invitees, the reference counter,
    its planned messages and a "convened" history event are written in one transaction after the room is
    ready, which also marks the convening committed; the invitations follow. Raises PlatformFailure (having
    deleted the bot's messages in any room it made, renamed and archived it) if the platform refuses a step
    before the case is saved; a repeated submission returns the case already made. A process that dies
    part-way leaves the convening open, for the next convening or the scheduler to finish or roll back.
    """
    year = now.astimezone(zone).year
    prefix = terms.reference_prefix
    with sessions() as session:
        found = _existing(session, request.submission_key)
        if found is not None:
            return _found(found)

    clock = recovery.Progress(now)
    # One convene at a time per prefix and year, from reading the number to the last invitation: the number
    # is only used up when the case commits, so a refused or failed form leaves no gap, and recovery (which
    # takes this lock too) never touches a convening in progress.
    with named_lock(engine, recovery.lock_name(prefix, year)):
        with sessions() as session:
            found = _existing(session, request.submission_key)
            if found is not None:
                return _found(found)
        # We hold the lock, so a convening of this prefix and year still pending is one whose process died:
        # roll it back first, so its number and its room's name are free for this case.
        recovery.resolve_pending(sessions, workspace, terms, zone, prefix, year, clock(), send_owed_invitations)
        with sessions() as session:
            counter = session.get(ReferenceCounter, (prefix, year))
            seq = (counter.last if counter else 0) + 1
        reference = f"{prefix}-{year}-{seq:03d}"
        header = _header(request, reference, terms, zone)
        convening_id = recovery.reserve(sessions, submission_key=request.submission_key,
                                        convener_id=request.convener_id, prefix=prefix, year=year, seq=seq,
                                        reference=reference, now=clock())
        try:
            case_id, room_id, room_name, invitees = _make_case(sessions, request, terms, workspace, zone, now, clock,
                                                               convening_id, reference, header, year, seq)
        except Exception as exc:
            saved = _after_failure(sessions, workspace, convening_id, clock(), exc)
            if saved is None:
                raise
            case_id, room_id, room_name = saved
            with sessions() as session:
                invitees = list(session.exec(select(Invitee).where(col(Invitee.case_id) == case_id)
                                             .order_by(col(Invitee.position))))

        log.info("case_convened", extra={"event": "case_convened", "case_ref": reference, "members": len(invitees)})
        with sessions() as session:
            case = session.get(Case, case_id)
        assert case is not None
        undelivered = send_owed_invitations(sessions, workspace, terms, zone, case, clock())
        try:
            recovery.mark_complete(sessions, convening_id, clock())
        except Exception:  # noqa: BLE001  (the case stands; recovery marks it complete, sending nothing twice)
            log.exception("convening_not_marked_complete", extra={"event": "convening_not_marked_complete",
                                                                   "case_ref": reference})
    return Convened(reference, case_id, room_id, room_name, created=True, undelivered=undelivered)


def _make_case(sessions: SessionFactory, request: ConveneRequest, terms: Terms, workspace: Workspace, zone: ZoneInfo,
               now: datetime, clock: recovery.Progress, convening_id: int, reference: str, header: CaseHeader,
               year: int, seq: int) -> tuple[int, str, str, list[Invitee]]:
    """The steps up to the saved case, each recorded on the convening as it is done."""
    members = [u for u in dict.fromkeys([request.convener_id, *request.member_ids])]
    # The room is recorded the moment it exists, before its members are added, so a crash or a refused
    # invitation leaves a room recovery can find (and clear).
    room_id, room_name = _create_room(
        workspace, reference, members,
        lambda room, name: recovery.note_room(sessions, convening_id, room, name, clock()))
    header_posted = workspace.post(room_id, Message(MessageKind.CASE_HEADER, header))
    recovery.note_posted(sessions, convening_id, "case_header", header_posted, clock())
    invitees = _invitees(request, now)
    with sessions() as session:
        entries = roster.entries_for(session, [i.user_id for i in invitees])
    board = attendance.build_board(terms, reference, request.profession, request.call_at, zone, invitees, entries)
    board_posted = workspace.post(room_id, Message(MessageKind.ATTENDANCE_BOARD, board))
    recovery.note_posted(sessions, convening_id, "attendance_board", board_posted, clock())
    with transaction(sessions) as session:
        counter = session.get(ReferenceCounter, (terms.reference_prefix, year))
        if counter is None:
            session.add(ReferenceCounter(prefix=terms.reference_prefix, year=year, last=seq))
        else:
            counter.last = seq
            session.add(counter)
        case = Case(reference=reference, prefix=terms.reference_prefix, year=year, seq=seq,
                    profession=request.profession, route=request.route, concern=request.concern,
                    concern_raised_on=request.concern_raised_on,
                    risks=request.risks, call_at=request.call_at, duration_minutes=request.duration_minutes,
                    call_details=request.call_details, short_notice=request.short_notice,
                    convener_id=request.convener_id, room_id=room_id, room_name=room_name,
                    header_ref=header_posted.ref, board_ref=board_posted.ref, created_at=now,
                    convene_key=request.submission_key)
        session.add(case)
        session.flush()
        assert case.id is not None
        # Fenced: only a convening still pending becomes a case (recovery may have rolled it back).
        if not recovery.mark_committed(session, convening_id, case.id, room_id, clock()):
            raise _Interrupted()
        for row in invitees:
            row.case_id = case.id
            session.add(row)
        session.flush()
        # Chases, pre-call check, agenda and roll-call are owed from now: planned in the same
        # transaction, so a failed convene leaves no reminder behind either.
        planning.schedule(session, case, invitees, terms, zone, now)
        record_event(session, case.id, request.convener_id, "convened", now,
                     call_at=request.call_at.isoformat(), short_notice=request.short_notice,
                     members=[i.user_id for i in invitees])
        case_id = case.id
    return case_id, room_id, room_name, invitees


def _after_failure(sessions: SessionFactory, workspace: Workspace, convening_id: int, now: datetime,
                   exc: Exception) -> tuple[int, str, str] | None:
    """A step failed before the case was known to be saved. If it was saved after all (the commit's answer was
    lost), return its id, room id and room name to carry on with; otherwise clear the room, roll the convening
    back, and return None for the caller to raise PlatformFailure (raised here)."""
    try:
        row = recovery.state_of(sessions, convening_id)
    except Exception:  # noqa: BLE001  (the database is gone too: recovery decides once it is back)
        log.exception("convene_failed", extra={"event": "convene_failed", "step": "saving the case"})
        raise PlatformFailure("saving the case", type(exc).__name__, permanent=False) from exc
    if row is not None and row.state == ConveningState.COMMITTED and row.case_id and row.room_id:
        log.warning("convene_commit_unclear", extra={"event": "convene_commit_unclear", "case_ref": row.reference})
        return row.case_id, row.room_id, row.room_name or ""
    if row is not None and row.state == ConveningState.PENDING:
        try:
            recovery.mark_told(sessions, convening_id)  # the form tells the convener
            recovery.roll_back(sessions, workspace, row, now)
        except Exception:  # noqa: BLE001  (left pending: the next convening or the scheduler rolls it back)
            log.exception("convening_not_rolled_back", extra={"event": "convening_not_rolled_back",
                                                              "case_ref": row.reference})
    if isinstance(exc, PlatformFailure):
        log.warning("convene_failed", extra={"event": "convene_failed", "step": exc.step, "error": exc.error})
        raise exc
    if isinstance(exc, _Interrupted):
        raise PlatformFailure("saving the case", "the convening was interrupted", permanent=False) from exc
    log.exception("convene_failed", extra={"event": "convene_failed", "step": "saving the case"})
    raise PlatformFailure("saving the case", type(exc).__name__) from exc


def send_owed_invitations(sessions: SessionFactory, workspace: Workspace, terms: Terms, zone: ZoneInfo, case: Case,
                          now: datetime) -> tuple[str, ...]:
    """Direct-message each member of a saved case who has no invitation in the ledger yet (not the convener, who
    has just seen it), and note in the room who could not be reached; return them. Run by convene, or by
    recovery after an interruption, so an invitation is owed until the ledger shows it sent."""
    assert case.id is not None
    with sessions() as session:
        invitees = list(session.exec(select(Invitee).where(col(Invitee.case_id) == case.id)
                                     .order_by(col(Invitee.position))))
        done = ledger.for_case(session, case.id)
    sent = {r.recipient for r in done if r.kind == "invitation" and r.state == DeliveryState.SENT}
    noted = any(r.kind == "undelivered_invitations" for r in done)
    recording = ledger.recording(workspace, sessions, lambda: now, case.id)
    undelivered: list[str] = []
    for row in invitees:
        if row.user_id == case.convener_id or row.user_id in sent:
            continue
        message = Message(MessageKind.INVITATION, Invitation(
            reference=case.reference, group_name=terms.name, group_short_name=terms.short_name, room_id=case.room_id,
            seat_label=row.seat_label, call_at=case.call_at, call_at_local=local_time_text(case.call_at, zone),
            duration_minutes=case.duration_minutes, short_notice=case.short_notice,
            answer_value=attendance.answer_value(case.reference, case.schedule_version)),
            ledger_detail=attendance.answer_detail(case.schedule_version))
        try:
            recording.send_direct(row.user_id, message)
        except PlatformFailure as exc:
            log.warning("invitation_undelivered", extra={"event": "invitation_undelivered", "case_ref": case.reference,
                                                         "error": exc.error})
            undelivered.append(row.user_id)
    if undelivered and not noted:
        try:
            recording.post(case.room_id, Message(MessageKind.UNDELIVERED_INVITATIONS, {"users": undelivered}))
        except PlatformFailure:
            log.error("undelivered_note_failed", extra={"event": "undelivered_note_failed",
                                                        "case_ref": case.reference})
    return tuple(undelivered)


def recover(sessions: SessionFactory, engine: Engine, workspace: Workspace, terms: Terms, zone: ZoneInfo,
            now: datetime, *, older_than: timedelta = recovery.ORPHAN_AFTER) -> recovery.RecoveryReport:
    """Finish or roll back each convening left open (bot/domain/convene_recovery.py's recover), sending a finished
    one's owed invitations as convene does."""
    return recovery.recover(sessions, engine, workspace, terms, zone, now, finish=send_owed_invitations,
                            older_than=older_than)
