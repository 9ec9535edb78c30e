"""Delivery you can prove: each recipient on its own, exactly once while the platform is slow, and
nothing sent twice because recording it failed once."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from bot.domain import ledger
from bot.domain.reminders import Reporting, send_due
from bot.domain.terms import Terms
from bot.records.case_file import build_case_file, render_case_file
from bot.sandbox.slack_api import FakeSlack
from storage.db import SessionFactory, make_engine, session_factory
from storage.tables import DeliveryState, MessageState
from tests.factories import LONDON, load_roster
from tests.scheduling import convene_at, dms, rows, tick, workspace_for
from tests.test_circulation import (
    AFTER,
    CHAIR,
    CHASE,
    DIRECTOR,
    ESCALATE,
    GOVERNANCE,
    MANAGER,
    PEOPLE_TEAM,
    convene,
    posts_to,
    record,
)

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CALL = datetime(2026, 11, 5, 14, 0, tzinfo=UTC)
MEMBERS_BUT_CONVENER = {"U0CHAIR01", "U0SERVICE", "U0PEOPLE1", "U0GOVERN1", "U0CLINDIR", "U0NURSELD"}
BOARD = "C0QUALITY"


@pytest.fixture(autouse=True)
def roster_loaded(sessions: SessionFactory, terms: Terms) -> None:
    with sessions() as session:
        load_roster(session, terms)


def _blocks(call: object) -> str:
    return json.dumps(call.params.get("blocks"), ensure_ascii=False)  # type: ignore[attr-defined]


# --- each recipient on its own ----------------------------------------------------------------------


def test_a_leaver_among_the_owners_does_not_stop_the_rest_of_the_circulation(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    reporting = Reporting(governance_room="C0GOVERN", quality_board_room=BOARD)
    reference = convene(sessions, engine, terms, fake_slack)
    record(sessions, terms, reference, AFTER + timedelta(minutes=1), risk="high")
    fake_slack.refuse("chat.postMessage", "user_not_found", channel=PEOPLE_TEAM)  # the owner has left
    report = send_due(sessions, engine, workspace_for(fake_slack), terms, LONDON, AFTER + timedelta(minutes=2),
                      reporting=reporting)

    # Everyone else got theirs: the summary, the other owners, the Medical Director, the Quality Board.
    room = rows(sessions, "circulation")[0]
    assert report.failed == 1 and room.state == MessageState.SENT
    owners = Counter(c.params["channel"] for c in dms(fake_slack, "Your action points"))
    assert owners == {MANAGER: 1, CHAIR: 1}
    assert [c.params["channel"] for c in dms(fake_slack, "The group recommends")] == [DIRECTOR]
    assert len(posts_to(fake_slack, BOARD)) == 1
    # The chair and governance are told who missed what, and so is the governance channel.
    told = [c for c in fake_slack.delivered("chat.postMessage") if "Not delivered" in c.params["text"]]
    assert sorted(c.params["channel"] for c in told) == sorted(["C0GOVERN", CHAIR, GOVERNANCE])
    shown = _blocks(told[0])
    assert f"<@{PEOPLE_TEAM}>" in shown and "their action points from the outcome" in shown
    assert "the account no longer exists (user_not_found)" in shown

    # Circulated means delivered: the five-day chase still goes, naming who it did not reach...
    fake_slack.clear_refusals()
    fake_slack.clear()
    tick(sessions, engine, terms, fake_slack, CHASE + timedelta(seconds=20))
    chases = dms(fake_slack, "must be circulated")
    assert sorted(c.params["channel"] for c in chases) == [CHAIR, GOVERNANCE]
    assert f"has not reached: <@{PEOPLE_TEAM}>" in _blocks(chases[0])
    # ... and so does the seven-day escalation.
    send_due(sessions, engine, workspace_for(fake_slack), terms, LONDON, ESCALATE + timedelta(seconds=20),
             reporting=reporting)
    [escalation] = posts_to(fake_slack, "C0GOVERN")
    assert f"<@{PEOPLE_TEAM}>" in _blocks(escalation)

    # The case file shows what did not arrive.
    with sessions() as session:
        data = build_case_file(session, terms, reference, LONDON, ESCALATE)
    assert [(u.what, u.to) for u in data.undelivered] == [("their action points from the outcome", f"@{PEOPLE_TEAM}")]
    html = render_case_file(data)[0].content.decode()
    assert "Messages that did not arrive" in html and "user_not_found" in html


def test_with_the_chair_and_governance_unreachable_the_case_channel_is_told_once(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    convened = convene_at(sessions, engine, terms, fake_slack, NOW, CALL)
    fake_slack.clear()
    for user in ("U0NURSELD", CHAIR, GOVERNANCE):
        fake_slack.refuse("chat.postMessage", "user_not_found", channel=user)
    due = CALL - timedelta(hours=48) + timedelta(seconds=5)
    tick(sessions, engine, terms, fake_slack, due)
    tick(sessions, engine, terms, fake_slack, due + timedelta(minutes=1))
    # Three chases failed, among them the chair's and governance's own: nobody accountable can be told
    # directly, so the case's members are, once; the report never reports on itself.
    reports = rows(sessions, "delivery_failed")
    assert len(reports) == 1 and reports[0].state == MessageState.SENT
    [notice] = [c for c in posts_to(fake_slack, convened.room_id) if "Not delivered" in c.params["text"]]
    assert all(f"<@{u}>" in _blocks(notice) for u in ("U0NURSELD", CHAIR, GOVERNANCE))


# --- exactly once while the platform is slow ---------------------------------------------------------


@pytest.fixture
def second_engine(engine: Engine) -> Engine:
    """A second worker's own engine on the same database."""
    other = make_engine(str(engine.url.render_as_string(hide_password=False)))
    yield other  # type: ignore[misc]
    other.dispose()


def test_a_send_slower_than_the_lease_is_not_taken_over_by_a_second_worker(
        sessions: SessionFactory, engine: Engine, second_engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    convene_at(sessions, engine, terms, fake_slack, NOW, CALL)
    fake_slack.clear()
    lease = timedelta(seconds=0.6)
    fake_slack.set_latency("chat.postMessage", 1.5)  # each message takes longer than the lease
    due = CALL - timedelta(hours=48) + timedelta(seconds=5)
    started = datetime.now(UTC)
    errors: list[BaseException] = []

    def worker(index: int, engine_: Engine) -> None:
        try:
            s = session_factory(engine_)
            for _ in range(8):
                # Each worker's clock runs in real time from the same start, as two machines' would.
                now = due + (datetime.now(UTC) - started)
                if send_due(s, engine_, workspace_for(fake_slack), terms, LONDON, now, worker=f"w{index}",
                            lease=lease).claimed == 0:
                    time.sleep(0.2)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(0, engine)),
               threading.Thread(target=worker, args=(1, second_engine))]
    threads[0].start()
    time.sleep(0.3)
    threads[1].start()
    for t in threads:
        t.join(timeout=60)
    fake_slack.set_latency("chat.postMessage", 0)
    assert not errors
    chases = Counter(c.params["channel"] for c in dms(fake_slack, "Reminder: will you attend"))
    assert chases == {m: 1 for m in MEMBERS_BUT_CONVENER}
    # Both workers took part (so the test did exercise two of them), and each row was sent once.
    with sessions() as session:
        from sqlmodel import select

        from storage.tables import DeliveryRecord
        records = list(session.exec(select(DeliveryRecord).where(DeliveryRecord.kind == "reply_chase")))
    assert len(records) == len(MEMBERS_BUT_CONVENER) and {r.attempts for r in records} == {1}


def test_a_message_whose_sent_record_fails_once_is_not_sent_again(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack,
        monkeypatch: pytest.MonkeyPatch) -> None:
    convene_at(sessions, engine, terms, fake_slack, NOW, CALL)
    fake_slack.clear()
    real = ledger.mark_sent
    failures = {"left": 1}

    def flaky(*args: object, **kwargs: object) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise OperationalError("UPDATE deliveries", {}, Exception("database is locked"))
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ledger, "mark_sent", flaky)
    due = CALL - timedelta(hours=48) + timedelta(seconds=5)
    tick(sessions, engine, terms, fake_slack, due)
    # The lease has long passed when the next worker looks: nothing is due, nothing is sent again.
    tick(sessions, engine, terms, fake_slack, due + timedelta(minutes=10), worker="w2")
    assert failures["left"] == 0
    chases = Counter(c.params["channel"] for c in dms(fake_slack, "Reminder: will you attend"))
    assert chases == {m: 1 for m in MEMBERS_BUT_CONVENER}
    assert {r.state for r in rows(sessions, "reply_chase") if r.due_at <= due} == {MessageState.SENT}


def test_every_delivery_lands_in_the_ledger_with_where_it_went(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    convened = convene_at(sessions, engine, terms, fake_slack, NOW, CALL)
    with sessions() as session:
        kinds = Counter(r.kind for r in ledger.for_case(session, convened.case_id) if r.state == DeliveryState.SENT)
        rooms = {r.room for r in ledger.for_case(session, convened.case_id)}
    # The header and the board in the channel, and an invitation to each member but the convener.
    assert kinds == {"case_header": 1, "attendance_board": 1, "invitation": len(MEMBERS_BUT_CONVENER)}
    assert convened.room_id in rooms and all(r for r in rooms)
