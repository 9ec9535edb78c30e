"""Ids are opaque (issue 15, rule 3): a Teams-length id is stored and read back whole, on both backends.

Migration 0010 widens every user, room and message id column to 255 characters; its downgrade narrows them
again, refusing (on PostgreSQL) rather than cutting an id that no longer fits.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.domain.errors import InvalidInput
from bot.domain.roster import parse_entry
from bot.domain.terms import Terms
from storage.db import make_engine, migrations_path
from storage.tables import ID_CHARS, RosterMember
from tests.conftest import BACKENDS, PG_ADMIN_URL

# The shapes of Teams ids: a user (29:…), a group chat (19:…@thread.v2).
TEAMS_USER = "29:1" + "aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789-_" * 3
TEAMS_CHAT = "19:" + uuid.uuid4().hex + uuid.uuid4().hex + "@thread.v2"


@pytest.fixture(params=BACKENDS)
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database of its own (the downgrade must not touch the shared test database)."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'ids.db'}")
        yield eng
        eng.dispose()
        return
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"pmccg_ids_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        admin.dispose()
        reason = f"PostgreSQL is not reachable ({type(exc).__name__}); .ci/run starts it"
        if os.environ.get("CI"):
            pytest.fail(reason)  # under CI a missing server fails, as in tests/conftest.py
        pytest.skip(reason)
    eng = make_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    yield eng
    eng.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _migrate(engine: Engine, to: str, *, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(migrations_path()))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, to)


def _length(engine: Engine, table: str, column: str) -> int | None:
    found = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns(table)}
    return getattr(found[column], "length", None)


def test_a_teams_length_id_is_stored_whole_and_the_widening_is_undone_by_its_downgrade(fresh: Engine) -> None:
    _migrate(fresh, "head")
    assert len(TEAMS_USER) > 100 and ID_CHARS == 255
    for table, column in (("roster_members", "user_id"), ("cases", "room_id"), ("invitees", "user_id"),
                          ("scheduled_messages", "recipient"), ("cases", "header_ref")):
        assert _length(fresh, table, column) == 255, (table, column)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    with Session(fresh) as session:
        session.add(RosterMember(user_id=TEAMS_USER, roles="chair", updated_at=now, updated_by=TEAMS_USER))
        session.commit()
    with Session(fresh) as session:
        stored = session.get(RosterMember, TEAMS_USER)
        assert stored is not None and stored.user_id == TEAMS_USER and stored.updated_by == TEAMS_USER

    if fresh.dialect.name == "postgresql":
        # A Teams id no longer fits in 32 characters: the downgrade refuses instead of cutting it.
        with pytest.raises(sa.exc.DBAPIError):
            _migrate(fresh, "0009", down=True)
        assert _length(fresh, "roster_members", "user_id") == 255
    with fresh.begin() as conn:
        conn.execute(text("DELETE FROM roster_members"))
    _migrate(fresh, "0009", down=True)
    assert _length(fresh, "roster_members", "user_id") == 32
    assert _length(fresh, "cases", "header_ref") == 40
    _migrate(fresh, "head")
    assert _length(fresh, "roster_members", "user_id") == 255


def test_the_roster_takes_a_teams_id_as_it_takes_a_slack_one(terms: Terms) -> None:
    for user_id in (TEAMS_USER, "U0123ABCD"):
        assert parse_entry(user_id, ["chair"], [], terms).user_id == user_id
    with pytest.raises(InvalidInput):
        parse_entry("<@U0123ABCD>", ["chair"], [], terms)
