"""Convening through the Teams bot as a person would, for the Teams end-to-end tests: the convene dialog opened,
its inputs sent as Teams sends them (input id -> string, people by Entra id), and what reached the stand-in read."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from sqlmodel import select

from bot.clock import now
from bot.sandbox.teams_api import visible_text
from bot.sandbox.teams_checks import invoke_response_refusal
from storage.tables import Case
from tests.factories import call_in, form, seat_choices
from tests.teams_bot import TeamsBotHarness

MANAGER = "U0MANAGER"


def wait(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def cases(bot: TeamsBotHarness) -> list[Case]:
    with bot.services.sessions() as session:
        return list(session.exec(select(Case)))


def elements(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "type" in node:
            yield node
        for key, value in node.items():
            if key not in ("data", "choices", "choices.data"):
                yield from elements(value)
    elif isinstance(node, list):
        for value in node:
            yield from elements(value)


def dialog_card(answer: Mapping[str, Any]) -> dict[str, Any]:
    """The card of a task/fetch or task/submit answer that shows (or shows again) a dialog."""
    assert invoke_response_refusal(answer) is None  # what Teams would take
    task = answer["task"]
    assert task["type"] == "continue", task
    return task["value"]["card"]["content"]


def closing(answer: Mapping[str, Any]) -> str:
    """The message of a task/submit answer that closes the dialog."""
    task = answer["task"]
    assert task["type"] == "message", task
    return str(task["value"])


def inputs(card: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in elements(card["body"]) if str(e["type"]).startswith("Input.")}


def error_under(card: Mapping[str, Any], field: str) -> str | None:
    body = card["body"]
    index = next(i for i, e in enumerate(body) if e.get("id") == field)
    below = body[index + 1] if index + 1 < len(body) else {}
    return below.get("text") if below.get("color") == "Attention" else None


def typed(bot: TeamsBotHarness, **overrides: str) -> dict[str, str]:
    """The convene dialog's inputs as Teams sends them (input id -> string), people by their Entra ids."""
    f = form(now())
    day, at = call_in(now())
    values = {"profession": "nursing", "route": "incident", "concern_raised": "", "concern": f.concern,
              "risks": f.risks, "call_date": day.isoformat(), "call_time": f"{at:%H:%M}", "duration": "60",
              "call_details": f.call_details, "extra_members": "", "short_notice": "no"}
    for seat, uid in seat_choices().items():
        values[f"seat_{seat}"] = bot.person(uid).id
    values.update(overrides)
    return values


def open_form(bot: TeamsBotHarness, uid: str = MANAGER) -> tuple[str, dict[str, Any]]:
    """Open the convene dialog as Teams would from the command's card: (its nonce, its card)."""
    response = bot.open_dialog(bot.person(uid), {"dialog_id": "convene"})
    assert response.status_code == 200
    card = dialog_card(response.json())
    (submit,) = card["actions"]
    assert submit["data"]["action"] == "convene_submit"
    return submit["data"]["nonce"], card


def send(bot: TeamsBotHarness, nonce: str, values: Mapping[str, str], uid: str = MANAGER) -> dict[str, Any]:
    response = bot.submit_dialog(bot.person(uid), {"action": "convene_submit", "nonce": nonce, **values})
    assert response.status_code == 200
    return response.json()


def seen(bot: TeamsBotHarness, uid: str) -> int:
    """How many messages `uid`'s 1:1 chat shows now (each test starts from what the previous one left)."""
    return len(bot.teams.personal_messages(bot.person(uid).id))


def told(bot: TeamsBotHarness, uid: str, words: str, since: int = 0) -> str:
    """A message with `words` in `uid`'s 1:1 chat, among those after the first `since`, once it arrived."""
    person = bot.person(uid)
    return wait(lambda: next((t for t in map(visible_text, bot.teams.personal_messages(person.id)[since:])
                              if words in t), None))


def convened(bot: TeamsBotHarness) -> Case:
    """A case convened by the manager through the dialog, once every invitation is in its member's 1:1 chat."""
    before = {uid: seen(bot, uid) for uid in seat_choices().values()}
    nonce, _ = open_form(bot)
    closing(send(bot, nonce, typed(bot)))
    told(bot, MANAGER, "is convened", before[MANAGER])
    for uid in set(seat_choices().values()) - {MANAGER}:
        told(bot, uid, "You are invited", before[uid])
    (case,) = cases(bot)
    return case
