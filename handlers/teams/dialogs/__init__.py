"""The bot's forms as Teams dialogs (issue 16 point 6): pure functions, no I/O. The listeners that serve them
(task/fetch, task/submit) call these; the rules stay the domain's.

Each form has
- `<form>_dialog(values={}, errors={}, *, nonce, ...context) -> card`: the Adaptive Card 1.5 (it passes
  handlers.teams.cards.check_card). `values` is what was last submitted (kept on re-render), `errors` field
  id -> sentence (each shown under its field; FORM_FIELD above the first). Its Action.Submit sends
  {"action": "<form>_submit", "nonce": nonce, ...} with the inputs merged in by id; ids are Slack's block ids
  (the domain's field names), so an InvalidInput's `fields` are passed straight in as `errors`.
- `read_<form>(data, ...) -> Reading[...]`: the same input Slack's listener builds from view.state for the
  domain, plus the fields whose value came back malformed (`Reading.errors`; never an exception).
- `dialog_continue(title, card)` answers task/fetch and a task/submit to be shown again;
  `dialog_message(text)` closes the dialog with a message.

"(+ key)": the submit data carries that key too ("ref." = "reference"): client input the domain checks, as
Slack's private metadata is.

| form | builder | reader | submit action | other buttons in the dialog |
|---|---|---|---|---|
| convene | convene_dialog | read_convene -> ConveneForm | convene_submit | convene_profession |
| deputy | deputy_dialog | read_deputy -> DeputyChoice | deputy_submit (+ "answer") | |
| outcome | outcome_dialog | read_outcome -> OutcomeInput | outcome_submit | outcome_add_row |
| fairness | fairness_dialog | read_fairness -> dict | fairness_submit | |
| action point, added later | action_add_dialog | read_action_add -> NewAction | action_add_submit | |
| action point update | action_update_dialog | read_action_update -> str | action_update_submit | |
| new due date | action_due_dialog | read_action_due -> NewDue | action_due_submit | |
| reschedule | reschedule_dialog | read_reschedule -> NewTime | reschedule_submit | |
| cancel | cancel_dialog | read_cancel -> str | cancel_submit | |
| close | close_dialog | read_close -> str | close_submit | |
| roster | roster_dialog | read_roster -> RosterChange | roster_submit | |
| mark someone present | mark_dialog | read_mark -> (ref, person) | roll_call_mark_submit (+ "reference") | |
| correct the roll-call | correct_dialog | read_correct -> CorrectionForm | roll_call_correct_submit (+ ref.) | |
| invite a deputy | invite_deputy_dialog | read_invite_deputy -> SeatToFill | invite_deputy_submit (+ ref.) | |
"""

from handlers.teams.dialogs.action_points import (
    NewDue,
    action_due_dialog,
    action_update_dialog,
    read_action_due,
    read_action_update,
)
from handlers.teams.dialogs.case_admin import NewTime, cancel_dialog, read_cancel, read_reschedule, reschedule_dialog
from handlers.teams.dialogs.close import close_dialog, read_close
from handlers.teams.dialogs.convene import convene_dialog, propose_leads, read_convene
from handlers.teams.dialogs.deputy import DeputyChoice, deputy_dialog, read_deputy
from handlers.teams.dialogs.fields import FORM_FIELD, Reading, dialog_continue, dialog_message
from handlers.teams.dialogs.outcome import (
    OutcomeInput,
    action_add_dialog,
    errors_at_rows,
    fairness_dialog,
    outcome_dialog,
    read_action_add,
    read_fairness,
    read_outcome,
)
from handlers.teams.dialogs.quorum_fixes import SeatToFill, invite_deputy_dialog, read_invite_deputy
from handlers.teams.dialogs.roll_call import correct_dialog, mark_dialog, read_correct, read_mark
from handlers.teams.dialogs.roster import RosterChange, read_roster, roster_dialog

__all__ = [
    "FORM_FIELD", "DeputyChoice", "NewDue", "NewTime", "OutcomeInput", "Reading", "RosterChange", "SeatToFill",
    "correct_dialog", "invite_deputy_dialog", "mark_dialog", "read_correct", "read_invite_deputy", "read_mark",
    "action_add_dialog", "action_due_dialog", "action_update_dialog", "cancel_dialog", "close_dialog",
    "convene_dialog", "deputy_dialog", "dialog_continue", "dialog_message", "errors_at_rows", "fairness_dialog",
    "outcome_dialog", "propose_leads", "read_action_add", "read_action_due", "read_action_update", "read_cancel",
    "read_close", "read_convene", "read_deputy", "read_fairness", "read_outcome", "read_reschedule", "read_roster",
    "reschedule_dialog", "roster_dialog",
]
