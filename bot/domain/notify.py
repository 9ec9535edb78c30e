"""The seam between the domain and a chat platform (Slack now, Teams next).

The domain decides what to say as a `Message` (a template name and a view model); an
implementation in `handlers/` renders and delivers it. Failures raise PlatformFailure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from bot.domain.errors import PlatformFailure

log = logging.getLogger(__name__)
T = TypeVar("T")


class MessageKind(StrEnum):
    """Every kind of message the bot sends. Each platform renders a kind with its own template,
    templates/<platform>/<kind>.json.j2; tests/test_message_kinds.py fails when a platform under templates/
    has no template for a kind."""

    ACTION_ASSIGNED = "action_assigned"
    ACTION_DIGEST = "action_digest"
    AGENDA = "agenda"
    ANSWER_DM = "answer_dm"
    ATTENDANCE_BOARD = "attendance_board"
    CANCELLED_NOTICE = "cancelled_notice"
    CASE_CANCELLED = "case_cancelled"
    CASE_CLOSED = "case_closed"
    CASE_HEADER = "case_header"
    CASE_RESCHEDULED = "case_rescheduled"
    CIRCULATION_CHASE = "circulation_chase"
    CIRCULATION_ESCALATE = "circulation_escalate"
    CONVENING_ABANDONED = "convening_abandoned"
    CONVENING_FINISHED = "convening_finished"
    DELIVERY_FAILED = "delivery_failed"
    FAIRNESS_REVISITED = "fairness_revisited"
    HOME = "home"
    INVITATION = "invitation"
    OUTCOME_OWNER_ACTIONS = "outcome_owner_actions"
    OUTCOME_QUALITY_BOARD = "outcome_quality_board"
    OUTCOME_RECOMMENDATION = "outcome_recommendation"
    OUTCOME_SUMMARY = "outcome_summary"
    OVERDUE_ESCALATION = "overdue_escalation"
    PERSON_ADDED = "person_added"
    PROCEED_NOTED = "proceed_noted"
    QUORUM_OK = "quorum_ok"
    QUORUM_WARNING = "quorum_warning"
    REPLY_CHASE = "reply_chase"
    REPORT_ANNUAL = "report_annual"
    REPORT_ATTENDANCE = "report_attendance"
    RESCHEDULED_NOTICE = "rescheduled_notice"
    ROLL_CALL = "roll_call"
    ROLL_CALL_CORRECTED = "roll_call_corrected"
    ROLL_CALL_RESULT = "roll_call_result"
    UNDELIVERED_INVITATIONS = "undelivered_invitations"


@dataclass(frozen=True)
class Message:
    """What to say: `template` is the kind, which names a template under templates/<platform>/; `model` fills it.

    `delivery_id` is the ledger row of this delivery (bot/domain/ledger.py) when the outbox sends it: a
    message whose buttons must later find the very message they sit on carries it, so a click is
    traced to what the bot stored, never to ids the client sends back.

    `ledger_detail` is kept with the delivery's ledger row when a recording workspace sends it (ids and
    numbers only, e.g. the schedule version an invitation's buttons were sent for).
    """

    template: MessageKind
    model: Any
    delivery_id: int | None = None
    ledger_detail: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        # A kind given as its string (a stored row's kind) must still be one of the enum's: ValueError if not.
        object.__setattr__(self, "template", MessageKind(self.template))


@dataclass(frozen=True)
class Budget:
    """How much one message or view of the platform may hold, handed in by the platform (the domain knows no
    platform's limits); None is no limit. Slack's are handlers/slack/workspace.py SLACK_BUDGET."""

    blocks_per_message: int | None = None  # the agenda packs its items' text into this many blocks
    items_per_list: int | None = None  # action points in one digest or `actions` list
    items_on_home: int | None = None  # action points on a person's home view
    cases_on_home: int | None = None  # cases on a person's home view


def within(items: Sequence[T], limit: int | None) -> Sequence[T]:
    """The first `limit` of `items` (all of them if None)."""
    return items if limit is None else items[:limit]


@dataclass(frozen=True)
class Posted:
    """Where a message (or file) landed: the room (a direct message's own conversation for a DM)
    and the platform's id for it, as needed to update or delete it later."""

    room: str
    ref: str


class Workspace(Protocol):
    """What the domain needs of a chat platform. Every method raises PlatformFailure on refusal."""

    budget: Budget  # the platform's size limits

    def create_private_room(self, name: str, members: Sequence[str], created: Callable[[str], None]) -> str:
        """Create a private room with `members` in it and return its id; raise RoomNameTaken if the name is used.

        `created` is called with the room's id the moment the room exists, before any member is added (a
        platform that creates and then invites, as Slack does), so the caller can record it for crash recovery
        first; a platform that makes the room with its members in one call (a Teams group chat) calls it once
        that call returns. A failure adding the members raises PlatformFailure after `created` was called.
        """
        ...

    def invite(self, room: str, users: Sequence[str]) -> None:
        """Add people to an existing room (a person added to a case after convening)."""
        ...

    def archive_room(self, room: str) -> None: ...

    def rename_room(self, room: str, name: str) -> None:
        """Rename a room (an abandoned case room, so its name is free again); raise RoomNameTaken if used."""
        ...

    def post(self, room: str, message: Message) -> Posted:
        """Post in a room; return where it landed, for updating it in place."""
        ...

    def update(self, room: str, ref: str, message: Message) -> None: ...

    def send_direct(self, user: str, message: Message) -> Posted:
        """Send a direct message from the bot to one person; return the conversation and message id."""
        ...

    def upload_file(self, room: str, filename: str, content: bytes, title: str) -> Posted:
        """Share a file in a room (a calendar invite, a case export); `ref` is the file's id."""
        ...

    def delete_message(self, room: str, ref: str) -> None:
        """Delete one of the bot's own messages (retention, an abandoned convening)."""
        ...

    def delete_file(self, ref: str) -> None:
        """Delete one of the bot's own files."""
        ...


def attempt(step: str, failed: list[str], reference: str, action: Callable[[], object]) -> bool:
    """Run one announcement step after the change is committed; a refusal is logged and noted in `failed`.

    The change stands either way: the callers tell people which steps did not reach them.
    """
    try:
        action()
    except PlatformFailure as exc:
        log.warning("announce_step_failed", extra={"event": "announce_step_failed", "case_ref": reference,
                                                   "step": step, "error": exc.error})
        failed.append(step)
        return False
    return True
