"""Europe/London clock changes: offsets follow the wall clock, stored times are unambiguous."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy.engine import Engine

from bot import clock
from bot.domain import convening
from bot.domain.case_views import local_time_text
from bot.domain.errors import InvalidInput
from bot.domain.planning import before
from bot.domain.terms import Terms
from bot.sandbox.slack_api import FakeSlack
from bot.scheduler import Ticker
from storage.db import SessionFactory
from tests.factories import HERE, LONDON, form, load_roster
from tests.scheduling import convene_at, dms, workspace_for


@pytest.mark.parametrize(("call", "hours", "expected"), [
    pytest.param(datetime(2026, 3, 30, 13, 0, tzinfo=UTC), 48, datetime(2026, 3, 28, 14, 0, tzinfo=UTC),
                 id="48h before a BST call is the same wall-clock time on the GMT side"),
    pytest.param(datetime(2026, 10, 26, 14, 0, tzinfo=UTC), 48, datetime(2026, 10, 24, 13, 0, tzinfo=UTC),
                 id="48h before a GMT call is the same wall-clock time on the BST side"),
    pytest.param(datetime(2026, 3, 29, 8, 30, tzinfo=UTC), 8, datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
                 id="an offset landing in the skipped hour moves on by the gap"),
    pytest.param(datetime(2026, 3, 29, 1, 10, tzinfo=UTC), 0.5, datetime(2026, 3, 29, 0, 40, tzinfo=UTC),
                 id="an offset shorter than the skipped hour counts real time, so it stays before the call"),
    pytest.param(datetime(2026, 7, 1, 13, 0, tzinfo=UTC), 24, datetime(2026, 6, 30, 13, 0, tzinfo=UTC),
                 id="no clock change: plain hours"),
])
def test_offsets_are_counted_on_the_organisations_wall_clock(call: datetime, hours: float,
                                                            expected: datetime) -> None:
    assert before(call, hours, LONDON) == expected


def test_a_call_at_0130_on_the_night_the_clocks_go_back_is_stored_unambiguously(terms: Terms) -> None:
    now = datetime(2026, 10, 20, 9, 0, tzinfo=UTC)
    request = convening.validate(form(now, call_date=date(2026, 10, 25), call_time=time(1, 30)), terms,
                                 _entries(), (), now, LONDON, people=HERE)
    assert request.call_at == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # the first 01:30, in BST
    assert local_time_text(request.call_at, LONDON) == "Sunday 25 October 2026 at 01:30 BST"


def test_a_time_that_does_not_exist_is_refused_at_the_field(terms: Terms) -> None:
    now = datetime(2027, 3, 20, 9, 0, tzinfo=UTC)
    with pytest.raises(InvalidInput) as refused:
        convening.validate(form(now, call_date=date(2027, 3, 28), call_time=time(1, 30)), terms, _entries(), (),
                           now, LONDON, people=HERE)
    assert "does not exist" in refused.value.fields["call_time"]
    assert "clocks go forward" in refused.value.fields["call_time"]


def test_a_chase_across_the_spring_clock_change_goes_out_at_the_wall_clock_time(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    with sessions() as session:
        load_roster(session, terms)
    call = datetime(2026, 3, 30, 13, 0, tzinfo=UTC)  # Monday 14:00 BST
    convene_at(sessions, engine, terms, fake_slack, datetime(2026, 3, 26, 9, 0, tzinfo=UTC), call)
    fake_slack.clear()
    ticker = Ticker(sessions, engine, workspace_for(fake_slack), terms, LONDON, clock.now)
    with freeze_time(datetime(2026, 3, 28, 13, 59, tzinfo=UTC)):  # Saturday 13:59 GMT: a minute early
        ticker.tick()
    assert dms(fake_slack, "Reminder") == []
    with freeze_time(datetime(2026, 3, 28, 14, 0, 30, tzinfo=UTC)):  # Saturday 14:00 GMT
        ticker.tick()
    assert len(dms(fake_slack, "Reminder")) == 6
    # 48 hours on the wall clock is 47 real hours across the spring change: the hour that was skipped.
    assert call - datetime(2026, 3, 28, 14, 0, tzinfo=UTC) == timedelta(hours=47)


def _entries() -> dict[str, object]:
    from bot.domain.roster import RosterEntry
    from tests.factories import PEOPLE

    return {uid: RosterEntry(uid, frozenset({r}), frozenset(p.split(";")) if p else frozenset())  # type: ignore[arg-type]
            for uid, (_, r, p) in PEOPLE.items()}
