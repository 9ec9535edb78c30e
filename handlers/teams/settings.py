"""The Teams identity and endpoints from the process settings (bot/config.py), with errors naming the variable.

bot/config.py reads the variables without importing the Teams SDK (the Slack process never loads it);
this turns them into handlers/teams/auth.py's TeamsCredentials and TeamsEndpoints, whose checks run here.
"""

from __future__ import annotations

from bot.config import TEAMS_REQUIRED, ConfigError, Settings
from handlers.teams.auth import TeamsAuthError, TeamsCredentials, TeamsEndpoints


def teams_credentials(settings: Settings) -> TeamsCredentials:
    """The Entra app registration; ConfigError naming each missing variable and where to find it (never a value)."""
    settings.require(*TEAMS_REQUIRED)
    return TeamsCredentials(settings.teams_client_id or "", settings.teams_tenant_id or "",
                            settings.teams_client_secret or "")


def teams_endpoints(settings: Settings) -> TeamsEndpoints:
    """Where Microsoft's services are; ConfigError naming a malformed URL's variable."""
    try:
        return TeamsEndpoints(openid_metadata_url=settings.teams_openid_metadata_url,
                              login_url=settings.teams_login_url, service_url=settings.teams_service_url,
                              graph_api_url=settings.graph_api_url)
    except TeamsAuthError as exc:
        raise ConfigError(str(exc)) from None
