"""Crash-safe convening: a convening is recorded before its room exists, and one whose process died is finished
or rolled back.

`convene` (bot/domain/convening.py) writes a `Convening` row with its reserved number before it creates the room,
then the room id as soon as the room exists, and the header and board as they are posted. The row becomes
"committed" in the very transaction that saves the case, and "complete" once the invitations are out. A row
left "pending" or "committed" means the process convening it stopped part-way. Such a row is dealt with
under the same lock that convening holds (one per reference prefix and year), so nothing here ever races a
convening still in progress: a convening holds that lock from reserving its number to sending the last
invitation, and a dead process holds no lock (see storage/locks.py). Hence:

- a pending row (the case was never saved): the bot's own messages in its room are deleted, the room is
  renamed (so the next case can have its name) and archived, and the number is released: the counter only
  moves when a case is saved, so the next case takes it. The convener is told, by direct message;
- a committed row (the case is saved): the invitations not yet in the ledger are sent, and the convener is
  told the case is convened.

The next convening deals with pending rows of its prefix and year itself, before it reserves a number, so a
crash never costs the next case its number or its room name. The scheduler's tick deals with the rest, but only
with rows untouched for `ORPHAN_AFTER` (a minute), as a margin for a convening whose lock was lost with its
database connection; the fenced state changes (`pending` -> `committed` in the case's own transaction) keep
even that case from giving a room or a number to two cases.

What no record can cover: a process that dies while Slack creates the room, before its id is written (one
database write), leaves that room open and unknown, and the next case's room is then named `-2`; and a post
Slack accepted after the process died (the answer lost with it) stays in the archived room.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select, update

from bot.domain.errors import PlatformFailure, RoomNameTaken
from bot.domain.notify import Message, MessageKind, Posted, Workspace
from bot.domain.terms import Terms
from storage.db import SessionFactory, transaction
from storage.locks import try_named_lock
from storage.tables import Case, Convening, ConveningState, DeliveryRecord, DeliveryState

log = logging.getLogger(__name__)

ORPHAN_AFTER = timedelta(seconds=60)
OPEN = (ConveningState.PENDING, ConveningState.COMMITTED)
OWNER = f"{socket.gethostname()}:{os.getpid()}"[:64]

NOT_COMPLETED = "This message belongs to a convening that did not complete; nothing was changed."
STILL_CONVENING = "This case is still being convened; nothing was changed. Try again in a minute."


def lock_name(prefix: str, year: int) -> str:
    """The lock one convening holds per reference prefix and year, from reserving its number to the last
    invitation; recovery takes it too, so the two never overlap."""
    return f"convene:{prefix}:{year}"


class Progress:
    """A convening's time base: the `now` it was given plus the real time since, so `touched_at` shows how
    long ago the convening last moved, however long its steps take."""

    def __init__(self, now: datetime) -> None:
        self.start, self.began = now, time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.began)


# --- the record, written by convene ------------------------------------------------------------------


def reserve(sessions: SessionFactory, *, submission_key: str, convener_id: str, prefix: str, year: int, seq: int,
            reference: str, now: datetime) -> int:
    """Record a convening about to make its room, with the number it reserves; return its id."""
    with transaction(sessions) as session:
        row = Convening(submission_key=submission_key, convener_id=convener_id, prefix=prefix, year=year, seq=seq,
                        reference=reference, owner=OWNER, created_at=now, touched_at=now)
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id


def note_room(sessions: SessionFactory, convening_id: int, room_id: str, room_name: str, now: datetime) -> None:
    """Record the room the moment it exists, so a crash from here on leaves a room recovery can find."""
    with transaction(sessions) as session:
        session.exec(update(Convening).where(col(Convening.id) == convening_id).values(  # type: ignore[call-overload]
            room_id=room_id, room_name=room_name, touched_at=now))


def note_posted(sessions: SessionFactory, convening_id: int, kind: str, posted: Posted, now: datetime) -> None:
    """Record a message posted in the room before the case is saved: on the convening (to delete it if the
    convening is rolled back) and in the ledger (its case filled in when the case is saved)."""
    column = {"case_header": "header_ref", "attendance_board": "board_ref"}[kind]
    with transaction(sessions) as session:
        session.exec(update(Convening).where(col(Convening.id) == convening_id).values(  # type: ignore[call-overload]
            **{column: posted.ref}, touched_at=now))
        session.add(DeliveryRecord(kind=kind, recipient=posted.room, room=posted.room, ref=posted.ref,
                                   state=DeliveryState.SENT, attempts=1, created_at=now, sent_at=now))


def mark_committed(session: Session, convening_id: int, case_id: int, room_id: str, now: datetime) -> bool:
    """In the transaction that saves the case: the convening is committed, and the messages posted before
    now belong to the case. Fenced: False (and the caller must not commit) if the convening is no longer
    pending, i.e. recovery rolled it back meanwhile."""
    moved = session.exec(update(Convening).where(  # type: ignore[call-overload]
        col(Convening.id) == convening_id, col(Convening.state) == ConveningState.PENDING).values(
        state=ConveningState.COMMITTED, case_id=case_id, touched_at=now)).rowcount
    if not moved:
        return False
    session.exec(update(DeliveryRecord).where(  # type: ignore[call-overload]
        col(DeliveryRecord.room) == room_id, col(DeliveryRecord.case_id).is_(None)).values(case_id=case_id))
    return True


def mark_complete(sessions: SessionFactory, convening_id: int, now: datetime) -> None:
    with transaction(sessions) as session:
        session.exec(update(Convening).where(  # type: ignore[call-overload]
            col(Convening.id) == convening_id, col(Convening.state) == ConveningState.COMMITTED).values(
            state=ConveningState.COMPLETE, touched_at=now, finished_at=now))


def state_of(sessions: SessionFactory, convening_id: int) -> Convening | None:
    with sessions() as session:
        return session.get(Convening, convening_id)


def mark_told(sessions: SessionFactory, convening_id: int) -> None:
    """The convener already knows the convening failed (their form said so): recovery need not tell them."""
    with transaction(sessions) as session:
        session.exec(update(Convening).where(col(Convening.id) == convening_id).values(  # type: ignore[call-overload]
            convener_told=True))


# --- rolling back ----------------------------------------------------------------------------------------


def void_name(row: Convening) -> str:
    """The name an abandoned room is given, so its own name is free for the next case (Slack keeps archived
    rooms' names). The reference number only, never anything from the form."""
    return f"void-{row.id}-{row.room_name or row.reference.lower()}"[:80]


def _step(what: str, row: Convening, action: Callable[[], object], *, done_if: Iterable[str] = ()) -> bool | None:
    """Run one clean-up step: True if done (or nothing left to do), False if the platform failed for now (try
    again later), None if the room is gone altogether."""
    try:
        action()
    except RoomNameTaken:
        return True  # an earlier attempt already gave the room this name
    except PlatformFailure as exc:
        if exc.error == "channel_not_found":
            return None
        if not exc.permanent:
            log.warning("convening_cleanup_retry", extra={"event": "convening_cleanup_retry", "step": what,
                                                          "case_ref": row.reference, "error": exc.error})
            return False
        if exc.error not in set(done_if):
            log.warning("convening_cleanup_step_refused", extra={
                "event": "convening_cleanup_step_refused", "step": what, "case_ref": row.reference,
                "error": exc.error})
    return True


def clear_room(workspace: Workspace, row: Convening) -> bool:
    """Delete the bot's messages in the convening's room, rename it and archive it. Every step can be repeated.
    False when the platform failed for now (the row stays open, to be tried again)."""
    room = row.room_id
    if room is None:
        return True
    for ref in (row.board_ref, row.header_ref):
        if ref:
            done = _step("deleting a message", row, lambda r=ref: workspace.delete_message(room, r),
                         done_if=("message_not_found",))
            if done is None:
                return True
            if not done:
                return False
    for what, action, done_if in (
            ("renaming the channel", lambda: workspace.rename_room(room, void_name(row)), ("is_archived",)),
            ("archiving the channel", lambda: workspace.archive_room(room), ("already_archived",))):
        done = _step(what, row, action, done_if=done_if)
        if done is None:
            return True
        if not done:
            return False
    return True


def roll_back(sessions: SessionFactory, workspace: Workspace, row: Convening, now: datetime) -> bool:
    """Undo a convening whose case was never saved: clear its room, then mark it rolled back (which releases
    its number: the counter never moved). True when done; False if the platform failed for now."""
    assert row.id is not None
    if not clear_room(workspace, row):
        with transaction(sessions) as session:
            session.exec(update(Convening).where(col(Convening.id) == row.id).values(  # type: ignore[call-overload]
                attempts=Convening.attempts + 1, last_error="the platform could not be reached"))
        return False
    with transaction(sessions) as session:
        moved = session.exec(update(Convening).where(  # type: ignore[call-overload]
            col(Convening.id) == row.id, col(Convening.state) == ConveningState.PENDING).values(
            state=ConveningState.ROLLED_BACK, touched_at=now, finished_at=now)).rowcount
        if moved and row.room_id:
            session.exec(update(DeliveryRecord).where(  # type: ignore[call-overload]
                col(DeliveryRecord.room) == row.room_id, col(DeliveryRecord.case_id).is_(None),
                col(DeliveryRecord.state) == DeliveryState.SENT).values(state=DeliveryState.DELETED, deleted_at=now))
    log.info("convening_rolled_back", extra={"event": "convening_rolled_back", "case_ref": row.reference,
                                             "room": row.room_id, "owner": row.owner})
    return bool(moved)


# --- recovery: at start, on each tick, and before each convening ----------------------------------------


@dataclass(frozen=True)
class Abandoned:
    """Told to a convener whose convening the bot could not finish."""

    group_short_name: str
    started_local: str


@dataclass(frozen=True)
class Finished:
    """Told to a convener whose case the bot finished convening after an interruption."""

    group_short_name: str
    reference: str
    room_id: str
    undelivered: int


@dataclass
class RecoveryReport:
    rolled_back: list[str] = field(default_factory=list)  # references whose number was released
    finished: list[str] = field(default_factory=list)  # references whose invitations were sent
    busy: int = 0  # prefixes and years skipped because a convening holds their lock
    retry: int = 0  # left for the next tick: the platform failed for now

    def __bool__(self) -> bool:
        return bool(self.rolled_back or self.finished or self.busy or self.retry)


def _tell(workspace: Workspace, sessions: SessionFactory, row: Convening, message: Message) -> None:
    assert row.id is not None
    try:
        workspace.send_direct(row.convener_id, message)
    except PlatformFailure as exc:
        log.warning("convener_not_told", extra={"event": "convener_not_told", "case_ref": row.reference,
                                                "error": exc.error})
        return
    mark_told(sessions, row.id)


# How a saved case's owed invitations are sent (bot/domain/convening.py's send_owed_invitations): handed in,
# because convening builds on this module's record and this module must not import it back.
Finish = Callable[[SessionFactory, Workspace, Terms, ZoneInfo, Case, datetime], tuple[str, ...]]


def _resolve(sessions: SessionFactory, workspace: Workspace, terms: Terms, zone: ZoneInfo, row: Convening,
             now: datetime, report: RecoveryReport, finish: Finish) -> None:
    """Finish or roll back one open convening; the caller holds its lock."""
    assert row.id is not None
    if row.state == ConveningState.PENDING:
        if not roll_back(sessions, workspace, row, now):
            report.retry += 1
            return
        report.rolled_back.append(row.reference)
        if not row.convener_told:
            started = row.created_at.astimezone(zone)
            _tell(workspace, sessions, row, Message(MessageKind.CONVENING_ABANDONED, Abandoned(
                terms.short_name, f"{started:%H:%M} {started.tzname()} on {started.day} {started:%B}")))
        return
    with sessions() as session:
        case = session.get(Case, row.case_id) if row.case_id else None
    if case is None:  # cannot be: committed in the case's own transaction
        log.error("convening_without_case", extra={"event": "convening_without_case", "case_ref": row.reference})
        return
    undelivered = finish(sessions, workspace, terms, zone, case, now)
    mark_complete(sessions, row.id, now)
    report.finished.append(row.reference)
    log.info("convening_finished", extra={"event": "convening_finished", "case_ref": row.reference,
                                          "owner": row.owner, "undelivered": len(undelivered)})
    _tell(workspace, sessions, row, Message(MessageKind.CONVENING_FINISHED, Finished(
        terms.short_name, case.reference, case.room_id, len(undelivered))))


def resolve_pending(sessions: SessionFactory, workspace: Workspace, terms: Terms, zone: ZoneInfo, prefix: str,
                    year: int, now: datetime, finish: Finish) -> RecoveryReport:
    """Roll back every pending convening of `prefix` and `year`, whatever its age. Only for a caller holding
    their lock (convene, before it reserves a number): then none of them is still in progress."""
    report = RecoveryReport()
    with sessions() as session:
        rows = list(session.exec(select(Convening).where(
            col(Convening.prefix) == prefix, col(Convening.year) == year,
            col(Convening.state) == ConveningState.PENDING).order_by(col(Convening.id))))
    for row in rows:
        _resolve(sessions, workspace, terms, zone, row, now, report, finish)
    return report


def recover(sessions: SessionFactory, engine: Engine, workspace: Workspace, terms: Terms, zone: ZoneInfo,
            now: datetime, *, finish: Finish, older_than: timedelta = ORPHAN_AFTER) -> RecoveryReport:
    """Finish or roll back each convening left open and untouched for `older_than`, at start and on each tick.

    A prefix and year whose lock a convening holds is skipped (that convening deals with them itself, or the
    next tick does). Never raises for a platform failure: what could not be done now is tried again next time.
    """
    report = RecoveryReport()
    cutoff = now - older_than
    with sessions() as session:
        groups = list(session.exec(select(Convening.prefix, Convening.year).where(
            col(Convening.state).in_(OPEN), col(Convening.touched_at) <= cutoff).distinct()))
    for prefix, year in groups:
        with try_named_lock(engine, lock_name(prefix, year)) as held:
            if not held:
                report.busy += 1
                continue
            # Read again under the lock: the convening that just let go of it may have finished these.
            with sessions() as session:
                rows = list(session.exec(select(Convening).where(
                    col(Convening.prefix) == prefix, col(Convening.year) == year, col(Convening.state).in_(OPEN),
                    col(Convening.touched_at) <= cutoff).order_by(col(Convening.id))))
            for row in rows:
                _resolve(sessions, workspace, terms, zone, row, now, report, finish)
    return report


# --- a click on a message of a convening that did not complete -----------------------------------------------


def orphaned_click(session: Session, room: str | None, now: datetime,
                   older_than: timedelta = ORPHAN_AFTER) -> str | None:
    """What to tell someone who clicked a button on a message in `room`, if that room belongs to a convening
    that did not complete (its buttons must never act on a case, least of all on the next case given the same
    number); None for any other room. A pending convening that moved within `older_than` may still be under way."""
    if not room:
        return None
    row = session.exec(select(Convening).where(col(Convening.room_id) == room)
                       .order_by(col(Convening.id).desc())).first()
    if row is None or row.state in (ConveningState.COMMITTED, ConveningState.COMPLETE):
        return None
    if row.state == ConveningState.PENDING and now - row.touched_at <= older_than:
        return STILL_CONVENING
    return NOT_COMPLETED
