"""Thin Slack listeners: parse the payload, call the domain, render the reply."""

from __future__ import annotations

from slack_bolt import App

from handlers import attendance, case_admin, commands, convene, errors, quorum_fixes, roll_call, roster


def register(app: App) -> None:
    """Attach every listener module to `app`."""
    for module in (commands, convene, attendance, roster, quorum_fixes, roll_call, case_admin, errors):
        module.register(app)
