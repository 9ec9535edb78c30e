"""What every listener is given (through Bolt's context): the domain's collaborators, no sessions open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.domain.terms import Terms
from handlers.slack.directory import Directory
from storage.db import SessionFactory, make_engine, session_factory


class Clock(Protocol):
    def __call__(self) -> datetime: ...


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


def build_services(settings: Settings, terms: Terms, engine: Engine | None, directory: Directory,
                   clock: Clock) -> Services:
    """The process's collaborators: the engine (opened from the settings unless given) and its sessions."""
    engine = engine or make_engine(settings.database_url)
    return Services(settings=settings, terms=terms, engine=engine, sessions=session_factory(engine),
                    directory=directory, clock=clock)
