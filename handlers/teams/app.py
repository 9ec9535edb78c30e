"""create_teams_app(): the Teams SDK App over a FastAPI app, with its listeners and services; never built on import.

What `pmccg teams` serves (uvicorn, bot/cli.py) and the tests start on loopback (tests/teams_bot.py):
`POST /api/messages` (the SDK's route: Bot Framework token checked before any listener, behind
handlers/teams/guard.py's size and JSON checks) and `GET /healthz` (the database, as for Slack).
Importing this module imports the SDK (seconds): the Slack process never does.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from microsoft_teams.apps import App, FastAPIAdapter
from sqlalchemy.engine import Engine

import handlers.teams.listeners
from bot import clock
from bot.config import ConfigError, Settings
from bot.domain.notify import Workspace
from bot.domain.terms import Terms, load_terms
from bot.services import Clock, Services, build_services
from handlers.teams.auth import (
    ClientCredentialsTokens,
    TeamsAuthError,
    TeamsCredentials,
    TeamsEndpoints,
    app_auth_options,
)
from handlers.teams.context import TeamsContext
from handlers.teams.directory import TeamsDirectory
from handlers.teams.guard import MessagesGuard
from handlers.teams.render import render_activity
from handlers.teams.settings import teams_credentials, teams_endpoints
from handlers.teams.workspace import TeamsWorkspace

log = logging.getLogger(__name__)

# The SDK's loggers, set before the App is built (docs/teams-sdk-notes.md §6): its DEBUG logs whole activities
# (typed text, names); each of its HTTP clients resets httpx's level to its own logger's, and httpx at INFO logs
# every request URL; the token validator logs each refused token at ERROR (one WARNING from the HTTP server is
# enough for an attacker's junk).
SDK_LOG_LEVELS = {
    "microsoft_teams": logging.WARNING,
    "microsoft_teams.common.http.client": logging.WARNING,
    "microsoft_teams.apps.auth.token_validator": logging.CRITICAL,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
}


def quiet_sdk_logs() -> None:
    for name, level in SDK_LOG_LEVELS.items():
        logging.getLogger(name).setLevel(level)


WorkspaceFactory = Callable[["TeamsBot"], Workspace]


def teams_workspace(bot: TeamsBot) -> Workspace:
    """The Workspace sending through Teams on the serving loop: cards rendered with the directory's display names
    (resolved at render time, never stored), 1:1 chats from the domain's direct rooms."""
    settings = bot.services.settings
    if bot.loop is None:
        raise RuntimeError("the Teams workspace sends on the serving loop: initialize() the app first")
    names = bot.directory.render_name  # loaded on first use: the scheduler may send before anyone writes
    return TeamsWorkspace(credentials=bot.credentials, endpoints=bot.endpoints,
                          teams_app_id=settings.teams_app_id or "", loop=bot.loop,
                          render=lambda message: render_activity(message, names=names),
                          sessions=bot.services.sessions, tokens=bot.tokens, now=bot.services.clock,
                          standing=bot.directory.standing)


@dataclass
class TeamsBot:
    """The built app: `fastapi` is what uvicorn serves; `initialize()` on the serving loop before serving."""

    app: App
    fastapi: FastAPI
    services: Services
    context: TeamsContext
    credentials: TeamsCredentials
    endpoints: TeamsEndpoints
    tokens: ClientCredentialsTokens
    directory: TeamsDirectory
    make_workspace: WorkspaceFactory = teams_workspace
    loop: asyncio.AbstractEventLoop | None = None  # the loop that serves (and sends), once initialised
    _workspace: Workspace | None = None
    _workspace_lock: threading.Lock = field(default_factory=threading.Lock)

    async def initialize(self) -> None:
        """Registers POST /api/messages (with the token checks) on `fastapi`; remembers the serving loop."""
        self.loop = asyncio.get_running_loop()
        await self.app.initialize()

    def workspace(self) -> Workspace:
        """The process's Workspace, built on first use (after `initialize()`)."""
        with self._workspace_lock:
            if self._workspace is None:
                self._workspace = self.make_workspace(self)
            return self._workspace


def create_teams_app(settings: Settings, *, terms: Terms | None = None, engine: Engine | None = None,
                     now: Clock = clock.now, make_workspace: WorkspaceFactory = teams_workspace,
                     tokens: ClientCredentialsTokens | None = None) -> TeamsBot:
    """Build the Teams app. Token validation stays on; listeners get a TeamsContext. ConfigError names any
    missing or malformed TEAMS_* setting (never a value)."""
    credentials = teams_credentials(settings)
    endpoints = teams_endpoints(settings)
    quiet_sdk_logs()
    tokens = tokens or ClientCredentialsTokens(credentials, endpoints.login_url)
    try:
        options = app_auth_options(credentials, endpoints, tokens)
    except TeamsAuthError as exc:
        raise ConfigError(str(exc)) from None
    terms = terms or load_terms(settings.config_path)
    directory = TeamsDirectory(endpoints, tokens)
    services = build_services(settings, terms, engine, directory, now)

    # No generated docs: the only routes are Teams' and the load balancer's.
    fastapi = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    fastapi.add_middleware(MessagesGuard)

    @fastapi.get("/healthz")
    async def healthz() -> JSONResponse:
        status = await asyncio.to_thread(services.health)
        return JSONResponse({"status": status}, status_code=200 if status == "ok" else 503)

    app = App(**options, http_server_adapter=FastAPIAdapter(app=fastapi))
    holder: list[TeamsBot] = []
    context = TeamsContext(services=services, workspace=lambda: holder[0].workspace(), directory=directory)
    handlers.teams.listeners.register_all(app, context)
    bot = TeamsBot(app=app, fastapi=fastapi, services=services, context=context, credentials=credentials,
                   endpoints=endpoints, tokens=tokens, directory=directory, make_workspace=make_workspace)
    holder.append(bot)
    return bot


async def serve(bot: TeamsBot, host: str, port: int, *, log_level: int = logging.INFO,
                on_ready: Callable[[], None] | None = None) -> None:
    """Initialise and serve on host:port until stopped (SIGINT/SIGTERM), on the running loop. `on_ready` runs once
    the app is initialised, before the port opens (`pmccg teams` starts its scheduler there)."""
    await bot.initialize()
    if on_ready is not None:
        on_ready()
    # log_config=None: uvicorn logs through our handlers (bot/logs.py), not a dictConfig of its own.
    config = uvicorn.Config(bot.fastapi, host=host, port=port, lifespan="on", access_log=False, log_config=None,
                            log_level=logging.getLevelName(max(log_level, logging.INFO)).lower())
    await uvicorn.Server(config).serve()
