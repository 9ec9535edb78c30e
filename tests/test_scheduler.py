"""The durable scheduler: on time, exactly once, catch-up without flood, Slack's limits respected."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from freezegun import freeze_time
from sqlalchemy.engine import Engine

from bot import clock
from bot.domain import reminders
from bot.domain.terms import Terms
from bot.sandbox.slack_api import FakeSlack
from bot.scheduler import Ticker
from storage.db import SessionFactory, transaction
from storage.tables import Invitee, MessageState
from tests.factories import load_roster
from tests.scheduling import convene_at, dms, rows, tick, workspace_for

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday, GMT
CALL = datetime(2026, 11, 5, 14, 0, tzinfo=UTC)  # Thursday 14:00 GMT
MEMBERS_BUT_CONVENER = {"U0CHAIR01", "U0SERVICE", "U0PEOPLE1", "U0GOVERN1", "U0CLINDIR", "U0NURSELD"}


@pytest.fixture(autouse=True)
def roster_loaded(sessions: SessionFactory, terms: Terms) -> None:
    with sessions() as session:
        load_roster(session, terms)


def _chases(fake: FakeSlack) -> list[str]:
    return [c.params["channel"] for c in dms(fake, "Reminder: will you attend")]


def test_members_who_have_not_replied_are_chased_at_each_offset_until_they_answer(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    convened = convene_at(sessions, engine, terms, fake_slack, NOW, CALL)
    fake_slack.clear()
    with freeze_time(CALL - timedelta(hours=48, minutes=-1)):
        Ticker(sessions, engine, workspace_for(fake_slack), terms, CALL.tzinfo, clock.now).tick()  # type: ignore[arg-type]
    assert sorted(_chases(fake_slack)) == sorted(MEMBERS_BUT_CONVENER)
    first = dms(fake_slack, "Reminder")[0]
    assert any(b["type"] == "actions" for b in first.params["blocks"])  # the attendance buttons
    assert "<!date^" in json.dumps(first.params["blocks"])  # shown in the reader's own time zone

    with transaction(sessions) as session:
        from bot.domain import attendance
        attendance.record_reply(session, terms, convened.reference, "U0CHAIR01", attendance.Reply.ATTENDING,
                                CALL - timedelta(hours=30), CALL.tzinfo)  # type: ignore[arg-type]
    fake_slack.clear()
    tick(sessions, engine, terms, fake_slack, CALL - timedelta(hours=24) + timedelta(seconds=30))
    assert sorted(_chases(fake_slack)) == sorted(MEMBERS_BUT_CONVENER - {"U0CHAIR01"})
    # Nothing is sent twice: another tick at the same moment finds nothing due.
    fake_slack.clear()
    report = tick(sessions, engine, terms, fake_slack, CALL - timedelta(hours=24) + timedelta(seconds=40))
    assert report.sent == 0 and _chases(fake_slack) == []


def test_a_message_goes_out_within_a_tick_of_its_due_time(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    convene_at(sessions, engine, terms, fake_slack, NOW, CALL)
    due = CALL - timedelta(hours=48)
    fake_slack.clear()
    assert tick(sessions, engine, terms, fake_slack, due - timedelta(seconds=1)).sent >= 0
    assert _chases(fake_slack) == []
    tick(sessions, engine, terms, fake_slack, due + timedelta(seconds=20))  # the default tick interval
    assert len(_chases(fake_slack)) == 6


def test_after_downtime_each_member_gets_one_late_chase_not_one_per_missed_offset(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    convene_at(sessions, engine, terms, fake_slack, NOW, CALL)
    fake_slack.clear()
    # The process was down from convening until 20 hours before the call: the 48h and 24h chases
    # are both overdue; each member gets one, marked late, and the pre-call check and agenda once.
    back = CALL - timedelta(hours=20)
    tick(sessions, engine, terms, fake_slack, back)
    chases = dms(fake_slack, "Reminder: will you attend")
    assert Counter(c.params["channel"] for c in chases) == {m: 1 for m in MEMBERS_BUT_CONVENER}
    assert all("late" in json.dumps(c.params["blocks"]) for c in chases)
    superseded = [r for r in rows(sessions, "reply_chase") if r.state == MessageState.SUPERSEDED]
    assert len(superseded) == 6
    posted = [c for c in fake_slack.delivered("chat.postMessage") if not str(c.params["channel"]).startswith("U")]
    assert sum("Agenda" in c.params["text"] for c in posted) == 1
    fake_slack.clear()
    assert tick(sessions, engine, terms, fake_slack, back + timedelta(minutes=1)).sent == 0


def test_chases_for_a_call_that_already_happened_are_dropped_not_sent(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    convene_at(sessions, engine, terms, fake_slack, NOW, CALL)
    fake_slack.clear()
    tick(sessions, engine, terms, fake_slack, CALL + timedelta(days=2))  # down until after the call
    assert _chases(fake_slack) == []
    states = {r.kind: r.state for r in rows(sessions)}
    assert states["reply_chase"] == MessageState.DROPPED
    assert states["pre_call_check"] == MessageState.DROPPED
    assert states["roll_call"] == MessageState.DROPPED
    # No roll-call was taken while the bot was down, so no quorum is invented for the call.
    assert states["roll_call_close"] == MessageState.DROPPED


def test_a_worker_that_dies_after_claiming_leaves_its_messages_for_another_after_the_lease(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    convene_at(sessions, engine, terms, fake_slack, NOW, CALL)
    fake_slack.clear()
    due = CALL - timedelta(hours=48) + timedelta(seconds=5)
    claimed = reminders.claim(sessions, engine, due, "dead-worker:1", batch=100)  # ...and then it died
    assert claimed
    assert tick(sessions, engine, terms, fake_slack, due + timedelta(minutes=1), worker="w2").sent == 0
    tick(sessions, engine, terms, fake_slack, due + reminders.LEASE + timedelta(seconds=1), worker="w2")
    assert Counter(_chases(fake_slack)) == {m: 1 for m in MEMBERS_BUT_CONVENER}


def test_rate_limits_and_server_errors_lose_nothing_and_double_nothing(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    convene_at(sessions, engine, terms, fake_slack, NOW, CALL)
    fake_slack.clear()
    fake_slack.rate_limit_next("chat.postMessage", retry_after=1, times=2)
    fake_slack.server_error_next("chat.postMessage", status=500, times=3)  # beyond the client's 2 retries
    due = CALL - timedelta(hours=48) + timedelta(seconds=5)
    first = tick(sessions, engine, terms, fake_slack, due)
    assert first.retried >= 1
    later = due + timedelta(minutes=2)
    tick(sessions, engine, terms, fake_slack, later)
    assert Counter(_chases(fake_slack)) == {m: 1 for m in MEMBERS_BUT_CONVENER}
    answers = Counter(c.answered_with for c in fake_slack.calls_to("chat.postMessage"))
    assert answers["429"] == 2 and answers["500"] == 3
    assert {r.state for r in rows(sessions, "reply_chase") if r.due_at <= later} == {MessageState.SENT}


def test_a_permanent_error_is_recorded_on_the_case_reported_to_the_chair_and_governance_and_not_retried(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    convene_at(sessions, engine, terms, fake_slack, NOW, CALL)
    fake_slack.clear()
    fake_slack.refuse("chat.postMessage", "user_not_found", channel="U0NURSELD")  # a leaver
    due = CALL - timedelta(hours=48) + timedelta(seconds=5)
    report = tick(sessions, engine, terms, fake_slack, due)
    assert report.failed == 1
    # The others were chased all the same.
    assert sorted(_chases(fake_slack)) == sorted(MEMBERS_BUT_CONVENER - {"U0NURSELD"})
    # The chair and the governance representative are told, by direct message, who missed what and why.
    reports = dms(fake_slack, "Not delivered")
    assert sorted(c.params["channel"] for c in reports) == ["U0CHAIR01", "U0GOVERN1"]
    blocks = json.dumps(reports[0].params["blocks"])
    assert "<@U0NURSELD>" in blocks and "the account no longer exists (user_not_found)" in blocks
    assert "the reminder to say whether they will attend" in blocks
    failed = [r for r in rows(sessions, "reply_chase") if r.state == MessageState.FAILED]
    assert len(failed) == 1 and failed[0].last_error == "user_not_found" and failed[0].recipient == "U0NURSELD"
    from bot.domain.history import events
    with sessions() as session:
        assert any(e.kind == "delivery_failed" for e in events(session, failed[0].case_id or 0))
    fake_slack.clear()
    tick(sessions, engine, terms, fake_slack, due + timedelta(hours=1))
    assert "U0NURSELD" not in _chases(fake_slack)
    assert dms(fake_slack, "Not delivered") == []  # reported once


def test_answering_before_the_chase_means_no_chase(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    convened = convene_at(sessions, engine, terms, fake_slack, NOW, CALL)
    with transaction(sessions) as session:
        for row in session.exec(__import__("sqlmodel").select(Invitee)):
            if row.user_id != "U0MANAGER":
                row.reply = "apologies"
                session.add(row)
    fake_slack.clear()
    tick(sessions, engine, terms, fake_slack, CALL - timedelta(hours=3))
    assert _chases(fake_slack) == []
    assert convened.reference


def test_pre_call_check_warns_convener_and_chair_with_the_failing_condition(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    convene_at(sessions, engine, terms, fake_slack, NOW, CALL)
    fake_slack.clear()
    tick(sessions, engine, terms, fake_slack, CALL - timedelta(hours=24) + timedelta(seconds=5))
    warnings = dms(fake_slack, "may not be quorate")
    assert sorted(c.params["channel"] for c in warnings) == ["U0CHAIR01", "U0MANAGER"]
    text = json.dumps(warnings[0].params["blocks"])
    assert "a professional lead for nursing has not replied" in text
    assert "quorum_invite_deputy" in text and "case_reschedule" in text and "quorum_proceed" in text


def test_a_restarted_scheduler_catches_up_at_start_once(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    """Real APScheduler start-up: the first tick runs at start; a stop and a later start lose nothing."""
    import time as real_time

    from bot.scheduler import build

    convene_at(sessions, engine, terms, fake_slack, NOW, CALL)
    fake_slack.clear()
    moment = {"now": CALL - timedelta(hours=47)}  # the 48h chase is an hour overdue
    ticker = Ticker(sessions, engine, workspace_for(fake_slack), terms, CALL.tzinfo,  # type: ignore[arg-type]
                    lambda: moment["now"])

    def run_briefly() -> None:
        scheduler = build(ticker, tick_seconds=60, blocking=False)
        scheduler.start()
        deadline = real_time.monotonic() + 10
        while real_time.monotonic() < deadline and scheduler.get_job("tick").next_run_time is not None:
            if ticker_ran["count"]:
                break
            real_time.sleep(0.05)
        real_time.sleep(0.5)
        scheduler.shutdown(wait=True)

    ticker_ran = {"count": 0}
    original = ticker.tick

    def counted() -> Any:
        ticker_ran["count"] += 1
        return original()

    ticker.tick = counted  # type: ignore[method-assign]
    run_briefly()
    assert Counter(_chases(fake_slack)) == {m: 1 for m in MEMBERS_BUT_CONVENER}
    # Stopped for a day: the 24h chase and the pre-call check fall due while nothing runs.
    moment["now"] = CALL - timedelta(hours=23)
    ticker_ran["count"] = 0
    fake_slack.clear()
    run_briefly()
    assert Counter(_chases(fake_slack)) == {m: 1 for m in MEMBERS_BUT_CONVENER}
    assert len(dms(fake_slack, "may not be quorate")) == 2
