"""An action point's "Add an update" and "New due date" as Teams dialogs: Slack's modals
(handlers/slack/listeners/actions.py), the same words and field ids, read into the same values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.domain import action_points
from bot.domain.action_reminders import ItemToChange
from handlers.teams.cards import escape_text
from handlers.teams.dialogs.fields import CardForm, Element, Reader, Reading, adaptive_card

UPDATE_SUBMIT = "action_update_submit"
DUE_SUBMIT = "action_due_submit"
UPDATE_TITLE, DUE_TITLE = "Add an update", "New due date"
UPDATE = "update"  # the update's text (action_reminders.add_update's field)
DUE = "due"  # the new date (action_reminders.change_due's fields: due, reason)
REASON = "reason"


def _long_date(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def _about(item: ItemToChange) -> list[Element]:
    # The description is typed text: escaped, in a TextBlock of its own.
    about = f"**Action {item.number}** on **{escape_text(item.reference)}**, due {_long_date(item.due_on)}."
    return [{"type": "TextBlock", "wrap": True, "text": about},
            {"type": "TextBlock", "wrap": True, "text": escape_text(item.description)}]


def action_update_dialog(values: Mapping[str, Any] = {}, errors: Mapping[str, str] = {}, *, nonce: str,
                         item: ItemToChange) -> dict[str, Any]:
    form = CardForm(values, errors)
    form.body[:0] = _about(item)
    form.text(UPDATE, "Update", limit=action_points.REASON_LIMIT, multiline=True,
              placeholder="What has happened so far",
              hint="Kept in the case record. Refer to the staff member by case number only.")
    return adaptive_card(form.body, submit_title="Add the update", action=UPDATE_SUBMIT, nonce=nonce)


def action_due_dialog(values: Mapping[str, Any] = {}, errors: Mapping[str, str] = {}, *, nonce: str,
                      item: ItemToChange) -> dict[str, Any]:
    form = CardForm(values, errors)
    form.body[:0] = _about(item)
    form.date(DUE, "New due date", initial=item.due_on)
    form.text(REASON, "Reason", limit=action_points.REASON_LIMIT, multiline=True, placeholder="Why the date moves",
              hint="The old and new dates and your reason are kept in the case record.")
    return adaptive_card(form.body, submit_title="Change the date", action=DUE_SUBMIT, nonce=nonce)


def read_action_update(data: Mapping[str, Any]) -> Reading[str]:
    """The update's text, for action_reminders.add_update."""
    read = Reader(data)
    return read.reading(read.text(UPDATE))


@dataclass(frozen=True)
class NewDue:
    """For action_reminders.change_due: the new date (None if not given) and the reason."""

    due_on: date | None
    reason: str


def read_action_due(data: Mapping[str, Any]) -> Reading[NewDue]:
    read = Reader(data)
    return read.reading(NewDue(read.date(DUE), read.text(REASON)))
