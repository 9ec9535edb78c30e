"""Closing a case as a Teams dialog: Slack's modal (handlers/slack/listeners/case_close.py), the same words and
field id, read into the reason closing.submit_close takes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.domain import closing
from bot.domain.closing import CloseCheck
from handlers.teams.cards import escape_text
from handlers.teams.dialogs.fields import CardForm, Reader, Reading, adaptive_card

SUBMIT = "close_submit"
TITLE = "Close the case"
REASON = "reason"


def close_dialog(values: Mapping[str, Any] = {}, errors: Mapping[str, str] = {}, *, nonce: str,
                 check: CloseCheck) -> dict[str, Any]:
    """Says whether a reason is required (action points open, or no outcome) and asks for it."""
    if check.reason_required:
        intro = f"{closing.reason_prompt(check)} The reason is required and kept in the case record."
    else:
        intro = "Every action point is done or dropped. A closing note is optional."
    form = CardForm(values, errors)
    form.note(f"Close **{escape_text(check.reference)}**. {intro}")
    form.note("A closing summary is posted in the case chat and no more reminders are sent for it. "
              "This cannot be undone.")
    form.text(REASON, "Reason" if check.reason_required else "Closing note", limit=closing.REASON_LIMIT,
              multiline=True, optional=not check.reason_required, placeholder="Why the case is closed now",
              hint="The members see this. Refer to the staff member by case number only.")
    return adaptive_card(form.body, submit_title="Close case", action=SUBMIT, nonce=nonce)


def read_close(data: Mapping[str, Any]) -> Reading[str]:
    """The reason (or closing note), for closing.submit_close."""
    read = Reader(data)
    return read.reading(read.text(REASON))
