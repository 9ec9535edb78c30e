"""Thin Teams listeners: read the activity, call the domain, answer with a card.

Each module has `register(app, ctx)` (ctx: handlers/teams/context.py's TeamsContext). Add a module to
MODULES to attach it. Order matters: the SDK runs every matching handler in registration order as a
chain, each passing on with `await turn.next()`; the last non-None return is the invoke's answer.
"""

from __future__ import annotations

from microsoft_teams.apps import App

from handlers.teams.context import TeamsContext
from handlers.teams.listeners import (
    actions,
    attendance,
    case_admin,
    case_close,
    commands,
    convene,
    direct_rooms,
    export,
    files,
    home,
    outcome,
    quorum_fixes,
    reports,
    roll_call,
    roster,
)

# direct_rooms first: it keeps the person's 1:1 chat from any install or personal message, then passes on.
MODULES = (direct_rooms, commands, convene, attendance, quorum_fixes, case_admin, case_close, roster, export, reports,
           files, roll_call, outcome, actions, home)


def register_all(app: App, ctx: TeamsContext) -> None:
    """Attach every listener module to `app`."""
    for module in MODULES:
        module.register(app, ctx)


__all__ = ["MODULES", "TeamsContext", "register_all"]
