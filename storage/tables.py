"""SQLModel tables: the roster, cases with their invitees, reference counters, the case history.

Personal data is kept to what the process needs: Slack user ids (not names), and the case
fields the terms of reference ask for. The staff member is never stored by name.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


class CaseStatus(StrEnum):
    CONVENED = "convened"
    CANCELLED = "cancelled"
    CLOSED = "closed"


class Reply(StrEnum):
    NO_REPLY = "no_reply"
    ATTENDING = "attending"
    DEPUTY = "deputy"
    APOLOGIES = "apologies"


class RosterMember(SQLModel, table=True):
    __tablename__ = "roster_members"

    user_id: str = Field(primary_key=True, max_length=32)
    # ';'-separated Role values and profession keys, as in the roster CSV.
    roles: str = Field(max_length=400)
    professions: str = Field(default="", max_length=400)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    updated_by: str = Field(max_length=32)


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
    concern: str = Field(sa_column=Column(Text, nullable=False))
    risks: str = Field(sa_column=Column(Text, nullable=False))
    call_at: datetime = Field(sa_type=UTCDateTime)
    duration_minutes: int
    call_details: str = Field(max_length=500)
    short_notice: bool = False
    convener_id: str = Field(max_length=32)
    room_id: str = Field(max_length=32)
    room_name: str = Field(max_length=80)
    header_ref: str | None = Field(default=None, max_length=40)
    board_ref: str | None = Field(default=None, max_length=40)
    status: str = Field(default=CaseStatus.CONVENED, sa_type=String(20))
    created_at: datetime = Field(sa_type=UTCDateTime)
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
    user_id: str = Field(max_length=32)
    seat: str = Field(max_length=40)
    seat_label: str = Field(max_length=120)
    position: int = 0
    reply: str = Field(default=Reply.NO_REPLY, sa_type=String(20))
    deputy_id: str | None = Field(default=None, max_length=32)
    replied_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CaseEvent(SQLModel, table=True):
    """Append-only case history: who did what, when. Never updated or deleted."""

    __tablename__ = "case_events"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    actor_id: str = Field(max_length=32)
    kind: str = Field(max_length=40)
    # Structured detail as JSON text; holds ids and choices, not free text about the staff member.
    detail: str = Field(default="{}", sa_column=Column(Text, nullable=False, server_default="{}"))
