"""The ledger of deliveries: what the bot delivered, to whom, where it landed, and what did not arrive.

Every message or file the bot delivers is a row (storage.tables.DeliveryRecord). The outbox
(bot/domain/reminders.py) writes one per recipient of a scheduled message before handing it to the
platform, so a failure to one recipient is recorded, retried and reported on its own. Other sends
(the case header, invitations, notices) are recorded through `recording()`. The rows are how the
bot finds its own messages again: to update the one a person clicked on, to delete them under the
retention policy, and to show in the case file what never arrived.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bot.domain.notify import Message, Posted, Workspace
from storage.db import SessionFactory, transaction
from storage.tables import DeliveryRecord, DeliveryState

log = logging.getLogger(__name__)

FILE_KIND = "file"

# What a platform's error code means to the person told about it (the code is kept beside it).
ERROR_WORDS = {
    "user_not_found": "the account no longer exists",
    "account_inactive": "the account is deactivated",
    "user_disabled": "the account is deactivated",
    "channel_not_found": "the room does not exist, or the bot is not in it",
    "not_in_channel": "the bot is not in that room",
    "is_archived": "the room is archived",
    "cannot_dm_bot": "it is an app, not a person",
    "not_installed": "the bot is not installed for that person",
    "blocked_bot": "the person has blocked the bot",
}


# What each kind of delivery is, in the words of the person told it did not arrive.
KIND_WORDS = {
    "invitation": "the invitation",
    "reply_chase": "the reminder to say whether they will attend",
    "quorum_warning": "the warning that the call may not be quorate",
    "quorum_ok": "the note that the call is expected to be quorate",
    "agenda": "the agenda",
    "roll_call": "the roll-call",
    "roll_call_result": "the quorum result of the call",
    "outcome_summary": "the outcome summary",
    "outcome_owner_actions": "their action points from the outcome",
    "outcome_recommendation": "the recommendation",
    "outcome_quality_board": "the Quality Board report",
    "circulation_chase": "the reminder to circulate the outcome",
    "circulation_escalate": "the escalation that the outcome was not circulated in time",
    "action_digest": "their action point reminder",
    "overdue_escalation": "the notice of an overdue action point",
    "file": "a file",
}


def kind_words(kind: str) -> str:
    """What a delivery was, e.g. "the outcome summary"."""
    return KIND_WORDS.get(kind, kind.replace("_", " "))


def error_words(error: str | None) -> str:
    """A platform error in plain words, e.g. "the account no longer exists (user_not_found)"."""
    if not error:
        return "refused"
    words = ERROR_WORDS.get(error)
    return f"{words} ({error})" if words else error


@dataclass(frozen=True)
class Undelivered:
    """One delivery that did not arrive, for the case file and the report to the people accountable."""

    kind: str  # the message's template name, or "file"
    recipient: str  # a user id (direct message) or a room id
    is_room: bool
    error: str
    at: datetime


def begin(session: Session, *, kind: str, recipient: str, now: datetime, case_id: int | None = None,
          scheduled_message_id: int | None = None, key: str | None = None, is_file: bool = False,
          detail: dict[str, Any] | None = None) -> DeliveryRecord:
    """The row for one delivery about to be handed to the platform (state "sending"), in the caller's
    transaction. For the outbox, one row per (scheduled message, key): a retry reuses it."""
    row = None
    if scheduled_message_id is not None and key is not None:
        row = session.exec(select(DeliveryRecord).where(
            col(DeliveryRecord.scheduled_message_id) == scheduled_message_id,
            col(DeliveryRecord.key) == key)).first()
    if row is None:
        row = DeliveryRecord(scheduled_message_id=scheduled_message_id, key=key, case_id=case_id, kind=kind,
                             recipient=recipient, is_file=is_file, created_at=now)
    row.state, row.attempts, row.error = DeliveryState.SENDING, row.attempts + 1, None
    row.kind, row.recipient, row.case_id = kind, recipient, case_id
    if detail is not None:
        row.detail = json.dumps(detail, sort_keys=True)
    session.add(row)
    session.flush()
    return row


def mark_sent(session: Session, delivery_id: int, posted: Posted, now: datetime) -> None:
    row = session.get(DeliveryRecord, delivery_id)
    if row is None:
        return
    row.state, row.room, row.ref, row.sent_at, row.error = DeliveryState.SENT, posted.room, posted.ref, now, None
    session.add(row)


def mark_failed(session: Session, delivery_id: int, error: str, *, permanent: bool) -> None:
    row = session.get(DeliveryRecord, delivery_id)
    if row is None:
        return
    row.state = DeliveryState.FAILED if permanent else DeliveryState.RETRY
    row.error = error[:200]
    session.add(row)


def states(session: Session, scheduled_message_id: int) -> dict[str, DeliveryRecord]:
    """The outbox's deliveries of one scheduled message, by key."""
    rows = session.exec(select(DeliveryRecord).where(
        col(DeliveryRecord.scheduled_message_id) == scheduled_message_id))
    return {r.key: r for r in rows if r.key is not None}


def own_message(session: Session, delivery_id: int, recipient: str, kinds: Iterable[str]) -> DeliveryRecord | None:
    """The message the bot sent to `recipient` as ledger row `delivery_id`, if it is one of `kinds` and still
    there; None for an id that is not the bot's message to that person (a stale or edited request)."""
    row = session.get(DeliveryRecord, delivery_id)
    if (row is None or row.recipient != recipient or row.kind not in set(kinds) or row.state != DeliveryState.SENT
            or not row.room or not row.ref):
        return None
    return row


def for_case(session: Session, case_id: int) -> list[DeliveryRecord]:
    return list(session.exec(select(DeliveryRecord).where(col(DeliveryRecord.case_id) == case_id)
                             .order_by(col(DeliveryRecord.id))))


def undelivered(session: Session, case_id: int) -> list[Undelivered]:
    """Every delivery about the case that failed for good, oldest first."""
    # Only the outbox records failures, and its keys say whether the recipient was a room or a person.
    return [Undelivered(r.kind, r.recipient, (r.key or "").startswith(("room:", "file:")), r.error or "",
                        r.created_at)
            for r in for_case(session, case_id) if r.state == DeliveryState.FAILED]


def messages_to(session: Session, case_id: int, user_id: str, kinds: Iterable[str]) -> list[DeliveryRecord]:
    """The bot's direct messages about the case to `user_id` of `kinds` that arrived and are still there
    (not deleted), oldest first: where the bot finds them again to update them, from what it stored."""
    return list(session.exec(select(DeliveryRecord).where(
        col(DeliveryRecord.case_id) == case_id, col(DeliveryRecord.recipient) == user_id,
        col(DeliveryRecord.kind).in_(list(kinds)), col(DeliveryRecord.state) == DeliveryState.SENT,
        col(DeliveryRecord.room).is_not(None), col(DeliveryRecord.ref).is_not(None),
    ).order_by(col(DeliveryRecord.id))))


def detail_of(row: DeliveryRecord) -> dict[str, Any]:
    try:
        found = json.loads(row.detail or "{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def add_sent(session: Session, *, kind: str, recipient: str, posted: Posted, now: datetime,
             case_id: int | None = None, is_file: bool = False, detail: dict[str, Any] | None = None) -> None:
    """Record a delivery made outside the outbox, in the caller's transaction."""
    session.add(DeliveryRecord(case_id=case_id, kind=kind, recipient=recipient, room=posted.room, ref=posted.ref,
                               is_file=is_file, state=DeliveryState.SENT, attempts=1, created_at=now, sent_at=now,
                               detail=json.dumps(detail or {}, sort_keys=True)))


def record(sessions: SessionFactory, *, kind: str, recipient: str, posted: Posted, now: datetime,
           case_id: int | None = None, is_file: bool = False, detail: dict[str, Any] | None = None) -> None:
    """Record a delivery made outside the outbox, in its own short transaction. The message is out
    either way, so a database error is logged (by event name only) rather than raised."""
    try:
        with transaction(sessions) as session:
            add_sent(session, kind=kind, recipient=recipient, posted=posted, now=now, case_id=case_id,
                     is_file=is_file, detail=detail)
    except Exception:  # noqa: BLE001  (a ledger row must never undo a delivery already made)
        log.exception("ledger_record_failed", extra={"event": "ledger_record_failed", "kind": kind})


class RecordingWorkspace:
    """A Workspace whose deliveries about one case are recorded in the ledger as they are made.

    Domain flows that post outside the outbox (convening, rescheduling, closing, notices) wrap the
    platform's Workspace in this, so retention can later find and delete every message of the case.
    """

    def __init__(self, inner: Workspace, sessions: SessionFactory, clock: Callable[[], datetime],
                 case_id: int | None) -> None:
        self.inner, self.sessions, self.clock, self.case_id = inner, sessions, clock, case_id
        self.budget = inner.budget

    def create_private_room(self, name: str, members: Sequence[str], created: Callable[[str], None]) -> str:
        return self.inner.create_private_room(name, members, created)

    def invite(self, room: str, users: Sequence[str]) -> None:
        self.inner.invite(room, users)

    def archive_room(self, room: str) -> None:
        self.inner.archive_room(room)

    def rename_room(self, room: str, name: str) -> None:
        self.inner.rename_room(room, name)

    def post(self, room: str, message: Message) -> Posted:
        posted = self.inner.post(room, message)
        record(self.sessions, kind=message.template, recipient=room, posted=posted, now=self.clock(),
               case_id=self.case_id, detail=message.ledger_detail)
        return posted

    def update(self, room: str, ref: str, message: Message) -> None:
        self.inner.update(room, ref, message)

    def send_direct(self, user: str, message: Message) -> Posted:
        posted = self.inner.send_direct(user, message)
        record(self.sessions, kind=message.template, recipient=user, posted=posted, now=self.clock(),
               case_id=self.case_id, detail=message.ledger_detail)
        return posted

    def upload_file(self, room: str, filename: str, content: bytes, title: str) -> Posted:
        posted = self.inner.upload_file(room, filename, content, title)
        record(self.sessions, kind=FILE_KIND, recipient=room, posted=posted, now=self.clock(), case_id=self.case_id,
               is_file=True)
        return posted

    def delete_message(self, room: str, ref: str) -> None:
        self.inner.delete_message(room, ref)

    def delete_file(self, ref: str) -> None:
        self.inner.delete_file(ref)


def recording(workspace: Workspace, sessions: SessionFactory, clock: Callable[[], datetime],
              case_id: int | None) -> Workspace:
    """`workspace`, with every delivery about `case_id` recorded in the ledger."""
    return RecordingWorkspace(workspace, sessions, clock, case_id)

