"""What every listener is given (through Bolt's context): the domain's collaborators, no sessions open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.domain.people import People
from bot.domain.terms import Terms
from storage.db import SessionFactory, is_reachable, is_writable, make_engine, session_factory


class Clock(Protocol):
    def __call__(self) -> datetime: ...


class Directory(People, Protocol):
    """The workspace's directory of people, whichever the platform: handlers/slack/directory.py's Directory
    (Slack's users.list / users.info) or handlers/teams/directory.py's TeamsDirectory (Microsoft Graph).

    Names are kept in memory only, to refuse a staff member's name typed into a form; `standing`
    (bot/domain/people.py) says whether ids are active people of this workspace.
    """

    def names(self, wait_seconds: float = 0.0) -> tuple[str, ...]:
        """The names known now; waits up to `wait_seconds` for a refresh already under way."""
        ...

    def refresh_in_background(self) -> None:
        """Start reloading the names unless they are fresh or a reload is under way; returns at once."""
        ...


@dataclass(frozen=True)
class Services:
    settings: Settings
    terms: Terms
    engine: Engine
    sessions: SessionFactory
    directory: Directory
    clock: Clock

    @property
    def zone(self) -> ZoneInfo:
        return self.settings.zone

    def health(self) -> str:
        """"ok", or what is wrong with the database, for a load balancer's health check (GET /healthz)."""
        if not is_reachable(self.engine):
            return "database unreachable"
        # Answers and forms write: a database that can be read but not written (locked, read-only) serves nobody.
        if not is_writable(self.engine):
            return "database not writable"
        return "ok"


def build_services(settings: Settings, terms: Terms, engine: Engine | None, directory: Directory,
                   clock: Clock) -> Services:
    """The process's collaborators: the engine (opened from the settings unless given) and its sessions."""
    engine = engine or make_engine(settings.database_url)
    return Services(settings=settings, terms=terms, engine=engine, sessions=session_factory(engine),
                    directory=directory, clock=clock)
