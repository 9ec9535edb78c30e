"""Which chat platform a process sends through (PMCCG_PLATFORM=slack|teams, default slack: bot/config.py).

`workspace_for(settings, sessions)` gives the scheduler (`pmccg worker`, the in-process tick) its Workspace.
On Teams a process without a server has no event loop: it gets a loop thread of its own (LoopThread), on which
TeamsWorkspace runs its calls, and a Graph directory of its own for the names its cards mention. `pmccg teams`
builds its workspace on the serving loop instead (handlers/teams/app.py). The Slack path is the one bot/cli.py
has always built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.config import TEAMS_REQUIRED, TEAMS_SENDING, Settings

NAMES_WAIT_SECONDS = 5.0  # a card rendered while the directory first loads waits this long for the names


def teams_workspace(settings: Settings, sessions: Any, *, loop: Any = None,
                    render: Callable[..., dict[str, Any]] | None = None) -> Any:
    """A TeamsWorkspace from the settings (ConfigError names a missing TEAMS_* setting, never a value).

    Without `loop` it runs on a LoopThread of its own, kept as the workspace's `loop_thread` (a daemon thread: it
    ends with the process). `render` defaults to handlers/teams/render.py's render_activity, with the names from
    a Graph directory loaded in the background (in memory only)."""
    from handlers.teams.auth import ClientCredentialsTokens
    from handlers.teams.directory import TeamsDirectory
    from handlers.teams.settings import teams_credentials, teams_endpoints
    from handlers.teams.workspace import LoopThread, TeamsWorkspace

    settings.require(*TEAMS_REQUIRED, *TEAMS_SENDING)
    credentials, endpoints = teams_credentials(settings), teams_endpoints(settings)
    tokens = ClientCredentialsTokens(credentials, endpoints.login_url)
    directory = TeamsDirectory(endpoints, tokens)  # names for the cards, standings for the 1:1 chats
    if render is None:
        render = _render_with_directory(directory)
    thread = None
    if loop is None:
        thread = LoopThread()
        loop = thread.loop
    workspace = TeamsWorkspace(credentials=credentials, endpoints=endpoints, teams_app_id=str(settings.teams_app_id),
                               loop=loop, render=render, sessions=sessions, tokens=tokens,
                               standing=directory.standing)
    workspace.loop_thread = thread
    workspace.directory = directory
    return workspace


def _render_with_directory(directory: Any) -> Callable[..., dict[str, Any]]:
    from handlers.teams.render import render_activity

    directory.refresh_in_background()

    def render(message: Any) -> dict[str, Any]:
        directory.refresh_in_background()  # nothing when the names are fresh
        directory.names(wait_seconds=NAMES_WAIT_SECONDS)  # waits only while a load is under way
        activity: dict[str, Any] = render_activity(message, names=directory.display_name)
        return activity

    return render


def workspace_for(settings: Settings, sessions: Any, *, render: Callable[..., dict[str, Any]] | None = None) -> Any:
    """The Workspace the scheduler sends through, for the deployment's platform."""
    if settings.platform == "teams":
        return teams_workspace(settings, sessions, render=render)
    from handlers.slack.app import make_client
    from handlers.slack.workspace import SlackWorkspace

    return SlackWorkspace(make_client(settings))
