"""The append-only case history: every change, who made it and when (the case file's timeline)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from storage.tables import CaseEvent


def record_event(session: Session, case_id: int, actor_id: str, kind: str, at: datetime, /, **detail: Any) -> None:
    """Append one event in the caller's transaction; detail holds ids and choices, never free text."""
    session.add(CaseEvent(case_id=case_id, at=at, actor_id=actor_id, kind=kind,
                          detail=json.dumps(detail, sort_keys=True, default=str)))


def events(session: Session, case_id: int) -> list[CaseEvent]:
    return list(session.exec(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)))
