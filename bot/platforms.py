"""Which chat platform a process sends through (PMCCG_PLATFORM=slack|teams, bot/config.py; default slack).

`workspace_for(settings, sessions)` gives the scheduler (`pmccg worker`, the in-process tick) its Workspace.
On Teams a process without a server has no event loop: it gets a loop thread of its own (LoopThread), on which
TeamsWorkspace runs its calls. The Slack path is the one bot/cli.py has always built. The platforms' modules
are imported only for the platform chosen, so a Slack process never loads the Teams SDK.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.config import Settings
from bot.domain.notify import Workspace

Render = Callable[[Any], dict[str, Any]]


def teams_workspace(settings: Settings, sessions: Any, *, loop: Any = None, render: Render | None = None) -> Any:
    """A TeamsWorkspace from the settings (ConfigError naming what is missing). Without `loop`, it runs on a
    LoopThread of its own, kept as the workspace's `loop_thread` (stop it when the process ends). `render` is
    handlers/teams/render.py's with the directory's display names unless a test gives another."""
    from handlers.teams.auth import ClientCredentialsTokens
    from handlers.teams.directory import TeamsDirectory
    from handlers.teams.render import render_activity
    from handlers.teams.settings import teams_credentials, teams_endpoints
    from handlers.teams.workspace import LoopThread, TeamsWorkspace

    credentials, endpoints = teams_credentials(settings), teams_endpoints(settings)
    tokens = ClientCredentialsTokens(credentials, endpoints.login_url)
    if render is None:
        names = TeamsDirectory(endpoints, tokens).render_name  # loaded on first use, reloaded when stale

        def render(message: Any) -> dict[str, Any]:
            return render_activity(message, names=names)

    thread = None
    if loop is None:
        thread = LoopThread()
        loop = thread.loop
    workspace = TeamsWorkspace(credentials=credentials, endpoints=endpoints, teams_app_id=settings.teams_app_id or "",
                               loop=loop, render=render,
                               sessions=sessions, tokens=tokens)
    workspace.loop_thread = thread  # type: ignore[attr-defined]
    return workspace


def workspace_for(settings: Settings, sessions: Any, *, render: Render | None = None) -> Workspace:
    """The Workspace the scheduler sends through, for the deployment's platform."""
    if settings.platform == "teams":
        return teams_workspace(settings, sessions, render=render)
    from handlers.slack.app import make_client
    from handlers.slack.workspace import SlackWorkspace

    return SlackWorkspace(make_client(settings))
