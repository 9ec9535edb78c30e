"""Thin Slack listeners: parse the payload, call the domain, render the reply."""

from __future__ import annotations

from slack_bolt import App

from handlers import (
    actions,
    attendance,
    case_admin,
    case_close,
    commands,
    convene,
    errors,
    export,
    home,
    outcome,
    quorum_fixes,
    roll_call,
    roster,
)


def register(app: App) -> None:
    """Attach every listener module to `app`."""
    for module in (commands, convene, attendance, roster, quorum_fixes, roll_call, case_admin, outcome, actions,
                   case_close, export, home, errors):
        module.register(app)
