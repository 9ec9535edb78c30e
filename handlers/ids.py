"""Every Slack action, callback and block id in one place, so a rename cannot miss a listener."""

COMMAND = "/pmccg"

# Modals (callback ids)
CONVENE_VIEW = "convene"
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

# Rescheduling or cancelling a case (handlers/case_admin.py); field block ids are the domain's field names.
RESCHEDULE_VIEW = "case_reschedule_view"
CANCEL_VIEW = "case_cancel_view"
CALL_DATE_FIELD = "call_date"
CALL_TIME_FIELD = "call_time"
DURATION_FIELD = "duration"
CANCEL_REASON_FIELD = "reason"
