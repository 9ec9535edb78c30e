"""Which chat platform a process sends through (PMCCG_PLATFORM=slack|teams, default slack).

`workspace_for(settings, sessions)` gives the scheduler (`pmccg worker`, the in-process tick) its Workspace.
On Teams a process without a server has no event loop: it gets a loop thread of its own (LoopThread), on which
TeamsWorkspace runs its calls. The Slack path is the one bot/cli.py has always built.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from bot.config import ConfigError

PLATFORMS = ("slack", "teams")


def platform_of(settings: Any) -> str:
    """The platform this deployment chose: the setting when bot/config.py has it, else PMCCG_PLATFORM."""
    chosen = str(getattr(settings, "platform", None) or os.environ.get("PMCCG_PLATFORM") or "slack").strip().lower()
    if chosen not in PLATFORMS:
        raise ConfigError(f"PMCCG_PLATFORM must be one of {', '.join(PLATFORMS)}, not {chosen!r}")
    return chosen


def teams_workspace(*, client_id: str, client_secret: str, tenant_id: str, teams_app_id: str, sessions: Any,
                    openid_metadata_url: str | None = None, login_url: str | None = None,
                    service_url: str | None = None, graph_api_url: str | None = None,
                    render: Callable[..., dict[str, Any]] | None = None, loop: Any = None) -> Any:
    """A TeamsWorkspace from plain settings. Without `loop`, it runs on a LoopThread of its own, kept as the
    workspace's `loop_thread` (stop it when the process ends). `render` defaults to handlers/teams/render.py."""
    from handlers.teams import auth
    from handlers.teams.workspace import LoopThread, TeamsWorkspace

    defaults = auth.TeamsEndpoints()
    endpoints = auth.TeamsEndpoints(openid_metadata_url=openid_metadata_url or defaults.openid_metadata_url,
                                    login_url=login_url or defaults.login_url,
                                    service_url=service_url or defaults.service_url,
                                    graph_api_url=graph_api_url or defaults.graph_api_url)
    credentials = auth.TeamsCredentials(client_id=client_id, tenant_id=tenant_id, client_secret=client_secret)
    if render is None:
        from handlers.teams.render import rendered  # type: ignore[import-not-found, unused-ignore]

        render = rendered
    thread = None
    if loop is None:
        thread = LoopThread()
        loop = thread.loop
    workspace = TeamsWorkspace(credentials=credentials, endpoints=endpoints, teams_app_id=teams_app_id, loop=loop,
                               render=render, sessions=sessions)
    workspace.loop_thread = thread  # type: ignore[attr-defined]
    return workspace


def workspace_for(settings: Any, sessions: Any, *, render: Callable[..., dict[str, Any]] | None = None) -> Any:
    """The Workspace the scheduler sends through, for the deployment's platform.

    Teams reads settings.teams_client_id, teams_client_secret, teams_tenant_id, teams_app_id and the optional
    teams_openid_metadata_url, teams_login_url, teams_service_url, graph_api_url (bot/config.py's names for
    TEAMS_* and GRAPH_API_URL), falling back to the environment while bot/config.py does not have them."""
    if platform_of(settings) == "slack":
        from handlers.slack.app import make_client
        from handlers.slack.workspace import SlackWorkspace

        return SlackWorkspace(make_client(settings))

    def setting(name: str) -> str | None:
        return getattr(settings, name, None) or os.environ.get(name.upper()) or None

    missing = [n.upper() for n in ("teams_client_id", "teams_client_secret", "teams_tenant_id", "teams_app_id")
               if not setting(n)]
    if missing:
        raise ConfigError(", ".join(missing) + " not set (PMCCG_PLATFORM=teams)")
    return teams_workspace(client_id=str(setting("teams_client_id")), client_secret=str(setting("teams_client_secret")),
                           tenant_id=str(setting("teams_tenant_id")), teams_app_id=str(setting("teams_app_id")),
                           openid_metadata_url=setting("teams_openid_metadata_url"),
                           login_url=setting("teams_login_url"), service_url=setting("teams_service_url"),
                           graph_api_url=setting("graph_api_url"), sessions=sessions, render=render)
