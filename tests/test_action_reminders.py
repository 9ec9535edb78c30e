"""Owners are reminded of their open action points until they are done: weekly from circulation, the
day before due and the day it becomes overdue, one message per owner per day; overdue items are
escalated to the chair; the buttons on each reminder act on the item and update the message in place.

Domain tests run the scheduler (bot.reminders.send_due) at chosen times on both backends; the
first tick after the outcome is recorded circulates it (bot/domain/circulation.py), which plans each
owner's first reminder. HTTP tests drive the running bot as Slack would.
"""

from __future__ import annotations

import json
import logging
import re
import time as wall
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from freezegun import freeze_time
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot import clock
from bot.domain import action_points, action_reminders
from bot.domain.action_points import NewAction
from bot.domain.fairness import PRINCIPLES
from bot.domain.history import events
from bot.domain.outcomes import OutcomeForm, chair_ids, outcome_of, record_outcome
from bot.domain.terms import Terms
from bot.sandbox.slack_api import Call, FakeSlack
from bot.scheduler import Ticker
from handlers.slack import ids
from storage.db import SessionFactory, session_factory, transaction
from storage.tables import ActionPoint, ActionUpdate, DeliveryRecord, MessageState
from tests.factories import HERE, LONDON, PEOPLE, STAFF_MEMBER, all_names, load_roster
from tests.scheduling import case, convene_at, dms, rows, tick, workspace_for
from tests.slack_client import opened_view, submit_view

CALL = datetime(2026, 11, 5, 14, 0, tzinfo=UTC)  # Thursday 14:00 GMT; the call lasts an hour
CONVENED = CALL - timedelta(days=3)
RECORDED = CALL + timedelta(hours=2)  # circulated by the tick a minute later: Thursday 5 November
CHAIR, MANAGER, PEOPLE_TEAM = "U0CHAIR01", "U0MANAGER", "U0PEOPLE1"
REMINDER = "Action point reminder"
NAMES = [name for name, _, _ in PEOPLE.values()] + [STAFF_MEMBER[1]]
ITEM_LINE = re.compile(r"^:(?P<emoji>[a-z_]+): \*Action (?P<number>\d+)\* on \*(?P<ref>[A-Z0-9-]+)\* · "
                       r"(?P<rag>[^·]+) · due <!date\^\d+\^\{date_long_pretty\}\|(?P<due>[^>]+)>$")


@pytest.fixture(autouse=True)
def roster_loaded(sessions: SessionFactory, terms: Terms) -> None:
    with sessions() as session:
        load_roster(session, terms)


# --- helpers --------------------------------------------------------------------------------------


def at_local(day: date, hour: int = 9, minute: int = 0, second: int = 30) -> datetime:
    return datetime.combine(day, time(hour, minute, second), tzinfo=LONDON).astimezone(UTC)


def record(sessions: SessionFactory, terms: Terms, reference: str, at: datetime,
           actions: Sequence[NewAction]) -> tuple[int, ...]:
    """Record the chair's outcome with these action points (every fairness answer "yes": no inquiries)."""
    form = OutcomeForm(reference=reference, actor=CHAIR, process="informal",
                       rationale="A first concern with insight shown: support and supervision first.",
                       risk_level="moderate", risk_notes="", ml_policy_notify="no", legal_advice="no",
                       welfare_offered="yes", line_manager_support="",
                       fairness={p.key: ("yes", "") for p in PRINCIPLES}, actions=tuple(actions),
                       quorate_stated=True, quorum_statement="The chair confirmed each member at the start.")
    with transaction(sessions) as session:
        return record_outcome(session, terms, form, at, LONDON, all_names(), HERE).action_ids


def circulated(sessions: SessionFactory, engine: Engine, terms: Terms, fake: FakeSlack,
               actions: Sequence[NewAction], *, key: str = "V1", call: datetime = CALL) -> tuple[str, tuple[int, ...]]:
    """Convene, record the outcome after the call and run the tick that circulates it."""
    reference = convene_at(sessions, engine, terms, fake, call - timedelta(days=3), call, key=key).reference
    recorded = call + timedelta(hours=2)
    action_ids = record(sessions, terms, reference, recorded, actions)
    tick(sessions, engine, terms, fake, recorded + timedelta(minutes=1))
    with sessions() as session:
        outcome = outcome_of(session, case(sessions, reference).id or 0)
        assert outcome is not None and outcome.circulated_at is not None, "the first tick circulates the outcome"
    fake.clear()
    return reference, action_ids


def digests(fake: FakeSlack, user: str | None = None) -> list[Call]:
    return [c for c in dms(fake, REMINDER) if user is None or c.params["channel"] == user]


@dataclass(frozen=True)
class Line:
    number: int
    reference: str
    emoji: str
    rag: str
    due: str


def lines(blocks: list[dict[str, Any]]) -> list[Line]:
    """The items a digest or list shows, from the header line of each."""
    found = []
    for block in blocks:
        if block["type"] == "section" and (m := ITEM_LINE.match(block["text"]["text"])):
            found.append(Line(int(m["number"]), m["ref"], m["emoji"], m["rag"], m["due"]))
    return found


def buttons(blocks: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["action_id"], e["value"]) for b in blocks if b["type"] == "actions" for e in b["elements"]]


def _late(call: Call) -> bool:
    return any("late" in e.get("text", "") for b in call.params["blocks"] if b["type"] == "context"
               for e in b["elements"])


def everything(call: Call) -> str:
    return json.dumps({"text": call.params.get("text"), "blocks": call.params.get("blocks")}, ensure_ascii=False)


def done(sessions: SessionFactory, terms: Terms, action_id: int, actor: str, at: datetime) -> None:
    """What the Done button does, through the domain."""
    with transaction(sessions) as session:
        item, case_row = action_points.get(session, action_id)
        action_points.mark_done(session, action_id, actor, at, chair_ids(session, terms, case_row))
        action_reminders.plan_owner(session, item.owner_id, terms, LONDON, at)


def ticker(sessions: SessionFactory, engine: Engine, terms: Terms, fake: FakeSlack) -> Ticker:
    return Ticker(sessions, engine, workspace_for(fake), terms, LONDON, clock.now)


# --- RAG, and the days an owner is reminded ----------------------------------------------------------


def test_rag_in_the_reminders_goes_green_then_amber_then_red(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    circulated(sessions, engine, terms, fake_slack,
               [NewAction("Arrange supervised medication rounds.", MANAGER, date(2026, 11, 23))])
    seen = []
    for day in (date(2026, 11, 12), date(2026, 11, 19), date(2026, 11, 22), date(2026, 11, 24)):
        fake_slack.clear()
        with freeze_time(at_local(day)):
            ticker(sessions, engine, terms, fake_slack).tick()
        [digest] = digests(fake_slack, MANAGER)
        [line] = lines(digest.params["blocks"])
        seen.append((day.day, line.emoji, line.rag))
    assert seen == [
        (12, "large_green_circle", "Green"),  # weekly, 11 days before the due date
        (19, "large_orange_circle", "Amber: due soon"),  # weekly, within the 7-day reminder window
        (22, "large_orange_circle", "Amber: due soon"),  # the day before it is due
        (24, "red_circle", "Red: overdue"),  # the day after it was due
    ]


def test_the_owner_is_reminded_weekly_the_day_before_and_the_day_it_becomes_overdue(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    # Circulated Thursday 5 November; due Tuesday 17 November.
    circulated(sessions, engine, terms, fake_slack,
               [NewAction("Arrange supervised medication rounds.", MANAGER, date(2026, 11, 17))])
    sent_on = []
    for offset in range(1, 23):
        day = date(2026, 11, 5) + timedelta(days=offset)
        tick(sessions, engine, terms, fake_slack, at_local(day, 8, 59, 0))  # never early
        assert digests(fake_slack) == []
        tick(sessions, engine, terms, fake_slack, at_local(day, 9, 0, 20))
        if digests(fake_slack):
            [digest] = digests(fake_slack)
            assert digest.params["channel"] == MANAGER
            sent_on.append(day.day)
        fake_slack.clear()
    # 12: a week after circulation; 16: the day before; 18: overdue; 19 and 26: weekly.
    assert sent_on == [12, 16, 18, 19, 26]


def test_two_items_of_one_owner_due_the_same_day_are_one_message(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    first, _ = circulated(sessions, engine, terms, fake_slack,
                          [NewAction("Arrange supervised medication rounds.", MANAGER, date(2026, 11, 17))])
    # A second case, circulated the same day, with another item of the manager's due the same day.
    second, _ = circulated(sessions, engine, terms, fake_slack,
                           [NewAction("Share the incident review with the ward team.", MANAGER,
                                      date(2026, 11, 17))], key="V2")
    tick(sessions, engine, terms, fake_slack, at_local(date(2026, 11, 12)))  # weekly
    assert len(digests(fake_slack, MANAGER)) == 1
    fake_slack.clear()
    tick(sessions, engine, terms, fake_slack, at_local(date(2026, 11, 16)))  # the day before
    [digest] = digests(fake_slack)
    assert digest.params["channel"] == MANAGER
    assert {(line.reference, line.number) for line in lines(digest.params["blocks"])} == {(first, 1), (second, 1)}
    assert digest.params["text"] == f"{REMINDER}: 2 action points on {first}, {second}"
    assert not _late(digest)
    assert len(buttons(digest.params["blocks"])) == 6  # Done / Add an update / New due date, per item
    text = everything(digest)
    assert not any(name in text for name in NAMES)


def test_reminders_and_the_escalation_stop_once_the_item_is_done(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    _, (action_id,) = circulated(sessions, engine, terms, fake_slack,
                                 [NewAction("Arrange supervised medication rounds.", MANAGER, date(2026, 11, 17))])
    tick(sessions, engine, terms, fake_slack, at_local(date(2026, 11, 12)))
    assert len(digests(fake_slack, MANAGER)) == 1
    done(sessions, terms, action_id, MANAGER, at_local(date(2026, 11, 13), 11))
    fake_slack.clear()
    for offset in range(14):
        tick(sessions, engine, terms, fake_slack, at_local(date(2026, 11, 13) + timedelta(days=offset)))
    assert digests(fake_slack) == []
    assert dms(fake_slack, "overdue") == []
    assert [r for r in rows(sessions) if r.kind == "action_digest" and r.state == MessageState.PENDING] == []


def test_an_overdue_item_is_escalated_to_the_chair_once(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    reference, (action_id,) = circulated(
        sessions, engine, terms, fake_slack,
        [NewAction("Arrange supervised medication rounds.", MANAGER, date(2026, 11, 17))])
    tick(sessions, engine, terms, fake_slack, at_local(date(2026, 11, 17)))  # due today: not yet overdue
    assert dms(fake_slack, "overdue") == []
    tick(sessions, engine, terms, fake_slack, at_local(date(2026, 11, 18)))
    [escalation] = dms(fake_slack, "overdue")
    assert escalation.params["channel"] == CHAIR
    header = escalation.params["blocks"][0]["text"]["text"]
    assert header.startswith(f":red_circle: Action 1 on *{reference}* (owner <@{MANAGER}>) is overdue since <!date^")
    assert "Tuesday 17 November 2026" in header
    fake_slack.clear()
    for offset in range(1, 10):
        tick(sessions, engine, terms, fake_slack, at_local(date(2026, 11, 18) + timedelta(days=offset)))
    assert dms(fake_slack, "overdue") == []
    assert item(sessions, action_id).status == "open"  # still open, still reminded weekly
    assert len(digests(fake_slack, MANAGER)) == 2  # weekly: the 19th and the 26th


def test_a_new_due_date_replaces_the_escalation_and_the_reminders(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    _, (action_id,) = circulated(sessions, engine, terms, fake_slack,
                                 [NewAction("Arrange supervised medication rounds.", MANAGER, date(2026, 11, 17))])
    moved = at_local(date(2026, 11, 10), 11)
    with transaction(sessions) as session:
        item, case_row = action_points.get(session, action_id)
        action_points.change_due(session, action_id, MANAGER, date(2026, 11, 27), "Rota not published yet.", moved,
                                 date(2026, 11, 10), chair_ids(session, terms, case_row))
        action_reminders.plan_owner(session, MANAGER, terms, LONDON, moved)
    sent_on = []
    for offset in range(1, 22):
        day = date(2026, 11, 10) + timedelta(days=offset)
        tick(sessions, engine, terms, fake_slack, at_local(day))
        if digests(fake_slack):
            sent_on.append(day.day)
        fake_slack.clear()
        if day == date(2026, 11, 18):
            assert dms(fake_slack, "overdue") == []  # the old due date owes nothing
    # 12, 19, 26: weekly (26 is also the day before); 28: overdue; the old 16 and 18 are gone.
    assert sent_on == [12, 19, 26, 28]


# --- three weeks, with the process down twice ----------------------------------------------------


def test_three_weeks_with_restarts_every_reminder_once_none_twice_none_after_done(
        engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    sessions = session_factory(engine)
    # Manager: actions 1 and 2 due Monday 16 November. People team: action 3 due Wednesday 25th.
    reference, (first, second, third) = circulated(sessions, engine, terms, fake_slack, [
        NewAction("Arrange supervised medication rounds.", MANAGER, date(2026, 11, 16)),
        NewAction("Share the incident review with the ward team.", MANAGER, date(2026, 11, 16)),
        NewAction("Offer an occupational health referral.", PEOPLE_TEAM, date(2026, 11, 25)),
    ])
    down = [(at_local(date(2026, 11, 14), 0, 0, 0), at_local(date(2026, 11, 16), 12, 0, 0)),
            (at_local(date(2026, 11, 18), 12, 0, 0), at_local(date(2026, 11, 20), 10, 0, 0))]
    done_at = {at_local(date(2026, 11, 18), 8, 0, 0): (first, MANAGER),
               at_local(date(2026, 11, 21), 8, 0, 0): (third, PEOPLE_TEAM)}
    sent: list[tuple[str, str, tuple[int, ...], bool]] = []
    escalated: list[tuple[str, str]] = []
    now = at_local(date(2026, 11, 5), 17, 0, 30)
    end = at_local(date(2026, 11, 28), 0, 0, 0)
    worker = 1
    while now < end:
        if any(start <= now < back for start, back in down):
            now += timedelta(hours=1)
            continue
        if any(back <= now < back + timedelta(hours=1) for _, back in down):
            # Restarted: a new process, new sessions, a new worker name; nothing else carried over.
            sessions, worker = session_factory(engine), worker + 1
        for when, (action_id, owner) in done_at.items():
            if when <= now < when + timedelta(hours=1):
                done(sessions, terms, action_id, owner, when)
        report = tick(sessions, engine, terms, fake_slack, now, worker=f"w{worker}")
        assert report.errors == []
        local_day = now.astimezone(LONDON).strftime("%d %H:%M")
        for call in digests(fake_slack):
            numbers = tuple(line.number for line in lines(call.params["blocks"]))
            sent.append((local_day, call.params["channel"], numbers, _late(call)))
        escalated += [(local_day, c.params["text"]) for c in dms(fake_slack, "overdue")]
        assert not any(name in everything(c) for c in fake_slack.delivered("chat.postMessage") for name in NAMES)
        fake_slack.clear()
        now += timedelta(hours=1)

    assert sorted(sent) == [
        ("12 09:00", MANAGER, (1, 2), False),  # a week after circulation: both in one message
        ("12 09:00", PEOPLE_TEAM, (3,), False),
        ("16 12:00", MANAGER, (1, 2), True),  # the day before (the 15th) was missed: once, late
        ("17 09:00", MANAGER, (1, 2), False),  # overdue
        ("20 10:00", MANAGER, (2,), True),  # weekly (the 19th) missed; action 1 was done on the 18th
        ("20 10:00", PEOPLE_TEAM, (3,), True),  # weekly (the 19th) missed
        ("26 09:00", MANAGER, (2,), False),  # weekly; action 3 (done on the 21st) is not reminded again
    ]
    assert sorted(escalated) == [("17 09:00", f"Action 1 on {reference} is overdue since Monday 16 November 2026"),
                                 ("17 09:00", f"Action 2 on {reference} is overdue since Monday 16 November 2026")]
    # One digest at a time waits per owner, so downtime never leaves older ones to collapse; nothing
    # is left waiting for the people team, whose only item is done.
    digest_rows = rows(sessions, "action_digest")
    assert [r for r in digest_rows if r.state == MessageState.SUPERSEDED] == []
    assert [r.recipient for r in digest_rows if r.state == MessageState.PENDING] == [MANAGER]
    assert item(sessions, second).status == "open"


# --- the buttons and /pmccg actions, over HTTP ---------------------------------------------------


def live_digest(bot: Any, sessions: SessionFactory, engine: Engine, terms: Terms) -> tuple[str, list[int], str, str]:
    """A case circulated six days ago (by the real clock) with two of the manager's items due in five
    days, and the manager's first reminder delivered: (reference, action ids, DM channel, message ts)."""
    today = clock.now().astimezone(LONDON).date()
    call = at_local(today - timedelta(days=6), 10, 0, 0)
    reference, action_ids = circulated(sessions, engine, terms, bot.slack, [
        NewAction("Arrange supervised medication rounds.", MANAGER, today + timedelta(days=5)),
        NewAction("Share the incident review with the ward team.", MANAGER, today + timedelta(days=5)),
    ], call=call)
    [row] = [r for r in rows(sessions, "action_digest") if r.state == MessageState.PENDING]
    tick(sessions, engine, terms, bot.slack, row.due_at + timedelta(seconds=30))
    [digest] = digests(bot.slack, MANAGER)
    ts, message = next((ts, m) for ts, m in bot.slack.messages.items() if m["text"] == digest.params["text"])
    bot.slack.clear()
    return reference, list(action_ids), message["channel"], ts


def value_on(bot: Any, ts: str, action_id: int) -> str:
    """The value of an item's buttons on the message at `ts`, as the bot wrote it (item and ledger id)."""
    return next(v for a, v in buttons(bot.slack.messages[ts]["blocks"])
                if a == ids.ACTION_DONE and v.split(":")[0] == str(action_id))


def ledger_id(sessions: SessionFactory, user: str, kind: str = "action_digest") -> int:
    """The ledger row of the latest message of `kind` the bot delivered to `user`."""
    with sessions() as session:
        row = session.exec(select(DeliveryRecord).where(DeliveryRecord.recipient == user, DeliveryRecord.kind == kind)
                           .order_by(DeliveryRecord.id.desc())).first()  # type: ignore[union-attr]
        assert row is not None
        return row.id or 0


def trail(sessions: SessionFactory, action_id: int) -> list[ActionUpdate]:
    with sessions() as session:
        return list(session.exec(select(ActionUpdate).where(ActionUpdate.action_id == action_id)
                                 .order_by(ActionUpdate.id)))


def item(sessions: SessionFactory, action_id: int) -> ActionPoint:
    with sessions() as session:
        found = session.get(ActionPoint, action_id)
        assert found is not None
        return found


def on_reminder(call: Any) -> bool:
    """An update of a reminder in the owner's direct messages (not the case header in the channel)."""
    return str(call.params.get("channel", "")).startswith("D")


def history(sessions: SessionFactory, reference: str, kind: str) -> list[dict[str, Any]]:
    with sessions() as session:
        return [json.loads(e.detail) for e in events(session, case(sessions, reference).id or 0) if e.kind == kind]


def test_done_updates_the_reminder_in_place_and_a_second_done_changes_nothing(
        bot: Any, sessions: SessionFactory, engine: Engine, terms: Terms) -> None:
    reference, (first, second), channel, ts = live_digest(bot, sessions, engine, terms)
    # The reminder's buttons carry its ledger id beside the item's.
    delivered = ledger_id(sessions, MANAGER)
    assert value_on(bot, ts, first) == f"{first}:{delivered}"
    done = value_on(bot, ts, first)
    assert bot.click(MANAGER, ids.ACTION_DONE, done, channel=channel, message_ts=ts).status_code == 200
    [update] = bot.slack.wait_for("chat.update", on_reminder)
    assert (update.params["channel"], update.params["ts"]) == (channel, ts)
    shown = {line.number: line for line in lines(update.params["blocks"])}
    assert shown[1].rag == "Done" and shown[1].emoji == "white_check_mark"
    assert shown[2].rag == "Amber: due soon"
    # Redrawn in place, the reminder keeps its ledger id on the buttons left.
    second_value = f"{second}:{delivered}"
    assert buttons(update.params["blocks"]) == [(ids.ACTION_DONE, second_value), (ids.ACTION_ADD_UPDATE, second_value),
                                                (ids.ACTION_NEW_DUE, second_value)]
    assert item(sessions, first).status == "done"

    bot.slack.clear()
    bot.click(MANAGER, ids.ACTION_DONE, done, channel=channel, message_ts=ts)
    [reply] = bot.slack.wait_for("response")
    assert reply.params["text"] == f"No change: action 1 on {reference} is already done."
    assert bot.slack.calls_to("chat.update") == []
    assert [u.kind for u in trail(sessions, first)] == ["done"]
    assert len(history(sessions, reference, "action_done")) == 1


def test_someone_else_cannot_mark_an_action_done(
        bot: Any, sessions: SessionFactory, engine: Engine, terms: Terms) -> None:
    _, (first, _), channel, ts = live_digest(bot, sessions, engine, terms)
    # The owner's reminder button, clicked by someone else: it is not the bot's message to them.
    bot.click("U0OUTSIDE", ids.ACTION_DONE, value_on(bot, ts, first), channel=channel, message_ts=ts)
    [reply] = bot.slack.wait_for("response")
    assert "not on a message the bot sent you" in reply.params["text"]
    # The item's id from a private list of their own: the item is not theirs.
    bot.post_payload({
        "type": "block_actions", "team": {"id": "T0001"}, "user": {"id": "U0OUTSIDE"}, "api_app_id": "A0001",
        "trigger_id": "trigger-1", "response_url": bot.response_url,
        "container": {"type": "message", "message_ts": "1.0", "channel_id": "C0GENERAL", "is_ephemeral": True},
        "actions": [{"action_id": ids.ACTION_DONE, "block_id": f"action_point_{first}", "type": "button",
                     "value": str(first), "action_ts": str(wall.time())}]})
    [_, reply] = bot.slack.wait_for("response", count=2)
    assert "Only the owner of action 1" in reply.params["text"]
    assert item(sessions, first).status == "open" and bot.slack.calls_to("chat.update") == []


def _opened_view(bot: Any, user: str, value: str, button: str, channel: str, ts: str) -> dict[str, Any]:
    count = len(bot.slack.calls_to("views.open")) + 1
    bot.click(user, button, value, channel=channel, message_ts=ts)
    return opened_view(bot.slack, count)


def test_a_new_due_date_needs_a_reason_and_the_trail_keeps_both_dates(
        bot: Any, sessions: SessionFactory, engine: Engine, terms: Terms) -> None:
    reference, (first, _), channel, ts = live_digest(bot, sessions, engine, terms)
    old_due = item(sessions, first).due_on
    new_due = old_due + timedelta(days=14)
    view = _opened_view(bot, MANAGER, value_on(bot, ts, first), ids.ACTION_NEW_DUE, channel, ts)
    assert view["callback_id"] == ids.ACTION_DUE_VIEW
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert blocks[ids.ACTION_DUE_FIELD]["element"]["type"] == "datepicker"
    assert blocks[ids.ACTION_DUE_FIELD]["element"]["initial_date"] == old_due.isoformat()
    assert blocks[ids.ACTION_DUE_REASON_FIELD]["element"]["type"] == "plain_text_input"

    def values(reason: str) -> dict[str, Any]:
        return {ids.ACTION_DUE_FIELD: {ids.ACTION_DUE_FIELD: {"type": "datepicker",
                                                              "selected_date": new_due.isoformat()}},
                ids.ACTION_DUE_REASON_FIELD: {ids.ACTION_DUE_REASON_FIELD: {"type": "plain_text_input",
                                                                            "value": reason}}}

    refused = submit_view(bot, MANAGER, view, values("  "))
    assert refused.json()["response_action"] == "errors"
    assert set(refused.json()["errors"]) == {ids.ACTION_DUE_REASON_FIELD}
    assert item(sessions, first).due_on == old_due and trail(sessions, first) == []

    saved = submit_view(bot, MANAGER, view, values("The rota for next month is not published yet."))
    assert saved.status_code == 200 and not saved.text.strip()
    [entry] = trail(sessions, first)
    assert (entry.kind, entry.old_due, entry.new_due) == ("due_date", old_due, new_due)
    assert entry.text == "The rota for next month is not published yet."
    assert item(sessions, first).due_on == new_due
    assert history(sessions, reference, "action_due_changed") == [
        {"action": 1, "old": old_due.isoformat(), "new": new_due.isoformat()}]
    # Updated in place, and the chair is now owed an escalation for the new date only.
    [update] = bot.slack.wait_for("chat.update", on_reminder)
    assert (update.params["channel"], update.params["ts"]) == (channel, ts)
    assert "Due date moved from" in everything(update)
    keys = {r.idempotency_key for r in rows(sessions, "overdue_escalation")}
    assert f"overdue:{first}:{new_due.isoformat()}" in keys


def test_adding_an_update_keeps_it_in_the_trail_and_shows_it_on_the_reminder(
        bot: Any, sessions: SessionFactory, engine: Engine, terms: Terms) -> None:
    reference, (first, _), channel, ts = live_digest(bot, sessions, engine, terms)
    view = _opened_view(bot, MANAGER, value_on(bot, ts, first), ids.ACTION_ADD_UPDATE, channel, ts)
    assert view["callback_id"] == ids.ACTION_UPDATE_VIEW

    def values(text: str) -> dict[str, Any]:
        return {ids.ACTION_UPDATE_FIELD: {ids.ACTION_UPDATE_FIELD: {"type": "plain_text_input", "value": text}}}

    refused = submit_view(bot, MANAGER, view, values(""))
    assert set(refused.json()["errors"]) == {ids.ACTION_UPDATE_FIELD}
    named = submit_view(bot, MANAGER, view, values(f"Spoke to {STAFF_MEMBER[1]} about the rounds."))
    assert set(named.json()["errors"]) == {ids.ACTION_UPDATE_FIELD}  # a name is refused at the field
    saved = submit_view(bot, MANAGER, view, values("Rounds booked for the next four weeks."))
    assert saved.status_code == 200
    assert [(u.kind, u.text) for u in trail(sessions, first)] == [("update", "Rounds booked for the next four weeks.")]
    [update] = bot.slack.wait_for("chat.update", on_reminder)
    assert update.params["ts"] == ts
    assert "Rounds booked for the next four weeks." in everything(update)
    assert len(history(sessions, reference, "action_update")) == 1


def test_pmccg_actions_lists_the_callers_open_items_privately_with_rag_and_buttons(
        bot: Any, sessions: SessionFactory, engine: Engine, terms: Terms) -> None:
    reference, (first, second), _, _ = live_digest(bot, sessions, engine, terms)
    bot.command(MANAGER, "actions")
    [reply] = bot.slack.wait_for("response")
    assert reply.params["response_type"] == "ephemeral"
    assert reply.params["text"] == "Your open action points: 2"
    shown = lines(reply.params["blocks"])
    assert [(s.reference, s.number, s.rag) for s in shown] == [(reference, 1, "Amber: due soon"),
                                                               (reference, 2, "Amber: due soon")]
    assert {value for _, value in buttons(reply.params["blocks"])} == {str(first), str(second)}
    assert "Arrange supervised medication rounds." in everything(reply)

    bot.slack.clear()
    bot.command(PEOPLE_TEAM, "actions")
    [none] = bot.slack.wait_for("response")
    assert none.params["text"] == "You have no open action points."
    assert lines(none.params["blocks"]) == [] and buttons(none.params["blocks"]) == []


def test_done_from_the_private_list_replaces_it_through_the_response_url(
        bot: Any, sessions: SessionFactory, engine: Engine, terms: Terms) -> None:
    _, (first, _), _, _ = live_digest(bot, sessions, engine, terms)
    payload = {
        "type": "block_actions", "team": {"id": "T0001"}, "user": {"id": MANAGER}, "api_app_id": "A0001",
        "trigger_id": "trigger-1", "response_url": bot.response_url,
        "container": {"type": "message", "message_ts": "1.0", "channel_id": "C0GENERAL", "is_ephemeral": True},
        "actions": [{"action_id": ids.ACTION_DONE, "block_id": f"action_point_{first}", "type": "button",
                     "value": str(first), "action_ts": str(wall.time())}],
    }
    bot.post_payload(payload)
    [replaced] = bot.slack.wait_for("response")
    assert replaced.params["replace_original"] is True
    assert [line.rag for line in lines(replaced.params["blocks"])] == ["Done", "Amber: due soon"]
    assert [c for c in bot.slack.calls_to("chat.update") if on_reminder(c)] == []


# --- where a click writes: only the bot's own message to the clicker (issue 12, rule 3) ------------------


def _other_case(bot: Any, sessions: SessionFactory, engine: Engine, terms: Terms) -> tuple[str, str]:
    """Another case convened now: its channel and header message, as a target for an edited request."""
    now = clock.now()
    reference = convene_at(sessions, engine, terms, bot.slack, now, now + timedelta(days=3), key="V-OTHER").reference
    other = case(sessions, reference)
    assert other.header_ref
    return other.room_id, other.header_ref


def _private_list_click(bot: Any, user: str, button: str, value: str, response_url: str) -> None:
    bot.post_payload({
        "type": "block_actions", "team": {"id": "T0001"}, "user": {"id": user}, "api_app_id": "A0001",
        "trigger_id": f"trigger-{wall.time()}", "response_url": response_url,
        "container": {"type": "message", "message_ts": "1.0", "channel_id": "C0GENERAL", "is_ephemeral": True},
        "actions": [{"action_id": button, "block_id": "b", "type": "button", "value": value,
                     "action_ts": str(wall.time())}]})


def _events(caplog: pytest.LogCaptureFixture, name: str, count: int = 1) -> list[Any]:
    """The log records of event `name`, waiting (with a timeout) for `count` of them: work after the ack."""
    deadline = wall.monotonic() + 5
    while True:
        found = [r for r in caplog.records if getattr(r, "event", "") == name]
        if len(found) >= count or wall.monotonic() > deadline:
            return found
        wall.sleep(0.02)


def test_a_done_click_whose_container_points_at_another_cases_header_updates_only_the_reminder(
        bot: Any, sessions: SessionFactory, engine: Engine, terms: Terms) -> None:
    _, (first, _), channel, ts = live_digest(bot, sessions, engine, terms)
    room, header = _other_case(bot, sessions, engine, terms)
    bot.slack.clear()
    # An edited client: the right button, but container, channel and message say "the other case's header".
    bot.click(MANAGER, ids.ACTION_DONE, value_on(bot, ts, first), channel=room, message_ts=header)
    [update] = bot.slack.wait_for("chat.update", on_reminder)
    assert (update.params["channel"], update.params["ts"]) == (channel, ts)  # the reminder, from the ledger
    assert [c for c in bot.slack.calls_to("chat.update") if c.params["ts"] == header] == []
    assert REMINDER not in bot.slack.messages[header]["text"] and "Your open action points" not in str(
        bot.slack.messages[header].get("blocks"))


def test_a_click_with_someone_elses_reminder_id_is_refused_and_changes_nothing(
        bot: Any, sessions: SessionFactory, engine: Engine, terms: Terms, caplog: pytest.LogCaptureFixture) -> None:
    reference, (first, _), channel, ts = live_digest(bot, sessions, engine, terms)
    caplog.set_level(logging.WARNING, logger="bot.domain.forms")
    # The chair may change the manager's item, but not through the manager's reminder.
    bot.click(CHAIR, ids.ACTION_DONE, value_on(bot, ts, first), channel=f"D{CHAIR}", message_ts="1.0")
    # The manager, with the id of another kind of message the bot sent them (their outcome action points).
    other_kind = ledger_id(sessions, MANAGER, "outcome_owner_actions")
    bot.click(MANAGER, ids.ACTION_DONE, f"{first}:{other_kind}", channel=channel, message_ts=ts)
    bot.click(MANAGER, ids.ACTION_ADD_UPDATE, f"{first}:{other_kind}", channel=channel, message_ts=ts)
    replies = bot.slack.wait_for("response", count=3)
    assert all("not on a message the bot sent you" in r.params["text"] for r in replies)
    assert item(sessions, first).status == "open" and trail(sessions, first) == []
    assert history(sessions, reference, "action_done") == []
    assert bot.slack.calls_to("chat.update") == [] and bot.slack.calls_to("views.open") == []
    refused = _events(caplog, "click_origin_refused", 3)
    assert sorted(r.delivery_id for r in refused) == sorted([ledger_id(sessions, MANAGER), other_kind, other_kind])
    # The log line names ids only: no text of the item, no names.
    assert all(set(vars(r)) >= {"event", "reason", "delivery_id"} and "medication" not in r.getMessage()
               for r in refused)


def test_a_reminder_button_without_its_ledger_id_changes_nothing(
        bot: Any, sessions: SessionFactory, engine: Engine, terms: Terms) -> None:
    _, (first, _), channel, ts = live_digest(bot, sessions, engine, terms)
    bot.click(MANAGER, ids.ACTION_DONE, str(first), channel=channel, message_ts=ts)
    [reply] = bot.slack.wait_for("response")
    assert "`/pmccg actions` lists your action points" in reply.params["text"]
    assert item(sessions, first).status == "open" and bot.slack.calls_to("chat.update") == []


def test_form_metadata_pointing_at_another_message_or_url_changes_nothing(
        bot: Any, sessions: SessionFactory, engine: Engine, terms: Terms, caplog: pytest.LogCaptureFixture) -> None:
    reference, (first, _), channel, ts = live_digest(bot, sessions, engine, terms)
    room, header = _other_case(bot, sessions, engine, terms)
    caplog.set_level(logging.WARNING, logger="bot.domain.forms")
    view = _opened_view(bot, MANAGER, value_on(bot, ts, first), ids.ACTION_ADD_UPDATE, channel, ts)
    values = {ids.ACTION_UPDATE_FIELD: {ids.ACTION_UPDATE_FIELD: {"type": "plain_text_input",
                                                                  "value": "Rounds booked."}}}
    with FakeSlack() as evil:
        # What forms once carried, edited: another message, another host.
        edited = json.dumps({"action": first, "channel": room, "ts": header, "url": evil.url + "response",
                             "shown": [first]})
        body = bot.submit(MANAGER, ids.ACTION_UPDATE_VIEW, values, view_id=view["id"], private_metadata=edited).json()
        assert body["response_action"] == "update" and body["view"]["title"]["text"] == "Not saved"
        assert trail(sessions, first) == [] and history(sessions, reference, "action_update") == []
        assert [r.reason for r in _events(caplog, "form_refused")] == ["unknown"]
        # The form as the bot opened it: saved, and the reminder (its stored origin) is updated, nothing else.
        assert submit_view(bot, MANAGER, view, values).status_code == 200
        [update] = bot.slack.wait_for("chat.update", on_reminder)
        assert (update.params["channel"], update.params["ts"]) == (channel, ts)
        assert [c for c in bot.slack.calls_to("chat.update") if c.params["ts"] == header] == []
        assert evil.calls == []
    assert [u.text for u in trail(sessions, first)] == ["Rounds booked."]


@pytest.mark.parametrize("where", [pytest.param("evil", id="another host"),
                                   pytest.param("https://evil.example/hooks/T0/B0/x", id="evil.example"),
                                   pytest.param("https://hooks.slack.com.evil.example/x", id="a look-alike host"),
                                   pytest.param("http://hooks.slack.com/x", id="Slack's host without https")])
def test_a_response_url_off_slacks_host_is_never_used_and_the_click_changes_nothing(
        bot: Any, sessions: SessionFactory, engine: Engine, terms: Terms, caplog: pytest.LogCaptureFixture,
        where: str) -> None:
    reference, (first, _), _, _ = live_digest(bot, sessions, engine, terms)
    caplog.set_level(logging.WARNING, logger="handlers.slack.app")
    with FakeSlack() as evil:
        url = evil.url + "response" if where == "evil" else where
        _private_list_click(bot, MANAGER, ids.ACTION_DONE, str(first), url)
        _private_list_click(bot, MANAGER, ids.ACTION_ADD_UPDATE, str(first), url)
        bot.post(urlencode({"team_id": "T0001", "channel_id": "C0GENERAL", "user_id": MANAGER, "command": "/pmccg",
                            "text": "actions", "response_url": url, "trigger_id": "trigger-x"}))
        assert len(_events(caplog, "reply_url_refused", 3)) == 3
        assert evil.calls == []
    assert item(sessions, first).status == "open" and history(sessions, reference, "action_done") == []
    assert bot.slack.calls_to("views.open") == [] and bot.slack.calls_to("response") == []
    assert all(url not in r.getMessage() and "evil" not in str(vars(r)) for r in caplog.records)


def test_the_same_update_form_delivered_twice_or_in_parallel_is_saved_once(
        bot: Any, sessions: SessionFactory, engine: Engine, terms: Terms) -> None:
    reference, (first, second), channel, ts = live_digest(bot, sessions, engine, terms)
    values = {ids.ACTION_UPDATE_FIELD: {ids.ACTION_UPDATE_FIELD: {"type": "plain_text_input",
                                                                  "value": "Rounds booked."}}}
    view = _opened_view(bot, MANAGER, value_on(bot, ts, first), ids.ACTION_ADD_UPDATE, channel, ts)
    assert submit_view(bot, MANAGER, view, values).status_code == 200
    again = submit_view(bot, MANAGER, view, values).json()
    assert again["view"]["title"]["text"] == "Already saved"
    assert [u.text for u in trail(sessions, first)] == ["Rounds booked."]

    # Four deliveries of one form at once (no lock serialises these: the claim alone does).
    view = _opened_view(bot, MANAGER, value_on(bot, ts, second), ids.ACTION_ADD_UPDATE, channel, ts)
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: submit_view(bot, MANAGER, view, values), range(4)))
    assert all(a.status_code == 200 for a in answers)
    assert sorted(a.text.strip() != "" for a in answers) == [False, True, True, True]  # one saved, three answered
    assert [u.text for u in trail(sessions, second)] == ["Rounds booked."]
    assert len(history(sessions, reference, "action_update")) == 2


def test_the_same_due_date_form_delivered_twice_moves_the_date_once(
        bot: Any, sessions: SessionFactory, engine: Engine, terms: Terms) -> None:
    reference, (first, _), channel, ts = live_digest(bot, sessions, engine, terms)
    old_due = item(sessions, first).due_on
    values = {ids.ACTION_DUE_FIELD: {ids.ACTION_DUE_FIELD: {"type": "datepicker",
                                                            "selected_date": (old_due + timedelta(7)).isoformat()}},
              ids.ACTION_DUE_REASON_FIELD: {ids.ACTION_DUE_REASON_FIELD: {"type": "plain_text_input",
                                                                          "value": "Rota not out yet."}}}
    view = _opened_view(bot, MANAGER, value_on(bot, ts, first), ids.ACTION_NEW_DUE, channel, ts)
    assert submit_view(bot, MANAGER, view, values).status_code == 200
    assert submit_view(bot, MANAGER, view, values).json()["view"]["title"]["text"] == "Already saved"
    assert len(history(sessions, reference, "action_due_changed")) == 1
    # The chair, sending the manager's form (their signed id, the manager's nonce and view), is refused.
    body = submit_view(bot, CHAIR, view, values).json()
    assert body["view"]["title"]["text"] == "Not saved"
    assert [u.kind for u in trail(sessions, first)] == ["due_date"]
