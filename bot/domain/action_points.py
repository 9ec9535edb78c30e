"""Action points per the terms of reference: an owner, a due date, a status and red/amber/green.

Amber when due within the reminder window, red when overdue (seed 001's RAG status). Every
change is appended to the item's trail and the case history; nothing is overwritten silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import func
from sqlmodel import Session, select

from bot.domain.errors import InvalidInput, NotAllowed, NotFound
from bot.domain.history import record_event
from bot.domain.naming import describe_hits, find_person_names
from bot.domain.people import People, person_errors
from bot.domain.terms import Terms
from storage.tables import ActionPoint, ActionStatus, ActionUpdate, Case, CaseStatus

DESCRIPTION_LIMIT = 500
REASON_LIMIT = 500


class Rag(StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"
    DONE = "done"


@dataclass(frozen=True)
class NewAction:
    description: str
    owner_id: str
    due_on: date | None


def rag(item: ActionPoint, today: date, window_days: int) -> Rag:
    """Red when overdue, amber when due within the reminder window, green otherwise."""
    if item.status != ActionStatus.OPEN:
        return Rag.DONE
    if today > item.due_on:
        return Rag.RED
    if (item.due_on - today).days <= window_days:
        return Rag.AMBER
    return Rag.GREEN


def check_new(action: NewAction, today: date, directory_names: Sequence[str], field: str,
              people: People) -> dict[str, str]:
    """Problems with one new action point, keyed by `field` + _description/_owner/_due.

    The owner must be an active person of the workspace (`people`, issue 12 rule 4). Writes nothing.
    """
    errors: dict[str, str] = {}
    text = action.description.strip()
    if not text:
        errors[f"{field}_description"] = "Describe the action."
    elif len(text) > DESCRIPTION_LIMIT:
        errors[f"{field}_description"] = f"Keep this under {DESCRIPTION_LIMIT} characters."
    elif hits := find_person_names(text, directory_names):
        errors[f"{field}_description"] = describe_hits(hits)
    if not action.owner_id:
        errors[f"{field}_owner"] = "Choose who owns this action."
    else:
        errors.update(person_errors(people, {f"{field}_owner": action.owner_id}))
    if action.due_on is None:
        errors[f"{field}_due"] = "Choose a due date."
    elif action.due_on < today:
        errors[f"{field}_due"] = "The due date has passed. Choose today or later."
    return errors


def _next_number(session: Session, case_id: int) -> int:
    current = session.exec(select(func.max(ActionPoint.number)).where(ActionPoint.case_id == case_id)).one()
    return int(current or 0) + 1


def add(session: Session, case: Case, action: NewAction, actor: str, now: datetime, source: str,
        principle: str | None = None) -> ActionPoint:
    """Create one action point (already validated) in the caller's transaction."""
    assert case.id is not None and action.due_on is not None
    item = ActionPoint(case_id=case.id, number=_next_number(session, case.id), description=action.description.strip(),
                       owner_id=action.owner_id, due_on=action.due_on, source=source, principle=principle,
                       created_by=actor, created_at=now)
    session.add(item)
    session.flush()
    record_event(session, case.id, actor, "action_added", now, action=item.number, owner=item.owner_id,
                 due=item.due_on.isoformat(), source=source)
    return item


def get(session: Session, action_id: int) -> tuple[ActionPoint, Case]:
    item = session.get(ActionPoint, action_id)
    case = session.get(Case, item.case_id) if item else None
    if item is None or case is None:
        raise NotFound("That action point no longer exists.")
    return item, case


def may_change(item: ActionPoint, case: Case, actor: str, chair_ids: set[str]) -> None:
    if actor != item.owner_id and actor not in chair_ids:
        raise NotAllowed(f"Only the owner of action {item.number} on {case.reference}, or the chair, can change it.")
    if item.status != ActionStatus.OPEN:
        raise NotAllowed(f"Action {item.number} on {case.reference} is already {item.status}.")
    if case.status == CaseStatus.CLOSED:
        raise NotAllowed(f"{case.reference} is closed.")


def mark_done(session: Session, action_id: int, actor: str, now: datetime, chair_ids: set[str]) -> ActionPoint:
    item, case = get(session, action_id)
    if item.status == ActionStatus.DONE:
        return item  # a second click on Done changes nothing
    may_change(item, case, actor, chair_ids)
    item.status, item.closed_at = ActionStatus.DONE, now
    session.add(item)
    session.add(ActionUpdate(action_id=action_id, at=now, actor_id=actor, kind="done"))
    record_event(session, case.id or 0, actor, "action_done", now, action=item.number)
    return item


def add_update(session: Session, action_id: int, actor: str, text: str, now: datetime, chair_ids: set[str],
               directory_names: Sequence[str] = ()) -> ActionPoint:
    item, case = get(session, action_id)
    may_change(item, case, actor, chair_ids)
    text = text.strip()
    if not text:
        raise InvalidInput({"update": "Write the update."})
    if len(text) > REASON_LIMIT:
        raise InvalidInput({"update": f"Keep this under {REASON_LIMIT} characters."})
    if hits := find_person_names(text, directory_names):
        raise InvalidInput({"update": describe_hits(hits)})
    session.add(ActionUpdate(action_id=action_id, at=now, actor_id=actor, kind="update", text=text))
    record_event(session, case.id or 0, actor, "action_update", now, action=item.number)
    return item


def change_due(session: Session, action_id: int, actor: str, new_due: date | None, reason: str, now: datetime,
               today: date, chair_ids: set[str], directory_names: Sequence[str] = ()) -> ActionPoint:
    """Move the due date; the reason is required and kept in the item's trail."""
    item, case = get(session, action_id)
    may_change(item, case, actor, chair_ids)
    errors: dict[str, str] = {}
    if new_due is None:
        errors["due"] = "Choose the new due date."
    elif new_due < today:
        errors["due"] = "The new due date has passed. Choose today or later."
    elif new_due == item.due_on:
        errors["due"] = "That is the current due date."
    reason = reason.strip()
    if not reason:
        errors["reason"] = "Say why the date moves: it is kept in the case record."
    elif hits := find_person_names(reason, directory_names):
        errors["reason"] = describe_hits(hits)
    if errors:
        raise InvalidInput(errors)
    assert new_due is not None
    session.add(ActionUpdate(action_id=action_id, at=now, actor_id=actor, kind="due_date", text=reason,
                             old_due=item.due_on, new_due=new_due))
    record_event(session, case.id or 0, actor, "action_due_changed", now, action=item.number,
                 old=item.due_on.isoformat(), new=new_due.isoformat())
    item.due_on = new_due
    session.add(item)
    return item


def drop(session: Session, action_id: int, actor: str, reason: str, now: datetime, chair_ids: set[str]) -> ActionPoint:
    item, case = get(session, action_id)
    may_change(item, case, actor, chair_ids)
    if not reason.strip():
        raise InvalidInput({"reason": "Say why the action is dropped: it is kept in the case record."})
    item.status, item.drop_reason, item.closed_at = ActionStatus.DROPPED, reason.strip(), now
    session.add(item)
    session.add(ActionUpdate(action_id=action_id, at=now, actor_id=actor, kind="dropped", text=reason.strip()))
    record_event(session, case.id or 0, actor, "action_dropped", now, action=item.number)
    return item


def open_for_owner(session: Session, owner_id: str) -> list[tuple[ActionPoint, Case]]:
    """The owner's open items on cases not closed, soonest due first."""
    rows = session.exec(select(ActionPoint, Case).join(Case, Case.id == ActionPoint.case_id).where(  # type: ignore[arg-type]
        ActionPoint.owner_id == owner_id, ActionPoint.status == ActionStatus.OPEN,
        Case.status != CaseStatus.CLOSED).order_by(ActionPoint.due_on, ActionPoint.id))
    return [(a, c) for a, c in rows]


def for_case(session: Session, case_id: int) -> list[ActionPoint]:
    return list(session.exec(select(ActionPoint).where(ActionPoint.case_id == case_id).order_by(ActionPoint.number)))


def counts(session: Session, case_id: int, today: date) -> tuple[int, int]:
    """(open, overdue) for the case header."""
    items = [i for i in for_case(session, case_id) if i.status == ActionStatus.OPEN]
    return len(items), sum(1 for i in items if today > i.due_on)


def reminder_dates(item: ActionPoint, circulated_on: date) -> tuple[date, ...]:
    """The days an open item is due a reminder after `circulated_on`: weekly from circulation, the
    day before it is due, and the day it becomes overdue (the day after its due date)."""
    days = {item.due_on - timedelta(days=1), item.due_on + timedelta(days=1)}
    return tuple(sorted(d for d in days if d > circulated_on))


def weekly(circulated_on: date, day: date, every: int) -> bool:
    return day > circulated_on and (day - circulated_on).days % every == 0


def reminder_due_on(item: ActionPoint, circulated_on: date, day: date, terms: Terms) -> bool:
    """Whether `item` is due a reminder on `day`."""
    return weekly(circulated_on, day, terms.reminders.action_reminder_days) or day in reminder_dates(item,
                                                                                                    circulated_on)


def next_reminder_day(item: ActionPoint, circulated_on: date, after: date, terms: Terms) -> date:
    """The first day after `after` on which `item` is due a reminder."""
    every = terms.reminders.action_reminder_days
    weeks = (after - circulated_on).days // every + 1
    candidates = [circulated_on + timedelta(days=every * max(weeks, 1))]
    candidates += [d for d in reminder_dates(item, circulated_on) if d > after]
    return min(candidates)
