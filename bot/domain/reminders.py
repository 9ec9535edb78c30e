"""The outbox: claim what is due, compose it from the case as it is now, deliver to each recipient, record.

Due rows in `scheduled_messages` are the source of truth. A tick claims them one at a time
(conditional update; FOR UPDATE SKIP LOCKED on PostgreSQL), so several workers never hold the same
row. A row's claim is a lease that starts when the row is claimed, is renewed when each of its
deliveries starts and, while the platform takes its time, every third of the lease by a heartbeat,
so a second worker never takes a row whose send is still in progress however slow the platform is.
Finishing a row is fenced: it only happens while the claim token is still ours.

Each recipient of a row is a delivery of its own in the ledger (bot/domain/ledger.py): one that is sent
is never sent again, a transient failure is retried later on its own, and a permanent failure
(a leaver's account, an archived room) never stops the others. It is recorded in the case history,
shown in the case file, and reported to the people accountable (the case's chair and governance,
and the governance channel where configured), naming what did not arrive.

After the platform accepts a message, recording that in the ledger is retried (the platform's
reference is kept in memory) until the lease would run out. The remaining window for a double is
therefore exactly: the process dies between the platform accepting a message and the database
recording it, or the database stays unreachable for longer than the lease at that moment; then the
lease lapses and another worker sends that one delivery again.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select, update

from bot.domain import ledger
from bot.domain.composers import COMPOSERS
from bot.domain.errors import PlatformFailure
from bot.domain.history import record_event
from bot.domain.notify import Budget, Message, Posted, Workspace
from bot.domain.outbox import DELIVERY_FAILED, Composer, Delivery, Drop, Due, Reporting
from bot.domain.terms import Terms
from storage.db import SessionFactory, transaction
from storage.tables import Case, DeliveryRecord, DeliveryState, MessageState, ScheduledMessage

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
LATE_AFTER = timedelta(minutes=5)
MAX_ATTEMPTS = 8
# Rows one tick sends at most: the next tick (and the nightly purge) is never starved.
TICK_LIMIT = 500
# Pauses between attempts to record a delivery the platform accepted (seconds), while the lease lasts.
RECORD_PAUSES = (0.05, 0.2, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0)


@dataclass
class TickReport:
    claimed: int = 0
    sent: int = 0
    dropped: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def composers() -> dict[str, Composer]:
    """Kind -> composer: the registry in bot/domain/composers.py, where each rule's module owns its message."""
    return dict(COMPOSERS)


# --- claiming -----------------------------------------------------------------------------------


def _due(now: datetime) -> Any:
    return or_(
        and_(col(ScheduledMessage.state) == MessageState.PENDING, col(ScheduledMessage.due_at) <= now),
        and_(col(ScheduledMessage.state) == MessageState.CLAIMED, col(ScheduledMessage.claimed_until) < now),
    )


def claim(sessions: SessionFactory, engine: Engine, now: datetime, token: str, batch: int,
          lease: timedelta = LEASE) -> list[int]:
    """Claim up to `batch` due rows (or rows whose claim lapsed) for `token`; return their ids."""
    due = _due(now)
    with transaction(sessions) as session:
        query = select(ScheduledMessage.id).where(due).order_by(col(ScheduledMessage.due_at)).limit(batch)
        if engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = list(session.exec(query))
        if not ids:
            return []
        # The condition is repeated in the update: the claim is atomic even without row locks.
        session.exec(update(ScheduledMessage).where(col(ScheduledMessage.id).in_(ids), due).values(  # type: ignore[call-overload]
            state=MessageState.CLAIMED, claimed_by=token, claimed_until=now + lease,
            attempts=ScheduledMessage.attempts + 1))
    with sessions() as session:
        return list(session.exec(select(ScheduledMessage.id).where(
            col(ScheduledMessage.id).in_(ids), col(ScheduledMessage.claimed_by) == token,
            col(ScheduledMessage.state) == MessageState.CLAIMED)))


def _renew(sessions: SessionFactory, row_id: int, token: str, until: datetime) -> bool:
    """Extend our claim on the row; False when it is no longer ours (fenced by the token)."""
    with transaction(sessions) as session:
        result = session.exec(update(ScheduledMessage).where(  # type: ignore[call-overload]
            col(ScheduledMessage.id) == row_id, col(ScheduledMessage.claimed_by) == token,
            col(ScheduledMessage.state) == MessageState.CLAIMED).values(claimed_until=until))
        return bool(result.rowcount)


class _Clock:
    """The tick's time base: the `now` it was given plus the real time elapsed since (for leases)."""

    def __init__(self, now: datetime) -> None:
        self.start, self.began = now, time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.began)


class _Heartbeat:
    """Renews the row's lease every third of it while a delivery is in the platform's hands."""

    def __init__(self, sessions: SessionFactory, row_id: int, token: str, lease: timedelta, clock: _Clock) -> None:
        self.sessions, self.row_id, self.token, self.lease, self.clock = sessions, row_id, token, lease, clock
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"lease-{row_id}", daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(self.lease.total_seconds() / 3):
            try:
                if not _renew(self.sessions, self.row_id, self.token, self.clock() + self.lease):
                    log.warning("claim_lost", extra={"event": "claim_lost", "message_id": self.row_id})
                    return
            except Exception:  # noqa: BLE001  (the database blinked: try again at the next beat)
                log.warning("lease_renewal_failed", extra={"event": "lease_renewal_failed", "message_id": self.row_id})

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


# --- finishing ------------------------------------------------------------------------------------


def _finish(sessions: SessionFactory, row_id: int, token: str, state: MessageState, now: datetime,
            error: str | None = None, retry_at: datetime | None = None,
            then: Callable[[Session], None] | None = None) -> bool:
    """Record the row's outcome, only while the claim is ours; False (and nothing written) if it is not."""
    with transaction(sessions) as session:
        row = session.get(ScheduledMessage, row_id)
        if row is None or row.claimed_by != token or row.state != MessageState.CLAIMED:
            log.warning("claim_lost", extra={"event": "claim_lost", "message_id": row_id})
            return False
        values: dict[str, Any] = {"state": state, "last_error": error[:200] if error else None}
        if state == MessageState.SENT:
            values["sent_at"] = now
        if retry_at is not None:
            values.update(due_at=retry_at, claimed_by=None, claimed_until=None)
        # Fenced: the token is checked in the same statement that records the outcome.
        written = session.exec(update(ScheduledMessage).where(  # type: ignore[call-overload]
            col(ScheduledMessage.id) == row_id, col(ScheduledMessage.claimed_by) == token,
            col(ScheduledMessage.state) == MessageState.CLAIMED).values(**values)).rowcount
        if not written:
            return False
        if then is not None:
            then(session)
    return True


def _superseded(session: Session, row: ScheduledMessage, now: datetime) -> bool:
    """After downtime, only the latest due message of a collapse group is worth sending."""
    if not row.collapse_key:
        return False
    newer = session.exec(select(ScheduledMessage.id).where(
        col(ScheduledMessage.collapse_key) == row.collapse_key, col(ScheduledMessage.id) != row.id,
        col(ScheduledMessage.due_at) > row.due_at, col(ScheduledMessage.due_at) <= now,
        col(ScheduledMessage.state).in_([MessageState.PENDING, MessageState.CLAIMED, MessageState.SENT]),
    )).first()
    return newer is not None


def _deliver(workspace: Workspace, delivery: Delivery, message: Message | None) -> Posted:
    if delivery.file is not None:
        assert delivery.room is not None
        filename, content, title = delivery.file
        return workspace.upload_file(delivery.room, filename, content, title)
    assert message is not None
    if delivery.room is not None:
        return workspace.post(delivery.room, message)
    assert delivery.user is not None
    return workspace.send_direct(delivery.user, message)


@dataclass(frozen=True)
class _Row:
    """What processing a row needs once its composer's session is closed."""

    id: int
    kind: str
    case_id: int | None
    case_ref: str | None
    attempts: int


def _begin(sessions: SessionFactory, row: _Row, token: str, delivery: Delivery, clock: _Clock,
           lease: timedelta) -> int | None:
    """Renew the lease (the send starts now) and open the delivery's ledger row; None if the claim is lost."""
    with transaction(sessions) as session:
        renewed = session.exec(update(ScheduledMessage).where(  # type: ignore[call-overload]
            col(ScheduledMessage.id) == row.id, col(ScheduledMessage.claimed_by) == token,
            col(ScheduledMessage.state) == MessageState.CLAIMED).values(claimed_until=clock() + lease)).rowcount
        if not renewed:
            return None
        entry = ledger.begin(session, kind=delivery.kind, recipient=delivery.recipient, now=clock(),
                             case_id=row.case_id, scheduled_message_id=row.id, key=delivery.name,
                             is_file=delivery.file is not None, detail=delivery.detail)
        return entry.id


def _record_sent(sessions: SessionFactory, delivery_id: int, posted: Posted, delivery: Delivery, now: datetime,
                 deadline: float) -> bool:
    """Record that the platform accepted the delivery (with its `on_sent` work), retrying a failing
    database until `deadline` (monotonic): the platform's reference is kept here meanwhile, so the
    message is not sent again because one commit failed. True once recorded."""
    attempt = 0
    with_callback = delivery.on_sent is not None
    while True:
        try:
            with transaction(sessions) as session:
                ledger.mark_sent(session, delivery_id, posted, now)
                if with_callback and delivery.on_sent is not None:
                    delivery.on_sent(session, posted)
            return True
        except Exception as exc:  # noqa: BLE001  (the database, or the follow-up work: see below)
            if not isinstance(exc, SQLAlchemyError):
                if not with_callback:
                    raise
                # A fault in the follow-up work is not the database's: record the delivery without it.
                log.exception("on_sent_failed", extra={"event": "on_sent_failed", "delivery_id": delivery_id})
                with_callback = False
                continue
            pause = RECORD_PAUSES[min(attempt, len(RECORD_PAUSES) - 1)]
            attempt += 1
            if time.monotonic() + pause >= deadline:
                if with_callback:
                    # Its follow-up work keeps failing: record the delivery at least, so it is not doubled.
                    log.error("on_sent_failed", extra={"event": "on_sent_failed", "delivery_id": delivery_id,
                                                       "error": type(exc).__name__})
                    with_callback, attempt = False, 0
                    continue
                log.error("delivery_unrecorded", extra={"event": "delivery_unrecorded", "delivery_id": delivery_id,
                                                        "error": type(exc).__name__})
                return False
            log.warning("delivery_record_retry", extra={"event": "delivery_record_retry", "delivery_id": delivery_id,
                                                        "error": type(exc).__name__, "attempt": attempt})
            time.sleep(pause)


@dataclass(frozen=True)
class _Failure:
    delivery: Delivery
    error: str


def _record_failure(sessions: SessionFactory, row: _Row, delivery_id: int, delivery: Delivery,
                    exc: PlatformFailure, permanent: bool, now: datetime) -> None:
    with transaction(sessions) as session:
        ledger.mark_failed(session, delivery_id, exc.error, permanent=permanent)
        if permanent:
            if row.case_id:
                record_event(session, row.case_id, "bot", "delivery_failed", now, kind=delivery.kind,
                             error=exc.error, recipient=delivery.recipient)
            if delivery.on_failed is not None:
                delivery.on_failed(session)


def _owe_report(session: Session, row: _Row, failures: list[_Failure], now: datetime) -> None:
    """Tell the people accountable what did not arrive: a durable message of its own, due now. Failures of
    one case found before that report goes out join it, so people get one list, not a message each."""
    failed = [{"kind": f.delivery.kind, "recipient": f.delivery.recipient, "is_room": f.delivery.user is None,
               "error": f.error} for f in failures]
    waiting = session.exec(select(ScheduledMessage).where(
        col(ScheduledMessage.kind) == DELIVERY_FAILED, col(ScheduledMessage.state) == MessageState.PENDING,
        col(ScheduledMessage.case_id) == row.case_id if row.case_id else col(ScheduledMessage.case_id).is_(None),
    )).first()
    if waiting is not None:
        detail = json.loads(waiting.detail or "{}")
        detail["failed"] = [*detail.get("failed", []), *failed]
        waiting.detail = json.dumps(detail)
        session.add(waiting)
        return
    key = f"{DELIVERY_FAILED}:{row.id}:{row.attempts}"
    if session.exec(select(ScheduledMessage.id).where(col(ScheduledMessage.idempotency_key) == key)).first():
        return
    session.add(ScheduledMessage(case_id=row.case_id, kind=DELIVERY_FAILED, recipient="room", due_at=now,
                                 idempotency_key=key, detail=json.dumps({"about": row.kind, "failed": failed})))


def _compose(sessions: SessionFactory, row_id: int, terms: Terms, zone: ZoneInfo, now: datetime,
             registry: dict[str, Composer], reporting: Reporting, budget: Budget
             ) -> tuple[_Row, list[Delivery] | Drop, dict[str, DeliveryRecord]] | None:
    with sessions() as session:
        scheduled = session.get(ScheduledMessage, row_id)
        if scheduled is None:
            return None
        case = session.get(Case, scheduled.case_id) if scheduled.case_id else None
        detail = json.loads(scheduled.detail or "{}")
        if scheduled.expires_at is not None and now >= scheduled.expires_at:
            outcome: list[Delivery] | Drop = Drop("expired")
        elif case is not None and detail.get("version", case.schedule_version) != case.schedule_version:
            outcome = Drop("rescheduled")
        elif _superseded(session, scheduled, now):
            outcome = Drop("superseded")
        else:
            composer = registry.get(scheduled.kind)
            if composer is None:
                outcome = Drop(f"no composer for {scheduled.kind}")
            else:
                outcome = composer(Due(session, scheduled, case, terms, zone, now, now - scheduled.due_at > LATE_AFTER,
                                       detail, reporting, budget))
        row = _Row(row_id, scheduled.kind, scheduled.case_id, case.reference if case else None, scheduled.attempts)
        return row, outcome, ledger.states(session, row_id)


def process(sessions: SessionFactory, row_id: int, token: str, workspace: Workspace, terms: Terms,
            zone: ZoneInfo, now: datetime, report: TickReport, registry: dict[str, Composer],
            reporting: Reporting = Reporting(), lease: timedelta = LEASE, clock: _Clock | None = None) -> None:
    """Compose one claimed row and deliver it to each recipient, then record the outcome on the row.

    `clock` is the tick's time base (its `now` plus the real time since), which the leases follow."""
    clock = clock or _Clock(now)
    composed = _compose(sessions, row_id, terms, zone, now, registry, reporting, workspace.budget)
    if composed is None:
        return
    row, outcome, done = composed

    if isinstance(outcome, Drop):
        state = MessageState.SUPERSEDED if outcome.reason == "superseded" else MessageState.DROPPED
        if _finish(sessions, row_id, token, state, now, error=outcome.reason, then=outcome.then):
            report.dropped += 1
            log.info("message_dropped", extra={"event": "message_dropped", "kind": row.kind, "case_ref": row.case_ref,
                                               "reason": outcome.reason})
        return

    sent = failed = 0
    transient: list[_Failure] = []
    permanent: list[_Failure] = []
    for delivery in outcome:
        previous = done.get(delivery.name)
        if previous is not None and previous.state in (DeliveryState.SENT, DeliveryState.FAILED):
            # Delivered (or refused for good) before an earlier attempt stopped: never twice.
            sent += previous.state == DeliveryState.SENT
            failed += previous.state == DeliveryState.FAILED
            continue
        delivery_id = _begin(sessions, row, token, delivery, clock, lease)
        if delivery_id is None:
            log.warning("claim_lost", extra={"event": "claim_lost", "message_id": row_id})
            return
        message = replace(delivery.message, delivery_id=delivery_id) if delivery.message is not None else None
        try:
            with _Heartbeat(sessions, row_id, token, lease, clock):
                posted = _deliver(workspace, delivery, message)
        except PlatformFailure as exc:
            attempts = (previous.attempts if previous else 0) + 1
            is_permanent = exc.permanent or attempts >= MAX_ATTEMPTS
            _record_failure(sessions, row, delivery_id, delivery, exc, is_permanent, now)
            (permanent if is_permanent else transient).append(_Failure(delivery, exc.error))
            log.log(logging.ERROR if is_permanent else logging.WARNING,
                    "delivery_failed" if is_permanent else "delivery_retry",
                    extra={"event": "delivery_failed" if is_permanent else "delivery_retry", "kind": row.kind,
                           "case_ref": row.case_ref, "error": exc.error, "attempt": attempts})
            continue
        deadline = time.monotonic() + lease.total_seconds() * 0.8
        with _Heartbeat(sessions, row_id, token, lease, clock):
            recorded = _record_sent(sessions, delivery_id, posted, delivery, now, deadline)
        if not recorded:
            return  # the database is gone: the lease returns the row; see the module's note on doubles
        sent += 1

    failed += len(permanent)
    reportable = [f for f in permanent if f.delivery.report_failure]

    def then(session: Session) -> None:
        if row.case_id and sent and not transient:
            record_event(session, row.case_id, "bot", "message_sent", now, kind=row.kind)
        if reportable:
            _owe_report(session, row, reportable, now)

    if transient:
        retry_at = now + min(timedelta(seconds=30 * 2 ** (row.attempts - 1)), timedelta(minutes=15))
        _finish(sessions, row_id, token, MessageState.PENDING, now, error=transient[0].error, retry_at=retry_at,
                then=then)
        report.retried += 1
        log.warning("message_retry", extra={"event": "message_retry", "kind": row.kind, "case_ref": row.case_ref,
                                            "error": transient[0].error, "attempt": row.attempts})
    elif sent or not failed:
        if _finish(sessions, row_id, token, MessageState.SENT, now, then=then):
            report.sent += 1
            log.info("message_sent", extra={"event": "message_sent", "kind": row.kind, "case_ref": row.case_ref,
                                            "failed": failed})
    else:
        error = permanent[0].error if permanent else "refused"
        _finish(sessions, row_id, token, MessageState.FAILED, now, error=error, then=then)
    if permanent:
        report.failed += len(permanent)
        report.errors.extend(f.error for f in permanent)


def send_due(sessions: SessionFactory, engine: Engine, workspace: Workspace, terms: Terms, zone: ZoneInfo,
             now: datetime, *, batch: int = TICK_LIMIT, worker: str = "worker",
             reporting: Reporting = Reporting(), lease: timedelta = LEASE) -> TickReport:
    """One tick: claim what is due at `now`, one row at a time, and deliver it. One failure never stops the rest."""
    token = f"{worker}:{uuid.uuid4().hex[:12]}"
    report = TickReport()
    registry = composers()
    clock = _Clock(now)
    for _ in range(batch):
        ids = claim(sessions, engine, clock(), token, 1, lease)
        if not ids:
            break
        report.claimed += 1
        try:
            process(sessions, ids[0], token, workspace, terms, zone, now, report, registry, reporting, lease, clock)
        except Exception as exc:  # noqa: BLE001  (keep the tick alive; the lease returns the row later)
            report.errors.append(type(exc).__name__)
            log.exception("message_crashed", extra={"event": "message_crashed", "message_id": ids[0]})
    return report


__all__ = ["DELIVERY_FAILED", "LATE_AFTER", "LEASE", "MAX_ATTEMPTS", "Composer", "Delivery", "Drop", "Due",
           "Reporting", "TickReport", "claim", "composers", "process", "send_due"]
