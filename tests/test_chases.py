"""Chases whatever the notice: what a member who never answers receives, and when, from convening to the call.

Each case convenes through the domain and the local Slack stand-in, then runs the real tick
(`Ticker.tick`) on its 20-second grid from convening until the call has ended, skipping only ticks
at which nothing is due (those do nothing). The assertions are on the direct messages that land.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import func, select

from bot.domain import attendance, rescheduling
from bot.domain.terms import Terms
from bot.sandbox.slack_api import FakeSlack
from bot.scheduler import Ticker
from storage.db import SessionFactory, transaction
from storage.tables import MessageState, ScheduledMessage
from tests.factories import LONDON, load_roster
from tests.scheduling import convene_at, rows, workspace_for

MONDAY = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # GMT, no clock change near
CONVENER = "U0MANAGER"  # whoever convenes attends, and is never chased
ANSWERS = "U0CHAIR01"  # answers as soon as invited, and so is never chased
SILENT = {"U0SERVICE", "U0PEOPLE1", "U0GOVERN1", "U0CLINDIR", "U0NURSELD"}  # never answer
TICK = timedelta(seconds=20)
GAP = timedelta(minutes=15)

KINDS = {"You are invited to": "invitation", "is rescheduled to": "rescheduled", "Reminder: will you attend": "chase"}


@pytest.fixture(autouse=True)
def roster_loaded(sessions: SessionFactory, terms: Terms) -> None:
    with sessions() as session:
        load_roster(session, terms)


def h(hours: float, minutes: int = 0) -> timedelta:
    return timedelta(hours=hours, minutes=minutes)


def m(minutes: int) -> timedelta:
    return timedelta(minutes=minutes)


@dataclass(frozen=True)
class Moved:
    at: datetime
    to: datetime


@dataclass
class Run:
    """Direct messages to each person as (what, when), in the order they landed."""

    received: dict[str, list[tuple[str, datetime]]]
    call: datetime

    def of(self, user: str) -> list[tuple[str, timedelta]]:
        """What `user` received, each as how long before the call it landed."""
        return [(kind, self.call - when) for kind, when in self.received.get(user, [])]


def _collect(fake: FakeSlack, when: datetime, into: dict[str, list[tuple[str, datetime]]]) -> None:
    for call in fake.delivered("chat.postMessage"):
        channel, text = str(call.params.get("channel", "")), str(call.params.get("text", ""))
        kind = next((k for prefix, k in KINDS.items() if prefix in text), None)
        if channel.startswith("U") and kind:
            into.setdefault(channel, []).append((kind, when))
    fake.clear()


def _next_due(sessions: SessionFactory) -> datetime | None:
    with sessions() as session:
        due = session.exec(select(func.min(ScheduledMessage.due_at)).where(
            ScheduledMessage.state == MessageState.PENDING)).one()
    return due.replace(tzinfo=UTC) if due is not None and due.tzinfo is None else due


def run(sessions: SessionFactory, engine: Engine, terms: Terms, fake: FakeSlack, now: datetime, call: datetime,
        *, short_notice: bool = False, moved: Moved | None = None) -> Run:
    """Convene at `now`, the chair answers at once, the rest never do; tick until the call has ended."""
    received: dict[str, list[tuple[str, datetime]]] = {}
    fake.clear()
    convened = convene_at(sessions, engine, terms, fake, now, call, short_notice=short_notice)
    _collect(fake, now, received)
    with transaction(sessions) as session:
        attendance.record_reply(session, terms, convened.reference, ANSWERS, attendance.Reply.ATTENDING,
                                now + timedelta(seconds=1), LONDON)
    clock = {"now": now}
    ticker = Ticker(sessions, engine, workspace_for(fake), terms, LONDON, lambda: clock["now"], worker="w1")
    final_call = moved.to if moved else call

    def tick_until(end: datetime) -> None:
        while (due := _next_due(sessions)) is not None and due < end:
            # The first tick of the 20-second grid at or after the due time (idle ticks do nothing).
            clock["now"] = now + TICK * -(-(max(due, clock["now"]) - now) // TICK)
            if clock["now"] >= end:
                return
            ticker.tick()
            _collect(fake, clock["now"], received)

    if moved is not None:
        tick_until(moved.at)
        local = moved.to.astimezone(LONDON)
        with transaction(sessions) as session:
            result = rescheduling.reschedule(session, terms, convened.reference, CONVENER, local.date(),
                                             time(local.hour, local.minute), None, moved.at, LONDON)
        rescheduling.announce_rescheduled(sessions, engine, terms, workspace_for(fake), LONDON, result)
        _collect(fake, moved.at, received)
        with transaction(sessions) as session:
            attendance.record_reply(session, terms, convened.reference, ANSWERS, attendance.Reply.ATTENDING,
                                    moved.at + timedelta(seconds=1), LONDON)
    tick_until(final_call + timedelta(days=1))
    return Run(received, final_call)


def invited(before: timedelta) -> tuple[str, timedelta]:
    return ("invitation", before)


def moved_notice(before: timedelta) -> tuple[str, timedelta]:
    return ("rescheduled", before)


def chased(before: timedelta) -> tuple[str, timedelta]:
    return ("chase", before)


# What each member who never answers receives, as how long before the (final) call it lands.
CASES = [
    pytest.param(MONDAY, MONDAY + h(2), False, None, [invited(h(2)), chased(m(30))],
                 id="convened 2 h ahead without the tick: one chase half an hour before"),
    pytest.param(MONDAY, MONDAY + h(2), True, None, [invited(h(2)), chased(m(30))],
                 id="short notice ticked, 2 h ahead: the same chases as without the tick"),
    pytest.param(MONDAY, MONDAY + h(50), True, None, [invited(h(50)), chased(h(48)), chased(h(24)), chased(h(4))],
                 id="short notice ticked, 50 h ahead: the usual chases, as the notice allows them"),
    pytest.param(MONDAY, MONDAY + m(30), True, None, [invited(m(30)), chased(m(15))],
                 id="convened 30 min ahead: halfway, 15 min after the invitation"),
    pytest.param(MONDAY, MONDAY + m(40), True, None, [invited(m(40)), chased(m(20))],
                 id="convened 40 min ahead: the half-hour chase would crowd the invitation, so halfway"),
    pytest.param(MONDAY, MONDAY + m(20), True, None, [invited(m(20)), chased(m(5))],
                 id="convened 20 min ahead: halfway is too soon after the invitation, so 15 min after it"),
    pytest.param(MONDAY, MONDAY + m(15), True, None, [invited(m(15))],
                 id="convened 15 min ahead: no room for a chase before the call"),
    pytest.param(MONDAY, MONDAY + h(50), False, None, [invited(h(50)), chased(h(48)), chased(h(24)), chased(h(4))],
                 id="convened 50 h ahead: the usual chases"),
    pytest.param(MONDAY, MONDAY + h(48, 5), False, None, [invited(h(48, 5)), chased(h(24)), chased(h(4))],
                 id="convened 48 h 5 min ahead: the 48 h chase would crowd the invitation"),
    pytest.param(MONDAY, MONDAY + h(26), False, None,
                 [invited(h(26)), chased(h(24)), chased(h(4)), chased(h(2)), chased(m(30))],
                 id="convened 26 h ahead: the usual chases still ahead, then the short-notice ones"),
    pytest.param(MONDAY, MONDAY + h(120), False, Moved(MONDAY + h(24), MONDAY + h(26)),
                 [invited(h(26)), moved_notice(h(2)), chased(m(30))],
                 id="rescheduled into short notice: the old chases go, the short-notice one comes"),
    pytest.param(MONDAY, MONDAY + h(53), False, Moved(MONDAY + h(5, 10), MONDAY + h(6, 30)),
                 [invited(h(6, 30)), chased(h(1, 30)), moved_notice(h(1, 20)), chased(m(30))],
                 id="rescheduled into short notice after the first chase: chased again before the new time"),
    # Sunday 29 March 2026: 01:00 GMT becomes 02:00 BST. A call at 02:10 BST is 01:10 UTC.
    pytest.param(datetime(2026, 3, 28, 23, 40, tzinfo=UTC), datetime(2026, 3, 29, 1, 10, tzinfo=UTC), False, None,
                 [invited(m(90)), chased(h(1)), chased(m(30))],
                 id="spring clock change: 2 h on the wall clock is one real hour; half an hour stays before the call"),
    # Sunday 25 October 2026: 02:00 BST becomes 01:00 GMT. A call at 02:30 GMT is 02:30 UTC.
    pytest.param(datetime(2026, 10, 25, 0, 0, tzinfo=UTC), datetime(2026, 10, 25, 2, 30, tzinfo=UTC), False, None,
                 [invited(h(2, 30)), chased(m(30))],
                 id="autumn clock change: 2 h on the wall clock is three real hours, already past"),
]


@pytest.mark.parametrize(("now", "call", "short_notice", "moved", "expected"), CASES)
def test_a_member_who_never_answers_is_chased_before_the_call_whatever_the_notice(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack, now: datetime,
        call: datetime, short_notice: bool, moved: Moved | None, expected: list[tuple[str, timedelta]]) -> None:
    result = run(sessions, engine, terms, fake_slack, now, call, short_notice=short_notice, moved=moved)
    for member in SILENT:
        assert result.of(member) == expected, member
    # Whoever answered hears nothing more than the invitation (and the new time); the convener, nothing.
    assert [k for k, _ in result.of(ANSWERS)] == (["invitation", "rescheduled"] if moved else ["invitation"])
    assert result.of(CONVENER) == []
    # No chase comes within 15 minutes of the message before it (a rescheduled notice is the chair's doing).
    for member in SILENT:
        landed = result.received[member]
        assert all(later - earlier >= GAP for (_, earlier), (kind, later) in zip(landed, landed[1:], strict=False)
                   if kind == "chase"), member


def test_after_downtime_a_short_notice_case_sends_one_late_chase_then_the_next_on_time(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    call = MONDAY + h(26)
    convene_at(sessions, engine, terms, fake_slack, MONDAY, call)
    fake_slack.clear()
    ticker_at = {"now": call - h(1, 50)}  # down from convening until after the 24, 4 and 2 hour chases
    ticker = Ticker(sessions, engine, workspace_for(fake_slack), terms, LONDON, lambda: ticker_at["now"])
    ticker.tick()
    late = [c for c in fake_slack.delivered("chat.postMessage") if "Reminder: will you attend" in c.params["text"]]
    assert sorted(c.params["channel"] for c in late) == sorted(SILENT | {ANSWERS})  # one each
    assert all("late" in str(c.params["blocks"]) for c in late)
    states = [r.state for r in rows(sessions, "reply_chase") if r.recipient == "U0SERVICE"]
    assert states == [MessageState.SUPERSEDED, MessageState.SUPERSEDED, MessageState.SENT, MessageState.PENDING]
    fake_slack.clear()
    ticker_at["now"] = call - m(30)
    ticker.tick()
    on_time = [c for c in fake_slack.delivered("chat.postMessage") if "Reminder: will you attend" in c.params["text"]]
    assert len(on_time) == 6 and not any("late" in str(c.params["blocks"]) for c in on_time)
