"""SQLModel tables: the roster, cases with their invitees, reference counters, the case history.

Personal data is kept to what the process needs: Slack user ids (not names), and the case
fields the terms of reference ask for. The staff member is never stored by name.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime

# User, room and message ids are opaque strings of any platform: Slack's fit in 32 characters, Teams' do not
# (migration 0010). Keys that carry an id inside them are longer still.
ID_CHARS = 255
KEY_CHARS = 400


class CaseStatus(StrEnum):
    CONVENED = "convened"
    CANCELLED = "cancelled"
    CLOSED = "closed"


class MessageState(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    SENT = "sent"
    CANCELLED = "cancelled"
    DROPPED = "dropped"
    SUPERSEDED = "superseded"
    FAILED = "failed"


class Reply(StrEnum):
    NO_REPLY = "no_reply"
    ATTENDING = "attending"
    DEPUTY = "deputy"
    APOLOGIES = "apologies"


class RosterMember(SQLModel, table=True):
    __tablename__ = "roster_members"

    user_id: str = Field(primary_key=True, max_length=ID_CHARS)
    # ';'-separated Role values and profession keys, as in the roster CSV.
    roles: str = Field(max_length=400)
    professions: str = Field(default="", max_length=400)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    updated_by: str = Field(max_length=ID_CHARS)


class ReferenceCounter(SQLModel, table=True):
    """The last case number used per prefix and year, so references are sequential without gaps."""

    __tablename__ = "reference_counters"

    prefix: str = Field(primary_key=True, max_length=20)
    year: int = Field(primary_key=True)
    last: int = 0


class Case(SQLModel, table=True):
    __tablename__ = "cases"
    __table_args__ = (UniqueConstraint("prefix", "year", "seq", name="uq_cases_prefix_year_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=40, unique=True)
    prefix: str = Field(max_length=20)
    year: int
    seq: int
    profession: str = Field(max_length=40)
    route: str = Field(max_length=40)
    # When the concern was first raised (the convener's date, local); None: raised when convened.
    concern_raised_on: date | None = None
    concern: str = Field(sa_column=Column(Text, nullable=False))
    risks: str = Field(sa_column=Column(Text, nullable=False))
    call_at: datetime = Field(sa_type=UTCDateTime)
    duration_minutes: int
    call_details: str = Field(max_length=500)
    short_notice: bool = False
    convener_id: str = Field(max_length=ID_CHARS)
    room_id: str = Field(max_length=ID_CHARS)
    room_name: str = Field(max_length=80)
    header_ref: str | None = Field(default=None, max_length=ID_CHARS)
    board_ref: str | None = Field(default=None, max_length=ID_CHARS)
    status: str = Field(default=CaseStatus.CONVENED, sa_type=String(20))
    created_at: datetime = Field(sa_type=UTCDateTime)
    # Bumped on reschedule: scheduled messages of an older version are never sent.
    schedule_version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    roll_call_ref: str | None = Field(default=None, max_length=ID_CHARS)
    # The recorded quorum of the call itself (from the roll-call): None until recorded.
    quorate: bool | None = None
    quorum_reason: str | None = Field(default=None, max_length=400)
    cancel_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    close_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The form submission that created the case: a retried or doubled submission finds it.
    convene_key: str = Field(max_length=64, unique=True)


class Invitee(SQLModel, table=True):
    __tablename__ = "invitees"
    __table_args__ = (
        UniqueConstraint("case_id", "seat", name="uq_invitees_case_seat"),
        Index("ix_invitees_user", "user_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    user_id: str = Field(max_length=ID_CHARS)
    seat: str = Field(max_length=40)
    seat_label: str = Field(max_length=120)
    position: int = 0
    reply: str = Field(default=Reply.NO_REPLY, sa_type=String(20))
    deputy_id: str | None = Field(default=None, max_length=ID_CHARS)
    replied_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CaseEvent(SQLModel, table=True):
    """Append-only case history: who did what, when. Never updated or deleted."""

    __tablename__ = "case_events"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    actor_id: str = Field(max_length=ID_CHARS)
    kind: str = Field(max_length=40)
    # Structured detail as JSON text; holds ids and choices, not free text about the staff member.
    detail: str = Field(default="{}", sa_column=Column(Text, nullable=False, server_default="{}"))


class ScheduledMessage(SQLModel, table=True):
    """One message owed at a time: the durable source of truth for the scheduler (not APScheduler).

    `idempotency_key` makes planning the same message twice a no-op; `collapse_key` groups
    messages of which only the latest due one is worth sending after downtime.
    """

    __tablename__ = "scheduled_messages"
    __table_args__ = (Index("ix_scheduled_messages_due", "state", "due_at"),
                      Index("ix_scheduled_messages_recipient", "recipient", "kind", "state"))

    id: int | None = Field(default=None, primary_key=True)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    kind: str = Field(max_length=40)
    recipient: str = Field(max_length=ID_CHARS)
    due_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    idempotency_key: str = Field(max_length=KEY_CHARS, unique=True)
    collapse_key: str | None = Field(default=None, max_length=KEY_CHARS, index=True)
    state: str = Field(default=MessageState.PENDING, sa_type=String(20))
    attempts: int = 0
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=200)
    detail: str = Field(default="{}", sa_column=Column(Text, nullable=False, server_default="{}"))


class RollCallMark(SQLModel, table=True):
    """Who was on the call, in what capacity: the record behind the actual quorum."""

    __tablename__ = "roll_call_marks"
    __table_args__ = (UniqueConstraint("case_id", "user_id", name="uq_roll_call_case_user"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    user_id: str = Field(max_length=ID_CHARS)
    # "member", "deputy" (deputy_for holds whose seat) or "guest"
    capacity: str = Field(max_length=20)
    deputy_for: str | None = Field(default=None, max_length=ID_CHARS)
    marked_by: str = Field(max_length=ID_CHARS)
    at: datetime = Field(sa_type=UTCDateTime)


class ActionStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    DROPPED = "dropped"


class Outcome(SQLModel, table=True):
    """The group's advisory recommendation to the decision maker (one per case)."""

    __tablename__ = "outcomes"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", unique=True)
    process: str = Field(sa_type=String(30))
    rationale: str = Field(sa_column=Column(Text, nullable=False))
    risk_level: str = Field(sa_type=String(20))
    risk_notes: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    ml_policy_notify: str = Field(sa_type=String(10))
    legal_advice: str = Field(sa_type=String(10))
    welfare_offered: str = Field(sa_type=String(10))
    line_manager_support: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    # From the roll-call when one was taken; otherwise stated, with the reason.
    quorate: bool | None = None
    quorum_statement: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    recorded_by: str = Field(max_length=ID_CHARS)
    recorded_at: datetime = Field(sa_type=UTCDateTime)
    circulated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class FairnessAnswer(SQLModel, table=True):
    """An answer to one fairness and proportionality principle; the latest per principle stands."""

    __tablename__ = "fairness_answers"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    principle: str = Field(sa_type=String(30))
    answer: str = Field(sa_type=String(10))
    note: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    answered_by: str = Field(max_length=ID_CHARS)
    answered_at: datetime = Field(sa_type=UTCDateTime)


class ActionPoint(SQLModel, table=True):
    __tablename__ = "action_points"
    __table_args__ = (
        UniqueConstraint("case_id", "number", name="uq_action_points_case_number"),
        Index("ix_action_points_owner_status", "owner_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    number: int
    description: str = Field(sa_column=Column(Text, nullable=False))
    owner_id: str = Field(max_length=ID_CHARS)
    due_on: date
    status: str = Field(default=ActionStatus.OPEN, sa_type=String(20))
    # "outcome", "fairness" (further inquiry) or "channel"
    source: str = Field(sa_type=String(20))
    principle: str | None = Field(default=None, sa_type=String(30))
    drop_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_by: str = Field(max_length=ID_CHARS)
    created_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ActionUpdate(SQLModel, table=True):
    """Append-only trail of an action point: updates, due-date changes (with reason), done, dropped."""

    __tablename__ = "action_updates"

    id: int | None = Field(default=None, primary_key=True)
    action_id: int = Field(foreign_key="action_points.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    actor_id: str = Field(max_length=ID_CHARS)
    kind: str = Field(sa_type=String(20))
    text: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    old_due: date | None = None
    new_due: date | None = None


class DeliveryState(StrEnum):
    SENDING = "sending"  # handed to the platform; no answer recorded yet
    SENT = "sent"
    RETRY = "retry"  # a transient failure: the outbox tries this recipient again
    FAILED = "failed"  # a permanent failure: never retried, reported to the people accountable
    DELETED = "deleted"  # the bot deleted its own message (retention, an abandoned convening)


class DeliveryRecord(SQLModel, table=True):
    """The ledger: one row per message or file the bot delivered (or failed to), per recipient.

    The outbox writes one row per recipient of a scheduled message (`scheduled_message_id`, `key`),
    so a failure to one recipient is recorded and retried on its own; other sends (the case header,
    invitations, notices) are recorded with no scheduled message. `room` and `ref` are where the
    platform put it, which is how the bot finds its own message again (to update it after a click,
    or delete it under the retention policy), never from ids a client sends back.
    """

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("scheduled_message_id", "key", name="uq_deliveries_message_key"),
                      Index("ix_deliveries_recipient", "recipient", "kind"),
                      Index("ix_deliveries_room_ref", "room", "ref"))

    id: int | None = Field(default=None, primary_key=True)
    scheduled_message_id: int | None = Field(default=None, foreign_key="scheduled_messages.id", index=True)
    key: str | None = Field(default=None, max_length=KEY_CHARS)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    kind: str = Field(max_length=40)
    # A user id for a direct message, a room id for a post.
    recipient: str = Field(max_length=255)
    room: str | None = Field(default=None, max_length=255)
    ref: str | None = Field(default=None, max_length=255)
    is_file: bool = False
    state: str = Field(default=DeliveryState.SENDING, sa_type=String(20))
    attempts: int = 0
    error: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Ids only (e.g. the action points a reminder listed), never free text.
    detail: str = Field(default="{}", sa_column=Column(Text, nullable=False, server_default="{}"))


class RollCallCorrection(SQLModel, table=True):
    """A correction of the roll-call by the chair (or their deputy) or governance, with its reason.

    Append-only. The reason is typed text, kept here (not in the case history) so retention purges it.
    """

    __tablename__ = "roll_call_corrections"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    user_id: str = Field(max_length=ID_CHARS)
    present: bool
    reason: str = Field(sa_column=Column(Text, nullable=False))
    corrected_by: str = Field(max_length=ID_CHARS)
    at: datetime = Field(sa_type=UTCDateTime)


class RosterChange(SQLModel, table=True):
    """Append-only roster history: who changed whose roles (and professions led), when, and how.

    One row per person whose roles changed in one change (a CSV import, a /pmccg roster edit).
    Never updated or deleted, so a role granted and then removed leaves both rows.
    """

    __tablename__ = "roster_changes"
    __table_args__ = (Index("ix_roster_changes_at", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime)
    actor_id: str = Field(max_length=ID_CHARS)
    source: str = Field(max_length=20)  # "import" (CSV), "chat" (/pmccg roster)
    user_id: str = Field(max_length=ID_CHARS, index=True)
    # ';'-separated Role values and profession keys, as in the roster CSV.
    roles_added: str = Field(default="", max_length=400)
    roles_removed: str = Field(default="", max_length=400)
    professions_added: str = Field(default="", max_length=400)
    professions_removed: str = Field(default="", max_length=400)


class FormRecord(SQLModel, table=True):
    """A form (modal) the bot opened: for whom, of what kind, about what, where to write after it, whether used.

    The form itself carries only `nonce` (in its private metadata). Everything its submission needs
    (the subject, the message to update afterwards) is read from here, never from values the client
    sends back. `claimed_at` is set by the one submission that takes effect, in the transaction of its
    change, so a second delivery of the same view changes nothing (bot/domain/forms.py).
    """

    __tablename__ = "forms"

    id: int | None = Field(default=None, primary_key=True)
    nonce: str = Field(max_length=64, unique=True)
    kind: str = Field(sa_type=String(30))
    # The person it was opened for: only they may submit it or press its buttons.
    user_id: str = Field(max_length=ID_CHARS)
    # What it is about: a case reference or an action point id; empty for the roster.
    subject: str = Field(default="", max_length=80)
    # Where the bot writes afterwards, as JSON of ids (a ledger row) or a checked reply address.
    origin: str = Field(default="{}", sa_column=Column(Text, nullable=False, server_default="{}"))
    # The platform's id for the view, once known: a request naming another view is refused.
    view_id: str | None = Field(default=None, max_length=ID_CHARS)
    # Action point rows the bot has built into the outcome form ("Add another action point").
    rows: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    opened_at: datetime = Field(sa_type=UTCDateTime)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ConveningState(StrEnum):
    PENDING = "pending"  # the number is reserved and the room may exist; the case is not saved
    COMMITTED = "committed"  # the case is saved; the invitations are still owed
    COMPLETE = "complete"
    ROLLED_BACK = "rolled_back"  # the room was emptied of the bot's messages, renamed and archived


class Convening(SQLModel, table=True):
    """A convening under way, written before the room is made: how a crash mid-convene is found and undone.

    It holds ids only (the convener, the room, the bot's messages in it), never what the form said, so
    a convening that did not complete leaves nothing of the concern behind. `touched_at` moves on at
    each step; a row left pending (or committed) past a minute is finished or rolled back
    (bot/domain/convening.py `recover`).
    """

    __tablename__ = "convenings"
    __table_args__ = (Index("ix_convenings_state_touched", "state", "touched_at"),)

    id: int | None = Field(default=None, primary_key=True)
    submission_key: str = Field(max_length=64, index=True)
    convener_id: str = Field(max_length=ID_CHARS)
    prefix: str = Field(max_length=20)
    year: int
    seq: int
    reference: str = Field(max_length=40)
    room_id: str | None = Field(default=None, max_length=ID_CHARS, index=True)
    room_name: str | None = Field(default=None, max_length=80)
    header_ref: str | None = Field(default=None, max_length=ID_CHARS)
    board_ref: str | None = Field(default=None, max_length=ID_CHARS)
    case_id: int | None = Field(default=None, foreign_key="cases.id")
    state: str = Field(default=ConveningState.PENDING, sa_type=String(20))
    # The process convening (host:pid), for the log of a recovery.
    owner: str = Field(default="", max_length=64)
    attempts: int = 0  # recovery attempts that met a transient failure
    # The convener knows how it ended (their form said so, or recovery told them by direct message).
    convener_told: bool = False
    last_error: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(sa_type=UTCDateTime)
    touched_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DirectRoomRecord(SQLModel, table=True):
    """Each person's direct conversation with the bot, on a platform whose direct messages need one made
    and kept (a Teams 1:1 chat): the conversation id and the address that delivers into it. Ids only."""

    __tablename__ = "direct_rooms"

    user_id: str = Field(primary_key=True, max_length=ID_CHARS)
    room: str = Field(max_length=ID_CHARS)
    # Where messages for this conversation are sent (the platform names it per conversation).
    service_url: str = Field(max_length=KEY_CHARS)
    updated_at: datetime = Field(sa_type=UTCDateTime)
