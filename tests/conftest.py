"""Fixtures: a migrated database per test (SQLite and PostgreSQL), the fake Slack, the running bot."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.domain.terms import Terms, load_terms
from bot.sandbox.slack_api import FakeSlack
from storage.db import SessionFactory, make_engine, session_factory, upgrade
from tests.teams_bot import teams_bot, teams_engine  # noqa: F401  (module-scoped Teams fixtures, tests/teams_bot.py)

PG_ADMIN_URL = os.environ.get("PMCCG_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = [pytest.param("sqlite", id="sqlite"), pytest.param("postgresql", id="postgresql", marks=pytest.mark.pg)]


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this run, migrated once, dropped at the end."""
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"pmccg_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001  (any connection failure means no server)
        admin.dispose()
        reason = f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({type(exc).__name__}); .ci/run starts it"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate(engine: Engine) -> None:
    from sqlmodel import SQLModel

    names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'pmccg.db'}")
        upgrade(eng)
    else:
        eng = make_engine(request.getfixturevalue("pg_url"))
        _truncate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> SessionFactory:
    return session_factory(engine)


@pytest.fixture
def terms() -> Terms:
    return load_terms()


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"


@pytest.fixture
def directory(fake_slack: FakeSlack) -> FakeSlack:
    """The fake workspace's people: the roster's fictional names, an outsider, the staff member, an app and
    someone whose account is deactivated."""
    from tests.factories import BOT_USER, DEACTIVATED, OUTSIDER, OUTSIDER_NAME, PEOPLE, STAFF_MEMBER

    for uid, (name, _, _) in PEOPLE.items():
        fake_slack.add_user(uid, name, display_name=name.split()[0].lower())
    fake_slack.add_user(OUTSIDER, OUTSIDER_NAME)
    fake_slack.add_user(*STAFF_MEMBER)
    fake_slack.add_user(BOT_USER, "pmccg", is_bot=True)
    fake_slack.add_user(*DEACTIVATED, deleted=True)
    return fake_slack


class MovingClock:
    """A clock the test moves: what the running bot reads as "now" (starts at the real time)."""

    def __init__(self) -> None:
        from bot.clock import now

        self.at = now()

    def __call__(self) -> datetime:
        return self.at

    def move_to(self, at: datetime) -> None:
        self.at = at


def _running_bot(engine: Engine, sessions: SessionFactory, terms: Terms, directory: FakeSlack,
                 clock: Any = None) -> Any:
    from bot import clock as real_clock
    from bot.config import load_settings
    from bot.web import create_web_app
    from handlers.slack.app import create_app
    from tests.factories import load_roster
    from tests.slack_client import RunningBot

    settings = load_settings({"SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                              "SLACK_API_URL": directory.url, "DATABASE_URL": str(engine.url)}, dotenv=False)
    with sessions() as session:
        load_roster(session, terms)
    built = create_app(settings, terms=terms, engine=engine, now=clock or real_clock.now)
    running = RunningBot(create_web_app(built, engine), SIGNING_SECRET, directory.url + "response")
    running.services = built.services  # type: ignore[attr-defined]
    running.app = built.app  # type: ignore[attr-defined]
    running.slack = directory  # type: ignore[attr-defined]
    running.clock = clock  # type: ignore[attr-defined]
    return running


@pytest.fixture
def bot(engine: Engine, sessions: SessionFactory, terms: Terms, directory: FakeSlack, tmp_path: Path) -> Iterator[Any]:
    """The whole bot behind real HTTP, its Web API calls going to the fake Slack, roster loaded."""
    running = _running_bot(engine, sessions, terms, directory)
    yield running
    running.stop()


@pytest.fixture
def clocked_bot(engine: Engine, sessions: SessionFactory, terms: Terms, directory: FakeSlack) -> Iterator[Any]:
    """The `bot`, reading "now" from `bot.clock` (a MovingClock), so a test can be three weeks after a call."""
    running = _running_bot(engine, sessions, terms, directory, MovingClock())
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """`pmccg`'s main() and the log tests reconfigure logging: leave it as the next test expects."""
    import logging
    import sys
    import threading

    from bot import logs

    loggers = {name: logging.getLogger(name) for name in logs.MANAGED}
    saved = {name: (lg.level, lg.handlers[:]) for name, lg in loggers.items()}
    hooks = (sys.excepthook, threading.excepthook)
    yield
    for name, (level, handlers) in saved.items():
        loggers[name].setLevel(level)
        loggers[name].handlers[:] = handlers
    sys.excepthook, threading.excepthook = hooks

