"""The scheduler's work: claim what is due, compose it from the case as it is now, send, record.

Due rows in `scheduled_messages` are the source of truth. A tick claims them atomically
(conditional update; FOR UPDATE SKIP LOCKED on PostgreSQL), so several workers never send the
same row. The one window for a double: a process dying after Slack accepted a message but before
the "sent" commit; its lease then expires and another worker sends it again.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, select, update

from bot.errors import PlatformFailure
from bot.history import record_event
from bot.notify import Message, Workspace
from bot.terms import Terms
from storage.db import SessionFactory, transaction
from storage.tables import Case, MessageState, ScheduledMessage

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
LATE_AFTER = timedelta(minutes=5)
MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class Delivery:
    """One thing to deliver: a message to a room or a person, or a file to a room."""

    message: Message | None = None
    room: str | None = None
    user: str | None = None
    file: tuple[str, bytes, str] | None = None  # filename, content, title
    # Runs in the "sent" transaction with the platform's reference (e.g. to update it later).
    on_sent: Callable[[Session, str], None] | None = None
    # Runs in the transaction that records a permanent failure (e.g. to plan the next reminder).
    on_failed: Callable[[Session], None] | None = None


@dataclass(frozen=True)
class Drop:
    reason: str
    # Runs in the transaction that records the drop (e.g. to plan the next weekly reminder).
    then: Callable[[Session], None] | None = None


@dataclass(frozen=True)
class Reporting:
    """Where reports go beyond the case: configured channel ids (empty: not configured)."""

    governance_room: str = ""
    quality_board_room: str = ""
    archive_on_close: bool = False


@dataclass(frozen=True)
class Due:
    """What a composer is given: the row, its case re-read now, and whether it is late."""

    session: Session
    row: ScheduledMessage
    case: Case | None
    terms: Terms
    zone: ZoneInfo
    now: datetime
    late: bool
    detail: dict[str, Any]
    reporting: Reporting = Reporting()


Composer = Callable[[Due], "list[Delivery] | Drop"]


@dataclass
class TickReport:
    claimed: int = 0
    sent: int = 0
    dropped: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def composers() -> dict[str, Composer]:
    """Kind -> composer. Imported here so each rule's module owns its own message."""
    from bot import action_reminders, agenda, calendar, chasing, circulation, roll_call

    return {
        "reply_chase": chasing.compose_reply_chase,
        "pre_call_check": chasing.compose_pre_call_check,
        "agenda": agenda.compose_agenda,
        "roll_call": roll_call.compose_roll_call,
        "roll_call_close": roll_call.compose_roll_call_close,
        "calendar": calendar.compose_calendar,
        "circulation": circulation.compose_circulation,
        "circulation_chase": circulation.compose_circulation_chase,
        "circulation_escalate": circulation.compose_circulation_escalate,
        "action_digest": action_reminders.compose_digest,
        "overdue_escalation": action_reminders.compose_overdue_escalation,
    }


def claim(sessions: SessionFactory, engine: Engine, now: datetime, token: str, batch: int) -> list[int]:
    """Claim up to `batch` due rows (or rows whose claim lapsed) for `token`; return their ids."""
    due = or_(
        and_(ScheduledMessage.state == MessageState.PENDING, ScheduledMessage.due_at <= now),
        and_(ScheduledMessage.state == MessageState.CLAIMED, ScheduledMessage.claimed_until < now),
    )
    with transaction(sessions) as session:
        query = select(ScheduledMessage.id).where(due).order_by(ScheduledMessage.due_at).limit(batch)
        if engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = list(session.exec(query))
        if not ids:
            return []
        # The condition is repeated in the update: the claim is atomic even without row locks.
        session.exec(update(ScheduledMessage).where(ScheduledMessage.id.in_(ids), due).values(  # type: ignore[attr-defined,call-overload]
            state=MessageState.CLAIMED, claimed_by=token, claimed_until=now + LEASE,
            attempts=ScheduledMessage.attempts + 1))
    with sessions() as session:
        return list(session.exec(select(ScheduledMessage.id).where(
            ScheduledMessage.claimed_by == token, ScheduledMessage.state == MessageState.CLAIMED)))


def _finish(sessions: SessionFactory, row_id: int, token: str, state: MessageState, now: datetime,
            error: str | None = None, retry_at: datetime | None = None,
            then: Callable[[Session], None] | None = None) -> None:
    with transaction(sessions) as session:
        row = session.get(ScheduledMessage, row_id)
        if row is None or row.claimed_by != token:
            log.warning("claim_lost", extra={"event": "claim_lost", "message_id": row_id})
            return
        row.state = state
        row.last_error = error[:200] if error else None
        if state == MessageState.SENT:
            row.sent_at = now
        if retry_at is not None:
            row.due_at, row.claimed_by, row.claimed_until = retry_at, None, None
        session.add(row)
        if then is not None:
            then(session)


def _superseded(session: Session, row: ScheduledMessage, now: datetime) -> bool:
    """After downtime, only the latest due message of a collapse group is worth sending."""
    if not row.collapse_key:
        return False
    newer = session.exec(select(ScheduledMessage.id).where(
        ScheduledMessage.collapse_key == row.collapse_key, ScheduledMessage.id != row.id,
        ScheduledMessage.due_at > row.due_at, ScheduledMessage.due_at <= now,
        ScheduledMessage.state.in_([MessageState.PENDING, MessageState.CLAIMED, MessageState.SENT]),  # type: ignore[attr-defined]
    )).first()
    return newer is not None


def _deliver(workspace: Workspace, delivery: Delivery) -> str:
    if delivery.file is not None:
        assert delivery.room is not None
        filename, content, title = delivery.file
        return workspace.upload_file(delivery.room, filename, content, title)
    assert delivery.message is not None
    if delivery.room is not None:
        return workspace.post(delivery.room, delivery.message)
    assert delivery.user is not None
    return workspace.send_direct(delivery.user, delivery.message)


def process(sessions: SessionFactory, row_id: int, token: str, workspace: Workspace, terms: Terms,
            zone: ZoneInfo, now: datetime, report: TickReport, registry: dict[str, Composer],
            reporting: Reporting = Reporting()) -> None:
    """Compose and deliver one claimed row, then record the outcome on the row and the case."""
    with sessions() as session:
        row = session.get(ScheduledMessage, row_id)
        if row is None:
            return
        case = session.get(Case, row.case_id) if row.case_id else None
        detail = json.loads(row.detail or "{}")
        if row.expires_at is not None and now >= row.expires_at:
            outcome: list[Delivery] | Drop = Drop("expired")
        elif case is not None and detail.get("version", case.schedule_version) != case.schedule_version:
            outcome = Drop("rescheduled")
        elif _superseded(session, row, now):
            outcome = Drop("superseded")
        else:
            composer = registry.get(row.kind)
            if composer is None:
                outcome = Drop(f"no composer for {row.kind}")
            else:
                outcome = composer(Due(session, row, case, terms, zone, now, now - row.due_at > LATE_AFTER, detail,
                                       reporting))
        kind, case_id, case_ref = row.kind, row.case_id, case.reference if case else None
        room, convener = (case.room_id, case.convener_id) if case else (None, None)
        done = set(detail.get("delivered", []))

    if isinstance(outcome, Drop):
        state = MessageState.SUPERSEDED if outcome.reason == "superseded" else MessageState.DROPPED
        _finish(sessions, row_id, token, state, now, error=outcome.reason, then=outcome.then)
        report.dropped += 1
        log.info("message_dropped", extra={"event": "message_dropped", "kind": kind, "case_ref": case_ref,
                                           "reason": outcome.reason})
        return

    for index, delivery in enumerate(outcome):
        if index in done:
            continue  # delivered before an earlier attempt failed: never twice
        try:
            ref = _deliver(workspace, delivery)
        except PlatformFailure as exc:
            _failed(sessions, row_id, token, now, exc, kind, case_id, case_ref, room, convener, delivery,
                    workspace, report)
            return
        done.add(index)
        on_sent = delivery.on_sent
        _record_progress(sessions, row_id, sorted(done), lambda s, r=ref, f=on_sent: f(s, r) if f else None)
    _finish(sessions, row_id, token, MessageState.SENT, now, then=(
        (lambda s: record_event(s, case_id, "bot", "message_sent", now, kind=kind)) if case_id else None))
    report.sent += 1
    log.info("message_sent", extra={"event": "message_sent", "kind": kind, "case_ref": case_ref})


def _record_progress(sessions: SessionFactory, row_id: int, delivered: list[int],
                     then: Callable[[Session], None]) -> None:
    with transaction(sessions) as session:
        row = session.get(ScheduledMessage, row_id)
        if row is None:
            return
        detail = json.loads(row.detail or "{}")
        detail["delivered"] = delivered
        row.detail = json.dumps(detail)
        session.add(row)
        then(session)


def _failed(sessions: SessionFactory, row_id: int, token: str, now: datetime, exc: PlatformFailure, kind: str,
            case_id: int | None, case_ref: str | None, room: str | None, convener: str | None,
            delivery: Delivery, workspace: Workspace, report: TickReport) -> None:
    with sessions() as session:
        row = session.get(ScheduledMessage, row_id)
        attempts = row.attempts if row else MAX_ATTEMPTS
    if not exc.permanent and attempts < MAX_ATTEMPTS:
        # Transient (Slack down, 5xx after the client's own retries): back off and try again.
        retry_at = now + min(timedelta(seconds=30 * 2 ** (attempts - 1)), timedelta(minutes=15))
        _finish(sessions, row_id, token, MessageState.PENDING, now, error=exc.error, retry_at=retry_at)
        report.retried += 1
        log.warning("message_retry", extra={"event": "message_retry", "kind": kind, "case_ref": case_ref,
                                            "error": exc.error, "attempt": attempts})
        return
    def recorded(session: Session) -> None:
        if case_id:
            record_event(session, case_id, "bot", "delivery_failed", now, kind=kind, error=exc.error,
                         recipient=delivery.user or delivery.room)
        if delivery.on_failed is not None:
            delivery.on_failed(session)

    _finish(sessions, row_id, token, MessageState.FAILED, now, error=exc.error, then=recorded)
    report.failed += 1
    report.errors.append(exc.error)
    log.error("message_failed", extra={"event": "message_failed", "kind": kind, "case_ref": case_ref,
                                       "error": exc.error})
    _report_failure(workspace, kind, case_ref, room, convener, delivery, exc)


def _report_failure(workspace: Workspace, kind: str, case_ref: str | None, room: str | None, convener: str | None,
                    delivery: Delivery, exc: PlatformFailure) -> None:
    """Tell people a message could not be delivered: in the case channel, else the convener."""
    notice = Message("delivery_failed", {"kind": kind.replace("_", " "), "reference": case_ref or "",
                                         "recipient": delivery.user, "error": exc.error})
    try:
        if room and delivery.room != room:
            workspace.post(room, notice)
        elif convener:
            workspace.send_direct(convener, notice)
    except PlatformFailure:
        log.error("failure_report_failed", extra={"event": "failure_report_failed", "case_ref": case_ref})


def send_due(sessions: SessionFactory, engine: Engine, workspace: Workspace, terms: Terms, zone: ZoneInfo,
             now: datetime, *, batch: int = 100, worker: str = "worker",
             reporting: Reporting = Reporting()) -> TickReport:
    """One tick: claim what is due at `now` and deliver it. One failure never stops the rest."""
    token = f"{worker}:{uuid.uuid4().hex[:12]}"
    report = TickReport()
    registry = composers()
    ids = claim(sessions, engine, now, token, batch)
    report.claimed = len(ids)
    for row_id in ids:
        try:
            process(sessions, row_id, token, workspace, terms, zone, now, report, registry, reporting)
        except Exception as exc:  # noqa: BLE001  (keep the tick alive; the lease returns the row later)
            report.errors.append(type(exc).__name__)
            log.exception("message_crashed", extra={"event": "message_crashed", "message_id": row_id})
    return report
