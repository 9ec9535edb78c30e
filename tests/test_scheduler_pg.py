"""Several schedulers on one PostgreSQL database: every due message reaches Slack exactly once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import reminders
from bot.domain.terms import Terms
from bot.sandbox.slack_api import FakeSlack
from storage.db import make_engine, session_factory
from tests.conftest import _truncate
from tests.factories import load_roster
from tests.scheduling import convene_at, dms, workspace_for

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CALL = datetime(2026, 11, 5, 14, 0, tzinfo=UTC)
MEMBERS_BUT_CONVENER = {"U0CHAIR01", "U0SERVICE", "U0PEOPLE1", "U0GOVERN1", "U0CLINDIR", "U0NURSELD"}


@pytest.mark.pg
def test_two_workers_on_postgresql_send_every_message_exactly_once(
        pg_url: str, terms: Terms, fake_slack: FakeSlack) -> None:
    engines = [make_engine(pg_url), make_engine(pg_url)]
    sessions = session_factory(engines[0])
    _truncate(engines[0])
    with sessions() as session:
        load_roster(session, terms)
    cases = [convene_at(sessions, engines[0], terms, fake_slack, NOW, CALL + timedelta(minutes=i), key=f"V{i}")
             for i in range(25)]
    fake_slack.clear()
    due = CALL + timedelta(minutes=30) - timedelta(hours=48)
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            s = session_factory(engines[index])
            for _ in range(40):
                report = reminders.send_due(s, engines[index], workspace_for(fake_slack), terms, CALL.tzinfo,  # type: ignore[arg-type]
                                            due, worker=f"w{index}", batch=5)
                if report.claimed == 0:
                    break
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    sent = Counter((c.params["channel"], c.params["text"].split("attend ")[1].split("?")[0])
                   for c in dms(fake_slack, "Reminder: will you attend"))
    expected = {(m, f"PMCCG {c.reference}") for c in cases for m in MEMBERS_BUT_CONVENER}
    assert set(sent) == expected
    assert set(sent.values()) == {1}
    for e in engines:
        e.dispose()
