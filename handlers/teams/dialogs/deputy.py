""""Send a deputy" as a Teams dialog: Slack's modal (handlers/slack/listeners/attendance.py), the same words
and field id. Slack carries the attendance button's value (bot/domain/attendance.answer_value, e.g.
"PMCCG-2026-001:3") in the modal's private metadata; here it rides in the submit data as `answer`. Either way
it is client input, checked by attendance.answer exactly like a click on that button."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.domain import attendance
from bot.domain.attendance import AnswerButton
from handlers.teams.cards import escape_text
from handlers.teams.dialogs.fields import FORM_FIELD, NOT_SENT_AS_TEXT, CardForm, Reader, Reading, adaptive_card

SUBMIT = "deputy_submit"
TITLE = "Send a deputy"
DEPUTY = "deputy"
ANSWER = "answer"  # a data key, not an input: the attendance button's value


def deputy_dialog(values: Mapping[str, Any] = {}, errors: Mapping[str, str] = {}, *, nonce: str, answer: str,
                  names: Mapping[str, str] = {}) -> dict[str, Any]:
    """`answer` is the value of the "Sending a deputy" button that opened it (carried on, as on Slack)."""
    button = attendance.parse_answer_value(answer)
    form = CardForm(values, errors)
    form.note(f"Who will attend **{escape_text(button.reference)}** in your place?")
    form.people(DEPUTY, "Deputy", names=names,
                hint="Someone on the roster; for the chair, the deputy chair. They are added to the case chat.")
    return adaptive_card(form.body, submit_title="Save", action=SUBMIT, nonce=nonce, **{ANSWER: answer})


@dataclass(frozen=True)
class DeputyChoice:
    """What Slack's save_deputy passes to attendance.answer: the button it came from and the deputy."""

    button: AnswerButton
    deputy_id: str | None


def read_deputy(data: Mapping[str, Any]) -> Reading[DeputyChoice]:
    read = Reader(data)
    answer = read.data.get(ANSWER)
    if not isinstance(answer, str) or not answer:
        read.fail(FORM_FIELD, NOT_SENT_AS_TEXT)
        answer = ""
    return read.reading(DeputyChoice(attendance.parse_answer_value(answer), read.person(DEPUTY)))
