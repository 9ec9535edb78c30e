"""Finding a case by its reference: one query, and one answer when there is no such case."""

from __future__ import annotations

from sqlmodel import Session, select

from bot.domain.errors import NotFound
from storage.tables import Case


def _lookup(session: Session, reference: str, for_update: bool) -> Case | None:
    query = select(Case).where(Case.reference == reference)
    if for_update:
        # The case's row stays locked until the transaction ends (PostgreSQL), so two changes
        # to one case are made one after the other.
        query = query.with_for_update()
    return session.exec(query).first()


def find_case(session: Session, reference: str, *, for_update: bool = False) -> Case:
    """The case a button or a form carried `reference` for; if it has gone, say so."""
    case = _lookup(session, reference, for_update)
    if case is None:
        raise NotFound(f"Case {reference} no longer exists.")
    return case


def case_named(session: Session, typed: str, *, for_update: bool = False) -> Case:
    """The case a person typed the reference of (spaces and letter case forgiven)."""
    case = _lookup(session, typed.strip().upper(), for_update)
    if case is None:
        raise NotFound(f"There is no case {typed.strip()[:40]}.")
    return case
