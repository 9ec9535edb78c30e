"""Who may act on a case (issue 12, rules 1 and 2): only its own people, and governance.

The chair's powers on a case (record the outcome, close it, correct the roll-call, mark others
present, act for the chair on action points) belong to the holder of its chair seat, the deputy
that person named for the seat, and governance, and to nobody else: a chair or deputy chair on the
roster who is not on the case has none of them. Administering the case (reschedule, cancel, fill
a seat from the quorum warning) is for its convener and those same people. Reading the record
follows the terms' `[records]` roles.
"""

from __future__ import annotations

from sqlmodel import Session, select

from bot.domain import roster
from bot.domain.errors import NotAllowed
from bot.domain.roles import ROLE_LABELS, Role
from bot.domain.terms import Terms
from storage.tables import Case, Invitee, Reply


def chairs_of(session: Session, terms: Terms, case: Case) -> set[str]:
    """Who chairs this case: the chair seat's holder, and the deputy they named for that seat."""
    found: set[str] = set()
    for row in session.exec(select(Invitee).where(Invitee.case_id == case.id)):
        if row.seat in terms.chair_seats:
            found.add(row.user_id)
            if row.reply == Reply.DEPUTY and row.deputy_id:
                found.add(row.deputy_id)
    return found


def _governance(session: Session) -> list[str]:
    return [e.user_id for e in roster.holders(session, Role.GOVERNANCE)]


def _is_governance(session: Session, user_id: str) -> bool:
    who = roster.entry(session, user_id)
    return who is not None and Role.GOVERNANCE in who.roles


def has_chair_powers(session: Session, terms: Terms, case: Case, user_id: str) -> bool:
    """Whether `user_id` holds the chair's powers on this case (its chair, their deputy, governance)."""
    return user_id in chairs_of(session, terms, case) or _is_governance(session, user_id)


def chair_contacts(session: Session, terms: Terms, case: Case) -> tuple[str, ...]:
    """Who to ask for something only the chair (or governance) can do on this case."""
    return tuple(dict.fromkeys([*sorted(chairs_of(session, terms, case)), *_governance(session)]))


def require_chair_powers(session: Session, terms: Terms, case: Case, user_id: str, action: str) -> None:
    """Raise NotAllowed, naming who can, unless `user_id` holds the chair's powers on this case."""
    if has_chair_powers(session, terms, case, user_id):
        return
    raise NotAllowed(f"Only the chair of {case.reference} (or the deputy they named) or governance can {action}.",
                     contacts=chair_contacts(session, terms, case))


def may_administer(session: Session, terms: Terms, case: Case, user_id: str,
                   action: str = "reschedule or cancel the call") -> None:
    """Raise NotAllowed, naming who can, unless `user_id` convened `case`, chairs it, or is governance."""
    if user_id == case.convener_id or has_chair_powers(session, terms, case, user_id):
        return
    contacts = dict.fromkeys([case.convener_id, *chair_contacts(session, terms, case)])
    raise NotAllowed(f"Only the person who convened {case.reference}, its chair (or the deputy they named) or "
                     f"governance can {action}. Please ask one of them.", contacts=tuple(contacts))


def may_add_people(session: Session, terms: Terms, case: Case, user_id: str) -> None:
    """Adding someone to a case from its quorum warning: the convener, its chair (or their deputy), governance."""
    may_administer(session, terms, case, user_id, action="add someone to it")


def may_read_records(session: Session, terms: Terms, user_id: str, what: str = "case files and reports") -> None:
    """Raise NotAllowed unless the roster gives `user_id` a role the terms allow to read the record."""
    who = roster.entry(session, user_id)
    if who is not None and who.roles & terms.records.allowed_roles:
        return
    labels = ", ".join(sorted(ROLE_LABELS[r].lower() for r in terms.records.allowed_roles))
    contacts = tuple(e.user_id for e in roster.holders(session, Role.GOVERNANCE))
    raise NotAllowed(f"Only {labels} can see {what}. Please ask governance.", contacts=contacts)
