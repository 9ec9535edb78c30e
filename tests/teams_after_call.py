"""Helpers for the Teams tests after the call: a case convened quickly through the domain and the Teams stand-in
(not by clicking through the convene dialog: that is tests/test_teams_convene_http.py's), the outcome dialog's
answers, and reading what Teams received (cards' visible text, invoke answers)."""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

import httpx
from sqlmodel import select

from bot.domain import convening, roster
from bot.domain.fairness import PRINCIPLES
from bot.domain.people import FixedPeople
from bot.domain.reminders import TickReport, send_due
from bot.sandbox.teams_api import visible_text
from storage.tables import Case
from tests.factories import LONDON, form, seat_choices
from tests.teams_bot import TeamsBotHarness


def warm_people(bot: TeamsBotHarness, tries: int = 5) -> None:
    """Have the directory confirm everyone once (it caches standings for two minutes): on a loaded machine a
    first Graph lookup can outlast the directory's one-second wait, and an owner would be "not confirmed"."""
    from bot.domain.people import Standing

    ids = [u.id for uid, u in bot.users.items() if uid.startswith("U0") and uid not in ("U0OUTSIDE", "U0LEFT001")]
    for _ in range(tries):
        if all(s is Standing.OK for s in bot.services.directory.standing(ids).values()):
            return


def convene_case(bot: TeamsBotHarness, key: str = "T1", days: int = 3) -> Case:
    """A case convened at the bot's clock for a call in `days`, through the domain and the bot's Teams workspace:
    its group chat made in the stand-in with every member, the header and the board posted there."""
    now = bot.clock()
    seats = {seat: bot.person(uid).id for seat, uid in seat_choices().items()}
    local = (now + timedelta(days=days)).astimezone(LONDON)
    f = form(now, convener_id=bot.person("U0MANAGER").id, submission_key=key, seats=seats,
             call_date=local.date(), call_time=time(14, 0))
    services = bot.services
    with services.sessions() as session:
        entries = roster.entries_for(session, [u for u in f.seats.values() if u])
    # The people are the stand-in's (known active): setup does not wait on Graph, which the convene tests cover.
    people = FixedPeople(active=frozenset(u.id for u in bot.users.values()))
    request = convening.validate(f, bot.terms, entries, (), now, LONDON, people=people)
    done = convening.convene(services.sessions, services.engine, request, bot.terms, bot.bot.workspace(), now,
                             LONDON)
    warm_people(bot)
    with services.sessions() as session:
        return session.exec(select(Case).where(Case.id == done.case_id)).one()


def tick(bot: TeamsBotHarness) -> TickReport:
    """One scheduler tick at the bot's clock, sending through the bot's Teams workspace."""
    services = bot.services
    return send_due(services.sessions, services.engine, bot.bot.workspace(), bot.terms, LONDON, bot.clock(),
                    worker="test")


def due(days: int = 14, bot: TeamsBotHarness | None = None) -> date:
    from bot.clock import now

    at = bot.clock() if bot is not None else now()
    return at.astimezone(LONDON).date() + timedelta(days=days)


def outcome_answers(*rows: tuple[str, str, date | None], **overrides: Any) -> dict[str, Any]:
    """The outcome dialog's inputs as Teams sends them (no roll-call taken): text, choice values, Entra ids,
    dates as YYYY-MM-DD. Each row is (description, owner's Entra id, due date)."""
    values: dict[str, Any] = {
        "process": "informal", "rationale": "A training need rather than a conduct matter: supervised practice first.",
        "risk_level": "moderate", "ml_policy": "no", "legal_advice": "no", "welfare": "yes",
        "line_manager_support": "Weekly check-in with the service lead.", "quorate_stated": "yes",
        "quorum_statement": "The chair counted four members on the call, the nursing lead among them.",
        **{f"fairness_{p.key}": "yes" for p in PRINCIPLES},
    }
    for n, (description, owner, day) in enumerate(rows, start=1):
        values[f"action_{n}_description"] = description
        values[f"action_{n}_owner"] = owner
        if day is not None:
            values[f"action_{n}_due"] = day.isoformat()
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


# --- what came back ---------------------------------------------------------------------------------------------


def dialog_card(response: httpx.Response) -> dict[str, Any]:
    """The card a task/fetch or task/submit answer shows (type continue)."""
    assert response.status_code == 200, response.text
    task = response.json()["task"]
    assert task["type"] == "continue", task
    return dict(task["value"]["card"]["content"])


def dialog_closed_with(response: httpx.Response) -> str:
    """The message a task answer closes the dialog with (type message)."""
    assert response.status_code == 200, response.text
    task = response.json()["task"]
    assert task["type"] == "message", task
    return str(task["value"])


def submit_data(card: dict[str, Any]) -> dict[str, Any]:
    """The data of the card's Action.Submit (the dialog's submit button: action and nonce)."""
    (submit,) = [a for a in card.get("actions", []) if a.get("type") == "Action.Submit"]
    return dict(submit["data"])


def buttons(card: Any) -> list[dict[str, Any]]:
    """Every action in a card, wherever it sits (actions, ActionSets)."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("type"), str) and node["type"].startswith("Action."):
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return found


def card_of(activity: dict[str, Any]) -> dict[str, Any]:
    return dict(activity["attachments"][0]["content"])


def with_text(activities: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    return [a for a in activities if text in visible_text(a)]


def inputs(card: Any) -> dict[str, dict[str, Any]]:
    """The card's inputs by id."""
    return {b["id"]: b for b in _elements(card) if str(b.get("type", "")).startswith("Input.")}


def _elements(node: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if isinstance(node, dict):
        out.append(node)
        for value in node.values():
            out += _elements(value)
    elif isinstance(node, list):
        for item in node:
            out += _elements(item)
    return out


def card_text(card: dict[str, Any]) -> str:
    return visible_text({"attachments": [{"content": card}]})


def record_outcome(bot: TeamsBotHarness, case: Case, *rows: tuple[str, str, date | None]) -> str:
    """The chair records the outcome through the case card's dialog; the dialog's closing message."""
    chair = bot.person("U0CHAIR01")
    opened = bot.open_dialog(chair, {"dialog_id": "case_record_outcome", "value": case.reference},
                             reply_to_id=case.header_ref, conversation=case.room_id)
    data = submit_data(dialog_card(opened))
    for _ in rows[1:]:  # the dialog has one row until "Add another action point" is pressed
        bot.submit_dialog(chair, {"action": "outcome_add_row", "nonce": data["nonce"]}, conversation=case.room_id)
    return dialog_closed_with(bot.submit_dialog(chair, {**outcome_answers(*rows), **data}, conversation=case.room_id))
