"""Settings from the environment (and a .env file): platform, tokens, database, terms file, time zone."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SLACK_DEFAULT_API_URL = "https://slack.com/api/"
PLATFORMS = ("slack", "teams")
# Microsoft's public cloud (the same values as handlers/teams/auth.py's PUBLIC_*, kept here so reading the
# settings never imports the Teams SDK; tests/test_teams_settings.py checks they agree).
TEAMS_DEFAULT_OPENID_METADATA_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
TEAMS_DEFAULT_LOGIN_URL = "https://login.microsoftonline.com"
TEAMS_DEFAULT_SERVICE_URL = "https://smba.trafficmanager.net/teams"
GRAPH_DEFAULT_API_URL = "https://graph.microsoft.com/v1.0"
TEAMS_REQUIRED = ("TEAMS_CLIENT_ID", "TEAMS_TENANT_ID", "TEAMS_CLIENT_SECRET")
# What sending needs besides the identity: the catalogue id of the app installed in every case chat.
TEAMS_SENDING = ("TEAMS_APP_ID",)

# Where each secret comes from, so a missing one is explained, never printed.
WHERE_TO_FIND = {
    "SLACK_BOT_TOKEN": "your Slack app's settings, OAuth & Permissions, 'Bot User OAuth Token' (starts xoxb-)",
    "SLACK_SIGNING_SECRET": "your Slack app's settings, Basic Information, App Credentials, 'Signing Secret'",
    "SLACK_APP_TOKEN": (
        "your Slack app's settings, Basic Information, App-Level Tokens: create one with the "
        "connections:write scope (starts xapp-), and turn Socket Mode on"
    ),
    "TEAMS_CLIENT_ID": "the Microsoft Entra admin centre, App registrations, your bot's app, Overview, "
                       "'Application (client) ID'",
    "TEAMS_TENANT_ID": "the Microsoft Entra admin centre, App registrations, your bot's app, Overview, "
                       "'Directory (tenant) ID'",
    "TEAMS_APP_ID": "the Teams admin centre, Teams apps, Manage apps, the uploaded PMCCG app, 'App ID' (the "
                    "catalogue id Graph installs into case chats, not the manifest's id)",
    "TEAMS_CLIENT_SECRET": "the Microsoft Entra admin centre, App registrations, your bot's app, Certificates & "
                           "secrets, a client secret's 'Value' (shown once, when it is created)",
}


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable, never its value."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    timezone: str = "Europe/London"
    slack_api_url: str = SLACK_DEFAULT_API_URL
    config_path: Path | None = None
    port: int = 3000
    run_scheduler: bool = True
    tick_seconds: float = 20.0
    # A convening left open this long by a process that died is finished or rolled back by the tick.
    convene_orphan_seconds: float = 60.0
    governance_channel: str = ""
    quality_board_channel: str = ""
    archive_on_close: bool = False
    # After ack(): how many listeners go on at once, how many more may wait their turn (beyond that a request
    # is turned away as busy), and the timeout of each call to Slack (handlers/slack/after_ack.py).
    after_ack_workers: int = 16
    after_ack_queue: int = 256
    slack_timeout_seconds: float = 10.0
    # Secrets: excluded from repr so they never reach a log or traceback.
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    # Which chat platform this deployment serves and sends through (PMCCG_PLATFORM).
    platform: str = "slack"
    # Microsoft Teams (`pmccg teams`): the single-tenant Entra app registration, and where Microsoft's services
    # are (the public cloud by default; loopback for the tests and a local trial).
    teams_client_id: str | None = None
    teams_tenant_id: str | None = None
    teams_client_secret: str | None = field(default=None, repr=False)
    teams_openid_metadata_url: str = TEAMS_DEFAULT_OPENID_METADATA_URL
    teams_login_url: str = TEAMS_DEFAULT_LOGIN_URL
    teams_service_url: str = TEAMS_DEFAULT_SERVICE_URL
    graph_api_url: str = GRAPH_DEFAULT_API_URL
    # The app's id in the organisation's Teams catalogue (given at upload), installed in every case chat.
    teams_app_id: str | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def reporting(self) -> Any:
        from bot.domain.outbox import Reporting

        return Reporting(self.governance_channel, self.quality_board_channel, self.archive_on_close)

    def require(self, *names: str) -> None:
        """Raise ConfigError naming each missing variable and where to get it."""
        missing = [n for n in names if not getattr(self, n.lower())]
        if missing:
            lines = [f"{n} is not set. Find it in {WHERE_TO_FIND.get(n, 'the README')}." for n in missing]
            lines.append("Export it, or put it in a .env file in the working directory.")
            raise ConfigError("\n".join(lines))


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}.")


def _int(name: str, raw: str, low: int, high: int) -> int:
    value = raw.strip()
    if not value.isdigit() or not low <= int(value) <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, not {raw!r}.")
    return int(value)


def load_settings(env: Mapping[str, str] | None = None, *, dotenv: bool = True) -> Settings:
    """Read settings from `env` (default: the process environment, after loading .env)."""
    if env is None:
        if dotenv:
            from dotenv import load_dotenv

            load_dotenv(Path.cwd() / ".env", override=False)
        env = os.environ
    tz = env.get("PMCCG_TIMEZONE", "Europe/London").strip() or "Europe/London"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"PMCCG_TIMEZONE {tz!r} is not an IANA time zone such as Europe/London.") from exc
    port_raw = env.get("PORT", "3000")
    if not port_raw.isdigit() or not 0 < int(port_raw) < 65536:
        raise ConfigError(f"PORT must be a port number, not {port_raw!r}.")
    api_url = env.get("SLACK_API_URL", "").strip() or SLACK_DEFAULT_API_URL
    if not api_url.endswith("/"):
        api_url += "/"
    config_raw = env.get("PMCCG_CONFIG", "").strip()
    tick_raw = env.get("PMCCG_TICK_SECONDS", "20")
    try:
        tick = float(tick_raw)
    except ValueError as exc:
        raise ConfigError(f"PMCCG_TICK_SECONDS must be a number of seconds, not {tick_raw!r}.") from exc
    if not 1 <= tick <= 60:
        raise ConfigError("PMCCG_TICK_SECONDS must be between 1 and 60 (a due message goes out within a minute).")
    orphan_raw = env.get("PMCCG_CONVENE_ORPHAN_SECONDS", "60")
    try:
        orphan = float(orphan_raw)
    except ValueError as exc:
        raise ConfigError(f"PMCCG_CONVENE_ORPHAN_SECONDS must be a number of seconds, not {orphan_raw!r}.") from exc
    if not 0 < orphan <= 3600:
        raise ConfigError("PMCCG_CONVENE_ORPHAN_SECONDS must be more than 0 and at most 3600.")
    workers = _int("PMCCG_AFTER_ACK_WORKERS", env.get("PMCCG_AFTER_ACK_WORKERS", "16"), 1, 256)
    queue = _int("PMCCG_AFTER_ACK_QUEUE", env.get("PMCCG_AFTER_ACK_QUEUE", "256"), 0, 4096)
    timeout_raw = env.get("PMCCG_SLACK_TIMEOUT_SECONDS", "10")
    try:
        slack_timeout = float(timeout_raw)
    except ValueError as exc:
        raise ConfigError(f"PMCCG_SLACK_TIMEOUT_SECONDS must be a number of seconds, not {timeout_raw!r}.") from exc
    if not 1 <= slack_timeout <= 60:
        raise ConfigError("PMCCG_SLACK_TIMEOUT_SECONDS must be between 1 and 60.")
    platform = env.get("PMCCG_PLATFORM", "").strip().lower() or "slack"
    if platform not in PLATFORMS:
        raise ConfigError(f"PMCCG_PLATFORM must be slack or teams, not {env.get('PMCCG_PLATFORM')!r}.")
    return Settings(
        database_url=env.get("DATABASE_URL", "").strip() or f"sqlite:///{Path.cwd() / 'pmccg.db'}",
        timezone=tz,
        slack_api_url=api_url,
        config_path=Path(config_raw) if config_raw else None,
        port=int(port_raw),
        run_scheduler=_bool("PMCCG_RUN_SCHEDULER", env.get("PMCCG_RUN_SCHEDULER", "true")),
        tick_seconds=tick,
        convene_orphan_seconds=orphan,
        governance_channel=env.get("PMCCG_GOVERNANCE_CHANNEL", "").strip(),
        quality_board_channel=env.get("PMCCG_QUALITY_BOARD_CHANNEL", "").strip(),
        archive_on_close=_bool("PMCCG_ARCHIVE_ON_CLOSE", env.get("PMCCG_ARCHIVE_ON_CLOSE", "false")),
        after_ack_workers=workers,
        after_ack_queue=queue,
        slack_timeout_seconds=slack_timeout,
        slack_bot_token=env.get("SLACK_BOT_TOKEN") or None,
        slack_signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
        slack_app_token=env.get("SLACK_APP_TOKEN") or None,
        platform=platform,
        teams_client_id=env.get("TEAMS_CLIENT_ID", "").strip() or None,
        teams_tenant_id=env.get("TEAMS_TENANT_ID", "").strip() or None,
        teams_client_secret=env.get("TEAMS_CLIENT_SECRET") or None,
        teams_openid_metadata_url=_url(env, "TEAMS_OPENID_METADATA_URL", TEAMS_DEFAULT_OPENID_METADATA_URL),
        teams_login_url=_url(env, "TEAMS_LOGIN_URL", TEAMS_DEFAULT_LOGIN_URL),
        teams_service_url=_url(env, "TEAMS_SERVICE_URL", TEAMS_DEFAULT_SERVICE_URL),
        graph_api_url=_url(env, "GRAPH_API_URL", GRAPH_DEFAULT_API_URL),
        teams_app_id=env.get("TEAMS_APP_ID", "").strip() or None,
    )


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    # The endpoints' own checks (https, a host) run when the Teams app is built (handlers/teams/settings.py).
    return (env.get(name, "").strip() or default).rstrip("/")


def describe(settings: Settings) -> str:
    """A printable summary of settings with every secret shown only as set / not set."""
    secrets = {"SLACK_BOT_TOKEN": settings.slack_bot_token, "SLACK_SIGNING_SECRET": settings.slack_signing_secret,
               "SLACK_APP_TOKEN": settings.slack_app_token, "TEAMS_CLIENT_SECRET": settings.teams_client_secret}
    return ", ".join(f"{k}={'set' if v else 'not set'}" for k, v in secrets.items())
