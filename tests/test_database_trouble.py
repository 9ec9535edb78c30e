"""When the database is locked, read-only or drops the session, a person who clicks or submits is told
privately that their answer was not recorded and to try again (issue 13, rule 8); once it is back,
trying again works. Through the running bot over HTTP, with the trouble made for real: another
connection holding SQLite's write lock, a PostgreSQL session set read-only, a PostgreSQL session
terminated by the server in the middle of the write."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot import clock
from handlers.slack import ids
from handlers.slack.listeners.errors import NOT_RECORDED, NOT_SAVED_AT_FIELD
from storage.db import SessionFactory, make_engine
from storage.tables import Invitee, Reply
from tests.scheduling import convene_at

CHAIR, DEPUTY = "U0CHAIR01", "U0DEPUTY1"


class Trouble:
    """Breaks the database under the running bot, and mends it."""

    def __init__(self, kind: str, engine: Engine) -> None:
        self.kind, self.engine = kind, engine
        self.armed = False
        self._holder: sqlite3.Connection | None = None
        if kind == "sqlite-locked":
            # Give up on the lock after half a second rather than the usual 15 (the test's patience).
            event.listen(engine, "connect", lambda dbapi, _rec: dbapi.execute("PRAGMA busy_timeout=500"))
        elif kind == "postgresql-read-only":
            event.listen(engine, "connect", self._read_only)
        elif kind == "postgresql-terminated":
            self._admin = make_engine(str(engine.url.render_as_string(hide_password=False)),
                                      isolation_level="AUTOCOMMIT")
            event.listen(engine, "before_cursor_execute", self._terminate_on_write)
        engine.dispose()

    def _read_only(self, dbapi: Any, _record: Any) -> None:
        if self.armed:
            with dbapi.cursor() as cursor:
                cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            dbapi.commit()

    def _terminate_on_write(self, _conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        # The server ends this session just as the answer is written (a restart, a failover, an admin).
        if self.armed and statement.lstrip().upper().startswith(("UPDATE", "INSERT")):
            self.armed = False
            with self._admin.connect() as admin:
                admin.exec_driver_sql(f"SELECT pg_terminate_backend({int(cursor.connection.info.backend_pid)})")

    def start(self) -> None:
        self.armed = True
        if self.kind == "sqlite-locked":
            self._holder = sqlite3.connect(self.engine.url.database or "", isolation_level=None)
            self._holder.execute("BEGIN IMMEDIATE")  # another process writing, a backup, a long purge
        elif self.kind == "postgresql-read-only":
            self.engine.dispose()  # new sessions come up read-only

    def end(self) -> None:
        self.armed = False
        if self._holder is not None:
            self._holder.execute("ROLLBACK")
            self._holder.close()
            self._holder = None
        if self.kind == "postgresql-read-only":
            self.engine.dispose()
        if self.kind == "postgresql-terminated":
            self._admin.dispose()


TROUBLES = [
    pytest.param("sqlite", "sqlite-locked", id="sqlite-write-lock-held"),
    pytest.param("postgresql", "postgresql-read-only", id="postgresql-read-only", marks=pytest.mark.pg),
    pytest.param("postgresql", "postgresql-terminated", id="postgresql-session-terminated", marks=pytest.mark.pg),
]


@pytest.fixture
def trouble(request: pytest.FixtureRequest, engine: Engine) -> Iterator[Trouble]:
    made = Trouble(request.param, engine)
    yield made
    made.end()


def _convened(bot: Any, sessions: SessionFactory, engine: Engine) -> tuple[str, str]:
    now = clock.now()
    done = convene_at(sessions, engine, bot.services.terms, bot.slack, now, now + timedelta(days=3))
    bot.slack.clear()
    return done.reference, done.room_id


def _reply_of(sessions: SessionFactory, user: str) -> str | None:
    with sessions() as session:
        rows = list(session.exec(select(Invitee).where(Invitee.user_id == user)))
    return rows[0].reply if rows else None


@pytest.mark.parametrize(("engine", "trouble"), TROUBLES, indirect=True)
def test_an_attendance_click_that_cannot_be_saved_is_told_so_and_works_once_the_database_is_back(
        bot: Any, sessions: SessionFactory, engine: Engine, trouble: Trouble) -> None:
    reference, room = _convened(bot, sessions, engine)
    before = _reply_of(sessions, CHAIR)

    trouble.start()
    assert bot.click(CHAIR, ids.ATTENDING, reference, channel=room).status_code == 200
    [reply] = bot.slack.wait_for("response", timeout=10)
    assert reply.params["response_type"] == "ephemeral"
    assert reply.params["text"] == NOT_RECORDED["block_actions"]
    assert "not recorded" in reply.params["text"] and "try again" in reply.params["text"]
    trouble.end()
    assert _reply_of(sessions, CHAIR) == before

    bot.slack.clear()
    bot.click(CHAIR, ids.ATTENDING, reference, channel=room)
    [reply] = bot.slack.wait_for("response", timeout=10)
    assert reply.params["text"] == f"You are down as attending {reference}."
    assert _reply_of(sessions, CHAIR) == Reply.ATTENDING


def _deputy_form(bot: Any, reference: str, room: str) -> dict[str, Any]:
    """The deputy modal the bot opened, as the stand-in holds it (with the id Slack gave it)."""
    bot.click(CHAIR, ids.SENDING_DEPUTY, reference, channel=room)
    [call] = bot.slack.wait_for("views.open")
    sent = call.params["view"]
    bot.slack.clear()
    return dict(next(v for v in reversed(list(bot.slack.views.values()))
                     if v.get("callback_id") == sent["callback_id"]
                     and v.get("private_metadata") == sent.get("private_metadata")))


def _deputy_values() -> dict[str, Any]:
    return {ids.DEPUTY_FIELD: {ids.DEPUTY_FIELD: {"type": "users_select", "selected_user": DEPUTY}}}


@pytest.mark.parametrize(("engine", "trouble"), TROUBLES, indirect=True)
def test_a_form_that_cannot_be_saved_stays_open_with_the_reason_at_its_field(
        bot: Any, sessions: SessionFactory, engine: Engine, trouble: Trouble) -> None:
    reference, room = _convened(bot, sessions, engine)
    view = _deputy_form(bot, reference, room)

    trouble.start()
    refused = bot.submit(CHAIR, ids.DEPUTY_VIEW, _deputy_values(), view_id=view["id"],
                         private_metadata=view["private_metadata"], blocks=view["blocks"])
    trouble.end()
    # Slack keeps the form open, with what was chosen, and shows why at the field; pressing Save retries.
    assert refused.status_code == 200
    assert refused.json() == {"response_action": "errors", "errors": {ids.DEPUTY_FIELD: NOT_SAVED_AT_FIELD}}
    assert _reply_of(sessions, CHAIR) != Reply.DEPUTY

    saved = bot.submit(CHAIR, ids.DEPUTY_VIEW, _deputy_values(), view_id=view["id"],
                       private_metadata=view["private_metadata"], blocks=view["blocks"])
    assert saved.status_code == 200 and not saved.text.strip()
    assert _reply_of(sessions, CHAIR) == Reply.DEPUTY


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_form_whose_save_outlasts_slacks_wait_is_answered_by_direct_message(
        bot: Any, sessions: SessionFactory, engine: Engine) -> None:
    # The lock is held longer than Slack waits for the form's answer (3 s): Slack shows its own
    # error in the form, and the bot then says what happened in the app's direct messages.
    event.listen(engine, "connect", lambda dbapi, _rec: dbapi.execute("PRAGMA busy_timeout=3200"))
    engine.dispose()
    reference, room = _convened(bot, sessions, engine)
    view = _deputy_form(bot, reference, room)
    holder = sqlite3.connect(engine.url.database or "", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        refused = bot.submit(CHAIR, ids.DEPUTY_VIEW, _deputy_values(), view_id=view["id"],
                             private_metadata=view["private_metadata"], blocks=view["blocks"])
        assert refused.status_code != 200 or refused.text.strip() == ""
        [dm] = bot.slack.wait_for("chat.postMessage", lambda c: c.params.get("channel") == CHAIR, timeout=10)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert dm.params["text"] == NOT_RECORDED["view_submission"]
    assert _reply_of(sessions, CHAIR) != Reply.DEPUTY
