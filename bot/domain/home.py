"""App Home: each person's open action points across cases, and their cases with the next step.

A case is "theirs" when they are invited to it, deputise on it, or convened it; closed cases drop
off. Slack allows 100 blocks on a Home tab, so at most 20 items and 20 cases are listed, then
"and N more". Everything is a case reference and a user id: never a name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import or_
from sqlmodel import Session, select

from bot.domain import action_points, outcomes
from bot.domain.action_points import Rag
from bot.domain.case_views import local_time_text
from bot.domain.errors import NotAllowed
from bot.domain.notify import Budget, within
from bot.domain.terms import Terms
from storage.tables import ActionPoint, Case, CaseStatus, Invitee, Reply

RAG_LABELS = {Rag.GREEN: "On track", Rag.AMBER: "Due soon", Rag.RED: "Overdue", Rag.DONE: "Done"}
STATUS_LABELS = {CaseStatus.CONVENED: "Convened", CaseStatus.CANCELLED: "Cancelled", CaseStatus.CLOSED: "Closed"}


@dataclass(frozen=True)
class HomeItem:
    reference: str
    number: int
    description: str
    # Midday on the due date in the organisation's zone: a date token shows the same day everywhere.
    due_at: datetime
    due_local: str
    rag: str
    rag_label: str


@dataclass(frozen=True)
class HomeCase:
    reference: str
    status: str
    status_label: str
    # The person's part in the case: their seats, whose seat they deputise in (user id, seat), convener.
    seats: tuple[str, ...]
    deputy_for: tuple[tuple[str, str], ...]
    convener: bool
    next_step: str
    # When set, the next step is followed by this time as a date token ("Call <date>").
    next_step_at: datetime | None
    next_step_at_local: str


@dataclass(frozen=True)
class HomeView:
    user_id: str
    group_name: str
    group_short_name: str
    items: tuple[HomeItem, ...]
    more_items: int
    cases: tuple[HomeCase, ...]
    more_cases: int


def due_date_text(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def _midday(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(12, 0), tzinfo=zone)


def _item(item: ActionPoint, case: Case, terms: Terms, zone: ZoneInfo, today: date) -> HomeItem:
    status = action_points.rag(item, today, terms.reminders.action_reminder_days)
    return HomeItem(reference=case.reference, number=item.number, description=item.description,
                    due_at=_midday(item.due_on, zone), due_local=due_date_text(item.due_on), rag=str(status),
                    rag_label=RAG_LABELS[status])


def _may_record(session: Session, terms: Terms, case: Case, user_id: str) -> bool:
    try:
        outcomes.may_record(session, terms, case, user_id)
    except NotAllowed:
        return False
    return True


def next_step(session: Session, terms: Terms, case: Case, seats: Sequence[Invitee], user_id: str,
              now: datetime) -> tuple[str, datetime | None]:
    """What the case waits for next, from this person's point of view (and the time it names)."""
    if case.status == CaseStatus.CANCELLED:
        return "Cancelled", None
    if case.status == CaseStatus.CLOSED:
        return "Closed", None
    outcome = outcomes.outcome_of(session, case.id or 0)
    if outcome is None and now < case.call_at:
        if any(s.user_id == user_id and s.reply == Reply.NO_REPLY for s in seats):
            return "Tell the group whether you will attend", None
        return "Call", case.call_at
    if outcome is None:
        if _may_record(session, terms, case, user_id):
            return "Record the outcome", None
        return "Waiting for the chair to record the outcome", None
    if outcome.circulated_at is None:
        return "Circulation pending", None
    still_open = len(outcomes.open_items(session, case.id or 0))
    if still_open:
        return f"{still_open} action point{'s' if still_open != 1 else ''} open", None
    return "Every action point is done or dropped: the case can be closed", None


def cases_of(session: Session, user_id: str) -> list[Case]:
    """Cases, not closed, that `user_id` is invited to, deputises on or convened; open ones first."""
    involved = select(Invitee.case_id).where(or_(Invitee.user_id == user_id, Invitee.deputy_id == user_id))
    rows = session.exec(select(Case).where(
        Case.status != CaseStatus.CLOSED,
        or_(Case.convener_id == user_id, Case.id.in_(involved)),  # type: ignore[union-attr]
    ).order_by(Case.call_at, Case.id))
    return sorted(rows, key=lambda c: c.status == CaseStatus.CANCELLED)


def home_view(session: Session, terms: Terms, user_id: str, zone: ZoneInfo, now: datetime,
              budget: Budget = Budget()) -> HomeView:
    """The App Home of `user_id` at `now`: their open action points, soonest due first, and their cases, as
    many as the platform's `budget` holds (the rest counted)."""
    today = now.astimezone(zone).date()
    owned = action_points.open_for_owner(session, user_id)
    items = tuple(_item(a, c, terms, zone, today) for a, c in within(owned, budget.items_on_home))
    mine = cases_of(session, user_id)
    cases: list[HomeCase] = []
    shown = within(mine, budget.cases_on_home)
    for case in shown:
        seats = list(session.exec(select(Invitee).where(Invitee.case_id == case.id).order_by(Invitee.position)))
        step, at = next_step(session, terms, case, seats, user_id, now)
        cases.append(HomeCase(reference=case.reference, status=str(case.status),
                              status_label=STATUS_LABELS.get(CaseStatus(case.status), str(case.status)),
                              seats=tuple(dict.fromkeys(s.seat_label for s in seats if s.user_id == user_id)),
                              deputy_for=tuple((s.user_id, s.seat_label) for s in seats if s.deputy_id == user_id),
                              convener=case.convener_id == user_id, next_step=step, next_step_at=at,
                              next_step_at_local=local_time_text(at, zone) if at else ""))
    return HomeView(user_id=user_id, group_name=terms.name, group_short_name=terms.short_name, items=items,
                    more_items=len(owned) - len(items), cases=tuple(cases), more_cases=len(mine) - len(shown))
