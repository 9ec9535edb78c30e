"""Owners are reminded of open action points weekly, the day before due and when overdue, combined per owner per day.

Each owner has at most one reminder digest waiting: a scheduled message at 09:00 (organisation's
zone) on the next day any of their items is due a reminder (bot/action_points.next_reminder_day:
weekly from the outcome's circulation, the day before the due date, the day after it). When it is
sent (or found to have nothing to say) the next one is planned, so the chain is durable and each
day's reminder goes out once. After downtime the one late digest covers every missed day.

An item still open the day after its due date is escalated once to the case's chair; a new due
date owes a new escalation. Reminders stop when the item is done or dropped, or the case closed.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select, update

from bot.domain import action_points
from bot.domain.action_lines import ActionLine, DayView, action_line
from bot.domain.agenda import split_text
from bot.domain.notify import Message, MessageKind, within
from bot.domain.outbox import Delivery, Drop, Due
from bot.domain.outcomes import chair_ids
from bot.domain.terms import Terms
from storage.db import SessionFactory, transaction
from storage.tables import (
    ActionPoint,
    ActionStatus,
    ActionUpdate,
    Case,
    CaseStatus,
    MessageState,
    Outcome,
    ScheduledMessage,
)

DIGEST = MessageKind.ACTION_DIGEST
OVERDUE = MessageKind.OVERDUE_ESCALATION
ROOM = "room"
SEND_AT = time(9, 0)


# --- view models ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemView:
    """One action point in a digest or list, with its buttons while it is open."""

    action_id: int
    reference: str
    line: ActionLine
    open: bool
    latest_label: str  # "Latest update" / "Due date moved"; empty when there is none
    latest_chunks: tuple[str, ...]


@dataclass(frozen=True)
class DigestView:
    """The owner's action points: a reminder digest, or the list shown by `/pmccg actions`."""

    owner_id: str
    reminder: bool
    late: bool
    count: int  # the action points it is about (a reminder's), or the open ones (a list's): the headline's number
    summary: str  # the notification text
    items: tuple[ItemView, ...]
    more: int  # open items not shown (over the message's limit)


@dataclass(frozen=True)
class OverdueView:
    reference: str
    number: int
    owner_id: str
    description_chunks: tuple[str, ...]
    due: DayView
    late: bool


@dataclass(frozen=True)
class Reminded:
    """An open item on an open case whose outcome was circulated (on `circulated_on`, local date)."""

    item: ActionPoint
    case: Case
    circulated_on: date


# --- reading ------------------------------------------------------------------------------------------


def _today(now: datetime, zone: ZoneInfo) -> date:
    return now.astimezone(zone).date()


def send_time(day: date, zone: ZoneInfo) -> datetime:
    """09:00 on `day` on the organisation's wall clock, as UTC."""
    return datetime.combine(day, SEND_AT, tzinfo=zone).astimezone(UTC)


def reminded_items(session: Session, owner_id: str, zone: ZoneInfo) -> list[Reminded]:
    """The owner's open items on cases not closed whose outcome has been circulated, soonest due first."""
    rows = session.exec(
        select(ActionPoint, Case, Outcome.circulated_at)
        .join(Case, col(Case.id) == col(ActionPoint.case_id))
        .join(Outcome, col(Outcome.case_id) == col(Case.id))
        .where(col(ActionPoint.owner_id) == owner_id, col(ActionPoint.status) == ActionStatus.OPEN,
               col(Case.status) != CaseStatus.CLOSED, col(Outcome.circulated_at).is_not(None))
        .order_by(col(ActionPoint.due_on), col(ActionPoint.id)))
    return [Reminded(item, case, _today(at, zone)) for item, case, at in rows if at is not None]


def digest_key(owner_id: str, day: date) -> str:
    return f"digest:{owner_id}:{day.isoformat()}"


def overdue_key(item: ActionPoint) -> str:
    return f"overdue:{item.id}:{item.due_on.isoformat()}"


def _row_day(row: ScheduledMessage) -> date | None:
    try:
        return date.fromisoformat(json.loads(row.detail or "{}")["day"])
    except (KeyError, TypeError, ValueError):
        return None


# --- planning -----------------------------------------------------------------------------------------


def _insert(session: Session, values: dict[str, Any]) -> None:
    """Insert a scheduled message unless its key exists: atomic on both backends, so two planners
    at once (a click and the scheduler) never fail on the unique key."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.exec(insert(ScheduledMessage).values(**values).on_conflict_do_nothing(  # type: ignore[call-overload]
        index_elements=["idempotency_key"]))


def _ensure_digest(session: Session, owner_id: str, day: date, zone: ZoneInfo) -> None:
    key, due_at = digest_key(owner_id, day), send_time(day, zone)
    # A digest cancelled when another day came first is owed again: put it back.
    session.exec(update(ScheduledMessage).where(  # type: ignore[call-overload]
        col(ScheduledMessage.idempotency_key) == key, col(ScheduledMessage.state) == MessageState.CANCELLED,
    ).values(state=MessageState.PENDING, due_at=due_at, attempts=0, claimed_by=None, claimed_until=None,
             last_error=None))
    _insert(session, dict(case_id=None, kind=DIGEST, recipient=owner_id, due_at=due_at, idempotency_key=key,
                          collapse_key=f"digest:{owner_id}", state=MessageState.PENDING, attempts=0,
                          detail=json.dumps({"day": day.isoformat()})))


def _ensure_escalation(session: Session, item: ActionPoint, zone: ZoneInfo) -> None:
    _insert(session, dict(case_id=item.case_id, kind=OVERDUE, recipient=ROOM,
                          due_at=send_time(item.due_on + timedelta(days=1), zone), idempotency_key=overdue_key(item),
                          state=MessageState.PENDING, attempts=0,
                          detail=json.dumps({"action_id": item.id, "due_on": item.due_on.isoformat()})))


def plan_owner(session: Session, owner_id: str, terms: Terms, zone: ZoneInfo, now: datetime) -> None:
    """Owe the owner's next reminder digest and each open item's overdue escalation (idempotent).

    The next digest is at 09:00 on the first reminder day after today. A waiting digest for a later
    day is cancelled (it is planned again once the earlier one is sent); one due today or missed
    is left to be sent, and plans the next itself. Writes in the caller's transaction.
    """
    today = _today(now, zone)
    reminded = reminded_items(session, owner_id, zone)
    for r in reminded:
        _ensure_escalation(session, r.item, zone)
    target = min((action_points.next_reminder_day(r.item, r.circulated_on, today, terms) for r in reminded),
                 default=None)
    waiting = False
    for row in session.exec(select(ScheduledMessage).where(
            col(ScheduledMessage.kind) == DIGEST, col(ScheduledMessage.recipient) == owner_id,
            col(ScheduledMessage.state) == MessageState.PENDING)):
        day = _row_day(row)
        if day is not None and day <= today:
            waiting = True
        elif day != target:
            session.exec(update(ScheduledMessage).where(  # type: ignore[call-overload]
                col(ScheduledMessage.id) == row.id, col(ScheduledMessage.state) == MessageState.PENDING,
            ).values(state=MessageState.CANCELLED))
    if target is not None and not waiting:
        _ensure_digest(session, owner_id, target, zone)


# --- views --------------------------------------------------------------------------------------------


def _latest(session: Session, ids: Collection[int]) -> dict[int, ActionUpdate]:
    """The latest update or due-date change of each item."""
    found: dict[int, ActionUpdate] = {}
    if not ids:
        return found
    for row in session.exec(select(ActionUpdate).where(
            col(ActionUpdate.action_id).in_(list(ids)), col(ActionUpdate.kind).in_(["update", "due_date"]))
            .order_by(col(ActionUpdate.at), col(ActionUpdate.id))):
        found[row.action_id] = row
    return found


def _latest_text(entry: ActionUpdate | None) -> tuple[str, tuple[str, ...]]:
    if entry is None:
        return "", ()
    if entry.kind == "due_date" and entry.old_due and entry.new_due:
        return (f"Due date moved from {entry.old_due:%d %b %Y} to {entry.new_due:%d %b %Y}",
                split_text(entry.text) if entry.text else ())
    return "Latest update", split_text(entry.text) if entry.text else ()


def _items(session: Session, pairs: Iterable[tuple[ActionPoint, Case]], terms: Terms, zone: ZoneInfo,
           today: date) -> list[ItemView]:
    pairs = list(pairs)
    latest = _latest(session, [a.id for a, _ in pairs if a.id is not None])
    views = []
    for item, case in pairs:
        label, chunks = _latest_text(latest.get(item.id or 0))
        views.append(ItemView(action_id=item.id or 0, reference=case.reference,
                              line=action_line(item, today, terms.reminders.action_reminder_days, zone),
                              open=item.status == ActionStatus.OPEN and case.status != CaseStatus.CLOSED,
                              latest_label=label, latest_chunks=chunks))
    return views


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _references(views: Iterable[ItemView]) -> str:
    return ", ".join(dict.fromkeys(v.reference for v in views))


def _reminder_view(session: Session, owner_id: str, terms: Terms, zone: ZoneInfo, today: date,
                   reminded: list[Reminded], late: bool, limit: int | None) -> DigestView:
    views = _items(session, [(r.item, r.case) for r in reminded], terms, zone, today)
    shown = within(views, limit)
    count = _plural(len(views), "action point")
    return DigestView(
        owner_id=owner_id, reminder=True, late=late, count=len(views),
        summary=f"Action point reminder: {count} on {_references(views)}",
        items=tuple(shown), more=len(views) - len(shown))


def digest_view(session: Session, owner_id: str, terms: Terms, zone: ZoneInfo, today: date,
                shown: Collection[int] = (), limit: int | None = None) -> DigestView:
    """The owner's open items across cases, with RAG and buttons (for `/pmccg actions`, and for a
    reminder updated in place after a click). Items in `shown` stay listed once done or dropped,
    so the person sees what their click did. At most `limit` items (the platform's budget) are listed."""
    pairs = action_points.open_for_owner(session, owner_id)
    listed = {a.id for a, _ in pairs}
    for action_id in shown:
        if action_id in listed:
            continue
        item = session.get(ActionPoint, action_id)
        case = session.get(Case, item.case_id) if item is not None else None
        if item is not None and case is not None and item.owner_id == owner_id:
            pairs.append((item, case))
            listed.add(action_id)
    pairs.sort(key=lambda p: (p[0].due_on, p[0].id or 0))  # a clicked item keeps its place
    views = _items(session, pairs, terms, zone, today)
    still_open = sum(1 for v in views if v.open)
    page = within(views, limit)
    summary = f"Your open action points: {still_open}" if still_open else "You have no open action points."
    return DigestView(owner_id=owner_id, reminder=False, late=False, count=still_open, summary=summary,
                      items=tuple(page), more=len(views) - len(page))


# --- composers ----------------------------------------------------------------------------------------


def _first_day(due: Due, day: date) -> date:
    """The first day this digest covers: its own, or an older digest's that downtime made it replace."""
    rows = list(due.session.exec(select(ScheduledMessage).where(
        col(ScheduledMessage.collapse_key) == due.row.collapse_key, col(ScheduledMessage.id) != due.row.id,
        col(ScheduledMessage.due_at) < due.row.due_at,
        col(ScheduledMessage.state).in_([MessageState.SENT, MessageState.SUPERSEDED]))))
    last_sent = max((r.due_at for r in rows if r.state == MessageState.SENT), default=None)
    missed = [_row_day(r) for r in rows if r.state == MessageState.SUPERSEDED and (
        last_sent is None or r.due_at > last_sent)]
    return min([day, *(d for d in missed if d is not None)])


def compose_digest(due: Due) -> list[Delivery] | Drop:
    """The owner's items due a reminder on any day from the digest's day to today, in one message."""
    owner, terms, zone, now = due.row.recipient, due.terms, due.zone, due.now
    today = _today(now, zone)

    def plan_next(session: Session) -> None:
        plan_owner(session, owner, terms, zone, now)

    day = _row_day(due.row) or today
    first = min(_first_day(due, day), today)
    days = [first + timedelta(days=n) for n in range((today - first).days + 1)]
    items = [r for r in reminded_items(due.session, owner, zone)
             if any(action_points.reminder_due_on(r.item, r.circulated_on, d, terms) for d in days)]
    if not items:
        return Drop("nothing due", then=plan_next)
    view = _reminder_view(due.session, owner, terms, zone, today, items, due.late, due.budget.items_per_list)
    # A failed reminder still plans the next one, so one bad day never ends the chain. The ledger keeps the
    # items it listed, so they stay in view when a click updates it in place.
    return [Delivery(Message(DIGEST, view), user=owner, on_sent=lambda session, _posted: plan_next(session),
                     on_failed=plan_next, detail={"actions": [i.action_id for i in view.items]})]


def compose_overdue_escalation(due: Due) -> list[Delivery] | Drop:
    """The day after an item's due date, still open: tell the case's chair(s), once per due date."""
    case = due.case
    if case is None or case.status == CaseStatus.CLOSED:
        return Drop("case closed")
    item = due.session.get(ActionPoint, int(due.detail.get("action_id") or 0))
    if item is None or item.status != ActionStatus.OPEN:
        return Drop("not open")
    if item.due_on.isoformat() != due.detail.get("due_on"):
        return Drop("due date changed")
    if _today(due.now, due.zone) <= item.due_on:
        return Drop("not overdue")
    line = action_line(item, _today(due.now, due.zone), due.terms.reminders.action_reminder_days, due.zone)
    model = OverdueView(reference=case.reference, number=item.number, owner_id=item.owner_id,
                        description_chunks=line.description_chunks, due=line.due, late=due.late)
    message = Message(OVERDUE, model)
    chairs = sorted(chair_ids(due.session, due.terms, case))
    if not chairs:
        return [Delivery(message, room=case.room_id)]  # never lost: the case channel has the members
    return [Delivery(message, user=c) for c in chairs]


# --- changes from a button or form ---------------------------------------------------------------------


@dataclass(frozen=True)
class Changed:
    """An action point changed from a button or a form: what to tell the person and what to redraw."""

    action_id: int
    case_id: int
    number: int
    reference: str
    already: bool = False  # Done on an item already done: nothing changed


def complete(sessions: SessionFactory, terms: Terms, zone: ZoneInfo, action_id: int, actor: str,
             now: datetime) -> Changed:
    """Mark the item done (the owner or the case's chair) and re-plan its owner's reminders, in one
    transaction. Raises NotFound or NotAllowed, writing nothing; a second Done changes nothing."""
    with transaction(sessions) as session:
        item, case = action_points.get(session, action_id)
        already = item.status == ActionStatus.DONE
        action_points.mark_done(session, action_id, actor, now, chair_ids(session, terms, case))
        if not already:
            plan_owner(session, item.owner_id, terms, zone, now)
        return Changed(action_id, case.id or 0, item.number, case.reference, already)


def add_update(session: Session, terms: Terms, action_id: int, actor: str, text: str, now: datetime,
               directory_names: Sequence[str]) -> Changed:
    """Add an update to the item's trail, in the caller's transaction (a form's, bot/domain/forms.py).
    Raises InvalidInput at the field, NotFound or NotAllowed."""
    item, case = action_points.get(session, action_id)
    action_points.add_update(session, action_id, actor, text, now, chair_ids(session, terms, case), directory_names)
    return Changed(action_id, case.id or 0, item.number, case.reference)


def change_due(session: Session, terms: Terms, zone: ZoneInfo, action_id: int, actor: str, new_due: date | None,
               reason: str, now: datetime, directory_names: Sequence[str]) -> Changed:
    """Move the due date with its reason and re-plan the owner's reminders and the escalation, in the
    caller's transaction (a form's). Raises InvalidInput at the field, NotFound or NotAllowed."""
    item, case = action_points.get(session, action_id)
    action_points.change_due(session, action_id, actor, new_due, reason, now, _today(now, zone),
                             chair_ids(session, terms, case), directory_names)
    plan_owner(session, item.owner_id, terms, zone, now)
    return Changed(action_id, case.id or 0, item.number, case.reference)


# --- checks before a form opens -----------------------------------------------------------------------


def check_can_change(session: Session, terms: Terms, action_id: int, actor: str) -> tuple[ActionPoint, Case]:
    """Raise NotFound or NotAllowed unless `actor` may change the item now (checked again on saving)."""
    item, case = action_points.get(session, action_id)
    action_points.may_change(item, case, actor, chair_ids(session, terms, case))  # the one rule, in action_points
    return item, case


@dataclass(frozen=True)
class ItemToChange:
    """What a form changing one action point shows: plain values, no table row."""

    reference: str
    number: int
    due_on: date
    description: str


def item_to_change(sessions: SessionFactory, terms: Terms, action_id: int, actor: str) -> ItemToChange:
    """A platform's one call before an action point's form opens: `check_can_change`, as plain values."""
    with sessions() as session:
        item, case = check_can_change(session, terms, action_id, actor)
        return ItemToChange(case.reference, item.number, item.due_on, item.description)
