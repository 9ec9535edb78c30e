"""Recording the outcome as Teams dialogs: the outcome (with the fairness answers and action point rows),
revisiting fairness, adding one action point later. Fields, words and ids as Slack's modals
(handlers/slack/listeners/outcome.py), read into the same OutcomeForm, answers and NewAction.

"Add another action point" is a button inside the outcome dialog (`outcome_add_row`) that sends the form
without submitting it: the listener counts the row on the form record (bot/domain/forms.add_row, bounded by
outcomes.MAX_ACTION_ROWS) and answers with the dialog built again with one more row and what was typed.
The number of rows is the form record's, never the client's: `read_outcome` reads rows 1..`rows` only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.domain import action_points, outcomes
from bot.domain.action_points import NewAction
from bot.domain.fairness import ANSWER_LABELS, PRINCIPLES, Answer
from bot.domain.outcomes import MAX_ACTION_ROWS, PROCESS_LABELS, RISK_LABELS, OutcomeForm
from bot.domain.recording import CaseToRecord
from handlers.teams.cards import escape_text
from handlers.teams.dialogs.fields import FORM_FIELD, CardForm, Reader, Reading, adaptive_card

SUBMIT = "outcome_submit"
ADD_ROW = "outcome_add_row"
FAIRNESS_SUBMIT = "fairness_submit"
ACTION_ADD_SUBMIT = "action_add_submit"
TITLE, FAIRNESS_TITLE, ACTION_ADD_TITLE = "Outcome", "Revisit fairness", "Add an action point"

# Input ids are the domain's field names, as Slack's block ids are.
PROCESS = "process"
RATIONALE = "rationale"
RISK_LEVEL = "risk_level"
RISK_NOTES = "risk_notes"
ML_POLICY = "ml_policy"
LEGAL_ADVICE = "legal_advice"
WELFARE = "welfare"
LINE_MANAGER_SUPPORT = "line_manager_support"
QUORATE_STATED = "quorate_stated"
QUORUM_STATEMENT = "quorum_statement"
ACTION = "action"
YES_NO = {"yes": True, "no": False}
_ROW_FIELD = re.compile(r"^action_(\d+)_(description|owner|due)$")
ROWS_NOT_OURS = ("This form came back with action point rows it does not have, so nothing was saved. "
                 "Check the rows below and send it again.")


def fairness_field(key: str) -> str:
    return f"fairness_{key}"


def fairness_note_field(key: str) -> str:
    return f"fairness_{key}_note"


def action_field(row: int | None, part: str) -> str:
    """action_<row>_<part> on the outcome dialog; action_<part> on the one-row dialog (check_new's names)."""
    return f"{ACTION}_{row}_{part}" if row else f"{ACTION}_{part}"


def _answers() -> list[tuple[str, str]]:
    return [(a.value, ANSWER_LABELS[a]) for a in Answer]


def _fairness(form: CardForm, current: Mapping[str, tuple[str, str]]) -> None:
    """The five principles: title as label, question as hint; yes/no/unknown and an optional note."""
    for p in PRINCIPLES:
        answer, note = current.get(p.key, ("", ""))
        form.choice(fairness_field(p.key), p.title, _answers(), expanded=True, hint=p.question, initial=answer or None)
        form.text(fairness_note_field(p.key), f"{p.title}: note", limit=outcomes.TEXT_LIMIT, multiline=True,
                  optional=True, initial=note)


def _action_row(form: CardForm, row: int | None, names: Mapping[str, str]) -> None:
    """Description, owner, due date. Optional on the outcome dialog (an empty row is ignored)."""
    optional = row is not None
    hint = "What is to be done. Refer to the staff member by case number only." if row in (None, 1) else None
    form.text(action_field(row, "description"), f"Action point {row}" if row else "Action point",
              limit=action_points.DESCRIPTION_LIMIT, optional=optional, hint=hint)
    form.people(action_field(row, "owner"), "Owner", optional=optional, names=names)
    form.date(action_field(row, "due"), "Due date", optional=optional)


def row_count(rows: int) -> int:
    """The rows an outcome dialog shows: at least one, at most MAX_ACTION_ROWS."""
    return max(1, min(rows, MAX_ACTION_ROWS))


def outcome_dialog(values: Mapping[str, Any] = {}, errors: Mapping[str, str] = {}, *, nonce: str,
                   case: CaseToRecord, rows: int = 1, names: Mapping[str, str] = {}) -> dict[str, Any]:
    """The outcome dialog's card for `case` with `rows` action point rows (the form record's count); the
    "Add another action point" button (ADD_ROW) until MAX_ACTION_ROWS, then where to add more later."""
    form = CardForm(values, errors)
    reference = escape_text(case.reference)
    form.note(f"The group's advisory recommendation on **{reference}** to the Medical Director, who decides. "
              "Refer to the staff member by case number only: no names in any field.", subtle=True)
    form.choice(PROCESS, "Recommended process", [(k.value, v) for k, v in PROCESS_LABELS.items()])
    form.text(RATIONALE, "Rationale", limit=outcomes.TEXT_LIMIT, multiline=True,
              hint="Why this process is recommended.")
    form.choice(RISK_LEVEL, "Risk level", [(k.value, v) for k, v in RISK_LABELS.items()],
                hint="A high-risk outcome is reported, anonymised, to the Quality Board.")
    form.text(RISK_NOTES, "Risk assessment notes", limit=outcomes.TEXT_LIMIT, multiline=True, optional=True)
    form.heading("Legal liaison")
    form.choice(ML_POLICY, "Does the medical-liability policy need notifying?", _answers(), expanded=True)
    form.choice(LEGAL_ADVICE, "Is legal advice needed?", _answers(), expanded=True)
    form.heading("Support")
    form.choice(WELFARE, "Was welfare / pastoral support offered to the staff member?", _answers(), expanded=True)
    form.text(LINE_MANAGER_SUPPORT, "Support for the line manager", limit=outcomes.TEXT_LIMIT, multiline=True,
              optional=True)
    if case.quorate is not None:
        recorded = case.quorum_reason or ("quorate" if case.quorate else "not quorate")
        form.note(f"From the roll-call: {escape_text(recorded)}", subtle=True)
    else:
        form.heading("Quorum")
        form.choice(QUORATE_STATED, "Was the call quorate?", [("yes", "Yes"), ("no", "No")], expanded=True,
                    hint="No roll-call was recorded for this call.")
        form.text(QUORUM_STATEMENT, "How is that known?", limit=outcomes.TEXT_LIMIT, multiline=True,
                  hint="For example, the chair's count of the members on the call and their roles.")
    form.heading("Fairness and proportionality")
    form.note('A "no" or "unknown" becomes an action point for further inquiry, owned by the chair. The answers '
              "stay in the case record and can be revisited as the case progresses.", subtle=True)
    _fairness(form, {})
    form.heading("Action points")
    form.note("Each needs a description, an owner and a due date. A row left empty is ignored.", subtle=True)
    shown = row_count(rows)
    for row in range(1, shown + 1):
        _action_row(form, row, names)
    if shown < MAX_ACTION_ROWS:
        form.button("Add another action point", ADD_ROW, nonce)
    else:
        form.note(f"This form takes up to {MAX_ACTION_ROWS} action points. Add more later from the case chat "
                  f"with the command action {reference}.", subtle=True)
    return adaptive_card(form.body, submit_title="Record", action=SUBMIT, nonce=nonce)


def fairness_dialog(values: Mapping[str, Any] = {}, errors: Mapping[str, str] = {}, *, nonce: str, reference: str,
                    current: Mapping[str, tuple[str, str]] = {}) -> dict[str, Any]:
    """Revisiting the fairness answers; `current` (principle key -> (answer, note)) fills them at first."""
    form = CardForm(values, errors)
    form.note(f"Revisit the fairness and proportionality answers for **{escape_text(reference)}**. Your answers are "
              'added to the case record; earlier ones are kept. A new "no" or "unknown" becomes an action point for '
              "further inquiry, owned by the chair, unless one is already open for that principle.", subtle=True)
    _fairness(form, current)
    return adaptive_card(form.body, submit_title="Save", action=FAIRNESS_SUBMIT, nonce=nonce)


def action_add_dialog(values: Mapping[str, Any] = {}, errors: Mapping[str, str] = {}, *, nonce: str,
                      reference: str, names: Mapping[str, str] = {}) -> dict[str, Any]:
    """One new action point on a case whose outcome is recorded (ids action_description/_owner/_due)."""
    form = CardForm(values, errors)
    form.note(f"A new action point on **{escape_text(reference)}**. Its owner is told by direct message and "
              "reminded until it is done.", subtle=True)
    _action_row(form, None, names)
    return adaptive_card(form.body, submit_title="Add", action=ACTION_ADD_SUBMIT, nonce=nonce)


# --- reading --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutcomeInput:
    """What Slack's parse_outcome returns: the row numbers of the rows kept, and the form for the domain."""

    rows: tuple[int, ...]
    form: OutcomeForm


def _new_action(read: Reader, row: int | None) -> NewAction:
    return NewAction(description=read.text(action_field(row, "description")),
                     owner_id=read.person(action_field(row, "owner")) or "",
                     due_on=read.date(action_field(row, "due")))


def _read_fairness(read: Reader) -> dict[str, tuple[str | None, str]]:
    allowed = [a.value for a in Answer]
    return {p.key: (read.choice(fairness_field(p.key), allowed), read.text(fairness_note_field(p.key)))
            for p in PRINCIPLES}


def read_outcome(data: Mapping[str, Any], *, reference: str, actor: str, rows: int) -> Reading[OutcomeInput]:
    """The outcome dialog's data as Slack's parse_outcome reads a view: `reference` is the form record's
    subject, `actor` the signed sender, `rows` the form record's row count. A row with nothing in it is
    ignored; a row beyond `rows` (or the limit) is an error at the top of the form."""
    read = Reader(data)
    shown = row_count(rows)
    numbers = sorted({int(m.group(1)) for key in read.data if isinstance(key, str) and (m := _ROW_FIELD.match(key))})
    if any(not 1 <= n <= shown for n in numbers):
        read.fail(FORM_FIELD, ROWS_NOT_OURS)
    kept: list[tuple[int, NewAction]] = []
    for row in (n for n in numbers if 1 <= n <= shown):
        action = _new_action(read, row)
        if action.description.strip() or action.owner_id or action.due_on is not None:
            kept.append((row, action))
    answers = [a.value for a in Answer]
    quorate = read.choice(QUORATE_STATED, YES_NO)
    form = OutcomeForm(
        reference=reference, actor=actor, process=read.choice(PROCESS, [p.value for p in PROCESS_LABELS]),
        rationale=read.text(RATIONALE), risk_level=read.choice(RISK_LEVEL, [r.value for r in RISK_LABELS]),
        risk_notes=read.text(RISK_NOTES), ml_policy_notify=read.choice(ML_POLICY, answers),
        legal_advice=read.choice(LEGAL_ADVICE, answers), welfare_offered=read.choice(WELFARE, answers),
        line_manager_support=read.text(LINE_MANAGER_SUPPORT), fairness=_read_fairness(read),
        actions=tuple(a for _, a in kept), quorate_stated=YES_NO.get(quorate or ""),
        quorum_statement=read.text(QUORUM_STATEMENT))
    return read.reading(OutcomeInput(tuple(r for r, _ in kept), form))


def errors_at_rows(errors: Mapping[str, str], rows: tuple[int, ...]) -> dict[str, str]:
    """The domain numbers the rows it was given 1, 2, ...: each error put back on the row it came from
    (OutcomeInput.rows), as Slack's at_rows does."""
    out: dict[str, str] = {}
    for key, message in errors.items():
        m = _ROW_FIELD.match(key)
        if m and 0 < int(m.group(1)) <= len(rows):
            key = action_field(rows[int(m.group(1)) - 1], m.group(2))
        out[key] = message
    return out


def read_fairness(data: Mapping[str, Any]) -> Reading[dict[str, tuple[str | None, str]]]:
    """Principle key -> (answer or None, note), as Slack's listener passes to recording.revisit_fairness."""
    read = Reader(data)
    return read.reading(_read_fairness(read))


def read_action_add(data: Mapping[str, Any]) -> Reading[NewAction]:
    """The one new action point, for recording.add_action (its field prefix is ACTION)."""
    read = Reader(data)
    return read.reading(_new_action(read, None))
