"""Everything the scheduler sends, on Teams (issue 16 point 14): the Teams twins of test_chases, test_agenda,
test_scheduler's pre-call check, test_roll_call's post, test_circulation and test_action_reminders.

A case is convened through the domain with the Teams bot's workspace (its room a real group chat in the
stand-in); the scheduler ticks through the Workspace `pmccg worker` builds for PMCCG_PLATFORM=teams, with the
test's clock. Each assertion is on what the Bot Connector stand-in accepted: which chat or 1:1 chat, once, and
the text a reader sees on the card (the reference; DATE()/TIME() of the right instant, shown in the reader's
own zone). SQLite and PostgreSQL (two tickers on one database, each with its own engine).
"""

from __future__ import annotations

import threading
import time as real_time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.domain import action_points, action_reminders, attendance, roll_call
from bot.domain.outcomes import chair_ids
from bot.sandbox.teams_api import visible_text
from storage.db import make_engine, transaction
from storage.tables import DeliveryRecord, MessageState
from tests import teams_scheduling
from tests.factories import LONDON, STAFF_MEMBER
from tests.teams_scheduling import (
    MEMBERS_BUT_CONVENER,
    PUT,
    Scheduled,
    after_the_call,
    card_date,
    card_day,
    outcome_recorded,
)

# The module's fixtures (a module-scoped worker workspace; an empty case history per test).
scheduled, worker_workspace = teams_scheduling.scheduled, teams_scheduling.worker_workspace

MONDAY = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # GMT, no clock change near
CALL = datetime(2026, 11, 5, 14, 0, tzinfo=UTC)  # Thursday 14:00 GMT; the call lasts an hour
CALL_END = CALL + timedelta(hours=1)
AFTER = CALL + timedelta(hours=2)
CHASE = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)  # call end + 5 days
ESCALATE = datetime(2026, 11, 12, 15, 0, tzinfo=UTC)  # call end + 7 days
CHAIR, MANAGER, PEOPLE_TEAM, GOVERNANCE, DIRECTOR = "U0CHAIR01", "U0MANAGER", "U0PEOPLE1", "U0GOVERN1", "U0MEDDIR1"
ANSWERS = CHAIR
SILENT = MEMBERS_BUT_CONVENER - {ANSWERS}
TICK = timedelta(seconds=20)
CHASE_TEXT = "Reminder: please say whether you will attend"
REMINDER_TEXT = "**Reminder**: you have"


def h(hours: float, minutes: int = 0) -> timedelta:
    return timedelta(hours=hours, minutes=minutes)


def m(minutes: int) -> timedelta:
    return timedelta(minutes=minutes)


def buttons(activity: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """Each Action.Execute on the card as (title, verb, data["value"]), body and actions both."""
    found: list[tuple[str, str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "Action.Execute":
                found.append((node.get("title"), node.get("verb"), (node.get("data") or {}).get("value")))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(activity.get("attachments"))
    return found


def mentioned(activity: dict[str, Any]) -> set[str]:
    """The Entra ids the card mentions (its msteams.entities)."""
    ids = set()
    for attachment in activity.get("attachments") or []:
        for entity in ((attachment.get("content") or {}).get("msteams") or {}).get("entities") or []:
            ids.add(entity["mentioned"]["id"])
    return ids


# --- chases whatever the notice ----------------------------------------------------------------------


def _run_chases(s: Scheduled, now: datetime, call: datetime, short_notice: bool) -> dict[str, list[timedelta]]:
    """Convene at `now`, the chair answers at once, the rest never do; tick the 20 s grid until after the call.
    Returns, per person, how long before the call each chase landed."""
    convened = s.convene_at(now, call, short_notice=short_notice)
    invited = s.dms("You are invited to")
    assert set(invited) == MEMBERS_BUT_CONVENER and all(len(v) == 1 for v in invited.values())
    assert all(convened.reference in v[0].text and card_date(call) in v[0].text
               for v in invited.values())
    with transaction(s.sessions) as session:
        attendance.record_reply(session, s.terms, convened.reference, s.id(ANSWERS), attendance.Reply.ATTENDING,
                                now + timedelta(seconds=1), LONDON)
    s.teams.clear()
    received: dict[str, list[timedelta]] = {}
    clock = {"now": now}
    ticker = s.ticker(lambda: clock["now"])
    while True:
        pending = [r.due_at.replace(tzinfo=UTC) if r.due_at.tzinfo is None else r.due_at
                   for r in s.rows() if r.state == MessageState.PENDING]
        due = min(pending, default=None)
        if due is None or due >= call + timedelta(days=1):
            break
        clock["now"] = now + TICK * -(-(max(due, clock["now"]) - now) // TICK)
        ticker.tick()
        for uid, chases in s.dms(CHASE_TEXT).items():
            for chase in chases:
                assert convened.reference in chase.text and card_date(call) in chase.text
                received.setdefault(uid, []).append(call - clock["now"])
        s.teams.clear()
    return received


CHASES = [
    pytest.param(MONDAY, MONDAY + h(50), False, [h(48), h(24), h(4)], id="50 h ahead: the usual chases"),
    pytest.param(MONDAY, MONDAY + h(2), False, [m(30)], id="2 h ahead without the tick: one chase half an hour before"),
    pytest.param(MONDAY, MONDAY + m(40), True, [m(20)], id="40 min ahead: halfway"),
]


@pytest.mark.parametrize(("now", "call", "short_notice", "expected"), CHASES)
def test_a_member_who_never_answers_is_chased_in_their_chat_whatever_the_notice(
        scheduled: Scheduled, now: datetime, call: datetime, short_notice: bool, expected: list[timedelta]) -> None:
    received = _run_chases(scheduled, now, call, short_notice)
    # Each silent member, in their own 1:1 chat, once per chase; whoever answered and the convener, never.
    assert {uid: received.get(uid) for uid in SILENT} == {uid: expected for uid in SILENT}
    assert ANSWERS not in received and "U0MANAGER" not in received


def test_a_chase_carries_the_attendance_buttons_with_the_schedule_version(scheduled: Scheduled) -> None:
    convened = scheduled.convene_at(MONDAY, CALL)
    scheduled.teams.clear()
    scheduled.tick(CALL - h(48) + timedelta(seconds=5))
    chases = scheduled.dms(CHASE_TEXT)
    assert set(chases) == MEMBERS_BUT_CONVENER
    [chase] = chases[CHAIR]
    verbs = [(title, verb) for title, verb, _ in buttons(chase.activity)]
    assert verbs == [("Attending", "attendance_attending"), ("Can't attend", "attendance_apologies")]
    assert "'dialog_id': 'attendance_deputy'" in str(chase.activity)  # "Sending a deputy" opens its dialog
    # The value the Slack button carries: "REF:version", so an answer to a superseded time is refused.
    assert {str(value).split(":")[0] for _, _, value in buttons(chase.activity)} == {convened.reference}
    assert not any(name in chase.text for name in scheduled.names())



def test_a_call_rescheduled_into_short_notice_is_announced_in_each_chat_and_chased_before_the_new_time(
        scheduled: Scheduled) -> None:
    from datetime import time

    from bot.domain import rescheduling

    s = scheduled
    call, moved_at, new_call = MONDAY + h(120), MONDAY + h(24), MONDAY + h(26)
    convened = s.convene_at(MONDAY, call)
    s.teams.clear()
    ticker_at = {"now": MONDAY}
    ticker = s.ticker(lambda: ticker_at["now"])
    ticker_at["now"] = moved_at - m(1)
    ticker.tick()  # nothing is owed before the move (the first chase was 48 h before the old time)
    assert s.dms(CHASE_TEXT) == {}
    local = new_call.astimezone(LONDON)
    with transaction(s.sessions) as session:
        result = rescheduling.reschedule(session, s.terms, convened.reference, s.id("U0MANAGER"), local.date(),
                                         time(local.hour, local.minute), None, moved_at, LONDON)
    rescheduling.announce_rescheduled(s.sessions, s.engine, s.terms, s.h.bot.workspace(), LONDON, result)
    moved = s.dms("has moved")
    assert set(moved) == MEMBERS_BUT_CONVENER and all(len(v) == 1 for v in moved.values())
    assert card_date(new_call) in moved[CHAIR][0].text and card_date(call) in moved[CHAIR][0].text  # new, and was
    s.teams.clear()
    chased: dict[str, list[timedelta]] = {}
    for at in (new_call - h(2), new_call - h(1), new_call - m(30) + timedelta(seconds=5), new_call - m(5)):
        ticker_at["now"] = at
        ticker.tick()
        for uid, chases in s.dms(CHASE_TEXT).items():
            assert all(card_date(new_call) in c.text for c in chases)
            chased.setdefault(uid, []).extend(new_call - at for _ in chases)
        s.teams.clear()
    # Nobody answered again: each is chased once, half an hour before the new time, in their own chat.
    assert chased == {uid: [m(30) - timedelta(seconds=5)] for uid in MEMBERS_BUT_CONVENER}

# --- the pre-call check and the agenda ---------------------------------------------------------------


def test_the_pre_call_check_warns_the_convener_and_the_chair_once_with_its_fixes(scheduled: Scheduled) -> None:
    convened = scheduled.convene_at(MONDAY, CALL)
    scheduled.teams.clear()
    at = CALL - h(24) + timedelta(seconds=5)
    scheduled.tick(at)
    scheduled.tick(at + m(1), worker="w2")  # a later tick sends nothing again
    warnings = scheduled.dms("may not be quorate")
    assert set(warnings) == {CHAIR, MANAGER} and all(len(v) == 1 for v in warnings.values())
    text = warnings[CHAIR][0].text
    assert convened.reference in text and card_date(CALL) in text
    assert "a professional lead for nursing has not replied" in text
    activity = warnings[CHAIR][0].activity
    assert [verb for _, verb, _ in buttons(activity)] == ["quorum_proceed"]
    dialogs = str(activity)
    assert "quorum_invite_deputy" in dialogs and "case_reschedule" in dialogs
    # Who could stand in is mentioned by name, resolved from the directory when the card was made.
    assert "a member" not in text.split("who could stand in:")[-1].split("\n")[0]
    assert mentioned(activity) >= {scheduled.id("U0DEPUTY1")}


def test_the_agenda_is_posted_once_in_the_case_chat_a_day_before(scheduled: Scheduled) -> None:
    convened = scheduled.convene_at(MONDAY, CALL)
    scheduled.teams.clear()
    at = CALL - h(24) + timedelta(seconds=5)
    scheduled.tick(at)
    scheduled.tick(at + m(1), worker="w2")
    [agenda] = scheduled.sent("Agenda:")
    assert agenda.chat == convened.room_id
    assert scheduled.teams.conversation(convened.room_id).topic == convened.reference  # its topic the reference
    assert convened.reference in agenda.text and card_date(CALL) in agenda.text
    assert "Two medication errors on night shifts in October" in agenda.text  # the concern, as typed
    # The members are mentioned (names resolved when the card was made); the staff member never appears.
    assert mentioned(agenda.activity) >= {scheduled.id(u) for u in MEMBERS_BUT_CONVENER}
    assert STAFF_MEMBER[1] not in agenda.text


# --- the roll-call --------------------------------------------------------------------------------


def test_the_roll_call_is_posted_at_the_call_updated_in_place_and_its_result_at_the_end(
        scheduled: Scheduled) -> None:
    s = scheduled
    convened = s.convene_at(MONDAY, CALL)
    s.tick(CALL - m(1))
    s.teams.clear()
    s.tick(CALL + timedelta(seconds=5))
    [posted] = s.sent("**Roll-call**")
    assert posted.chat == convened.room_id and card_date(CALL) in posted.text
    assert "Nobody is marked present yet." in posted.text
    assert [verb for _, verb, _ in buttons(posted.activity)] == ["roll_call_present", "roll_call_record"]
    assert {value for _, _, value in buttons(posted.activity)} == {convened.reference}
    closes = CALL_END + timedelta(minutes=s.terms.roll_call_grace_minutes)
    assert card_date(closes) in posted.text

    # Someone marked present: the same card changes, for everyone (one activity, updated).
    with transaction(s.sessions) as session:
        roll_call.mark_present(session, s.terms, convened.reference, s.id("U0NURSELD"), s.id("U0NURSELD"),
                               CALL + m(2), LONDON, people=s.people())
    roll_call.refresh_roll_call(s.sessions, s.engine, s.terms, convened.case_id, s.worker, LONDON)
    [update] = s.teams.delivered(PUT)
    assert update.params["activityId"] == posted.activity_id
    shown = [a for a in s.teams.messages(convened.room_id) if a["id"] == posted.activity_id]
    assert len(shown) == 1 and "<at>Marisol Pennington</at>" in visible_text(shown[0])

    s.teams.clear()
    s.tick(CALL_END + timedelta(seconds=5))
    s.tick(CALL_END + m(10), worker="w2")
    [result] = s.sent("**Not quorate**")
    assert result.chat == convened.room_id and convened.reference in result.text
    assert "Recorded automatically at the end of the call" in result.text or "automatically" in result.text


# --- circulation within a week, and its chase --------------------------------------------------------


def test_circulation_reaches_the_case_chat_each_owner_and_the_medical_director_once(scheduled: Scheduled) -> None:
    s = scheduled
    reference = after_the_call(s)
    room = s.case(reference).room_id
    outcome_recorded(s, reference, AFTER + m(1))
    s.tick(AFTER + m(2))
    s.tick(AFTER + m(3), worker="w2")
    [summary] = s.posts_to(room, "Outcome:")
    assert reference in summary.text and "The group recommends to the Medical Director" in summary.text
    owners = s.dms("You own this action point")
    assert {uid: len(v) for uid, v in owners.items()} == {MANAGER: 1, PEOPLE_TEAM: 1, CHAIR: 1}
    assert "Arrange supervised medication rounds" in owners[MANAGER][0].text
    assert "occupational health" not in owners[MANAGER][0].text  # only their own items
    assert card_day(datetime(2026, 11, 20, 12, tzinfo=UTC)) in owners[MANAGER][0].text
    assert [uid for uid in s.dms("Recommendation:")] == [DIRECTOR]
    for sent in s.sent():
        assert STAFF_MEMBER[1] not in sent.text  # the staff member is never named


def test_an_uncirculated_outcome_is_chased_at_five_days_and_escalated_at_seven(scheduled: Scheduled) -> None:
    s = scheduled
    reference = after_the_call(s)
    s.tick(CHASE + timedelta(seconds=20))
    s.tick(CHASE + m(1), worker="w2")
    chases = s.dms("circulated")
    assert set(chases) == {CHAIR, GOVERNANCE} and all(len(v) == 1 for v in chases.values())
    assert reference in chases[CHAIR][0].text
    s.teams.clear()
    s.tick(ESCALATE + timedelta(seconds=20))
    escalations = s.dms(reference)
    assert set(escalations) == {GOVERNANCE} and len(escalations[GOVERNANCE]) == 1
    assert not any(name in escalations[GOVERNANCE][0].text for name in s.names())


def test_nothing_is_chased_once_the_outcome_is_circulated(scheduled: Scheduled) -> None:
    s = scheduled
    reference = after_the_call(s)
    outcome_recorded(s, reference, AFTER + m(1))
    s.tick(AFTER + m(2))
    s.teams.clear()
    s.tick(CHASE + timedelta(seconds=20))
    s.tick(ESCALATE + timedelta(seconds=20))
    assert s.dms("circulated") == {} and s.dms("not circulated") == {}


# --- the weekly action reminder, until done -----------------------------------------------------------


def at_local(day: date, hour: int = 9, minute: int = 0, second: int = 30) -> datetime:
    from datetime import time

    return datetime.combine(day, time(hour, minute, second), tzinfo=LONDON).astimezone(UTC)


def _done(s: Scheduled, action_id: int, actor: str, at: datetime) -> None:
    """What the Done button does, through the domain."""
    with transaction(s.sessions) as session:
        item, case_row = action_points.get(session, action_id)
        action_points.mark_done(session, action_id, s.id(actor), at, chair_ids(session, s.terms, case_row))
        action_reminders.plan_owner(session, item.owner_id, s.terms, LONDON, at)


def test_the_owner_is_reminded_weekly_in_their_chat_until_the_item_is_done(scheduled: Scheduled) -> None:
    s = scheduled
    reference = after_the_call(s)
    rounds = outcome_recorded(s, reference, AFTER + m(1))[0]
    s.tick(AFTER + m(2))
    s.teams.clear()
    s.tick(at_local(date(2026, 11, 12)))  # a week after circulation
    s.tick(at_local(date(2026, 11, 12), 9, 5), worker="w2")
    reminders = s.dms(REMINDER_TEXT)
    assert {uid: len(v) for uid, v in reminders.items()} == {MANAGER: 1, PEOPLE_TEAM: 1, CHAIR: 1}
    [digest] = reminders[MANAGER]
    assert f"**Action 1** on **{reference}**" in digest.text
    assert card_day(datetime(2026, 11, 20, 12, tzinfo=UTC)) in digest.text
    done_buttons = [(title, verb, value) for title, verb, value in buttons(digest.activity)]
    with s.sessions() as session:
        delivery = session.exec(select(DeliveryRecord).where(DeliveryRecord.kind == "action_digest",
                                                             DeliveryRecord.recipient == s.id(MANAGER))).one()
    # The value the Slack button carries: the item's id beside the ledger row of this reminder.
    assert done_buttons == [("Done", "action_point_done", f"{rounds}:{delivery.id}")]
    assert not any(name in digest.text for name in s.names())

    _done(s, rounds, MANAGER, at_local(date(2026, 11, 13), 11))
    s.teams.clear()
    for offset in range(14):
        s.tick(at_local(date(2026, 11, 13) + timedelta(days=offset)))
    assert MANAGER not in s.dms(REMINDER_TEXT)
    assert [r for r in s.rows("action_digest") if r.recipient == s.id(MANAGER)
            and r.state == MessageState.PENDING] == []



def test_an_overdue_item_is_escalated_to_the_chair_once_in_their_chat(scheduled: Scheduled) -> None:
    s = scheduled
    reference = after_the_call(s)
    outcome_recorded(s, reference, AFTER + m(1), actions=(
        ("Arrange supervised medication rounds.", MANAGER, date(2026, 11, 17)),), heard="yes")
    s.tick(AFTER + m(2))
    s.tick(at_local(date(2026, 11, 17)))  # due today: not yet overdue
    assert s.dms("is overdue since") == {}
    s.tick(at_local(date(2026, 11, 18)))
    escalations = s.dms("is overdue since")
    assert set(escalations) == {CHAIR} and len(escalations[CHAIR]) == 1
    [escalation] = escalations[CHAIR]
    # The day it was due, in the reader's own zone; the owner mentioned by name.
    assert f"Action 1 on **{reference}** (owner <at>" in escalation.text
    assert card_day(datetime(2026, 11, 17, 12, tzinfo=UTC)) in escalation.text
    assert mentioned(escalation.activity) == {s.id(MANAGER)}
    s.teams.clear()
    for offset in range(1, 10):
        s.tick(at_local(date(2026, 11, 18) + timedelta(days=offset)))
    assert s.dms("is overdue since") == {}
    assert len(s.dms(REMINDER_TEXT).get(MANAGER, [])) == 2  # still reminded weekly: the 19th and the 26th

# --- two workers at once ------------------------------------------------------------------------------


def test_two_workers_ticking_at_once_with_a_send_slower_than_the_lease_send_each_chase_once(
        scheduled: Scheduled) -> None:
    s = scheduled
    s.convene_at(MONDAY, CALL)
    s.teams.clear()
    second = make_engine(s.engine.url.render_as_string(hide_password=False))
    lease = timedelta(seconds=0.6)
    s.teams.set_latency("POST /v3/conversations/{id}/activities", 1.0)  # each post takes longer than the lease
    due = CALL - h(48) + timedelta(seconds=5)
    started = datetime.now(UTC)
    errors: list[BaseException] = []
    claimed: Counter[str] = Counter()

    def worker(name: str, engine: Any) -> None:
        try:
            for _ in range(10):
                now = due + (datetime.now(UTC) - started)
                report = s.tick(now, worker=name, engine=engine, lease=lease)
                claimed[name] += report.claimed
                if report.claimed == 0:
                    real_time.sleep(0.2)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    try:
        threads = [threading.Thread(target=worker, args=("w1", s.engine)),
                   threading.Thread(target=worker, args=("w2", second))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=90)
    finally:
        s.teams.set_latency("POST /v3/conversations/{id}/activities", 0)
        second.dispose()
    assert not errors
    chases = s.dms(CHASE_TEXT)
    assert {uid: len(v) for uid, v in chases.items()} == {uid: 1 for uid in MEMBERS_BUT_CONVENER}
    assert claimed["w1"] and claimed["w2"], claimed  # both took part
    with s.sessions() as session:
        records = list(session.exec(select(DeliveryRecord).where(DeliveryRecord.kind == "reply_chase")))
    assert len(records) == len(MEMBERS_BUT_CONVENER) and {r.attempts for r in records} == {1}



def test_the_calendar_file_reaches_each_member_by_consent_in_their_own_chat(scheduled: Scheduled) -> None:
    s = scheduled
    convened = s.convene_at(MONDAY, CALL)
    s.teams.clear()
    report = s.tick(MONDAY + m(1))
    s.tick(MONDAY + m(2), worker="w2")
    assert report.failed == 0 and s.rows("delivery_failed") == []
    [calendar] = s.rows("calendar")
    assert calendar.state == MessageState.SENT
    consents = {}
    for uid, sent in s.dms().items():
        cards = [a for one in sent for a in one.activity.get("attachments") or []
                 if a.get("contentType") == "application/vnd.microsoft.teams.card.file.consent"]
        consents[uid] = [c["name"] for c in cards]
    members = MEMBERS_BUT_CONVENER | {"U0MANAGER"}
    assert consents == {uid: [f"{convened.reference}.ics"] for uid in members}
    # The case chat says where the file went (Teams lets a bot share files in 1:1 chats only).
    [line] = s.posts_to(convened.room_id)
    assert f"{convened.reference}.ics was sent to each member of this chat" in line.text
