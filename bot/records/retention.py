"""Retention: a case over for `terms.records.retention_days`, or never closed `open_case_retention_days`
after its call, loses its free text: in the database, in the workspace, and in the database's files.

What people typed (the concern, risks, call details, rationale and notes, fairness notes, action
point descriptions, updates and reasons) is replaced by a dated marker; dates, counts, choices and
categories stay, so the annual figures still count the case. A case is over when it was closed, or
when its call was cancelled; one never closed is purged a set time after its call, and its chasing
ends there (its scheduled messages are cancelled, its open action points dropped), so a forgotten
case does not keep its concern for ever.

The bot then deletes its own messages and files about the case in the workspace, found in the
ledger (bot/domain/ledger.py): every delivery of the case (header, board, agenda, roll-call, summaries,
notices, invitations and direct messages, calendar files, exported case files, reports) and every
reminder digest that listed one of its action points. Each deletion is recorded on its ledger row
(state "deleted"); a message already gone counts as deleted; one the platform refuses keeps its
reason on the row and is tried again on the next run. Last, the database rewrites its files
(storage.db.erase_freed_space), so the purged text does not survive in them either.

Purging records a "purged" history event and is idempotent: a field already purged is not counted
again. The dry run computes the same plan and writes nothing.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, func, select, update

from bot.domain import ledger
from bot.domain.action_reminders import DIGEST, plan_owner
from bot.domain.errors import PlatformFailure
from bot.domain.history import record_event
from bot.domain.notify import Workspace
from bot.domain.terms import Terms
from storage.db import EraseIncomplete, SessionFactory, erase_freed_space, transaction
from storage.locks import named_lock
from storage.tables import (
    ActionPoint,
    ActionStatus,
    ActionUpdate,
    Case,
    CaseEvent,
    CaseStatus,
    DeliveryRecord,
    DeliveryState,
    FairnessAnswer,
    MessageState,
    Outcome,
    RollCallCorrection,
    ScheduledMessage,
)

log = logging.getLogger(__name__)

MARKER_PREFIX = "[purged under the retention policy"
ACTOR = "retention"
NEVER_CLOSED = "never closed"

# Every free-text column, per table. Bot-written texts (the quorum reason) and choices stay.
FREE_TEXT: dict[type[SQLModel], tuple[str, ...]] = {
    Case: ("concern", "risks", "call_details", "cancel_reason", "close_reason"),
    Outcome: ("rationale", "risk_notes", "line_manager_support", "quorum_statement"),
    FairnessAnswer: ("note",),
    ActionPoint: ("description", "drop_reason"),
    ActionUpdate: ("text",),
    RollCallCorrection: ("reason",),
}

# The platform's answer when the message or file is not there any more: deleted already, as wanted.
ALREADY_GONE = frozenset({"message_not_found", "file_not_found"})
# Why a message is still there, for whoever runs `pmccg purge` (codes the platform gives are kept beside).
NO_REF = "no_ref"  # the platform never said where it landed
NOT_TRIED = "not_tried"  # the platform was unavailable earlier in the run
NO_WORKSPACE = "no_workspace"  # run without a connection to the workspace
# The platform's own words for these and for its refusal codes are handed in (handlers/slack/workspace.py
# DELETE_REASONS), so the records name no platform.
REASONS = {
    NO_REF: "the bot was never told where it landed, so it cannot find it (it may not have arrived)",
    NOT_TRIED: "not tried: the workspace was unavailable earlier in the run",
    NO_WORKSPACE: "not tried: no connection to the workspace was configured",
}
# What the bot's messages are, in words, where the ledger's own words (ledger.KIND_WORDS) have none.
KIND_WORDS = {
    "case_header": "the case header",
    "attendance_board": "the attendance board",
    "undelivered_invitations": "the note of invitations that did not arrive",
    "case_closed": "the closing summary",
    "case_rescheduled": "the notice that the call moved",
    "case_cancelled": "the notice that the call was cancelled",
    "delivery_failed": "the report of messages that did not arrive",
}
# The messages the bot keeps the ids of on the case itself, from before the ledger recorded them.
CASE_MESSAGES = (("case_header", "header_ref"), ("attendance_board", "board_ref"), ("roll_call", "roll_call_ref"))


def marker(on: datetime, zone: ZoneInfo) -> str:
    return f"{MARKER_PREFIX} on {on.astimezone(zone).date().isoformat()}]"


def is_purged(value: str | None) -> bool:
    return bool(value) and str(value).startswith(MARKER_PREFIX)


def reason_words(error: str | None, platform_words: Mapping[str, str] | None = None) -> str:
    """Why a message is still there, in words: the platform's words for its refusal codes (`platform_words`, with
    the code beside: "the platform does not let the bot delete it (cant_delete_message)"), or for the run's own."""
    words = {**REASONS, **(platform_words or {})}
    if error in (NO_REF, NOT_TRIED, NO_WORKSPACE):
        return words[error]
    if error in words:
        return f"{words[error]} ({error})"
    return ledger.error_words(error)


@dataclass(frozen=True)
class PurgeItem:
    """One case past its retention period: what goes (or went)."""

    reference: str
    ended: str  # "closed", "cancelled" or "never closed" (then `ended_at` is its call)
    ended_at: datetime
    fields: int  # free-text fields still holding text


@dataclass(frozen=True)
class Removal:
    """One of the bot's messages or files about a purged case, to delete in the workspace."""

    delivery_id: int  # its ledger row (0 in a dry run for a message the ledger does not hold yet)
    reference: str  # the purged case it is about (a digest: one of the cases it listed)
    kind: str  # the message's template name, or "file"
    is_file: bool
    recipient: str
    room: str | None
    ref: str | None
    error: str | None = None  # why it is still there (the last attempt's answer); None otherwise

    @property
    def what(self) -> str:
        return KIND_WORDS.get(self.kind) or ledger.kind_words(self.kind)


@dataclass(frozen=True)
class RetentionRun:
    """What one run purged, deleted and erased (a dry run: what it would)."""

    purged: tuple[PurgeItem, ...]
    deleted: tuple[Removal, ...]  # deleted in the workspace now; a dry run: to be deleted
    not_deleted: tuple[Removal, ...]  # still in the workspace, each with why; tried again on the next run
    # The database rewrote its files (a dry run: would); False: it could not now; None: nothing was owed.
    erased: bool | None
    dry_run: bool = False


# --- the database -------------------------------------------------------------------------------------


def _rows(session: Session, case: Case) -> Iterator[SQLModel]:
    yield case
    yield from session.exec(select(Outcome).where(Outcome.case_id == case.id))
    yield from session.exec(select(FairnessAnswer).where(FairnessAnswer.case_id == case.id))
    yield from session.exec(select(RollCallCorrection).where(RollCallCorrection.case_id == case.id))
    items = list(session.exec(select(ActionPoint).where(ActionPoint.case_id == case.id)))
    yield from items
    if items:
        yield from session.exec(select(ActionUpdate).where(
            ActionUpdate.action_id.in_([i.id for i in items])))  # type: ignore[union-attr]


def _fields_with_text(row: SQLModel) -> list[str]:
    return [name for name in FREE_TEXT[type(row)] if (value := getattr(row, name)) and not is_purged(value)]


def _ended(session: Session, case: Case) -> tuple[str, datetime] | None:
    if case.status == CaseStatus.CLOSED and case.closed_at is not None:
        return "closed", case.closed_at
    if case.status == CaseStatus.CANCELLED:
        cancelled = session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "cancelled")
                                 .order_by(CaseEvent.id)).first()
        return ("cancelled", cancelled.at) if cancelled else None
    if case.status == CaseStatus.CONVENED:
        return NEVER_CLOSED, case.call_at
    return None


def _period_days(terms: Terms, ended: str) -> int:
    return terms.records.open_case_retention_days if ended == NEVER_CLOSED else terms.records.retention_days


def due_for_purge(session: Session, terms: Terms, now: datetime) -> list[tuple[Case, PurgeItem]]:
    """Cases past their retention period that still hold free text, oldest first: over (closed or
    cancelled) for `retention_days`, or never closed `open_case_retention_days` after their call."""
    found = []
    for case in session.exec(select(Case).order_by(col(Case.id))):
        ended = _ended(session, case)
        if ended is None or ended[1] > now - timedelta(days=_period_days(terms, ended[0])):
            continue
        fields = sum(len(_fields_with_text(row)) for row in _rows(session, case))
        if fields:
            found.append((case, PurgeItem(case.reference, ended[0], ended[1], fields)))
    return sorted(found, key=lambda pair: pair[1].ended_at)


def _end_chasing(session: Session, case: Case, terms: Terms, zone: ZoneInfo, now: datetime, text: str) -> None:
    """Nothing more is posted about a purged case: its waiting messages are cancelled and, for one never
    closed, its open action points dropped (the reason: the marker), and their owners' reminders re-planned.
    A closed case keeps its items as they were at closure (reminders stopped with the closure)."""
    session.exec(update(ScheduledMessage).where(  # type: ignore[call-overload]
        col(ScheduledMessage.case_id) == case.id, col(ScheduledMessage.state) == MessageState.PENDING,
    ).values(state=MessageState.CANCELLED))
    if case.status != CaseStatus.CONVENED:
        return
    owners = set()
    for item in session.exec(select(ActionPoint).where(col(ActionPoint.case_id) == case.id,
                                                       col(ActionPoint.status) == ActionStatus.OPEN)):
        item.status, item.drop_reason, item.closed_at = ActionStatus.DROPPED, text, now
        session.add(item)
        session.add(ActionUpdate(action_id=item.id or 0, at=now, actor_id=ACTOR, kind="dropped", text=text))
        record_event(session, case.id or 0, ACTOR, "action_dropped", now, action=item.number)
        owners.add(item.owner_id)
    session.flush()
    for owner in sorted(owners):
        plan_owner(session, owner, terms, zone, now)


def _ledger_case_messages(session: Session, case: Case, now: datetime) -> list[DeliveryRecord]:
    """Ledger rows for the messages whose ids the case itself holds (header, board, roll-call) and
    the ledger does not, as for a case convened before the ledger existed. Not added to the session."""
    missing = []
    for kind, attribute in CASE_MESSAGES:
        ref = getattr(case, attribute)
        if ref and session.exec(select(DeliveryRecord.id).where(
                col(DeliveryRecord.room) == case.room_id, col(DeliveryRecord.ref) == ref)).first() is None:
            missing.append(DeliveryRecord(case_id=case.id, kind=kind, recipient=case.room_id, room=case.room_id,
                                          ref=ref, state=DeliveryState.SENT, attempts=1, created_at=now, sent_at=now))
    return missing


def purge(session: Session, terms: Terms, now: datetime, zone: ZoneInfo, *, dry_run: bool) -> list[PurgeItem]:
    """Purge (or, with `dry_run`, only list) the free text of every case past its retention period.

    Writes in the caller's transaction: each field replaced by the dated marker, one "purged" history
    event per case with the number of fields, the case's chasing ended, and ledger rows for its
    messages the ledger did not hold yet (so they are deleted in the workspace too).
    """
    plan = due_for_purge(session, terms, now)
    if dry_run:
        return [item for _, item in plan]
    text = marker(now, zone)
    for case, item in plan:
        for row in list(_rows(session, case)):
            changes: dict[str, Any] = {name: text for name in _fields_with_text(row)}
            for name, value in changes.items():
                setattr(row, name, value)
            if changes:
                session.add(row)
        _end_chasing(session, case, terms, zone, now, text)
        for row in _ledger_case_messages(session, case, now):
            session.add(row)
        record_event(session, case.id or 0, ACTOR, "purged", now, fields=item.fields,
                     retention_days=_period_days(terms, item.ended), ended=item.ended)
    session.flush()
    return [item for _, item in plan]


def purged_cases(session: Session) -> dict[int, str]:
    """Every case purged so far: id -> reference."""
    rows = session.exec(select(Case.id, Case.reference).where(col(Case.id).in_(
        select(CaseEvent.case_id).where(col(CaseEvent.kind) == "purged"))).order_by(col(Case.id)))
    return {case_id: reference for case_id, reference in rows if case_id is not None}


# --- the workspace ------------------------------------------------------------------------------------


def _listed(row: DeliveryRecord) -> set[int]:
    try:
        listed = json.loads(row.detail or "{}").get("actions") or []
        return {int(a) for a in listed}
    except (ValueError, TypeError, AttributeError):
        return set()


def _removal(row: DeliveryRecord, reference: str) -> Removal:
    error = row.error if row.state == DeliveryState.SENT else None
    if row.state == DeliveryState.SENDING or not row.room or not row.ref:
        error = NO_REF
    return Removal(row.id or 0, reference, row.kind, row.is_file, row.recipient, row.room, row.ref, error)


def owed_removals(session: Session, cases: dict[int, str]) -> list[Removal]:
    """The bot's messages and files about `cases` (id -> reference) still in the workspace, oldest first:
    the ledger's deliveries of each case, and the reminder digests that listed one of its action points.
    A delivery never confirmed ("sending") is listed too: the bot cannot find it (`error` NO_REF)."""
    if not cases:
        return []
    live = [DeliveryState.SENT, DeliveryState.SENDING]
    found: dict[int, Removal] = {}
    for row in session.exec(select(DeliveryRecord).where(col(DeliveryRecord.case_id).in_(list(cases)),
                                                         col(DeliveryRecord.state).in_(live))):
        found[row.id or 0] = _removal(row, cases[row.case_id or 0])
    # Digests are sent to an owner about every case they have items on, with no case of their own.
    items: dict[int, tuple[int, str]] = {}
    for item_id, case_id, owner in session.exec(select(ActionPoint.id, ActionPoint.case_id, ActionPoint.owner_id)
                                                .where(col(ActionPoint.case_id).in_(list(cases)))):
        items[item_id or 0] = (case_id, owner)
    owners = sorted({owner for _, owner in items.values()})
    if owners:
        for row in session.exec(select(DeliveryRecord).where(
                col(DeliveryRecord.recipient).in_(owners), col(DeliveryRecord.kind) == DIGEST,
                col(DeliveryRecord.state).in_(live))):
            hits = sorted(items[i][0] for i in _listed(row) & set(items))
            if hits and (row.id or 0) not in found:
                found[row.id or 0] = _removal(row, cases[hits[0]])
    return [found[k] for k in sorted(found)]


def _record_deletion(sessions: SessionFactory, removal: Removal, error: str | None, now: datetime) -> None:
    with transaction(sessions) as session:
        row = session.get(DeliveryRecord, removal.delivery_id)
        if row is None:
            return
        if error is None:
            row.state, row.deleted_at, row.error = DeliveryState.DELETED, now, None
        else:
            row.error = error[:200]  # the row stays "sent": still in the workspace, tried again next run
        session.add(row)


def delete_owed(sessions: SessionFactory, workspace: Workspace, cases: dict[int, str], now: datetime
                ) -> tuple[list[Removal], list[Removal]]:
    """Delete the bot's messages and files about `cases` in the workspace, recording each on its ledger
    row. Returns (deleted, still there with why). Once the platform is unavailable (a transient
    failure), the rest of this run is left for the next one."""
    with sessions() as session:
        owed = owed_removals(session, cases)
    deleted: list[Removal] = []
    kept: list[Removal] = []
    unavailable = False
    for removal in owed:
        if removal.error == NO_REF or removal.room is None or removal.ref is None:
            kept.append(removal)
            continue
        if unavailable:
            kept.append(_with_error(removal, NOT_TRIED))
            continue
        error: str | None = None
        try:
            if removal.is_file:
                workspace.delete_file(removal.ref)
            else:
                workspace.delete_message(removal.room, removal.ref)
        except PlatformFailure as exc:
            error = None if exc.error in ALREADY_GONE else exc.error
            unavailable = not exc.permanent
            if error is not None:
                log.warning("retention_delete_refused", extra={"event": "retention_delete_refused",
                                                               "case_ref": removal.reference, "kind": removal.kind,
                                                               "error": exc.error})
        _record_deletion(sessions, removal, error, now)
        (deleted if error is None else kept).append(_with_error(removal, error))
    return deleted, kept


def _with_error(removal: Removal, error: str | None) -> Removal:
    return Removal(removal.delivery_id, removal.reference, removal.kind, removal.is_file, removal.recipient,
                   removal.room, removal.ref, error)


def _record_deleted(sessions: SessionFactory, cases: dict[int, str], deleted: Iterable[Removal],
                    kept: Iterable[Removal], now: datetime) -> None:
    """A history event per case whose messages were deleted in this run, with how many are still there."""
    done, left = Counter(r.reference for r in deleted), Counter(r.reference for r in kept)
    with transaction(sessions) as session:
        for case_id, reference in cases.items():
            if done[reference]:
                record_event(session, case_id, ACTOR, "messages_deleted", now, deleted=done[reference],
                             not_deleted=left[reference])


# --- the database's files -----------------------------------------------------------------------------


def erase_owed(session: Session) -> list[int]:
    """Purged cases whose purge the database's files may still hold: no "purged_text_erased" event since."""
    latest: dict[tuple[int, str], int] = {}
    for case_id, kind, last in session.exec(select(CaseEvent.case_id, CaseEvent.kind, func.max(CaseEvent.id))
                                            .where(col(CaseEvent.kind).in_(["purged", "purged_text_erased"]))
                                            .group_by(col(CaseEvent.case_id), col(CaseEvent.kind))):
        latest[(case_id, kind)] = last
    return sorted(case_id for (case_id, kind), last in latest.items()
                  if kind == "purged" and latest.get((case_id, "purged_text_erased"), 0) < last)


def erase(sessions: SessionFactory, engine: Engine, now: datetime) -> bool | None:
    """Rewrite the database's files if a purge is not yet erased from them; record it on each case.
    True when erased, False when it could not be now (tried again on the next run), None if none owed."""
    with sessions() as session:
        owed = erase_owed(session)
    if not owed:
        return None
    try:
        erase_freed_space(engine, [table.__tablename__ for table in FREE_TEXT])  # type: ignore[misc]
    except Exception as exc:  # noqa: BLE001  (kept owed: the next run tries again)
        log.warning("purge_erase_failed", extra={"event": "purge_erase_failed", "error": type(exc).__name__,
                                                 "incomplete": isinstance(exc, EraseIncomplete)})
        return False
    with transaction(sessions) as session:
        for case_id in owed:
            record_event(session, case_id, ACTOR, "purged_text_erased", now, engine=engine.dialect.name)
    return True


# --- one run ------------------------------------------------------------------------------------------


def run(sessions: SessionFactory, engine: Engine, workspace: Workspace | None, terms: Terms, zone: ZoneInfo,
        now: datetime, *, dry_run: bool) -> RetentionRun:
    """One retention run (nightly, and `pmccg purge`), one at a time on a database: purge the free text
    of the cases past their period, delete the bot's messages and files about every purged case still
    in the workspace (none without a `workspace`: they are listed as not tried), and erase the purged
    text from the database's files. A dry run lists what it would do and changes nothing."""
    with named_lock(engine, "retention"):
        with transaction(sessions) as session:
            items = purge(session, terms, now, zone, dry_run=dry_run)
            cases = purged_cases(session)
            if dry_run:
                planned = {c.id or 0: c.reference for c, _ in due_for_purge(session, terms, now)}
                owed = owed_removals(session, {**cases, **planned})
                for case in session.exec(select(Case).where(col(Case.id).in_(list(planned)))):
                    owed += [_removal(row, case.reference) for row in _ledger_case_messages(session, case, now)]
                erasing = bool(items) or bool(erase_owed(session))
                return RetentionRun(tuple(items), tuple(r for r in owed if r.error != NO_REF),
                                    tuple(r for r in owed if r.error == NO_REF), erasing or None, dry_run=True)
        if workspace is None:
            with sessions() as session:
                owed = owed_removals(session, cases)
            deleted: list[Removal] = []
            kept = [r if r.error == NO_REF else _with_error(r, NO_WORKSPACE) for r in owed]
        else:
            deleted, kept = delete_owed(sessions, workspace, cases, now)
            if deleted:
                _record_deleted(sessions, cases, deleted, kept, now)
        erased = erase(sessions, engine, now)
    return RetentionRun(tuple(items), tuple(deleted), tuple(kept), erased)


def summary_counts(removals: Iterable[Removal]) -> dict[str, Counter[str]]:
    """Per case reference: how many of each kind (in words), for listing."""
    counts: dict[str, Counter[str]] = {}
    for r in removals:
        counts.setdefault(r.reference, Counter())[r.what] += 1
    return counts

