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
from storage.db import SessionFactory


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
