"""What every Teams listener is given: the process's collaborators, no sessions open, no SDK state.

The Teams twin of what Slack listeners find in Bolt's context (bot/services.py). Listener modules in
handlers/teams/listeners/ receive it once, at registration (`register(app, ctx)`), and close over it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.domain.notify import Workspace
from bot.services import Services
from handlers.teams.directory import TeamsDirectory


@dataclass(frozen=True)
class TeamsContext:
    """`services`: settings, terms, engine, session factory, clock (services.directory is `directory` too).
    `workspace()`: the process's Workspace (bot/domain/notify.py) sending through Teams, for domain calls
    that post; call it per use (it is built once the SDK app is initialised). `directory`: the Graph
    directory, with `display_name(id)` for mentions and `names()` for refusing typed staff names.

    The SDK is async and the domain synchronous: call the domain with `await asyncio.to_thread(...)`.
    """

    services: Services
    workspace: Callable[[], Workspace]
    directory: TeamsDirectory
