"""Stale attendance buttons and the race between a reply and a reschedule (issue 13, rule 6).

Every attendance button carries the schedule version it was sent for. After a reschedule, a button of
the old time is refused with the new time, and nothing is recorded; the version only ever refuses. A
reply and a reschedule of the same case take one lock, so an answer given on the old time either lands
before the reschedule (which then clears it) or waits and is refused: it is never recorded against the
new time. The races run with a second engine of their own (another worker), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
import time as clock_time
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import now
from bot.domain import attendance
from bot.domain.case_views import local_time_text
from bot.domain.rescheduling import reschedule
from bot.domain.terms import Terms
from handlers.slack import ids
from storage.db import SessionFactory, make_engine, session_factory, transaction
from storage.tables import Case, CaseEvent, DeliveryRecord, Invitee, Reply
from tests.factories import LONDON, convene_state
from tests.slack_client import opened_view, submit_view

NURSE, CHAIR, OUTSIDER = "U0NURSELD", "U0CHAIR01", "U0OUTSIDE"


# --- helpers -----------------------------------------------------------------------------------------


def _convened(bot: Any) -> Case:
    bot.submit("U0MANAGER", "convene", convene_state(now()))
    bot.slack.wait_for("views.update")
    return _case(bot)


def _case(bot: Any) -> Case:
    with bot.services.sessions() as session:
        return session.exec(select(Case)).one()


def _reply(bot: Any, user: str) -> str:
    with bot.services.sessions() as session:
        return str(session.exec(select(Invitee).where(Invitee.user_id == user)).one().reply)


def _dm(bot: Any, user: str, kind: str) -> DeliveryRecord:
    """The bot's latest direct message of `kind` to `user`, as its ledger holds it."""
    with bot.services.sessions() as session:
        rows = session.exec(select(DeliveryRecord).where(DeliveryRecord.recipient == user,
                                                         DeliveryRecord.kind == kind)).all()
    assert rows, f"no {kind} to {user}"
    return rows[-1]


def _values(message: dict[str, Any]) -> dict[str, str]:
    """action id -> value of the attendance buttons of a message as Slack holds it now."""
    return {e["action_id"]: e["value"] for b in message.get("blocks", []) if b.get("block_id") == "attendance"
            for e in b["elements"]}


def _new_day() -> date:
    return (now().astimezone(LONDON) + timedelta(days=5)).date()


def _new_call() -> datetime:
    return datetime.combine(_new_day(), time(10, 30), tzinfo=LONDON).astimezone(UTC)


def _when(day: date, at: str) -> dict[str, Any]:
    return {"call_date": {"call_date": {"type": "datepicker", "selected_date": str(day)}},
            "call_time": {"call_time": {"type": "timepicker", "selected_time": at}},
            "duration": {"duration": {"type": "static_select", "selected_option": {"value": "60"}}}}


def _reschedule_form(bot: Any, case: Case) -> dict[str, Any]:
    count = len(bot.slack.calls_to("views.open")) + 1
    bot.click("U0MANAGER", ids.CASE_RESCHEDULE, case.reference, channel=case.room_id, message_ts=case.header_ref)
    return opened_view(bot.slack, count)


def _reschedule(bot: Any, case: Case) -> None:
    response = submit_view(bot, "U0MANAGER", _reschedule_form(bot, case), _when(_new_day(), "10:30"))
    assert response.json()["response_action"] == "update"
    bot.slack.wait_for("views.update", lambda c: c.params["view"]["title"]["text"] == "Rescheduled")


def _responses(bot: Any, count: int = 1) -> list[str]:
    return [c.params["text"] for c in bot.slack.wait_for("response", count=count)]


def _moved(board: bool = False) -> str:
    where = "please answer again on the board" if board else "please answer on the new invitation"
    return f"The call moved to {local_time_text(_new_call(), LONDON)}; {where}."


@pytest.fixture
def other_sessions(engine: Engine) -> Iterator[SessionFactory]:
    """A second engine on the same database: another worker, with connections of its own."""
    other = make_engine(engine.url.render_as_string(hide_password=False))
    yield session_factory(other)
    other.dispose()


class Held(threading.Thread):
    """Run `work(session)` in a transaction on another engine and hold it open until `release()`."""

    def __init__(self, sessions: SessionFactory, work: Any) -> None:
        super().__init__(daemon=True)
        self.sessions, self.work = sessions, work
        self.holding, self.released = threading.Event(), threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with transaction(self.sessions) as session:
                self.work(session)
                self.holding.set()
                assert self.released.wait(20)
        except BaseException as exc:  # noqa: BLE001  (reported by the test)
            self.error = exc
            self.holding.set()

    def start_holding(self) -> Held:
        self.start()
        assert self.holding.wait(20) and self.error is None, self.error
        return self

    def release(self) -> None:
        self.released.set()
        self.join(20)
        assert self.error is None, self.error


# --- stale buttons ---------------------------------------------------------------------------------------


def test_every_attendance_button_carries_the_schedule_version_it_was_sent_for(bot: Any) -> None:
    case = _convened(bot)
    ref = case.reference
    invitation = bot.slack.messages[_dm(bot, NURSE, "invitation").ref]
    assert set(_values(invitation).values()) == {f"{ref}:1"}
    assert set(_values(bot.slack.messages[case.board_ref]).values()) == {f"{ref}:1:board"}

    _reschedule(bot, case)
    notice = bot.slack.messages[_dm(bot, NURSE, "rescheduled_notice").ref]
    assert set(_values(notice).values()) == {f"{ref}:2"}
    assert set(_values(bot.slack.messages[case.board_ref]).values()) == {f"{ref}:2:board"}


def test_an_old_invitation_is_refused_with_the_new_time_and_the_new_one_counts(bot: Any) -> None:
    case = _convened(bot)
    ref = case.reference
    invitation = _dm(bot, NURSE, "invitation")
    old = _values(bot.slack.messages[invitation.ref])
    old_board = _values(bot.slack.messages[case.board_ref])
    _reschedule(bot, case)

    bot.slack.clear()
    bot.click(NURSE, ids.ATTENDING, old[ids.ATTENDING], channel=invitation.room, message_ts=invitation.ref)
    assert _responses(bot) == [_moved()]
    bot.click(CHAIR, ids.APOLOGIES, old_board[ids.APOLOGIES], channel=case.room_id, message_ts=case.board_ref)
    assert _responses(bot, 2)[-1] == _moved(board=True)
    bot.click(NURSE, ids.SENDING_DEPUTY, old[ids.SENDING_DEPUTY], channel=invitation.room, message_ts=invitation.ref)
    assert _responses(bot, 3)[-1] == _moved()
    # Nothing was recorded, nothing redrawn, no deputy form opened.
    assert _reply(bot, NURSE) == _reply(bot, CHAIR) == Reply.NO_REPLY
    assert bot.slack.calls_to("chat.update") == [] and bot.slack.calls_to("views.open") == []

    # The new invitation's button and the redrawn board count.
    new = _values(bot.slack.messages[_dm(bot, NURSE, "rescheduled_notice").ref])
    bot.click(NURSE, ids.ATTENDING, new[ids.ATTENDING], channel=invitation.room)
    assert _responses(bot, 4)[-1] == f"You are down as attending {ref}."
    board = _values(bot.slack.messages[case.board_ref])
    bot.click(CHAIR, ids.APOLOGIES, board[ids.APOLOGIES], channel=case.room_id, message_ts=case.board_ref)
    assert _responses(bot, 5)[-1] == f"Your apologies for {ref} are recorded."
    assert (_reply(bot, NURSE), _reply(bot, CHAIR)) == (Reply.ATTENDING, Reply.APOLOGIES)


def test_a_deputy_form_opened_on_the_old_time_is_refused_at_the_field(bot: Any) -> None:
    case = _convened(bot)
    invitation = _dm(bot, CHAIR, "invitation")
    old = _values(bot.slack.messages[invitation.ref])
    bot.click(CHAIR, ids.SENDING_DEPUTY, old[ids.SENDING_DEPUTY], channel=invitation.room, message_ts=invitation.ref)
    form = opened_view(bot.slack)
    _reschedule(bot, case)

    values = {"deputy": {"deputy": {"type": "users_select", "selected_user": "U0DEPUTY1"}}}
    response = submit_view(bot, CHAIR, form, values)
    assert response.json() == {"response_action": "errors", "errors": {"deputy": _moved()}}
    assert _reply(bot, CHAIR) == Reply.NO_REPLY


def test_the_version_never_lets_anyone_answer_who_could_not(bot: Any) -> None:
    case = _convened(bot)
    ref = case.reference
    _reschedule(bot, case)
    bot.slack.clear()
    # Someone not invited is told so, whatever version the button claims, and learns no time.
    for value in (f"{ref}:2", f"{ref}:1", f"{ref}:2:board"):
        bot.click(OUTSIDER, ids.ATTENDING, value, channel=case.room_id)
    texts = _responses(bot, 3)
    assert all(t.startswith(f"Only the members invited to {ref}") for t in texts)
    # A made-up version is refused, never taken as the current one.
    bot.click(NURSE, ids.ATTENDING, f"{ref}:7", channel=f"D{NURSE}")
    assert _responses(bot, 4)[-1] == _moved()
    assert _reply(bot, NURSE) == Reply.NO_REPLY


# --- the race, with another worker ---------------------------------------------------------------------------


def test_a_reschedule_waits_for_a_reply_in_progress_and_then_clears_it(bot: Any, terms: Terms,
                                                                       other_sessions: SessionFactory) -> None:
    case = _convened(bot)
    ref = case.reference
    form = _reschedule_form(bot, case)
    # Another worker is mid-way through the nurse's answer on the invitation (version 1).
    reply = Held(other_sessions, lambda session: attendance.record_reply(
        session, terms, ref, NURSE, Reply.ATTENDING, now(), LONDON,
        button=attendance.AnswerButton(ref, 1))).start_holding()

    submitted: dict[str, Any] = {}
    submitting = threading.Thread(target=lambda: submitted.update(
        response=submit_view(bot, "U0MANAGER", form, _when(_new_day(), "10:30"))), daemon=True)
    submitting.start()
    clock_time.sleep(1.0)
    assert submitting.is_alive(), "the reschedule did not wait for the answer in progress"
    assert _case(bot).schedule_version == 1

    reply.release()
    submitting.join(20)
    assert submitted["response"].json()["response_action"] == "update"
    bot.slack.wait_for("views.update", lambda c: c.params["view"]["title"]["text"] == "Rescheduled")
    after = _case(bot)
    assert after.schedule_version == 2 and after.call_at == _new_call()
    # The answer landed on the old time, and the reschedule then asked again.
    assert _reply(bot, NURSE) == Reply.NO_REPLY
    with bot.services.sessions() as session:
        kinds = [e.kind for e in session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                              .order_by(CaseEvent.id))]
    assert kinds.index("attendance_reply") < kinds.index("rescheduled")


def test_a_reply_waits_for_a_reschedule_in_progress_and_is_refused_with_the_new_time(
        bot: Any, terms: Terms, other_sessions: SessionFactory) -> None:
    case = _convened(bot)
    ref = case.reference
    invitation = _dm(bot, NURSE, "invitation")
    old = _values(bot.slack.messages[invitation.ref])
    old_board = _values(bot.slack.messages[case.board_ref])
    # Another worker is mid-way through moving the call.
    moving = Held(other_sessions, lambda session: reschedule(
        session, terms, ref, "U0MANAGER", _new_day(), time(10, 30), None, now(), LONDON)).start_holding()

    bot.slack.clear()
    assert bot.click(NURSE, ids.ATTENDING, old[ids.ATTENDING], channel=invitation.room,
                     message_ts=invitation.ref).status_code == 200  # acknowledged at once
    assert bot.click(CHAIR, ids.ATTENDING, old_board[ids.ATTENDING], channel=case.room_id,
                     message_ts=case.board_ref).status_code == 200
    clock_time.sleep(1.0)
    assert bot.slack.calls_to("response") == [], "an answer did not wait for the reschedule in progress"

    moving.release()
    assert sorted(_responses(bot, 2)) == sorted([_moved(), _moved(board=True)])
    assert _case(bot).schedule_version == 2
    assert _reply(bot, NURSE) == _reply(bot, CHAIR) == Reply.NO_REPLY  # never recorded against the new time
    with bot.services.sessions() as session:
        replies = session.exec(select(CaseEvent).where(CaseEvent.kind == "attendance_reply")).all()
    assert replies == []
    assert bot.slack.calls_to("chat.update") == []  # nothing to redraw: no answer was taken
