"""Every Slack action, callback and block id in one place, so a rename cannot miss a listener."""

COMMAND = "/pmccg"

# Modals (callback ids)
CONVENE_VIEW = "convene"
# The convene form's profession field: choosing one dispatches this action (the lead is proposed).
CONVENE_PROFESSION = "profession"
DEPUTY_VIEW = "deputy"
ROSTER_VIEW = "roster_edit"

# Buttons
ATTENDING = "attendance_attending"
SENDING_DEPUTY = "attendance_deputy"
APOLOGIES = "attendance_apologies"
ROSTER_EDIT = "roster_edit_open"

# Modal fields: a block id is the domain's field name, so domain errors map straight onto them.
# Each input block holds one element whose action id equals the block id.
DEPUTY_FIELD = "deputy"
ROSTER_USER = "user"
ROSTER_ROLES = "roles"
ROSTER_PROFESSIONS = "professions"

# Pre-call quorum fixes and case administration (header buttons)
QUORUM_INVITE_DEPUTY = "quorum_invite_deputy"
QUORUM_PROCEED = "quorum_proceed"
CASE_RESCHEDULE = "case_reschedule"
CASE_CANCEL = "case_cancel"
INVITE_DEPUTY_VIEW = "invite_deputy"

# Roll-call at the call (roll-call message buttons, the "mark someone present" modal and its field)
ROLL_CALL_PRESENT = "roll_call_present"
ROLL_CALL_MARK_OTHER = "roll_call_mark_other"
ROLL_CALL_RECORD = "roll_call_record"
ROLL_CALL_MARK_VIEW = "roll_call_mark"
ROLL_CALL_PERSON = "person"
# Correcting the roll-call after it closes (chair, their deputy, governance): button, modal, its fields.
ROLL_CALL_CORRECT = "roll_call_correct"
ROLL_CALL_CORRECT_VIEW = "roll_call_correct_view"
ROLL_CALL_PRESENT_FIELD = "present"
ROLL_CALL_REASON_FIELD = "reason"

# Rescheduling or cancelling a case (handlers/slack/listeners/case_admin.py); field block ids are the domain's
# field names.
RESCHEDULE_VIEW = "case_reschedule_view"
CANCEL_VIEW = "case_cancel_view"
CALL_DATE_FIELD = "call_date"
CALL_TIME_FIELD = "call_time"
DURATION_FIELD = "duration"
CANCEL_REASON_FIELD = "reason"

# Outcome, action points and closure (issue 5)
CASE_RECORD_OUTCOME = "case_record_outcome"
CASE_CLOSE = "case_close"

# Recording the outcome, revisiting fairness, adding an action point (handlers/slack/listeners/outcome.py). Field block
# ids are the domain's field names (bot/domain/outcomes.py: process, rationale, ..., action_<n>_description).
OUTCOME_VIEW = "outcome"
OUTCOME_ADD_ACTION_ROW = "outcome_add_action_row"
OUTCOME_MORE_ACTIONS = "outcome_more_actions"
CASE_REVISIT_FAIRNESS = "case_revisit_fairness"
FAIRNESS_VIEW = "fairness_revisit"
ACTION_ADD_VIEW = "action_add"

# Action point reminders and /pmccg actions (handlers/slack/listeners/actions.py): buttons on each item (value = the
# action point's id, and on a delivered reminder its ledger id too: "item:delivery", bot/domain/forms.py), their
# modals, and the modals' fields (block ids are the domain's field names).
ACTION_DONE = "action_point_done"
ACTION_ADD_UPDATE = "action_point_update"
ACTION_NEW_DUE = "action_point_new_due"
ACTION_UPDATE_VIEW = "action_point_update_view"
ACTION_DUE_VIEW = "action_point_due_view"
ACTION_UPDATE_FIELD = "update"
ACTION_DUE_FIELD = "due"
ACTION_DUE_REASON_FIELD = "reason"

# Closing a case (handlers/slack/listeners/case_close.py): the "Close case" modal; its field's block id is the
# domain's field name.
CLOSE_VIEW = "case_close_view"
CLOSE_REASON_FIELD = "reason"

# The record (handlers/slack/listeners/export.py): the case header's "Export case file" button (value = the reference).
CASE_EXPORT = "case_export"
