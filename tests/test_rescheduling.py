"""Rescheduling and cancelling a case: signed clicks and submissions in, what Slack and the database hold out.

A reschedule clears every answer, cancels the old schedule's pending messages and plans the new
one's; a cancel stops them all and closes the board. Refusals are private or at the field, and
change nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import now
from bot.domain import convening, roster
from bot.domain.reminders import send_due
from bot.domain.rescheduling import cancel, reschedule
from bot.domain.terms import Terms
from bot.sandbox.slack_api import FakeSlack
from handlers.slack.workspace import SlackWorkspace
from storage.db import SessionFactory, transaction
from storage.tables import Case, CaseEvent, Invitee, MessageState, Reply, ScheduledMessage
from tests.factories import HERE, LONDON, STAFF_MEMBER, convene_state, form, load_roster
from tests.slack_client import opened_view, submit_view

MEMBERS = {"U0CHAIR01", "U0MANAGER", "U0SERVICE", "U0PEOPLE1", "U0GOVERN1", "U0CLINDIR", "U0NURSELD"}


# --- helpers ---------------------------------------------------------------------------------------


def _convened(bot: Any) -> Case:
    bot.submit("U0MANAGER", "convene", convene_state(now()))
    bot.slack.wait_for("views.update")
    with bot.services.sessions() as session:
        return session.exec(select(Case)).one()


def _opened(bot: Any, user: str, button: str, case: Case) -> dict[str, Any]:
    """Click the header's reschedule or cancel button as `user`; the view the bot opened (id, nonce)."""
    count = len(bot.slack.calls_to("views.open")) + 1
    bot.click(user, button, case.reference, channel=case.room_id, message_ts=case.header_ref)
    return opened_view(bot.slack, count)


def _case(bot: Any) -> Case:
    with bot.services.sessions() as session:
        return session.exec(select(Case)).one()


def _invitees(bot: Any, case_id: int) -> list[Invitee]:
    with bot.services.sessions() as session:
        return list(session.exec(select(Invitee).where(Invitee.case_id == case_id)))


def _messages(bot: Any, case_id: int) -> list[ScheduledMessage]:
    with bot.services.sessions() as session:
        return list(session.exec(select(ScheduledMessage).where(ScheduledMessage.case_id == case_id)
                                 .order_by(ScheduledMessage.id)))


def _when(day: date | str, at: str, duration: int | None = 60) -> dict[str, Any]:
    """view.state.values of the reschedule modal."""
    values: dict[str, Any] = {
        "call_date": {"call_date": {"type": "datepicker", "selected_date": str(day)}},
        "call_time": {"call_time": {"type": "timepicker", "selected_time": at}},
    }
    if duration is not None:
        values["duration"] = {"duration": {"type": "static_select", "selected_option": {"value": str(duration)}}}
    return values


def _reason(text: str) -> dict[str, Any]:
    return {"reason": {"reason": {"type": "plain_text_input", "value": text}}}


def _blocks(call: Any) -> str:
    return json.dumps(call.params.get("blocks", []), ensure_ascii=False)


def _dms(bot: Any) -> list[Any]:
    return [c for c in bot.slack.calls_to("chat.postMessage") if str(c.params["channel"]).startswith("U")]


def _wait_dms(bot: Any, count: int) -> list[Any]:
    return bot.slack.wait_for("chat.postMessage", lambda c: str(c.params["channel"]).startswith("U"), count=count)


def _update_of(bot: Any, ts: str | None) -> Any:
    return bot.slack.wait_for("chat.update", lambda c: c.params["ts"] == ts)[-1]


def _unchanged(bot: Any, case: Case, messages: list[ScheduledMessage]) -> None:
    after = _case(bot)
    assert (after.call_at, after.duration_minutes, after.schedule_version, after.status) == \
        (case.call_at, case.duration_minutes, case.schedule_version, case.status)
    assert [(m.id, m.state) for m in _messages(bot, case.id or 0)] == [(m.id, m.state) for m in messages]
    assert bot.slack.calls_to("chat.update") == [] and bot.slack.calls_to("chat.postMessage") == []


def _local_utc(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=LONDON).astimezone(UTC)


# --- rescheduling ------------------------------------------------------------------------------------


def test_the_convener_reschedules_answers_are_cleared_reminders_move_and_members_are_told(bot: Any) -> None:
    case = _convened(bot)
    ref = case.reference
    bot.click("U0CHAIR01", "attendance_deputy", ref, channel=case.room_id)
    bot.submit("U0CHAIR01", "deputy", {"deputy": {"deputy": {"type": "users_select", "selected_user": "U0DEPUTY1"}}},
               private_metadata=ref)
    bot.click("U0NURSELD", "attendance_attending", ref, channel=case.room_id, message_ts=case.board_ref)
    bot.slack.wait_for("chat.update", count=2)
    old = _messages(bot, case.id or 0)
    assert old and all(m.state == MessageState.PENDING and ":v1:" in m.idempotency_key for m in old)

    view = _opened(bot, "U0MANAGER", "case_reschedule", case)
    assert view["callback_id"] == "case_reschedule_view" and ref not in view["private_metadata"]
    fields = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert fields["call_time"]["timezone"] == "Europe/London" and fields["call_time"]["initial_time"] == "14:00"
    assert fields["call_date"]["type"] == "datepicker" and fields["duration"]["initial_option"]["value"] == "60"

    bot.slack.clear()
    new_day = (now().astimezone(LONDON) + timedelta(days=5)).date()
    response = submit_view(bot, "U0MANAGER", view, _when(new_day, "10:30", 90))
    assert response.status_code == 200 and response.json()["response_action"] == "update"
    new_call = _local_utc(new_day, time(10, 30))

    # Members (not the convener, who did it) and the deputy the chair had named are told directly.
    dms = _wait_dms(bot, count=7)
    assert {d.params["channel"] for d in dms} == (MEMBERS - {"U0MANAGER"}) | {"U0DEPUTY1"}
    member_dm = next(d for d in dms if d.params["channel"] == "U0NURSELD")
    buttons = [b for b in member_dm.params["blocks"] if b.get("block_id") == "attendance"]
    assert [e["action_id"] for e in buttons[0]["elements"]] == [
        "attendance_attending", "attendance_deputy", "attendance_apologies"]
    assert all(e["value"] == f"{ref}:2" for e in buttons[0]["elements"])  # the new schedule's version
    assert f"<!date^{int(new_call.timestamp())}^" in _blocks(member_dm)
    deputy_dm = next(d for d in dms if d.params["channel"] == "U0DEPUTY1")
    assert "deputy for <@U0CHAIR01>" in _blocks(deputy_dm) and "attendance_attending" not in _blocks(deputy_dm)

    # The channel is told, and the header and board are updated in place.
    post = bot.slack.wait_for("chat.postMessage", lambda c: c.params["channel"] == case.room_id)[-1]
    assert "Rescheduled* to <!date^" + str(int(new_call.timestamp())) in _blocks(post)
    assert "please answer again" in _blocks(post)
    header = _update_of(bot, case.header_ref)
    assert f"<!date^{int(new_call.timestamp())}^" in _blocks(header) and "90 minutes" in _blocks(header)
    assert any(b.get("block_id") == "case_admin" for b in header.params["blocks"])
    board = _blocks(_update_of(bot, case.board_ref))
    for member in MEMBERS - {"U0MANAGER"}:
        assert f"<@{member}> — No reply yet" in board
    assert "<@U0MANAGER> — Attending" in board  # whoever convened attends the new time too, unchased
    assert "U0DEPUTY1" not in board and "attendance_attending" in board
    done = bot.slack.wait_for("views.update", lambda c: c.params["view"]["title"]["text"] == "Rescheduled")
    assert ref in json.dumps(done[-1].params["view"])

    after = _case(bot)
    assert after.call_at == new_call and after.duration_minutes == 90 and after.schedule_version == 2
    assert all(i.reply == (Reply.ATTENDING if i.user_id == "U0MANAGER" else Reply.NO_REPLY)
               and i.deputy_id is None for i in _invitees(bot, case.id or 0))

    # Every message of the old time is cancelled; the new time's are planned at the same offsets.
    messages = {m.id: m for m in _messages(bot, case.id or 0)}
    assert all(messages[m.id].state == MessageState.CANCELLED for m in old)
    new = [m for m in messages.values() if m.id not in {o.id for o in old}]
    assert all(m.state == MessageState.PENDING and ":v2:" in m.idempotency_key for m in new)
    assert all(json.loads(m.detail)["version"] == 2 for m in new)
    chases = [m for m in new if m.kind == "reply_chase"]
    expected = {_local_utc(new_day - timedelta(days=2), time(10, 30)), _local_utc(new_day - timedelta(days=1),
                time(10, 30)), _local_utc(new_day, time(6, 30))}
    assert {m.due_at for m in chases} == expected
    assert {m.recipient for m in chases} == MEMBERS - {"U0MANAGER"}  # all asked again but the convener
    due = {m.kind: m.due_at for m in new if m.kind != "reply_chase"}
    assert due["pre_call_check"] == due["agenda"] == _local_utc(new_day - timedelta(days=1), time(10, 30))
    assert due["roll_call"] == new_call and due["roll_call_close"] == new_call + timedelta(minutes=90)
    # The same form delivered again: answered quietly, the case is not moved or announced twice.
    again = submit_view(bot, "U0MANAGER", view, _when(new_day, "10:30", 90)).json()
    assert again["view"]["title"]["text"] == "Already saved"
    assert _case(bot).schedule_version == 2
    with bot.services.sessions() as session:
        kinds = [e.kind for e in session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id))]
    assert kinds.count("rescheduled") == 1


def test_the_quorum_warning_reschedule_button_opens_the_modal_for_the_chair(bot: Any) -> None:
    case = _convened(bot)
    bot.click("U0CHAIR01", "case_reschedule", case.reference, channel="DU0CHAIR01")
    (opened,) = bot.slack.wait_for("views.open")
    assert opened.params["view"]["callback_id"] == "case_reschedule_view"


def test_someone_not_allowed_is_refused_privately_and_nothing_changes(bot: Any) -> None:
    case = _convened(bot)
    messages = _messages(bot, case.id or 0)
    bot.slack.clear()
    bot.click("U0PEOPLE1", "case_reschedule", case.reference, channel=case.room_id, message_ts=case.header_ref)
    bot.click("U0MEMBER1", "case_cancel", case.reference, channel=case.room_id, message_ts=case.header_ref)
    replies = bot.slack.wait_for("response", count=2)
    for reply in replies:
        assert reply.params["response_type"] == "ephemeral"
        assert "Only the person who convened" in reply.params["text"]
        for contact in ("U0MANAGER", "U0CHAIR01", "U0GOVERN1"):
            assert f"<@{contact}>" in reply.params["text"]
    assert bot.slack.calls_to("views.open") == []

    # A submission without the button (a forged modal, or the convener's form sent by them) is refused too.
    day = (now().astimezone(LONDON) + timedelta(days=6)).date()
    response = bot.submit("U0PEOPLE1", "case_reschedule_view", _when(day, "11:00"), private_metadata=case.reference)
    assert response.json()["response_action"] == "update"
    assert "was not opened for you" in json.dumps(response.json()["view"])
    conveners = _opened(bot, "U0MANAGER", "case_cancel", case)
    response = submit_view(bot, "U0PEOPLE1", conveners, _reason("Not needed."))
    assert response.json()["response_action"] == "update"
    assert "was not opened for you" in json.dumps(response.json()["view"])
    _unchanged(bot, case, messages)


def test_a_time_already_passed_or_too_soon_is_refused_at_the_field_and_nothing_changes(bot: Any) -> None:
    case = _convened(bot)
    messages = _messages(bot, case.id or 0)
    bot.slack.clear()
    local_now = now().astimezone(LONDON)
    view = _opened(bot, "U0MANAGER", "case_reschedule", case)

    response = submit_view(bot, "U0MANAGER", view, _when(local_now.date() - timedelta(days=1), "14:00"))
    body = response.json()
    assert body["response_action"] == "errors"
    assert body["errors"] == {"call_date": "That time has already passed. Choose a time in the future."}

    soon = local_now + timedelta(minutes=30)
    response = submit_view(bot, "U0MANAGER", view, _when(soon.date(), f"{soon:%H:%M}"))
    assert response.json()["errors"] == {"call_time": "Give members at least 60 minutes' notice."}

    response = submit_view(bot, "U0MANAGER", view, _when(local_now.date() + timedelta(days=4), "10:00", duration=5))
    assert set(response.json()["errors"]) == {"duration"}
    _unchanged(bot, case, messages)


def test_a_time_skipped_when_the_clocks_go_forward_is_refused_at_the_time_field(bot: Any) -> None:
    case = _convened(bot)
    messages = _messages(bot, case.id or 0)
    bot.slack.clear()
    response = submit_view(bot, "U0MANAGER", _opened(bot, "U0MANAGER", "case_reschedule", case),
                           _when("2027-03-28", "01:30"))
    body = response.json()
    assert body["response_action"] == "errors" and list(body["errors"]) == ["call_time"]
    assert "01:30 does not exist on 28 March 2027 in Europe/London" in body["errors"]["call_time"]
    _unchanged(bot, case, messages)


# --- cancelling --------------------------------------------------------------------------------------


def test_cancel_with_a_reason_stops_every_message_closes_the_board_and_tells_everyone(bot: Any) -> None:
    case = _convened(bot)
    ref = case.reference
    bot.submit("U0CHAIR01", "deputy", {"deputy": {"deputy": {"type": "users_select", "selected_user": "U0DEPUTY1"}}},
               private_metadata=ref)
    bot.slack.wait_for("chat.update")
    view = _opened(bot, "U0GOVERN1", "case_cancel", case)
    assert view["callback_id"] == "case_cancel_view" and ref not in view["private_metadata"]

    bot.slack.clear()
    reason = "Resolved informally by the line manager. <!channel> *not bold* <https://evil.example|click>"
    response = submit_view(bot, "U0GOVERN1", view, _reason(f"  {reason}\n"))
    assert response.status_code == 200 and response.json()["response_action"] == "update"

    # The channel is told, the reason shown literally (a rich_text text element, nowhere in mrkdwn).
    post = bot.slack.wait_for("chat.postMessage", lambda c: c.params["channel"] == case.room_id)[-1]
    assert "Cancelled" in _blocks(post) and reason not in post.params["text"]
    rich = [e for b in post.params["blocks"] if b["type"] == "rich_text" for s in b["elements"] for e in s["elements"]]
    assert {"type": "text", "text": reason} in rich
    assert all(reason not in json.dumps(b) for b in post.params["blocks"] if b["type"] != "rich_text")

    # Members and the named deputy are told; not the person who cancelled.
    dms = _wait_dms(bot, count=7)
    assert {d.params["channel"] for d in dms} == (MEMBERS - {"U0GOVERN1"}) | {"U0DEPUTY1"}
    assert all("attendance_attending" not in _blocks(d) for d in dms)

    # Board and header are closed in place: no buttons left.
    board = _update_of(bot, case.board_ref)
    assert not [b for b in board.params["blocks"] if b["type"] == "actions"]
    header = _update_of(bot, case.header_ref)
    assert not [b for b in header.params["blocks"] if b["type"] == "actions"]
    assert "cancelled" in _blocks(header)
    bot.slack.wait_for("files.completeUploadExternal")
    assert any(b"STATUS:CANCELLED" in content for content in bot.slack.uploads.values())
    bot.slack.wait_for("views.update", lambda c: c.params["view"]["title"]["text"] == "Cancelled")

    after = _case(bot)
    assert after.status == "cancelled" and after.cancel_reason == reason
    messages = _messages(bot, case.id or 0)
    assert messages and all(m.state == MessageState.CANCELLED for m in messages)
    with bot.services.sessions() as session:
        event = session.exec(select(CaseEvent).where(CaseEvent.kind == "cancelled")).one()
    assert event.actor_id == "U0GOVERN1" and "informally" not in event.detail  # free text stays on the case
    # Delivered again: answered quietly; nobody is told twice.
    again = submit_view(bot, "U0GOVERN1", view, _reason(f"  {reason}\n")).json()
    assert again["view"]["title"]["text"] == "Already saved"
    assert len([c for c in bot.slack.calls_to("chat.postMessage") if c.params["channel"] == case.room_id
                and "Cancelled" in _blocks(c)]) == 1

    # Nothing more can be done to it: no reschedule, no attendance.
    bot.slack.clear()
    bot.click("U0MANAGER", "case_reschedule", ref, channel=case.room_id)
    bot.click("U0NURSELD", "attendance_attending", ref, channel=case.room_id)
    texts = [r.params["text"] for r in bot.slack.wait_for("response", count=2)]
    assert any("can no longer be rescheduled or cancelled" in t for t in texts)
    assert any("attendance is closed" in t for t in texts)
    assert bot.slack.calls_to("views.open") == []


@pytest.mark.parametrize("reason", [f"Discussed with {STAFF_MEMBER[1]}; resolved.",
                                    f"discussed with {STAFF_MEMBER[1].lower()}, resolved"])
def test_a_reason_naming_the_staff_member_is_refused_at_the_field(bot: Any, reason: str) -> None:
    case = _convened(bot)
    messages = _messages(bot, case.id or 0)
    view = _opened(bot, "U0MANAGER", "case_cancel", case)
    bot.slack.clear()
    response = submit_view(bot, "U0MANAGER", view, _reason(reason))
    body = response.json()
    assert body["response_action"] == "errors" and list(body["errors"]) == ["reason"]
    assert "looks like a name" in body["errors"]["reason"]
    assert bot.slack.calls_to("views.update") == []
    response = submit_view(bot, "U0MANAGER", view, _reason("   "))
    assert list(response.json()["errors"]) == ["reason"]
    _unchanged(bot, case, messages)


# --- with the scheduler --------------------------------------------------------------------------------

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _workspace(fake: FakeSlack) -> SlackWorkspace:
    return SlackWorkspace(WebClient(token="xoxb-test", base_url=fake.url))


def _convene(sessions: SessionFactory, engine: Engine, terms: Terms, fake: FakeSlack) -> str:
    with sessions() as session:
        load_roster(session, terms)
        entries = roster.entries_for(session, form(T0).seats.values())
    request = convening.validate(form(T0), terms, entries, (), T0, LONDON, people=HERE)
    return convening.convene(sessions, engine, request, terms, _workspace(fake), T0, LONDON).reference


def _member_dms(fake: FakeSlack) -> list[Any]:
    return [c for c in fake.calls_to("chat.postMessage") if str(c.params["channel"]).startswith("U")]


def test_after_cancel_the_scheduler_sends_nothing_at_the_old_times(sessions: SessionFactory, engine: Engine,
                                                                   terms: Terms, directory: FakeSlack) -> None:
    ref = _convene(sessions, engine, terms, directory)
    with sessions() as session:
        old = list(session.exec(select(ScheduledMessage).order_by(ScheduledMessage.due_at)))
    chases = [m for m in old if m.kind == "reply_chase"]
    assert chases
    # A worker claimed the first chase and died: its claim lapses only after the cancel.
    with transaction(sessions) as session:
        row = session.get(ScheduledMessage, chases[0].id)
        assert row is not None
        row.state, row.claimed_by, row.claimed_until = MessageState.CLAIMED, "dead", chases[0].due_at
        session.add(row)
    with transaction(sessions) as session:
        result = cancel(session, terms, ref, "U0MANAGER", "Resolved informally.", T0 + timedelta(hours=1))
    assert result.cancelled_messages == len(old) - 1

    directory.clear()
    sent = 0
    for when in sorted({m.due_at for m in old}):
        report = send_due(sessions, engine, _workspace(directory), terms, LONDON, when + timedelta(minutes=1))
        sent += report.sent
    assert sent == 0
    assert _member_dms(directory) == [] and directory.calls_to("chat.postMessage") == []
    with sessions() as session:
        lapsed = session.get(ScheduledMessage, chases[0].id)
    assert lapsed is not None and lapsed.state == MessageState.DROPPED


def test_after_reschedule_only_the_new_times_remind(sessions: SessionFactory, engine: Engine, terms: Terms,
                                                    directory: FakeSlack) -> None:
    ref = _convene(sessions, engine, terms, directory)
    with sessions() as session:
        old_chases = sorted({m.due_at for m in session.exec(select(ScheduledMessage).where(
            ScheduledMessage.kind == "reply_chase"))})
        call_day = session.exec(select(Case)).one().call_at.astimezone(LONDON).date()
    new_day = call_day + timedelta(days=2)
    with transaction(sessions) as session:
        reschedule(session, terms, ref, "U0MANAGER", new_day, time(10, 0), None, T0 + timedelta(hours=1), LONDON)

    directory.clear()
    for when in old_chases:
        if when < _local_utc(new_day - timedelta(days=2), time(10, 0)):
            send_due(sessions, engine, _workspace(directory), terms, LONDON, when + timedelta(minutes=1))
    assert _member_dms(directory) == []  # the old 48- and 24-hour chases are gone

    send_due(sessions, engine, _workspace(directory), terms, LONDON, _local_utc(new_day - timedelta(days=2),
                                                                                time(10, 1)))
    chased = _member_dms(directory)
    assert {c.params["channel"] for c in chased} == MEMBERS - {"U0MANAGER"}
    assert all("Reminder" in c.params["text"] for c in chased)
