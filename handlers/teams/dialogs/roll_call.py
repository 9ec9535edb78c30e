"""The roll-call's "Mark someone present" and "Correct the roll-call" as Teams dialogs: Slack's modals
(handlers/slack/listeners/roll_call.py), the same words and field ids. Slack carries the case reference in the
modal's private metadata; here it rides in the submit data as `reference`: client input either way, which the
domain checks (roll_call.mark / correct_roll_call find the case and who may act on it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.domain import roll_call
from bot.domain.roll_call import CorrectionForm
from handlers.teams.cards import escape_text
from handlers.teams.dialogs.fields import FORM_FIELD, NOT_SENT_AS_TEXT, CardForm, Reader, Reading, adaptive_card

MARK_SUBMIT = "roll_call_mark_submit"
CORRECT_SUBMIT = "roll_call_correct_submit"
MARK_TITLE, CORRECT_TITLE = "Mark someone present", "Correct the roll-call"
PERSON, PRESENT, REASON = "person", "present", "reason"
REFERENCE = "reference"  # a data key, not an input
WAS_PRESENT, WAS_ABSENT = "present", "absent"


def mark_dialog(values: Mapping[str, Any] = {}, errors: Mapping[str, str] = {}, *, nonce: str, reference: str,
                names: Mapping[str, str] = {}) -> dict[str, Any]:
    form = CardForm(values, errors)
    form.note(f"Who has joined the call for **{escape_text(reference)}**?")
    form.people(PERSON, "Person", names=names,
                hint="For someone who joined by phone and cannot press the button themselves.")
    return adaptive_card(form.body, submit_title="Mark present", action=MARK_SUBMIT, nonce=nonce,
                         **{REFERENCE: reference})


def correct_dialog(values: Mapping[str, Any] = {}, errors: Mapping[str, str] = {}, *, nonce: str, reference: str,
                   names: Mapping[str, str] = {}) -> dict[str, Any]:
    form = CardForm(values, errors)
    form.note(f"Correct who was on the call for **{escape_text(reference)}**.")
    form.people(PERSON, "Person", names=names)
    form.choice(PRESENT, "Attendance", [(WAS_PRESENT, "Was on the call"), (WAS_ABSENT, "Was not on the call")],
                expanded=True)
    form.text(REASON, "Reason for the correction", limit=roll_call.CORRECTION_REASON_LIMIT, multiline=True,
              hint="Kept in the case record. Refer to the staff member by case number only.")
    return adaptive_card(form.body, submit_title="Correct", action=CORRECT_SUBMIT, nonce=nonce,
                         **{REFERENCE: reference})


def _reference(read: Reader) -> str:
    sent = read.data.get(REFERENCE)
    if not isinstance(sent, str) or not sent:
        read.fail(FORM_FIELD, NOT_SENT_AS_TEXT)
        return ""
    return sent


def read_mark(data: Mapping[str, Any]) -> Reading[tuple[str, str | None]]:
    """(reference, person) for roll_call.mark; Slack answers an empty person "Choose who joined the call." itself."""
    read = Reader(data)
    reference = _reference(read)
    return read.reading((reference, read.person(PERSON)))


def read_correct(data: Mapping[str, Any], *, actor: str) -> Reading[CorrectionForm]:
    """The CorrectionForm Slack's save_correction builds; `actor` is the signed sender."""
    read = Reader(data)
    reference = _reference(read)
    presence = read.choice(PRESENT, (WAS_PRESENT, WAS_ABSENT))
    return read.reading(CorrectionForm(reference=reference, actor=actor, person=read.person(PERSON),
                                       present={WAS_PRESENT: True, WAS_ABSENT: False}.get(presence or ""),
                                       reason=read.text(REASON)))
