"""The roll-call at the call: who is present in what capacity, and the actual quorum recorded on the case.

Domain tests run on both backends through the scheduler (bot.reminders.send_due) with an in-memory
workspace; HTTP tests drive the running bot as Slack would, with the roll-call posted by the
scheduler into the fake Slack.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import now
from bot.domain import attendance, cases, planning, reminders, roll_call
from bot.domain.errors import InvalidInput, NotAllowed
from bot.domain.history import events
from bot.domain.notify import Message, MessageKind, Posted
from bot.domain.roll_call import RollCallView
from bot.domain.terms import Terms
from handlers.slack import ids
from handlers.slack.workspace import SLACK_BUDGET, SlackWorkspace, rendered
from storage.db import SessionFactory, transaction
from storage.tables import (
    Case,
    CaseStatus,
    Invitee,
    MessageState,
    Reply,
    RollCallCorrection,
    RollCallMark,
    ScheduledMessage,
)
from tests.factories import DEACTIVATED, HERE, LONDON, convene_state, load_roster, seat_choices

CALL = datetime(2026, 11, 5, 14, 0, tzinfo=UTC)  # Thursday 14:00 GMT
NOW = CALL - timedelta(days=3)
CALL_END = CALL + timedelta(minutes=60)


class Recorder:
    """An in-memory Workspace: every message is rendered (so a broken template fails) and kept."""

    budget = SLACK_BUDGET

    def __init__(self) -> None:
        self.posted: list[tuple[str, Message, str]] = []
        self.updated: list[tuple[str, str, Message]] = []

    def create_private_room(self, name: str, members: Sequence[str], created: Callable[[str], None]) -> str:
        created("C0ROOM")
        return "C0ROOM"

    def invite(self, room: str, users: Sequence[str]) -> None:
        return None

    def archive_room(self, room: str) -> None:
        return None

    def post(self, room: str, message: Message) -> Posted:
        rendered(message)
        ts = f"1700000000.{len(self.posted) + 1:06d}"
        self.posted.append((room, message, ts))
        return Posted(room, ts)

    def update(self, room: str, ref: str, message: Message) -> None:
        rendered(message)
        self.updated.append((room, ref, message))

    def send_direct(self, user: str, message: Message) -> Posted:
        return self.post(user, message)

    def upload_file(self, room: str, filename: str, content: bytes, title: str) -> Posted:
        return Posted(room, "F0001")

    def delete_message(self, room: str, ref: str) -> None:
        return None

    def delete_file(self, ref: str) -> None:
        return None

    def of(self, template: str) -> list[tuple[str, Message, str]]:
        return [p for p in self.posted if p[1].template == template]


@pytest.fixture
def roster_loaded(sessions: SessionFactory, terms: Terms) -> None:
    with sessions() as session:
        load_roster(session, terms)


def _case(sessions: SessionFactory, terms: Terms, *, seq: int = 1, deputies: dict[str, str] | None = None,
          profession: str = "nursing") -> str:
    """A convened case with the factories' seats (and their named deputies) and its messages planned."""
    deputies = deputies or {}
    with transaction(sessions) as session:
        case = Case(reference=f"PMCCG-2026-{seq:03d}", prefix="PMCCG", year=2026, seq=seq, profession=profession,
                    route="incident", concern="Two medication errors on night shifts.", risks="Patient safety.",
                    call_at=CALL, duration_minutes=60, call_details="https://meet.example.org/pmccg",
                    convener_id="U0MANAGER", room_id=f"C0ROOM{seq:03d}", room_name=f"pmccg-2026-{seq:03d}",
                    created_at=NOW, convene_key=f"K{seq}")
        session.add(case)
        session.flush()
        assert case.id is not None
        invitees = []
        for position, (seat, user) in enumerate(seat_choices().items()):
            found = terms.seat(seat)
            assert found is not None
            deputy = deputies.get(user)
            invitees.append(Invitee(case_id=case.id, user_id=user, seat=seat, seat_label=found.label,
                                    position=position, reply=Reply.DEPUTY if deputy else Reply.NO_REPLY,
                                    deputy_id=deputy))
        session.add_all(invitees)
        session.flush()
        planning.schedule(session, case, invitees, terms, LONDON, NOW)
        return case.reference


def _mark(sessions: SessionFactory, terms: Terms, reference: str, user: str, by: str | None = None) -> RollCallView:
    with transaction(sessions) as session:
        return roll_call.mark_present(session, terms, reference, user, by or user, NOW + timedelta(days=3), LONDON,
                                      people=HERE)


def _record(sessions: SessionFactory, terms: Terms, reference: str, actor: str) -> RollCallView:
    with transaction(sessions) as session:
        return roll_call.record_result(session, terms, reference, actor, CALL + timedelta(minutes=50), LONDON)


def _load(sessions: SessionFactory, reference: str) -> Case:
    with sessions() as session:
        return session.exec(select(Case).where(Case.reference == reference)).one()


def _events(sessions: SessionFactory, reference: str, kind: str) -> list[dict[str, Any]]:
    case = _load(sessions, reference)
    with sessions() as session:
        return [{"actor": e.actor_id, **json.loads(e.detail)} for e in events(session, case.id or 0) if e.kind == kind]


def _tick(sessions: SessionFactory, engine: Engine, terms: Terms, workspace: Any, at: datetime) -> None:
    report = reminders.send_due(sessions, engine, workspace, terms, LONDON, now=at)
    assert report.errors == []


def _mark_all(sessions: SessionFactory, terms: Terms, reference: str, users: Sequence[str],
              by: str | None = None) -> RollCallView:
    view = None
    for user in users:
        view = _mark(sessions, terms, reference, user, by)
    assert view is not None
    return view


# --- capacities -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("roster_loaded")
def test_capacity_is_derived_member_named_deputy_or_guest(sessions: SessionFactory, terms: Terms) -> None:
    ref = _case(sessions, terms, deputies={"U0PEOPLE1": "U0MEMBER1"})
    view = _mark(sessions, terms, ref, "U0MANAGER")
    row = view.row("U0MANAGER")
    assert row is not None and (row.capacity, row.deputy_for, row.marked_by) == ("member", None, None)
    assert row.seat_label == "Line manager" and row.counted and view.changed

    view = _mark(sessions, terms, ref, "U0MEMBER1")
    row = view.row("U0MEMBER1")
    assert row is not None and (row.capacity, row.deputy_for) == ("deputy", "U0PEOPLE1")

    # Someone the chair marks who is neither invited nor a named deputy is a guest; on the roster they
    # count, from outside it they do not.
    view = _mark(sessions, terms, ref, "U0CLINDIR", by="U0CHAIR01")
    view = _mark(sessions, terms, ref, "U0GPLEAD1", by="U0CHAIR01")
    view = _mark(sessions, terms, ref, "U0OUTSIDE", by="U0CHAIR01")
    guest, outsider = view.row("U0GPLEAD1"), view.row("U0OUTSIDE")
    assert guest is not None and (guest.capacity, guest.deputy_for, guest.counted) == ("guest", None, True)
    assert outsider is not None and (outsider.capacity, outsider.counted) == ("guest", False)
    assert outsider.marked_by == "U0CHAIR01"
    assert view.quorum_reason.startswith("not quorate: 4 of 4 present")

    with sessions() as session:
        marks = {m.user_id: (m.capacity, m.deputy_for, m.marked_by) for m in session.exec(select(RollCallMark))}
    assert marks["U0MEMBER1"] == ("deputy", "U0PEOPLE1", "U0MEMBER1")
    assert marks["U0OUTSIDE"] == ("guest", None, "U0CHAIR01")
    logged = _events(sessions, ref, "roll_call_marked")
    assert {(e["actor"], e["user"], e["capacity"]) for e in logged} >= {
        ("U0MANAGER", "U0MANAGER", "member"), ("U0MEMBER1", "U0MEMBER1", "deputy"),
        ("U0CHAIR01", "U0OUTSIDE", "guest")}


@pytest.mark.usefixtures("roster_loaded")
def test_a_named_deputy_counts_and_the_appointed_deputy_chair_stands_in_for_the_chair(
        sessions: SessionFactory, terms: Terms) -> None:
    ref = _case(sessions, terms, deputies={"U0CHAIR01": "U0DEPUTY1"})
    view = _mark_all(sessions, terms, ref, ["U0DEPUTY1", "U0MANAGER", "U0GOVERN1", "U0NURSELD"])
    deputy = view.row("U0DEPUTY1")
    assert deputy is not None and (deputy.capacity, deputy.deputy_for, deputy.counted) == ("deputy", "U0CHAIR01", True)
    assert view.quorate and view.quorum_reason == "quorate: 4 of 4 present"
    with sessions() as session:
        result = roll_call.actual_quorum(session, terms, _load(sessions, ref))
    assert result.quorate and result.counted == 4 and not result.projected


@pytest.mark.usefixtures("roster_loaded")
def test_a_deputy_from_outside_the_roster_is_recorded_but_not_counted(sessions: SessionFactory, terms: Terms) -> None:
    ref = _case(sessions, terms, deputies={"U0PEOPLE1": "U0OUTSIDE"})
    view = _mark_all(sessions, terms, ref, ["U0CHAIR01", "U0MANAGER", "U0NURSELD", "U0OUTSIDE"])
    outsider = view.row("U0OUTSIDE")
    assert outsider is not None and (outsider.capacity, outsider.counted) == ("deputy", False)
    assert view.quorum_reason == "not quorate: 3 of 4 present; 1 more member needed"


# --- who may mark whom ----------------------------------------------------------------------------


@pytest.mark.usefixtures("roster_loaded")
def test_the_chair_or_governance_marks_someone_who_joined_by_phone(sessions: SessionFactory, terms: Terms) -> None:
    ref = _case(sessions, terms)
    view = _mark(sessions, terms, ref, "U0NURSELD", by="U0CHAIR01")
    row = view.row("U0NURSELD")
    assert row is not None and (row.capacity, row.marked_by) == ("member", "U0CHAIR01")
    # Governance holds the chair's powers on every case.
    view = _mark(sessions, terms, ref, "U0SERVICE", by="U0GOVERN1")
    assert view.row("U0SERVICE") is not None
    logged = _events(sessions, ref, "roll_call_marked")
    assert [(e["actor"], e["user"]) for e in logged] == [("U0CHAIR01", "U0NURSELD"), ("U0GOVERN1", "U0SERVICE")]


@pytest.mark.usefixtures("roster_loaded")
def test_only_the_chair_seats_named_deputy_gains_the_chairs_powers_on_that_case(sessions: SessionFactory,
                                                                               terms: Terms) -> None:
    named = _case(sessions, terms, deputies={"U0CHAIR01": "U0DEPUTY1"})
    other = _case(sessions, terms, seq=2)
    # On the case where the chair named them, the deputy chair marks a phone joiner and records the result.
    assert _mark(sessions, terms, named, "U0NURSELD", by="U0DEPUTY1").row("U0NURSELD") is not None
    assert _record(sessions, terms, named, "U0DEPUTY1").changed
    # A deputy chair on the roster who is not on the case has none of the chair's powers there.
    with pytest.raises(NotAllowed, match="Only the chair of PMCCG-2026-002 \\(or the deputy they named\\)"):
        _mark(sessions, terms, other, "U0NURSELD", by="U0DEPUTY1")
    with pytest.raises(NotAllowed):
        _record(sessions, terms, other, "U0DEPUTY1")
    # Nor does a deputy named for another seat.
    third = _case(sessions, terms, seq=3, deputies={"U0PEOPLE1": "U0DEPUTY1"})
    with pytest.raises(NotAllowed):
        _mark(sessions, terms, third, "U0NURSELD", by="U0DEPUTY1")
    assert _load(sessions, other).quorate is None and _load(sessions, third).quorate is None


@pytest.mark.usefixtures("roster_loaded")
def test_someone_else_cannot_mark_another_person_and_a_stranger_cannot_mark_themself(
        sessions: SessionFactory, terms: Terms) -> None:
    ref = _case(sessions, terms)
    with pytest.raises(NotAllowed) as refused:
        _mark(sessions, terms, ref, "U0NURSELD", by="U0MANAGER")
    assert "Only the chair of PMCCG-2026-001 (or the deputy they named) or governance can mark someone else " \
        "present" in refused.value.message
    assert refused.value.contacts == ("U0CHAIR01", "U0GOVERN1")
    with pytest.raises(NotAllowed) as stranger:
        _mark(sessions, terms, ref, "U0OUTSIDE")
    assert "ask the chair to mark you present" in stranger.value.message
    with sessions() as session:
        assert list(session.exec(select(RollCallMark))) == []
    assert _events(sessions, ref, "roll_call_marked") == []


@pytest.mark.usefixtures("roster_loaded")
def test_marking_twice_is_harmless(sessions: SessionFactory, terms: Terms) -> None:
    ref = _case(sessions, terms)
    assert _mark(sessions, terms, ref, "U0NURSELD").changed
    again = _mark(sessions, terms, ref, "U0NURSELD", by="U0CHAIR01")
    assert not again.changed and len(again.present) == 1
    row = again.row("U0NURSELD")
    assert row is not None and row.marked_by is None  # the first mark stands
    assert len(_events(sessions, ref, "roll_call_marked")) == 1


@pytest.mark.usefixtures("roster_loaded")
def test_nobody_is_marked_on_a_cancelled_case(sessions: SessionFactory, terms: Terms) -> None:
    ref = _case(sessions, terms)
    with transaction(sessions) as session:
        case = session.exec(select(Case).where(Case.reference == ref)).one()
        case.status = CaseStatus.CANCELLED
        session.add(case)
    with pytest.raises(NotAllowed, match="the roll-call is closed"):
        _mark(sessions, terms, ref, "U0CHAIR01")


# --- recording the result -------------------------------------------------------------------------


@pytest.mark.usefixtures("roster_loaded")
def test_a_quorate_call_is_recorded_once_and_revised_only_when_the_roll_call_changed(
        sessions: SessionFactory, terms: Terms) -> None:
    ref = _case(sessions, terms)
    _mark_all(sessions, terms, ref, ["U0CHAIR01", "U0MANAGER", "U0GOVERN1", "U0NURSELD"])
    view = _record(sessions, terms, ref, "U0CHAIR01")
    assert view.changed and view.recorded_quorate is True and view.recorded_by == "U0CHAIR01"
    case = _load(sessions, ref)
    assert (case.quorate, case.quorum_reason) == (True, "quorate: 4 of 4 present")
    (event,) = _events(sessions, ref, "quorum_recorded")
    assert event["actor"] == "U0CHAIR01" and event["quorate"] is True and event["flagged"] is False
    assert {(p["user"], p["capacity"]) for p in event["present"]} == {
        ("U0CHAIR01", "member"), ("U0MANAGER", "member"), ("U0GOVERN1", "member"), ("U0NURSELD", "member")}

    # Recording again with nothing changed keeps the first result.
    again = _record(sessions, terms, ref, "U0GOVERN1")
    assert not again.changed and again.recorded_by == "U0CHAIR01"
    assert len(_events(sessions, ref, "quorum_recorded")) == 1

    # Someone joined late: the result is revised, with an event saying what it was before.
    _mark(sessions, terms, ref, "U0SERVICE")
    revised = _record(sessions, terms, ref, "U0GOVERN1")
    assert revised.changed and revised.recorded_reason == "quorate: 5 present, 4 needed"
    events_ = _events(sessions, ref, "quorum_recorded")
    assert len(events_) == 2 and events_[-1]["revised"] is True
    assert events_[-1]["previous_reason"] == "quorate: 4 of 4 present"


@pytest.mark.usefixtures("roster_loaded")
def test_of_two_recordings_at_once_the_first_to_commit_wins(sessions: SessionFactory, terms: Terms) -> None:
    ref = _case(sessions, terms)
    _mark_all(sessions, terms, ref, ["U0CHAIR01", "U0MANAGER", "U0GOVERN1", "U0NURSELD"])
    with transaction(sessions) as late:
        stale = cases.find_case(late, ref)  # read before the other recording commits
        assert stale.quorate is None
        assert _record(sessions, terms, ref, "U0CHAIR01").changed
        assert not roll_call._store(late, stale, False, "not quorate: 0 of 4 present", [], "bot", CALL_END)
        assert stale.quorate is True  # re-read: the winner's result
    case = _load(sessions, ref)
    assert (case.quorate, case.quorum_reason) == (True, "quorate: 4 of 4 present")
    assert [e["actor"] for e in _events(sessions, ref, "quorum_recorded")] == ["U0CHAIR01"]


@pytest.mark.usefixtures("roster_loaded")
@pytest.mark.parametrize(("present", "failing"), [
    pytest.param(["U0CHAIR01", "U0MANAGER", "U0GOVERN1", "U0SERVICE"],
                 "not quorate: 4 of 4 present; a professional lead for nursing is not present", id="no nursing lead"),
    pytest.param(["U0MANAGER", "U0GOVERN1", "U0SERVICE", "U0NURSELD"],
                 "not quorate: 4 of 4 present; the chair or their appointed deputy is not present", id="no chair"),
    pytest.param(["U0CHAIR01", "U0NURSELD", "U0GOVERN1"],
                 "not quorate: 3 of 4 present; 1 more member needed", id="three present"),
])
def test_an_inquorate_call_is_recorded_flagged_with_the_failing_condition(
        sessions: SessionFactory, terms: Terms, present: list[str], failing: str) -> None:
    ref = _case(sessions, terms)
    _mark_all(sessions, terms, ref, present)
    view = _record(sessions, terms, ref, "U0GOVERN1")
    assert view.recorded_quorate is False and view.recorded_reason == failing
    case = _load(sessions, ref)
    assert (case.quorate, case.quorum_reason) == (False, failing)
    (event,) = _events(sessions, ref, "quorum_recorded")
    assert event["flagged"] is True and event["reason"] == failing and event["automatic"] is False
    body = json.dumps(rendered(Message(MessageKind.ROLL_CALL_RESULT, view)), ensure_ascii=False)
    assert ":red_circle: *Not quorate*: " + failing.removeprefix("not quorate: ") in body
    assert "Flagged" in body


@pytest.mark.usefixtures("roster_loaded")
def test_only_the_chair_or_governance_may_record_the_result(sessions: SessionFactory, terms: Terms) -> None:
    ref = _case(sessions, terms)
    for outsider in ("U0MANAGER", "U0DEPUTY1"):  # a member; a roster deputy chair not on the case
        with pytest.raises(NotAllowed, match="Only the chair of PMCCG-2026-001 .* or governance can record") as no:
            _record(sessions, terms, ref, outsider)
        assert set(no.value.contacts) == {"U0CHAIR01", "U0GOVERN1"}
    assert _load(sessions, ref).quorate is None
    assert _record(sessions, terms, ref, "U0GOVERN1").changed
    assert _load(sessions, ref).quorate is False


# --- scheduled messages -------------------------------------------------------------------------


@pytest.mark.usefixtures("roster_loaded")
def test_the_roll_call_is_posted_at_the_start_of_the_call_and_updated_in_place(
        sessions: SessionFactory, engine: Engine, terms: Terms) -> None:
    ref = _case(sessions, terms)
    workspace = Recorder()
    _tick(sessions, engine, terms, workspace, CALL)
    ((room, message, ts),) = workspace.of("roll_call")
    case = _load(sessions, ref)
    assert room == case.room_id and case.roll_call_ref == ts
    body = rendered(message)
    buttons = [e for b in body["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [(b["action_id"], b["text"]["text"], b["value"]) for b in buttons] == [
        (ids.ROLL_CALL_PRESENT, "I'm on the call", ref), (ids.ROLL_CALL_MARK_OTHER, "Mark someone present", ref),
        (ids.ROLL_CALL_RECORD, "Record the quorum result", ref), (ids.ROLL_CALL_CORRECT, "Correct the roll-call", ref)]
    assert "Marking present closes <!date^" in json.dumps(body)  # the call's end plus the grace period
    assert "Nobody is marked present yet." in json.dumps(body)

    _mark(sessions, terms, ref, "U0OUTSIDE", by="U0CHAIR01")
    roll_call.refresh_roll_call(sessions, engine, terms, case.id or 0, workspace, LONDON)
    ((room, updated_ts, update),) = workspace.updated
    assert (room, updated_ts, update.template) == (case.room_id, ts, "roll_call")
    text = json.dumps(rendered(update), ensure_ascii=False)
    assert "<@U0OUTSIDE> — Guest _(not counted)_ (marked by <@U0CHAIR01>)" in text
    assert "Wilfred" not in text  # mentions only, never names


@pytest.mark.usefixtures("roster_loaded")
def test_no_roll_call_for_a_cancelled_case(sessions: SessionFactory, engine: Engine, terms: Terms) -> None:
    ref = _case(sessions, terms)
    with transaction(sessions) as session:
        case = session.exec(select(Case).where(Case.reference == ref)).one()
        case.status = CaseStatus.CANCELLED
        session.add(case)
    workspace = Recorder()
    _tick(sessions, engine, terms, workspace, CALL)
    _tick(sessions, engine, terms, workspace, CALL_END)
    assert workspace.of("roll_call") == [] and workspace.of("roll_call_result") == []
    with sessions() as session:
        closes = list(session.exec(select(ScheduledMessage).where(ScheduledMessage.kind == "roll_call_close")))
    assert [(c.state, c.last_error) for c in closes] == [(MessageState.DROPPED, "cancelled")]


@pytest.mark.usefixtures("roster_loaded")
def test_at_the_end_of_the_call_an_unrecorded_result_is_recorded_automatically(
        sessions: SessionFactory, engine: Engine, terms: Terms) -> None:
    ref = _case(sessions, terms)
    workspace = Recorder()
    _tick(sessions, engine, terms, workspace, CALL)
    _mark_all(sessions, terms, ref, ["U0CHAIR01", "U0NURSELD"])
    _tick(sessions, engine, terms, workspace, CALL_END)
    ((room, message, _),) = workspace.of("roll_call_result")
    case = _load(sessions, ref)
    assert room == case.room_id
    assert (case.quorate, case.quorum_reason) == (False, "not quorate: 2 of 4 present; 2 more members needed")
    (event,) = _events(sessions, ref, "quorum_recorded")
    assert event["actor"] == "bot" and event["automatic"] is True and event["flagged"] is True
    body = rendered(message)
    assert body["text"] == f"{ref}: Not quorate: 2 of 4 present; 2 more members needed"
    assert "Recorded automatically at the end of the call." in json.dumps(body)

    # Nothing is recorded or posted twice.
    _tick(sessions, engine, terms, workspace, CALL_END + timedelta(minutes=10))
    assert len(workspace.of("roll_call_result")) == 1
    assert len(_events(sessions, ref, "quorum_recorded")) == 1


@pytest.mark.usefixtures("roster_loaded")
def test_at_the_end_of_the_call_a_result_already_recorded_is_kept(sessions: SessionFactory, engine: Engine,
                                                                  terms: Terms) -> None:
    ref = _case(sessions, terms)
    _mark_all(sessions, terms, ref, ["U0CHAIR01", "U0MANAGER", "U0GOVERN1", "U0NURSELD"])
    _record(sessions, terms, ref, "U0CHAIR01")
    workspace = Recorder()
    _tick(sessions, engine, terms, workspace, CALL_END)
    assert workspace.of("roll_call_result") == []
    with sessions() as session:
        close = session.exec(select(ScheduledMessage).where(ScheduledMessage.kind == "roll_call_close")).one()
    assert (close.state, close.last_error) == (MessageState.DROPPED, "recorded")
    assert [e["actor"] for e in _events(sessions, ref, "quorum_recorded")] == ["U0CHAIR01"]


def test_the_template_action_ids_are_the_ids_the_listeners_use() -> None:
    view = RollCallView(case_id=1, room_id="C1", reference="PMCCG-2026-001", group_short_name="PMCCG", call_at=CALL,
                        call_at_local="Thursday 5 November 2026 at 14:00 GMT", present=(), quorate=False,
                        quorum_reason="not quorate: 0 of 4 present", detail="0 of 4 present", recorded_quorate=None,
                        recorded_reason=None, recorded_detail=None, recorded_by=None, open=True)
    blocks = rendered(Message(MessageKind.ROLL_CALL, view))["blocks"]
    actions = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert actions == [ids.ROLL_CALL_PRESENT, ids.ROLL_CALL_MARK_OTHER, ids.ROLL_CALL_RECORD, ids.ROLL_CALL_CORRECT]
    closed = rendered(Message(MessageKind.ROLL_CALL, RollCallView(**{**view.__dict__, "open": False})))
    assert not any(b["type"] == "actions" for b in closed["blocks"])


# --- over HTTP ------------------------------------------------------------------------------------


def _convened(bot: Any) -> Case:
    bot.submit("U0MANAGER", "convene", convene_state(now()))
    bot.slack.wait_for("views.update")
    with bot.services.sessions() as session:
        return session.exec(select(Case)).one()


def _send_due(bot: Any, at: datetime) -> None:
    client = WebClient(token="xoxb-test-token", base_url=bot.slack.url)
    report = reminders.send_due(bot.services.sessions, bot.services.engine, SlackWorkspace(client),
                                bot.services.terms, bot.services.zone, now=at)
    assert report.errors == []


def _posted_roll_call(bot: Any) -> Case:
    case = _convened(bot)
    _send_due(bot, case.call_at)
    with bot.services.sessions() as session:
        case = session.exec(select(Case)).one()
    assert case.roll_call_ref and bot.slack.messages[case.roll_call_ref]["text"].startswith("Roll-call for PMCCG")
    return case


def _blocks_text(call: Any) -> str:
    return "\n".join(json.dumps(b, ensure_ascii=False) for b in call.params["blocks"])


def _roll_call_updates(bot: Any, case: Case) -> list[Any]:
    return [c for c in bot.slack.calls_to("chat.update") if c.params.get("ts") == case.roll_call_ref]


def test_members_mark_themselves_present_and_the_roll_call_updates_in_place_until_quorate(bot: Any) -> None:
    case = _posted_roll_call(bot)
    ref, room = case.reference, case.room_id
    for count, user in enumerate(["U0CHAIR01", "U0MANAGER", "U0GOVERN1", "U0NURSELD"], start=1):
        bot.click(user, ids.ROLL_CALL_PRESENT, ref, channel=room, message_ts=case.roll_call_ref)
        bot.slack.wait_for("chat.update", lambda c: c.params.get("ts") == case.roll_call_ref, count=count)
    last = _roll_call_updates(bot, case)[-1]
    assert last.params["channel"] == room
    text = _blocks_text(last)
    assert "<@U0NURSELD> — Professional lead for the staff member's profession" in text
    assert ":large_green_circle: *Actual: quorate: 4 of 4 present*" in text
    replies = bot.slack.wait_for("response", count=4)
    assert all(r.params["response_type"] == "ephemeral" and r.params["replace_original"] is False for r in replies)
    assert f"You are marked present as a member on {ref}." in {r.params["text"] for r in replies}
    # The roll-call is one message: no new post for the marks.
    assert [c for c in bot.slack.calls_to("chat.postMessage") if "Roll-call" in str(c.params.get("text"))][1:] == []

    bot.click("U0NURSELD", ids.ROLL_CALL_PRESENT, ref, channel=room, message_ts=case.roll_call_ref)
    replies = bot.slack.wait_for("response", count=5)
    assert replies[-1].params["text"] == f"No change: You were already marked present on {ref}."
    assert len(_roll_call_updates(bot, case)) == 4

    bot.click("U0CHAIR01", ids.ROLL_CALL_RECORD, ref, channel=room, message_ts=case.roll_call_ref)
    (result,) = bot.slack.wait_for("chat.postMessage", lambda c: str(c.params.get("text")) == f"{ref}: Quorate")
    assert result.params["channel"] == room
    assert ":large_green_circle: *Quorate*" in _blocks_text(result) and "Recorded by <@U0CHAIR01>" in \
        _blocks_text(result)
    bot.slack.wait_for("chat.update", lambda c: c.params.get("ts") == case.roll_call_ref, count=5)
    assert "Recorded by <@U0CHAIR01>: quorate (4 of 4 present)" in _blocks_text(_roll_call_updates(bot, case)[-1])
    with bot.services.sessions() as session:
        stored = session.exec(select(Case)).one()
    assert (stored.quorate, stored.quorum_reason) == (True, "quorate: 4 of 4 present")

    # The end of the call finds it recorded: nothing more is posted.
    posts = len(bot.slack.calls_to("chat.postMessage"))
    _send_due(bot, case.call_at + timedelta(minutes=case.duration_minutes))
    assert len(bot.slack.calls_to("chat.postMessage")) == posts


def test_the_chair_marks_a_phone_joiner_through_the_modal(bot: Any) -> None:
    case = _posted_roll_call(bot)
    ref, room = case.reference, case.room_id
    bot.click("U0CHAIR01", ids.ROLL_CALL_MARK_OTHER, ref, channel=room, message_ts=case.roll_call_ref)
    (opened,) = bot.slack.wait_for("views.open")
    assert opened.params["view"]["callback_id"] == ids.ROLL_CALL_MARK_VIEW
    assert opened.params["view"]["private_metadata"] == ref

    values = {ids.ROLL_CALL_PERSON: {ids.ROLL_CALL_PERSON: {"type": "users_select", "selected_user": "U0NURSELD"}}}
    response = bot.submit("U0CHAIR01", ids.ROLL_CALL_MARK_VIEW, values, private_metadata=ref)
    assert response.status_code == 200 and response.text in ("", "{}")
    (update,) = bot.slack.wait_for("chat.update", lambda c: c.params.get("ts") == case.roll_call_ref)
    assert "<@U0NURSELD> — Professional lead for the staff member's profession (marked by <@U0CHAIR01>)" in \
        _blocks_text(update)
    (confirmation,) = bot.slack.wait_for("chat.postEphemeral")
    assert confirmation.params["user"] == "U0CHAIR01" and "<@U0NURSELD> is marked present as a member" in \
        confirmation.params["text"]

    # A guest the chair marks is shown, but not counted: they are not on the roster.
    values[ids.ROLL_CALL_PERSON][ids.ROLL_CALL_PERSON]["selected_user"] = "U0OUTSIDE"
    bot.submit("U0CHAIR01", ids.ROLL_CALL_MARK_VIEW, values, private_metadata=ref)
    bot.slack.wait_for("chat.update", lambda c: c.params.get("ts") == case.roll_call_ref, count=2)
    assert "<@U0OUTSIDE> — Guest _(not counted)_" in _blocks_text(_roll_call_updates(bot, case)[-1])

    # Someone not the chair submitting the form (a stale modal) gets the error at the field.
    response = bot.submit("U0MANAGER", ids.ROLL_CALL_MARK_VIEW, values, private_metadata=ref)
    errors = response.json()["errors"]
    assert errors[ids.ROLL_CALL_PERSON].startswith("Only the chair of")


def test_a_member_who_is_not_the_chair_is_refused_privately(bot: Any) -> None:
    case = _posted_roll_call(bot)
    ref, room = case.reference, case.room_id
    bot.click("U0MANAGER", ids.ROLL_CALL_MARK_OTHER, ref, channel=room, message_ts=case.roll_call_ref)
    bot.click("U0OUTSIDE", ids.ROLL_CALL_PRESENT, ref, channel=room, message_ts=case.roll_call_ref)
    bot.click("U0MANAGER", ids.ROLL_CALL_RECORD, ref, channel=room, message_ts=case.roll_call_ref)
    replies = bot.slack.wait_for("response", count=3)
    assert all(r.params["response_type"] == "ephemeral" and r.params["replace_original"] is False for r in replies)
    texts = {r.params["text"] for r in replies}
    assert any(t.startswith(f"Only the chair of {ref} (or the deputy they named) or governance can mark someone "
                            "else present") for t in texts)
    assert any("ask the chair to mark you present" in t for t in texts)
    assert any(t.startswith(f"Only the chair of {ref} (or the deputy they named) or governance can record")
               for t in texts)
    assert bot.slack.calls_to("views.open") == [] and _roll_call_updates(bot, case) == []
    with bot.services.sessions() as session:
        assert session.exec(select(Case)).one().quorate is None


def test_governance_records_an_inquorate_call_flagged(bot: Any) -> None:
    case = _posted_roll_call(bot)
    ref, room = case.reference, case.room_id
    for count, user in enumerate(["U0CHAIR01", "U0MANAGER", "U0GOVERN1"], start=1):
        bot.click(user, ids.ROLL_CALL_PRESENT, ref, channel=room, message_ts=case.roll_call_ref)
        bot.slack.wait_for("chat.update", lambda c: c.params.get("ts") == case.roll_call_ref, count=count)
    bot.click("U0GOVERN1", ids.ROLL_CALL_RECORD, ref, channel=room, message_ts=case.roll_call_ref)
    expected = "3 of 4 present; 1 more member needed; a professional lead for nursing is not present"
    (result,) = bot.slack.wait_for("chat.postMessage", lambda c: str(c.params.get("text")).startswith(f"{ref}: Not"))
    assert result.params["text"] == f"{ref}: Not quorate: {expected}"
    text = _blocks_text(result)
    assert f":red_circle: *Not quorate*: {expected}" in text and "*Flagged*" in text
    with bot.services.sessions() as session:
        stored = session.exec(select(Case)).one()
    assert (stored.quorate, stored.quorum_reason) == (False, f"not quorate: {expected}")


# --- after the call (issue 12, rule 6) ------------------------------------------------------------------

GRACE_END = CALL_END + timedelta(minutes=30)
THREE_WEEKS_ON = CALL_END + timedelta(weeks=3)


def _mark_at(sessions: SessionFactory, terms: Terms, reference: str, user: str, at: datetime,
             by: str | None = None) -> RollCallView:
    with transaction(sessions) as session:
        return roll_call.mark_present(session, terms, reference, user, by or user, at, LONDON, people=HERE)


def _correct(sessions: SessionFactory, terms: Terms, reference: str, actor: str, person: str | None,
             present: bool | None, reason: str, at: datetime = THREE_WEEKS_ON) -> roll_call.Corrected:
    form = roll_call.CorrectionForm(reference, actor, person, present, reason)
    return roll_call.correct_roll_call(sessions, terms, form, at, LONDON, people=HERE)


def _marked(sessions: SessionFactory) -> set[str]:
    with sessions() as session:
        return {m.user_id for m in session.exec(select(RollCallMark))}


@pytest.mark.usefixtures("roster_loaded")
def test_marking_oneself_present_closes_with_the_grace_period_after_the_call(sessions: SessionFactory,
                                                                             terms: Terms) -> None:
    assert terms.roll_call_grace_minutes == 30  # the terms' default
    ref = _case(sessions, terms)
    assert _mark_at(sessions, terms, ref, "U0CHAIR01", GRACE_END - timedelta(minutes=1)).changed
    for at in (GRACE_END, THREE_WEEKS_ON):
        with pytest.raises(NotAllowed) as closed:
            _mark_at(sessions, terms, ref, "U0NURSELD", at)
        assert closed.value.message == (
            f"\"I'm on the call\" for {ref} closed at Thursday 5 November 2026 at 15:30 GMT, 30 minutes after the "
            "call ended. If the roll-call is wrong, ask the chair to correct it.")
        assert closed.value.contacts == ("U0CHAIR01", "U0GOVERN1")
    # Nor may the chair mark someone without a reason once it has closed.
    with pytest.raises(NotAllowed, match="Use \"Correct the roll-call\""):
        _mark_at(sessions, terms, ref, "U0NURSELD", GRACE_END, by="U0CHAIR01")
    assert _marked(sessions) == {"U0CHAIR01"}
    assert len(_events(sessions, ref, "roll_call_marked")) == 1


@pytest.mark.usefixtures("roster_loaded")
def test_the_chair_corrects_the_roll_call_with_a_reason_kept_apart_from_the_history(
        sessions: SessionFactory, engine: Engine, terms: Terms) -> None:
    ref = _case(sessions, terms)
    _mark_all(sessions, terms, ref, ["U0CHAIR01", "U0MANAGER", "U0GOVERN1"])
    _tick(sessions, engine, terms, Recorder(), CALL_END)  # recorded automatically: not quorate, 3 of 4
    assert _load(sessions, ref).quorate is False

    corrected = _correct(sessions, terms, ref, "U0CHAIR01", "U0NURSELD", True,
                         "Joined by phone at 14:10; the line dropped before she could press the button.")
    assert corrected.revised and corrected.view.recorded_quorate is True
    assert _marked(sessions) == {"U0CHAIR01", "U0MANAGER", "U0GOVERN1", "U0NURSELD"}
    case = _load(sessions, ref)
    assert (case.quorate, case.quorum_reason) == (True, "quorate: 4 of 4 present")
    (event,) = _events(sessions, ref, "roll_call_corrected")
    assert {k: event[k] for k in ("actor", "user", "present", "capacity")} == {
        "actor": "U0CHAIR01", "user": "U0NURSELD", "present": True, "capacity": "member"}
    with sessions() as session:
        (row,) = session.exec(select(RollCallCorrection)).all()
        assert (row.id, row.user_id, row.present, row.corrected_by) == (event["correction"], "U0NURSELD", True,
                                                                       "U0CHAIR01")
        assert row.reason.startswith("Joined by phone")
        # The typed reason is not in the history, where retention could not purge it.
        assert all("phone" not in e.detail for e in events(session, case.id or 0))
    revised = _events(sessions, ref, "quorum_recorded")[-1]
    assert revised["actor"] == "U0CHAIR01" and revised["revised"] is True

    # Governance takes a mark off again, with its reason.
    corrected = _correct(sessions, terms, ref, "U0GOVERN1", "U0MANAGER", False, "Listed in error: on leave.")
    assert not corrected.present and _marked(sessions) == {"U0CHAIR01", "U0GOVERN1", "U0NURSELD"}
    assert _load(sessions, ref).quorum_reason == "not quorate: 3 of 4 present; 1 more member needed"


@pytest.mark.usefixtures("roster_loaded")
@pytest.mark.parametrize(("actor", "person", "present", "reason", "field", "message"), [
    pytest.param("U0CHAIR01", "U0NURSELD", True, "  ", "reason", "Give the reason for the correction",
                 id="no reason"),
    pytest.param("U0CHAIR01", "U0NURSELD", None, "Joined by phone.", "present", "Say whether they were on the call",
                 id="present or not left out"),
    pytest.param("U0CHAIR01", "U0CHAIR01", True, "Twice.", "person", "already marked present", id="already marked"),
    pytest.param("U0CHAIR01", "U0NURSELD", False, "Not there.", "person", "not marked present", id="not marked"),
    pytest.param("U0CHAIR01", DEACTIVATED[0], True, "Joined by phone.", "person", "deactivated",
                 id="a deactivated account"),
])
def test_a_correction_is_refused_at_its_field_and_writes_nothing(sessions: SessionFactory, terms: Terms, actor: str,
                                                                 person: str, present: bool | None, reason: str,
                                                                 field: str, message: str) -> None:
    ref = _case(sessions, terms)
    _mark(sessions, terms, ref, "U0CHAIR01")
    with pytest.raises(InvalidInput) as refused:
        _correct(sessions, terms, ref, actor, person, present, reason)
    assert message in refused.value.fields[field]
    assert _marked(sessions) == {"U0CHAIR01"} and _events(sessions, ref, "roll_call_corrected") == []
    with sessions() as session:
        assert session.exec(select(RollCallCorrection)).all() == []


@pytest.mark.usefixtures("roster_loaded")
@pytest.mark.parametrize("actor", [
    pytest.param("U0NURSELD", id="a member"),
    pytest.param("U0MANAGER", id="the convener"),
    pytest.param("U0DEPUTY1", id="a roster deputy chair who is not on the case"),
])
def test_only_the_chair_or_governance_corrects_the_roll_call(sessions: SessionFactory, terms: Terms,
                                                             actor: str) -> None:
    ref = _case(sessions, terms)
    with pytest.raises(NotAllowed, match=f"Only the chair of {ref} .* or governance can correct its roll-call"):
        _correct(sessions, terms, ref, actor, "U0NURSELD", True, "I was there.")
    assert _marked(sessions) == set()


@pytest.mark.usefixtures("roster_loaded")
def test_retention_purges_the_reasons_of_corrections(sessions: SessionFactory, terms: Terms) -> None:
    from bot.records import retention

    ref = _case(sessions, terms)
    _correct(sessions, terms, ref, "U0CHAIR01", "U0NURSELD", True, "Joined by phone at 14:10.")
    with transaction(sessions) as session:
        case = session.exec(select(Case).where(Case.reference == ref)).one()
        case.status, case.closed_at = CaseStatus.CLOSED, CALL_END
        session.add(case)
    later = CALL_END + timedelta(days=terms.records.retention_days + 1)
    with transaction(sessions) as session:
        retention.purge(session, terms, later, LONDON, dry_run=False)
    with sessions() as session:
        (row,) = session.exec(select(RollCallCorrection)).all()
    assert retention.is_purged(row.reason) and row.present is True  # the fact stays, the words go


@pytest.mark.usefixtures("roster_loaded")
def test_attendance_answers_after_the_call_do_not_change_a_taken_roll_call(sessions: SessionFactory,
                                                                           terms: Terms) -> None:
    ref = _case(sessions, terms)
    _mark(sessions, terms, ref, "U0CHAIR01")
    with pytest.raises(NotAllowed, match="who attended is taken from its roll-call"), transaction(sessions) as session:
        attendance.record_reply(session, terms, ref, "U0PEOPLE1", Reply.APOLOGIES, THREE_WEEKS_ON, LONDON)
    with sessions() as session:
        row = session.exec(select(Invitee).where(Invitee.user_id == "U0PEOPLE1")).one()
    assert (row.reply, row.replied_at) == (Reply.NO_REPLY, None)
    # Where no roll-call was taken, answers close with the grace period too.
    other = _case(sessions, terms, seq=2)
    with pytest.raises(NotAllowed, match="attendance answers are closed"), transaction(sessions) as session:
        attendance.record_reply(session, terms, other, "U0PEOPLE1", Reply.ATTENDING, THREE_WEEKS_ON, LONDON)


# --- after the call, over HTTP ---------------------------------------------------------------------------


def _correction(person: str | None, present: str | None, reason: str | None) -> dict[str, Any]:
    return {ids.ROLL_CALL_PERSON: {ids.ROLL_CALL_PERSON: {"type": "users_select", "selected_user": person}},
            ids.ROLL_CALL_PRESENT_FIELD: {ids.ROLL_CALL_PRESENT_FIELD: {
                "type": "radio_buttons", "selected_option": {"value": present} if present else None}},
            ids.ROLL_CALL_REASON_FIELD: {ids.ROLL_CALL_REASON_FIELD: {"type": "plain_text_input", "value": reason}}}


def test_a_member_marking_themself_present_three_weeks_after_the_call_changes_nothing(clocked_bot: Any) -> None:
    bot = clocked_bot
    case = _posted_roll_call(bot)
    ref, room = case.reference, case.room_id
    bot.click("U0CHAIR01", ids.ROLL_CALL_PRESENT, ref, channel=room, message_ts=case.roll_call_ref)
    bot.slack.wait_for("chat.update", lambda c: c.params.get("ts") == case.roll_call_ref)
    _send_due(bot, case.call_at + timedelta(minutes=case.duration_minutes))  # recorded: not quorate
    bot.clock.move_to(case.call_at + timedelta(weeks=3))

    bot.click("U0NURSELD", ids.ROLL_CALL_PRESENT, ref, channel=room, message_ts=case.roll_call_ref)
    bot.click("U0PEOPLE1", "attendance_attending", ref, channel=room, message_ts=case.board_ref)
    replies = bot.slack.wait_for("response", count=3)
    texts = [r.params["text"] for r in replies[1:]]
    assert any(t.startswith(f"\"I'm on the call\" for {ref} closed at ") for t in texts)
    assert any("who attended is taken from its roll-call" in t for t in texts)
    # The chair, too, now corrects the roll-call with a reason rather than marking someone present.
    bot.click("U0CHAIR01", ids.ROLL_CALL_MARK_OTHER, ref, channel=room, message_ts=case.roll_call_ref)
    closed = bot.slack.wait_for("response", count=4)[-1]
    assert "Use \"Correct the roll-call\" to change it, with the reason." in closed.params["text"]
    assert bot.slack.calls_to("views.open") == []
    assert len(_roll_call_updates(bot, case)) == 1
    with bot.services.sessions() as session:
        assert [m.user_id for m in session.exec(select(RollCallMark))] == ["U0CHAIR01"]
        assert session.exec(select(Case)).one().quorate is False
        people = session.exec(select(Invitee).where(Invitee.user_id == "U0PEOPLE1")).one()
        assert people.reply == Reply.NO_REPLY


def test_the_chair_corrects_the_roll_call_from_its_message_with_a_reason(clocked_bot: Any) -> None:
    bot = clocked_bot
    case = _posted_roll_call(bot)
    ref, room = case.reference, case.room_id
    for count, user in enumerate(["U0CHAIR01", "U0MANAGER", "U0GOVERN1"], start=1):
        bot.click(user, ids.ROLL_CALL_PRESENT, ref, channel=room, message_ts=case.roll_call_ref)
        bot.slack.wait_for("chat.update", lambda c: c.params.get("ts") == case.roll_call_ref, count=count)
    _send_due(bot, case.call_at + timedelta(minutes=case.duration_minutes))
    bot.clock.move_to(case.call_at + timedelta(weeks=3))

    # A member may not, by the button or by a forged submission.
    bot.click("U0NURSELD", ids.ROLL_CALL_CORRECT, ref, channel=room, message_ts=case.roll_call_ref)
    refused = bot.slack.wait_for("response", count=4)[-1]  # after the three marks' confirmations
    assert refused.params["text"].startswith(f"Only the chair of {ref} (or the deputy they named) or governance")
    body = bot.submit("U0NURSELD", ids.ROLL_CALL_CORRECT_VIEW, _correction("U0NURSELD", "present", "I was there"),
                      private_metadata=ref).json()
    assert body["response_action"] == "errors" and body["errors"][ids.ROLL_CALL_PERSON].startswith("Only the chair")

    bot.click("U0CHAIR01", ids.ROLL_CALL_CORRECT, ref, channel=room, message_ts=case.roll_call_ref)
    (opened,) = bot.slack.wait_for("views.open")
    assert opened.params["view"]["callback_id"] == ids.ROLL_CALL_CORRECT_VIEW
    assert opened.params["view"]["private_metadata"] == ref
    body = bot.submit("U0CHAIR01", ids.ROLL_CALL_CORRECT_VIEW, _correction("U0NURSELD", "present", None),
                      private_metadata=ref).json()
    assert body == {"response_action": "errors", "errors": {
        ids.ROLL_CALL_REASON_FIELD: "Give the reason for the correction: it is kept in the case record."}}

    response = bot.submit("U0CHAIR01", ids.ROLL_CALL_CORRECT_VIEW,
                          _correction("U0NURSELD", "present", "Joined by phone; could not press the button."),
                          private_metadata=ref)
    assert response.status_code == 200 and response.text in ("", "{}")
    (note,) = bot.slack.wait_for("chat.postMessage", lambda c: "was corrected" in str(c.params.get("text")))
    text = _blocks_text(note)
    assert note.params["channel"] == room
    assert "<@U0CHAIR01> corrected the roll-call" in text and "<@U0NURSELD> was on the call" in text
    assert "Recorded result revised: quorate (4 of 4 present)" in text and "phone" not in text
    update = bot.slack.wait_for("chat.update", lambda c: c.params.get("ts") == case.roll_call_ref, count=4)[-1]
    assert "<@U0NURSELD> — Professional lead for the staff member's profession (marked by <@U0CHAIR01>)" in \
        _blocks_text(update)
    with bot.services.sessions() as session:
        assert session.exec(select(Case)).one().quorate is True
        (row,) = session.exec(select(RollCallCorrection)).all()
        assert (row.user_id, row.present, row.corrected_by) == ("U0NURSELD", True, "U0CHAIR01")
