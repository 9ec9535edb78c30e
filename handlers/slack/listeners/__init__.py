"""Thin Slack listeners: parse the payload, call the domain, render the reply."""

from __future__ import annotations

from slack_bolt import App

from handlers.slack.listeners import (
    actions,
    attendance,
    case_admin,
    case_close,
    commands,
    convene,
    errors,
    export,
    home,
    orphans,
    outcome,
    quorum_fixes,
    roll_call,
    roster,
)


def register(app: App) -> None:
    """Attach every listener module to `app`."""
    # orphans first: its middleware answers a click on a message of a convening that did not complete.
    for module in (orphans, commands, convene, attendance, roster, quorum_fixes, roll_call, case_admin, outcome,
                   actions, case_close, export, home, errors):
        module.register(app)
