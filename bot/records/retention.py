"""Retention: once a case has been over for `terms.records.retention_days`, its free text is purged.

What people typed (the concern, risks, call details, rationale and notes, fairness notes, action
point descriptions, updates and reasons) is replaced by a dated marker; dates, counts, choices and
categories stay, so the annual figures still count the case. A case is over when it was closed, or
when its call was cancelled. Purging records a "purged" history event and is idempotent: a field
already purged is not counted again. The dry run computes the same plan and writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, SQLModel, select

from bot.history import record_event
from bot.terms import Terms
from storage.tables import (
    ActionPoint,
    ActionUpdate,
    Case,
    CaseEvent,
    CaseStatus,
    FairnessAnswer,
    Outcome,
    RollCallCorrection,
)

MARKER_PREFIX = "[purged under the retention policy"
ACTOR = "retention"

# Every free-text column, per table. Bot-written texts (the quorum reason) and choices stay.
FREE_TEXT: dict[type[SQLModel], tuple[str, ...]] = {
    Case: ("concern", "risks", "call_details", "cancel_reason", "close_reason"),
    Outcome: ("rationale", "risk_notes", "line_manager_support", "quorum_statement"),
    FairnessAnswer: ("note",),
    ActionPoint: ("description", "drop_reason"),
    ActionUpdate: ("text",),
    RollCallCorrection: ("reason",),
}


def marker(on: datetime, zone: ZoneInfo) -> str:
    return f"{MARKER_PREFIX} on {on.astimezone(zone).date().isoformat()}]"


def is_purged(value: str | None) -> bool:
    return bool(value) and str(value).startswith(MARKER_PREFIX)


@dataclass(frozen=True)
class PurgeItem:
    """One case past its retention period: what goes (or went)."""

    reference: str
    ended: str  # "closed" or "cancelled"
    ended_at: datetime
    fields: int  # free-text fields still holding text


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
    return None


def due_for_purge(session: Session, terms: Terms, now: datetime) -> list[tuple[Case, PurgeItem]]:
    """Cases over for longer than the retention period that still hold free text, oldest first."""
    cutoff = now - timedelta(days=terms.records.retention_days)
    found = []
    for case in session.exec(select(Case).where(Case.status != CaseStatus.CONVENED).order_by(Case.id)):
        ended = _ended(session, case)
        if ended is None or ended[1] > cutoff:
            continue
        fields = sum(len(_fields_with_text(row)) for row in _rows(session, case))
        if fields:
            found.append((case, PurgeItem(case.reference, ended[0], ended[1], fields)))
    return sorted(found, key=lambda pair: pair[1].ended_at)


def purge(session: Session, terms: Terms, now: datetime, zone: ZoneInfo, *, dry_run: bool) -> list[PurgeItem]:
    """Purge (or, with `dry_run`, only list) the free text of every case past its retention period.

    Writes in the caller's transaction: each field replaced by the dated marker, and one "purged"
    history event per case with the number of fields.
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
        record_event(session, case.id or 0, ACTOR, "purged", now, fields=item.fields,
                     retention_days=terms.records.retention_days, ended=item.ended)
    session.flush()
    return [item for _, item in plan]
