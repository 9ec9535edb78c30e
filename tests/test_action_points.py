"""Action point rules: RAG status, the reminder days, and the trail kept for every change."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.domain import action_points
from bot.domain.action_points import NewAction, Rag
from bot.domain.terms import load_terms
from storage.tables import ActionPoint, ActionStatus
from tests.factories import BOT_USER, DEACTIVATED, HERE, OUTSIDER

TERMS = load_terms()


def _item(due: date, status: str = ActionStatus.OPEN) -> ActionPoint:
    return ActionPoint(case_id=1, number=1, description="Review rota", owner_id="U0OWNER", due_on=due,
                       status=status, source="outcome", created_by="U0CHAIR01",
                       created_at=datetime(2026, 11, 1, tzinfo=UTC))


@pytest.mark.parametrize(("due", "today", "expected"), [
    pytest.param(date(2026, 12, 1), date(2026, 11, 1), Rag.GREEN, id="a month away: green"),
    pytest.param(date(2026, 12, 1), date(2026, 11, 24), Rag.AMBER, id="exactly the reminder window away: amber"),
    pytest.param(date(2026, 12, 1), date(2026, 12, 1), Rag.AMBER, id="due today: amber, not yet overdue"),
    pytest.param(date(2026, 12, 1), date(2026, 12, 2), Rag.RED, id="the day after: red"),
])
def test_rag_follows_the_due_date_and_the_reminder_window(due: date, today: date, expected: Rag) -> None:
    assert action_points.rag(_item(due), today, TERMS.reminders.action_reminder_days) == expected


def test_a_done_item_is_never_red() -> None:
    assert action_points.rag(_item(date(2026, 1, 1), ActionStatus.DONE), date(2026, 12, 1), 7) == Rag.DONE


@pytest.mark.parametrize(("day", "due_a_reminder"), [
    pytest.param(date(2026, 11, 9), True, id="a week after circulation"),
    pytest.param(date(2026, 11, 16), True, id="two weeks after circulation"),
    pytest.param(date(2026, 11, 10), False, id="an ordinary day"),
    pytest.param(date(2026, 11, 19), True, id="the day before it is due"),
    pytest.param(date(2026, 11, 20), False, id="the due date itself"),
    pytest.param(date(2026, 11, 21), True, id="the day it becomes overdue"),
])
def test_reminder_days(day: date, due_a_reminder: bool) -> None:
    item = _item(date(2026, 11, 20))
    assert action_points.reminder_due_on(item, date(2026, 11, 2), day, TERMS) is due_a_reminder


def test_the_next_reminder_day_is_the_earliest_of_weekly_day_before_and_overdue() -> None:
    item = _item(date(2026, 11, 12))
    circulated = date(2026, 11, 2)
    assert action_points.next_reminder_day(item, circulated, circulated, TERMS) == date(2026, 11, 9)
    assert action_points.next_reminder_day(item, circulated, date(2026, 11, 9), TERMS) == date(2026, 11, 11)
    assert action_points.next_reminder_day(item, circulated, date(2026, 11, 11), TERMS) == date(2026, 11, 13)
    assert action_points.next_reminder_day(item, circulated, date(2026, 11, 13), TERMS) == date(2026, 11, 16)


@pytest.mark.parametrize(("action", "field", "message"), [
    pytest.param(NewAction("", OUTSIDER, date(2026, 12, 1)), "a_description", "Describe the action.",
                 id="no description"),
    pytest.param(NewAction("Ask Dr Thistlewood to review", OUTSIDER, date(2026, 12, 1)), "a_description",
                 "looks like a name", id="a name in the description"),
    pytest.param(NewAction("Review rota", "", date(2026, 12, 1)), "a_owner", "Choose who owns", id="no owner"),
    pytest.param(NewAction("Review rota", OUTSIDER, date(2026, 10, 1)), "a_due", "has passed", id="due date past"),
    pytest.param(NewAction("Review rota", OUTSIDER, None), "a_due", "Choose a due date", id="no due date"),
    pytest.param(NewAction("Review rota", DEACTIVATED[0], date(2026, 12, 1)), "a_owner",
                 "That person's account is deactivated.", id="owner deactivated"),
    pytest.param(NewAction("Review rota", BOT_USER, date(2026, 12, 1)), "a_owner", "Choose a person, not an app.",
                 id="owner an app"),
    pytest.param(NewAction("Review rota", "U0NOBODY1", date(2026, 12, 1)), "a_owner",
                 "That person is not a member of this workspace.", id="owner unknown to the workspace"),
])
def test_a_new_action_point_is_refused_at_the_field_that_is_wrong(action: NewAction, field: str,
                                                                   message: str) -> None:
    errors = action_points.check_new(action, date(2026, 11, 2), (), "a", HERE)
    assert message in errors[field]
