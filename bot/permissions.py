"""Who may administer a case (convener, chair, governance) and who may read the record (the terms say)."""

from __future__ import annotations

from sqlmodel import Session, select

from bot import roster
from bot.errors import NotAllowed
from bot.roles import ROLE_LABELS, Role
from bot.terms import Terms
from storage.tables import Case, Invitee

ADMIN_ROLES = frozenset({Role.CHAIR, Role.DEPUTY_CHAIR, Role.GOVERNANCE})


def may_administer(session: Session, terms: Terms, case: Case, user_id: str,
                   action: str = "reschedule or cancel the call") -> None:
    """Raise NotAllowed, naming who can, unless `user_id` may reschedule or cancel `case`."""
    chair_seats = terms.chair_seats
    invitees = list(session.exec(select(Invitee).where(Invitee.case_id == case.id)))
    if user_id == case.convener_id or any(i.user_id == user_id and i.seat in chair_seats for i in invitees):
        return
    who = roster.entry(session, user_id)
    if who is not None and who.roles & ADMIN_ROLES:
        return
    contacts = dict.fromkeys([case.convener_id, *(i.user_id for i in invitees if i.seat in chair_seats),
                              *(e.user_id for e in roster.holders(session, Role.GOVERNANCE))])
    raise NotAllowed(f"Only the person who convened {case.reference}, its chair or governance can {action}. "
                     "Please ask one of them.", contacts=tuple(contacts))


def may_read_records(session: Session, terms: Terms, user_id: str, what: str = "case files and reports") -> None:
    """Raise NotAllowed unless the roster gives `user_id` a role the terms allow to read the record."""
    who = roster.entry(session, user_id)
    if who is not None and who.roles & terms.records.allowed_roles:
        return
    labels = ", ".join(sorted(ROLE_LABELS[r].lower() for r in terms.records.allowed_roles))
    contacts = tuple(e.user_id for e in roster.holders(session, Role.GOVERNANCE))
    raise NotAllowed(f"Only {labels} can see {what}. Please ask governance.", contacts=contacts)
