"""Cases for the Teams end-to-end tests, set up through the domain as the Slack tests do, sending through the
running Teams bot's own workspace (so the case chat, header and board are what the stand-in holds)."""

from __future__ import annotations

import time as clock_time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from sqlmodel import select

from bot.domain import convening, roster
from bot.domain.people import FixedPeople
from bot.sandbox.teams_api import visible_text
from storage.tables import Case
from tests.factories import LONDON, seat_choices
from tests.factories import form as convene_form
from tests.teams_bot import TeamsBotHarness

T = TypeVar("T")


def convene(tb: TeamsBotHarness, convener: str = "U0MANAGER", **overrides: Any) -> Case:
    """A case convened now by `convener` (a tests/factories.py id) with the usual seats, through the domain."""
    now = tb.clock()
    seats = {seat: tb.person(uid).id for seat, uid in seat_choices().items()}
    f = convene_form(now, convener_id=tb.person(convener).id, seats=seats, submission_key=uuid.uuid4().hex,
                     **overrides)
    with tb.services.sessions() as session:
        entries = roster.entries_for(session, [u for u in f.seats.values() if u])
    people = FixedPeople(active=frozenset(u.id for u in tb.teams.users if u.account_enabled))
    request = convening.validate(f, tb.terms, entries, (), now, LONDON, people=people)
    done = convening.convene(tb.services.sessions, tb.services.engine, request, tb.terms, tb.bot.workspace(), now,
                             LONDON)
    return case_named(tb, done.reference)


def case_named(tb: TeamsBotHarness, reference: str) -> Case:
    with tb.services.sessions() as session:
        return session.exec(select(Case).where(Case.reference == reference)).one()


def eventually(check: Callable[[], T], timeout: float = 8.0) -> T:
    """`check()` once it returns something truthy (work finished after an invoke's answer)."""
    deadline = clock_time.monotonic() + timeout
    while True:
        found = check()
        if found or clock_time.monotonic() > deadline:
            assert found, "timed out waiting"
            return found
        clock_time.sleep(0.02)


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [visible_text(m) for m in messages]


def dialog_card(answer: dict[str, Any]) -> dict[str, Any]:
    """The card a task/fetch or task/submit answer shows in the dialog."""
    task = answer["task"]
    assert task["type"] == "continue", task
    return task["value"]["card"]["content"]


def submit_data(card: dict[str, Any]) -> dict[str, Any]:
    """The data the dialog's own submit button sends (its action and nonce)."""
    (submit,) = [a for a in card.get("actions", []) if a["type"] == "Action.Submit"]
    return dict(submit["data"])


def dialog_text(answer: dict[str, Any]) -> str:
    """The message a task answer closes the dialog with."""
    task = answer["task"]
    assert task["type"] == "message", task
    return str(task["value"])
