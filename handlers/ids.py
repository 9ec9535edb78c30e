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
