"""What the outbox hands a composer and takes back: the row as it is now (Due), what to deliver (Delivery) or
why not (Drop). Each rule's module composes its own messages from these (bot/domain/composers.py lists
them); bot/domain/reminders.py claims, sends and records. Kept apart from both so neither imports the other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.domain import ledger
from bot.domain.notify import Budget, Message, MessageKind, Posted
from bot.domain.terms import Terms
from storage.tables import Case, ScheduledMessage

DELIVERY_FAILED = MessageKind.DELIVERY_FAILED


@dataclass(frozen=True)
class Delivery:
    """One thing to deliver: a message to a room or a person, or a file to a room.

    `key` names the recipient within its scheduled message (default: the room, person or file), so
    a retry knows which deliveries already went out.
    """

    message: Message | None = None
    room: str | None = None
    user: str | None = None
    file: tuple[str, bytes, str] | None = None  # filename, content, title
    # Runs in the "sent" transaction with where it landed (e.g. to update it later).
    on_sent: Callable[[Session, Posted], None] | None = None
    # Runs in the transaction that records a permanent failure (e.g. to plan the next reminder).
    on_failed: Callable[[Session], None] | None = None
    key: str = ""
    # Ids the ledger keeps with the delivery (e.g. the action points a reminder listed).
    detail: dict[str, Any] | None = None
    # False for the failure report itself, so a failure to report a failure is logged, not reported.
    report_failure: bool = True

    @property
    def name(self) -> str:
        if self.key:
            return self.key
        if self.file is not None:
            return f"file:{self.room}:{self.file[0]}"
        if self.room is not None:
            return f"room:{self.room}"
        return f"user:{self.user}"

    @property
    def recipient(self) -> str:
        return self.room if self.room is not None and self.user is None else str(self.user)

    @property
    def kind(self) -> str:
        return ledger.FILE_KIND if self.file is not None else (self.message.template if self.message else "")


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
    budget: Budget = Budget()  # the platform's, from the Workspace it is sent through


Composer = Callable[[Due], "list[Delivery] | Drop"]
