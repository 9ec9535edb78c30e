"""No log line carries what was typed, the call details, anyone's name or a secret (issue 12, rule 9),
even when the database refuses a write and at the most verbose level the bot can be set to.

The database is made to fail for real: a trigger refuses the INSERT into cases (a convene) and into
action_updates (the "Add an update" and "New due date" forms). On PostgreSQL the trigger's message
quotes the whole refused row, as a driver's "Failing row contains (...)" does: the worst case for a
log that prints exception messages. Every record is formatted as the bot formats it and scanned."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot import cli, clock, logs
from handlers.slack import ids
from storage.db import SessionFactory
from tests.conftest import BOT_TOKEN, SIGNING_SECRET
from tests.factories import all_names, convene_state
from tests.test_action_reminders import MANAGER, live_digest

CONCERN = "Three late insulin doses on ward 9 during the night of 4 October (log-canary-concern)."
RISKS = "Diabetic patients on nights; rota gap if restricted (log-canary-risks)."
CALL_DETAILS = "https://meet.example.org/pmccg-canary Dial-in 0300 555 0199 PIN 864213"
SECRETS_OF_THE_CALL = ("meet.example.org/pmccg-canary", "0300 555 0199", "864213")
UPDATE = "Supervised rounds booked with the ward sister (log-canary-update)."
REASON = "The rota for next month slipped by a fortnight (log-canary-reason)."
ACTIONS = ("Arrange supervised medication rounds.", "Share the incident review with the ward team.")


@pytest.fixture
def full_log() -> Iterator[io.StringIO]:
    """Everything the bot would write at its most verbose setting (PMCCG_LOG_LEVEL=DEBUG, -v)."""
    ours, libraries = cli.log_levels("serve", True, "DEBUG")
    assert (ours, libraries) == (logging.DEBUG, logging.DEBUG)
    logs.configure(ours, libraries=libraries)
    buffer = io.StringIO()
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    yield buffer


def _refuse_inserts(engine: Engine, table: str) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text(f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} "
                              "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"))
        else:
            conn.execute(text("CREATE OR REPLACE FUNCTION refuse_row() RETURNS trigger AS $$ BEGIN "
                              "RAISE EXCEPTION 'refused row: %', row_to_json(NEW); END $$ LANGUAGE plpgsql"))
            conn.execute(text(f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} "
                              "FOR EACH ROW EXECUTE FUNCTION refuse_row()"))


def _allow_inserts(engine: Engine, table: str) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text(f"DROP TRIGGER IF EXISTS refuse_{table}"))
        else:
            conn.execute(text(f"DROP TRIGGER IF EXISTS refuse_{table} ON {table}"))
            conn.execute(text("DROP FUNCTION IF EXISTS refuse_row()"))


@pytest.fixture
def refused(engine: Engine) -> Iterator[Any]:
    made: list[str] = []

    def refuse(table: str) -> None:
        _refuse_inserts(engine, table)
        made.append(table)

    yield refuse
    for table in made:
        _allow_inserts(engine, table)


def _leaks(log: str) -> list[str]:
    words = [CONCERN, "log-canary-concern", RISKS, "log-canary-risks", CALL_DETAILS, *SECRETS_OF_THE_CALL, UPDATE,
             "log-canary-update", REASON, "log-canary-reason", *ACTIONS, *all_names(), BOT_TOKEN, SIGNING_SECRET]
    return [w for w in words if w in log]


def test_a_convene_whose_case_cannot_be_saved_logs_the_failure_but_nothing_typed(
        bot: Any, engine: Engine, full_log: io.StringIO, refused: Any) -> None:
    refused("cases")
    values = convene_state(clock.now(), concern=CONCERN, risks=RISKS, call_details=CALL_DETAILS)
    assert bot.submit(MANAGER, ids.CONVENE_VIEW, values).status_code == 200
    [failed] = bot.slack.wait_for("views.update", timeout=10)
    # The convener gets the form back, with what failed; nothing was kept.
    assert "Nothing was created" in str(failed.params["view"])
    logged = full_log.getvalue()
    assert "convene_failed" in logged and "Traceback" in logged  # the failure is in the log, with its frames
    assert _leaks(logged) == []


def _opened_form(bot: Any) -> dict[str, Any]:
    """The modal the bot just opened, as the stand-in holds it: with the id Slack gave it, which a
    submission carries back."""
    [call] = bot.slack.wait_for("views.open")
    sent = call.params["view"]
    return dict(next(v for v in reversed(list(bot.slack.views.values()))
                     if v.get("callback_id") == sent["callback_id"]
                     and v.get("private_metadata") == sent.get("private_metadata")))


def _button(bot: Any, ts: str, action: str, item: int) -> str:
    """The value the bot put on the reminder's button for this item (whatever else it carries)."""
    for block in bot.slack.messages[ts]["blocks"]:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == action and str(element.get("value", "")).split(":")[0] == str(item):
                return str(element["value"])
    raise AssertionError(f"no {action} button for item {item}")


def test_action_point_forms_whose_save_fails_log_the_failure_but_nothing_typed(
        bot: Any, sessions: SessionFactory, engine: Engine, full_log: io.StringIO, refused: Any) -> None:
    _, (first, _), channel, ts = live_digest(bot, sessions, engine, bot.services.terms)
    refused("action_updates")

    bot.click(MANAGER, ids.ACTION_ADD_UPDATE, _button(bot, ts, ids.ACTION_ADD_UPDATE, first), channel=channel,
              message_ts=ts)
    view = _opened_form(bot)
    answer = bot.submit(MANAGER, ids.ACTION_UPDATE_VIEW, {ids.ACTION_UPDATE_FIELD: {ids.ACTION_UPDATE_FIELD: {
        "type": "plain_text_input", "value": UPDATE}}}, view_id=view["id"],
        private_metadata=view["private_metadata"], blocks=view["blocks"])
    assert answer.json()["response_action"] == "errors"  # told at the field; the form keeps the text

    bot.slack.clear()
    bot.click(MANAGER, ids.ACTION_NEW_DUE, _button(bot, ts, ids.ACTION_NEW_DUE, first), channel=channel,
              message_ts=ts)
    view = _opened_form(bot)
    old = next(b for b in view["blocks"] if b.get("block_id") == ids.ACTION_DUE_FIELD)["element"]["initial_date"]
    due = (date.fromisoformat(old) + timedelta(days=14)).isoformat()
    answer = bot.submit(MANAGER, ids.ACTION_DUE_VIEW, {
        ids.ACTION_DUE_FIELD: {ids.ACTION_DUE_FIELD: {"type": "datepicker", "selected_date": due}},
        ids.ACTION_DUE_REASON_FIELD: {ids.ACTION_DUE_REASON_FIELD: {"type": "plain_text_input", "value": REASON}},
    }, view_id=view["id"], private_metadata=view["private_metadata"], blocks=view["blocks"])
    assert answer.json()["response_action"] == "errors"

    logged = full_log.getvalue()
    failures = logged.count("listener_failed") + logged.count("database_unavailable")
    assert failures >= 2, logged[-3000:]
    assert _leaks(logged) == []


def test_the_log_would_show_the_leak_without_the_protections(engine: Engine) -> None:
    """The scan above can fail: a raw exception text from the same refused write carries the values."""
    from sqlalchemy import create_engine

    raw = create_engine(engine.url.render_as_string(hide_password=False))  # no hide_parameters
    _refuse_inserts(engine, "roster_members")
    try:
        with pytest.raises(Exception) as caught, raw.begin() as conn:
            conn.execute(text("INSERT INTO roster_members (user_id, roles, professions) VALUES (:u, :r, :p)"),
                         {"u": "U0LEAK", "r": CONCERN, "p": ""})
        assert CONCERN in str(caught.value)  # what a plain traceback would have printed
        formatted = logs.EventFormatter().format(logging.LogRecord(
            "bot.x", logging.ERROR, __file__, 1, "listener_failed", (), (caught.type, caught.value, caught.tb)))
        assert CONCERN not in formatted and "(message withheld" in formatted
    finally:
        _allow_inserts(engine, "roster_members")
        raw.dispose()
