"""Crash-safe convening: a convening interrupted at each step is finished or rolled back, never raced, and the
buttons of what it left behind change nothing. SQLite and PostgreSQL; Slack is the local stand-in."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.domain import convene_recovery, convening, ledger, roster
from bot.domain.convene_recovery import NOT_COMPLETED, STILL_CONVENING, orphaned_click
from bot.domain.convening import Convened, recover
from bot.domain.errors import PlatformFailure
from bot.domain.notify import Workspace
from bot.domain.terms import Terms
from bot.sandbox.slack_api import FakeSlack
from bot.scheduler import Ticker
from storage.db import SessionFactory, transaction
from storage.tables import (
    Case,
    Convening,
    ConveningState,
    DeliveryRecord,
    DeliveryState,
    Invitee,
    ReferenceCounter,
    ScheduledMessage,
)
from tests.factories import HERE, LONDON, form, load_roster
from tests.scheduling import dms, workspace_for

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CALL = datetime(2026, 11, 5, 14, 0, tzinfo=UTC)
CONVENER = "U0MANAGER"
MEMBERS_BUT_CONVENER = {"U0CHAIR01", "U0SERVICE", "U0PEOPLE1", "U0GOVERN1", "U0CLINDIR", "U0NURSELD"}
LATER = NOW + timedelta(minutes=2)  # past the minute: what is still open is an orphan


class Crash(BaseException):
    """The process dying: nothing after it runs, no clean-up (a BaseException, as SIGKILL is uncatchable)."""


ROOM_MADE = "room made"  # not a method: the moment the room exists, recorded, before its members are added


class Interrupting:
    """The Slack workspace, but the process "dies" as the `nth` call to `method` starts (or, for ROOM_MADE, as
    the room's creation has been heard, before the members are invited)."""

    def __init__(self, inner: Workspace, method: str, nth: int = 1,
                 hold: Callable[[], None] | None = None) -> None:
        self.inner, self.method, self.left, self.hold = inner, method, nth, hold

    def __getattr__(self, name: str) -> Any:
        real = getattr(self.inner, name)
        if self.method == ROOM_MADE and name == "create_private_room":
            def create(room_name: str, members: Any, created: Callable[[str], None]) -> str:
                def heard(room: str) -> None:
                    created(room)
                    raise Crash(ROOM_MADE)
                return str(real(room_name, members, heard))

            return create
        if name != self.method:
            return real

        def call(*args: Any, **kwargs: Any) -> Any:
            self.left -= 1
            if self.left == 0:
                if self.hold is None:
                    raise Crash(name)
                self.hold()
            return real(*args, **kwargs)

        return call


@pytest.fixture(autouse=True)
def roster_loaded(sessions: SessionFactory, terms: Terms) -> None:
    with sessions() as session:
        load_roster(session, terms)


def _convene(sessions: SessionFactory, engine: Engine, terms: Terms, workspace: Workspace | FakeSlack,
             now: datetime = NOW, call: datetime = CALL, key: str = "V-CRASH") -> Convened:
    local = call.astimezone(LONDON)
    f = form(now, submission_key=key, call_date=local.date(), call_time=local.time().replace(second=0,
                                                                                             microsecond=0))
    with sessions() as session:
        entries = roster.entries_for(session, [u for u in f.seats.values() if u])
    request = convening.validate(f, terms, entries, (), now, LONDON, people=HERE)
    if isinstance(workspace, FakeSlack):
        workspace = workspace_for(workspace)
    return convening.convene(sessions, engine, request, terms, workspace, now, LONDON)


def _crash(sessions: SessionFactory, engine: Engine, terms: Terms, fake: FakeSlack, method: str, nth: int = 1,
           key: str = "V-CRASH", now: datetime = NOW, call: datetime = CALL) -> None:
    with pytest.raises(Crash):
        _convene(sessions, engine, terms, Interrupting(workspace_for(fake), method, nth), now, call,  # type: ignore[arg-type]
                 key=key)


def _convenings(sessions: SessionFactory) -> list[Convening]:
    with sessions() as session:
        return list(session.exec(select(Convening).order_by(Convening.id)))


def _cases(sessions: SessionFactory) -> list[Case]:
    with sessions() as session:
        return list(session.exec(select(Case)))


def _recover(sessions: SessionFactory, engine: Engine, terms: Terms, fake: FakeSlack, at: datetime = LATER
             ) -> convene_recovery.RecoveryReport:
    return recover(sessions, engine, workspace_for(fake), terms, LONDON, at)


def _year() -> int:
    return NOW.astimezone(LONDON).year


# --- interrupted at each step ------------------------------------------------------------------------


def test_crash_after_the_room_is_made_the_room_is_renamed_archived_and_the_number_released(
        sessions: SessionFactory, engine: Engine, terms: Terms, directory: FakeSlack) -> None:
    _crash(sessions, engine, terms, directory, ROOM_MADE)
    (open_,) = _convenings(sessions)
    assert open_.state == ConveningState.PENDING and open_.reference == f"PMCCG-{_year()}-001"
    assert open_.room_id in directory.channels and not directory.channels[open_.room_id]["is_archived"]
    assert _cases(sessions) == []

    # Not yet a minute: it might still be in progress somewhere; left alone.
    assert not _recover(sessions, engine, terms, directory, NOW + timedelta(seconds=30))
    assert directory.calls_to("conversations.archive") == []

    report = _recover(sessions, engine, terms, directory)
    assert report.rolled_back == [f"PMCCG-{_year()}-001"]
    room = directory.channels[open_.room_id]
    assert room["is_archived"] and room["name"] == f"void-{open_.id}-pmccg-{_year()}-001"
    (rename,) = directory.calls_to("conversations.rename")
    assert rename.params["channel"] == open_.room_id
    assert directory.calls_to("chat.delete") == []  # it had posted nothing
    # The convener is told, privately, that nothing was kept.
    (told,) = dms(directory, "did not complete")
    assert told.params["channel"] == CONVENER and "run /pmccg convene again" in told.params["text"]
    (done,) = _convenings(sessions)
    assert done.state == ConveningState.ROLLED_BACK and done.convener_told
    with sessions() as session:
        assert session.get(ReferenceCounter, ("PMCCG", _year())) is None

    # Done once: a second pass finds nothing to do.
    assert not _recover(sessions, engine, terms, directory, LATER + timedelta(minutes=5))

    # The next case gets the number, and the channel name without a "-2".
    convened = _convene(sessions, engine, terms, directory, LATER, CALL, key="V-NEXT")
    assert convened.reference == f"PMCCG-{_year()}-001" and convened.room_name == f"pmccg-{_year()}-001"
    assert convened.room_id != open_.room_id


def test_crash_after_the_header_deletes_the_bots_message_in_the_orphan_room(
        sessions: SessionFactory, engine: Engine, terms: Terms, directory: FakeSlack) -> None:
    _crash(sessions, engine, terms, directory, "post", nth=2)  # the board never goes out
    (open_,) = _convenings(sessions)
    assert open_.header_ref in directory.messages and open_.board_ref is None

    _recover(sessions, engine, terms, directory)
    (delete,) = directory.calls_to("chat.delete")
    assert (delete.params["channel"], delete.params["ts"]) == (open_.room_id, open_.header_ref)
    assert delete.ok and open_.header_ref not in directory.messages
    assert [c.params["channel"] for c in directory.calls_to("conversations.archive")] == [open_.room_id]
    # The ledger keeps that the header went out, and that the bot deleted it.
    with sessions() as session:
        (header,) = [r for r in session.exec(select(DeliveryRecord)) if r.kind == "case_header"]
    assert header.case_id is None and header.state == DeliveryState.DELETED and header.ref == open_.header_ref
    assert _cases(sessions) == []


def test_crash_as_the_case_is_saved_deletes_header_and_board_and_leaves_no_reminder(
        sessions: SessionFactory, engine: Engine, terms: Terms, directory: FakeSlack,
        monkeypatch: pytest.MonkeyPatch) -> None:
    def dies(*_: Any, **__: Any) -> bool:
        raise Crash("saving the case")

    monkeypatch.setattr(convene_recovery, "mark_committed", dies)
    with pytest.raises(Crash):
        _convene(sessions, engine, terms, directory)
    monkeypatch.undo()
    (orphan,) = _convenings(sessions)
    assert orphan.state == ConveningState.PENDING and orphan.header_ref and orphan.board_ref

    _recover(sessions, engine, terms, directory)
    deleted = {c.params["ts"] for c in directory.calls_to("chat.delete") if c.ok}
    assert deleted == {orphan.header_ref, orphan.board_ref}
    assert _cases(sessions) == []
    with sessions() as session:
        assert session.exec(select(ScheduledMessage)).all() == []
        assert {r.state for r in session.exec(select(DeliveryRecord))} == {DeliveryState.DELETED}


def test_crash_after_the_case_is_saved_sends_the_invitations_it_owed_once(
        sessions: SessionFactory, engine: Engine, terms: Terms, directory: FakeSlack) -> None:
    _crash(sessions, engine, terms, directory, "send_direct", nth=3)  # two invitations went out
    (case,) = _cases(sessions)
    (open_,) = _convenings(sessions)
    assert open_.state == ConveningState.COMMITTED and open_.case_id == case.id
    assert len(dms(directory, "You are invited")) == 2

    report = _recover(sessions, engine, terms, directory)
    assert report.finished == [case.reference] and report.rolled_back == []
    invited = [c.params["channel"] for c in dms(directory, "You are invited")]
    assert sorted(invited) == sorted(MEMBERS_BUT_CONVENER)  # each member once: none twice, none missed
    assert directory.calls_to("conversations.archive") == [] and directory.calls_to("chat.delete") == []
    (told,) = dms(directory, "is convened")
    assert told.params["channel"] == CONVENER and f"<#{case.room_id}>" in json.dumps(told.params["blocks"])
    assert _convenings(sessions)[0].state == ConveningState.COMPLETE
    with sessions() as session:
        kinds = [r.kind for r in ledger.for_case(session, case.id or 0) if r.state == DeliveryState.SENT]
    assert kinds.count("invitation") == 6 and kinds.count("case_header") == 1 and kinds.count("attendance_board") == 1

    assert not _recover(sessions, engine, terms, directory, LATER + timedelta(minutes=5))
    assert len(dms(directory, "You are invited")) == 6


def test_an_invitation_that_cannot_be_sent_on_recovery_is_noted_and_the_convener_told_how_many(
        sessions: SessionFactory, engine: Engine, terms: Terms, directory: FakeSlack) -> None:
    _crash(sessions, engine, terms, directory, "send_direct")
    directory.refuse("chat.postMessage", "user_not_found", channel="U0PEOPLE1")
    _recover(sessions, engine, terms, directory)
    (note,) = [c for c in directory.delivered("chat.postMessage") if "could not send the invitation" in
               c.params["text"]]
    assert "<@U0PEOPLE1>" in note.params["text"]
    (told,) = dms(directory, "is convened")
    assert "1 invitation(s) could not be sent" in told.params["text"]


# --- the next convening, the tick, and a convening still in progress ---------------------------------------


def test_the_next_convening_rolls_back_an_orphan_at_once_and_takes_its_number_and_name(
        sessions: SessionFactory, engine: Engine, terms: Terms, directory: FakeSlack) -> None:
    _crash(sessions, engine, terms, directory, "post", nth=2)
    orphan = _convenings(sessions)[0]
    # Seconds later, not a minute: the lock says nobody is convening, so the orphan is one.
    convened = _convene(sessions, engine, terms, directory, NOW + timedelta(seconds=5), CALL, key="V-NEXT")
    assert convened.reference == f"PMCCG-{_year()}-001" and convened.room_name == f"pmccg-{_year()}-001"
    assert _convenings(sessions)[0].state == ConveningState.ROLLED_BACK
    assert orphan.header_ref not in directory.messages
    # No room and no number serves two cases.
    (case,) = _cases(sessions)
    assert case.room_id == convened.room_id != orphan.room_id


def test_the_tick_rolls_back_an_orphan_past_the_configured_time(
        sessions: SessionFactory, engine: Engine, terms: Terms, directory: FakeSlack) -> None:
    _crash(sessions, engine, terms, directory, ROOM_MADE)
    at = {"now": NOW + timedelta(seconds=3)}
    ticker = Ticker(sessions=sessions, engine=engine, workspace=workspace_for(directory), terms=terms, zone=LONDON,
                    clock=lambda: at["now"], orphan_after=timedelta(seconds=5))
    ticker.tick()
    assert _convenings(sessions)[0].state == ConveningState.PENDING
    at["now"] = NOW + timedelta(seconds=6)
    ticker.tick()
    assert _convenings(sessions)[0].state == ConveningState.ROLLED_BACK


def test_recovery_never_touches_a_convening_still_in_progress(
        sessions: SessionFactory, engine: Engine, terms: Terms, directory: FakeSlack) -> None:
    started, release = threading.Event(), threading.Event()

    def hold() -> None:  # Slack is slow to answer the board's post
        started.set()
        assert release.wait(30)

    slow = Interrupting(workspace_for(directory), "post", nth=2, hold=hold)
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(convened=_convene(
        sessions, engine, terms, slow, key="V-SLOW")))  # type: ignore[arg-type]
    worker.start()
    try:
        assert started.wait(30)
        (in_progress,) = _convenings(sessions)
        # However old it looks, its lock is held: recovery skips it, and a click on its header says so.
        report = _recover(sessions, engine, terms, directory, NOW + timedelta(hours=1))
        assert report.busy == 1 and report.rolled_back == []
        with sessions() as session:
            assert orphaned_click(session, in_progress.room_id, NOW + timedelta(seconds=10)) == STILL_CONVENING
    finally:
        release.set()
        worker.join(30)
    assert result["convened"].reference == f"PMCCG-{_year()}-001"
    assert directory.calls_to("chat.delete") == [] and directory.calls_to("conversations.archive") == []
    assert _convenings(sessions)[0].state == ConveningState.COMPLETE


def test_a_convening_rolled_back_under_it_never_becomes_a_case(
        sessions: SessionFactory, engine: Engine, terms: Terms, directory: FakeSlack) -> None:
    """If its lock was lost (its database connection dropped) and recovery rolled it back, the convening still
    running fails at the saving step: the room it made is not given to a case."""
    def rolled_back_meanwhile() -> None:
        (row,) = _convenings(sessions)
        assert convene_recovery.roll_back(sessions, workspace_for(directory), row, NOW + timedelta(minutes=2))

    late = Interrupting(workspace_for(directory), "post", nth=2, hold=rolled_back_meanwhile)
    with pytest.raises(PlatformFailure):
        _convene(sessions, engine, terms, late, key="V-LATE")  # type: ignore[arg-type]
    assert _cases(sessions) == []
    with sessions() as session:
        assert session.get(ReferenceCounter, ("PMCCG", _year())) is None
        assert session.exec(select(ScheduledMessage)).all() == []


def test_a_platform_outage_during_clean_up_is_retried_on_the_next_tick(
        sessions: SessionFactory, engine: Engine, terms: Terms, directory: FakeSlack) -> None:
    _crash(sessions, engine, terms, directory, "post", nth=2)
    directory.server_error_next("chat.delete", times=3)  # the client's own retries, then a transient failure
    report = _recover(sessions, engine, terms, directory)
    assert report.retry == 1 and report.rolled_back == []
    (row,) = _convenings(sessions)
    assert row.state == ConveningState.PENDING and row.attempts == 1
    report = _recover(sessions, engine, terms, directory, LATER + timedelta(seconds=20))
    assert report.rolled_back == [row.reference] and row.header_ref not in directory.messages


# --- buttons on what an interrupted convening left ----------------------------------------------------------


def test_only_a_room_of_a_convening_that_did_not_complete_refuses_clicks(
        sessions: SessionFactory, engine: Engine, terms: Terms, directory: FakeSlack) -> None:
    _crash(sessions, engine, terms, directory, "post", nth=2)
    orphan = _convenings(sessions)[0]
    with sessions() as session:
        assert orphaned_click(session, orphan.room_id, NOW + timedelta(seconds=5)) == STILL_CONVENING
        assert orphaned_click(session, orphan.room_id, LATER) == NOT_COMPLETED
    convened = _convene(sessions, engine, terms, directory, LATER, CALL, key="V-NEXT")
    with sessions() as session:
        assert orphaned_click(session, orphan.room_id, LATER) == NOT_COMPLETED
        assert orphaned_click(session, convened.room_id, LATER) is None
        assert orphaned_click(session, "C0GENERAL", LATER) is None


def test_a_click_on_the_orphans_header_changes_nothing_on_the_case_now_holding_its_number(bot: Any) -> None:
    from bot.clock import now

    services = bot.services
    at = now()
    call = at + timedelta(days=3)
    _crash(services.sessions, services.engine, services.terms, bot.slack, "post", nth=2, key="V-ORPHAN", now=at,
           call=call)
    orphan = _convenings(services.sessions)[0]
    convened = _convene(services.sessions, services.engine, services.terms, bot.slack, at, call, key="V-NEXT")
    assert convened.reference == orphan.reference  # the number was released and given to this case
    bot.slack.clear()

    for action in ("case_cancel", "attendance_apologies"):
        response = bot.click("U0MANAGER", action, orphan.reference, channel=orphan.room_id,
                             message_ts=orphan.header_ref)
        assert response.status_code == 200
    replies = bot.slack.wait_for("response", count=2)
    assert {r.params["text"] for r in replies} == {NOT_COMPLETED}
    assert all(r.params["response_type"] == "ephemeral" for r in replies)
    assert bot.slack.calls_to("views.open") == [] and bot.slack.calls_to("chat.update") == []
    with services.sessions() as session:
        case = session.get(Case, convened.case_id)
        assert case is not None and case.status == "convened"
        (manager,) = session.exec(select(Invitee).where(Invitee.case_id == case.id, Invitee.user_id == "U0MANAGER"))
        assert manager.reply == "attending"  # not changed to apologies

    # The same button in the case's own room still works.
    bot.click("U0MANAGER", "case_cancel", convened.reference, channel=convened.room_id, message_ts="1.0")
    bot.slack.wait_for("views.open")


def test_the_migration_and_the_table_agree(engine: Engine, sessions: SessionFactory) -> None:
    from sqlalchemy import inspect

    columns = {c["name"] for c in inspect(engine).get_columns("convenings")}
    assert columns == set(Convening.model_fields)
    with transaction(sessions) as session:
        session.add(Convening(submission_key="k", convener_id="U", prefix="P", year=2026, seq=1, reference="P-1",
                              created_at=NOW, touched_at=NOW))
    assert _convenings(sessions)[0].state == ConveningState.PENDING
