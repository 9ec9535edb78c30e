"""A member's invitation and reminders are redrawn in place once they answer (issue 14, rule 4).

Whether the answer came from the direct message, a reminder or the board, each of the member's messages
about the case then says what they answered and when (the organisation's time zone), and keeps only the
buttons that would change it. The messages are the ones the bot stored in its ledger, never the ones a
click names. After a reschedule the old ones say the call moved, with no buttons; after a cancel, that
it was cancelled. A redrawing Slack refuses changes nothing else: the answer stands and is confirmed.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlmodel import select

from bot.clock import now
from bot.domain.case_views import local_time_text
from bot.domain.reminders import send_due
from handlers.slack import ids
from handlers.slack.workspace import SlackWorkspace
from storage.tables import Case, DeliveryRecord, Invitee, ScheduledMessage
from tests.factories import LONDON, PEOPLE, convene_state
from tests.slack_client import opened_view, submit_view

NURSE, CHAIR, DEPUTY = "U0NURSELD", "U0CHAIR01", "U0DEPUTY1"


def _convened(bot: Any) -> Case:
    bot.submit("U0MANAGER", "convene", convene_state(now()))
    bot.slack.wait_for("views.update")
    with bot.services.sessions() as session:
        return session.exec(select(Case)).one()


def _dms(bot: Any, user: str, kind: str) -> list[DeliveryRecord]:
    with bot.services.sessions() as session:
        return list(session.exec(select(DeliveryRecord).where(DeliveryRecord.recipient == user,
                                                              DeliveryRecord.kind == kind)
                                 .order_by(DeliveryRecord.id)))


def _shown(bot: Any, row: DeliveryRecord) -> dict[str, Any]:
    """The message as Slack holds it now (what the member sees)."""
    return bot.slack.messages[row.ref]


def _text(message: dict[str, Any]) -> str:
    return json.dumps(message.get("blocks", []), ensure_ascii=False)


def _buttons(message: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(action id, label, value) of the attendance buttons, in order."""
    return [(e["action_id"], e["text"]["text"], e["value"]) for b in message.get("blocks", [])
            if b.get("type") == "actions" for e in b["elements"]]


def _answered_at(bot: Any, user: str) -> str:
    with bot.services.sessions() as session:
        row = session.exec(select(Invitee).where(Invitee.user_id == user)).one()
    assert row.replied_at is not None
    return local_time_text(row.replied_at, LONDON)


def _dm_updates(bot: Any, row: DeliveryRecord) -> list[Any]:
    return [c for c in bot.slack.calls_to("chat.update") if c.params["ts"] == row.ref]


def _confirmations(bot: Any, count: int = 1) -> list[str]:
    return [c.params["text"] for c in bot.slack.wait_for("response", count=count)]


def _board_updated(bot: Any, case: Case, count: int = 1) -> dict[str, Any]:
    bot.slack.wait_for("chat.update", lambda c: c.params["ts"] == case.board_ref, count=count)
    return bot.slack.messages[case.board_ref]


def test_an_answer_on_the_invitation_redraws_it_with_the_answer_when_and_only_the_other_choices(bot: Any) -> None:
    case = _convened(bot)
    ref = case.reference
    (invitation,) = _dms(bot, NURSE, "invitation")
    assert [b[0] for b in _buttons(_shown(bot, invitation))] == [ids.ATTENDING, ids.SENDING_DEPUTY, ids.APOLOGIES]

    bot.click(NURSE, ids.ATTENDING, f"{ref}:1", channel=invitation.room, message_ts=invitation.ref)
    assert _confirmations(bot) == [f"You are down as attending {ref}."]  # still told privately
    (update,) = _dm_updates(bot, invitation)
    assert update.params["channel"] == invitation.room
    sent = {"blocks": update.params["blocks"]}
    assert f"Your answer: *Attending* (given {_answered_at(bot, NURSE)}). To change it:" in _text(sent)
    with bot.services.sessions() as session:
        seat = session.exec(select(Invitee).where(Invitee.user_id == NURSE)).one().seat_label
    assert f"for case *{ref}* as *{seat}*" in _text(sent) and f"<#{case.room_id}>" in _text(sent)
    assert f"<!date^{int(case.call_at.timestamp())}^" in _text(sent)  # the call's time is still there
    # "Attending" would do nothing now: gone. The other two choices change it.
    assert _buttons(sent) == [(ids.SENDING_DEPUTY, "Sending a deputy", f"{ref}:1"),
                              (ids.APOLOGIES, "Can't attend", f"{ref}:1")]
    assert _shown(bot, invitation)["blocks"] == update.params["blocks"]
    assert "your answer is Attending" in update.params["text"]
    # Nobody else's messages were touched.
    others = [c for c in bot.slack.calls_to("chat.update") if c.params["ts"] not in (invitation.ref, case.board_ref)]
    assert others == []


def test_the_answer_can_be_changed_from_the_redrawn_message(bot: Any) -> None:
    case = _convened(bot)
    ref = case.reference
    (invitation,) = _dms(bot, NURSE, "invitation")
    bot.click(NURSE, ids.ATTENDING, f"{ref}:1", channel=invitation.room, message_ts=invitation.ref)
    _confirmations(bot)
    apologies = next(v for a, _, v in _buttons(_shown(bot, invitation)) if a == ids.APOLOGIES)

    bot.click(NURSE, ids.APOLOGIES, apologies, channel=invitation.room, message_ts=invitation.ref)
    assert _confirmations(bot, 2)[-1] == f"Your apologies for {ref} are recorded."
    shown = _shown(bot, invitation)
    assert f"Your answer: *Can't attend* (given {_answered_at(bot, NURSE)})" in _text(shown)
    assert [b[:2] for b in _buttons(shown)] == [(ids.ATTENDING, "Attending"), (ids.SENDING_DEPUTY, "Sending a deputy")]
    assert f"<@{NURSE}> — Can't attend" in _text(_board_updated(bot, case, 2))


def test_an_answer_on_the_board_redraws_the_invitation_and_the_reminder_too(bot: Any) -> None:
    case = _convened(bot)
    ref = case.reference
    with bot.services.sessions() as session:
        first_chase = min(m.due_at for m in session.exec(select(ScheduledMessage).where(
            ScheduledMessage.kind == "reply_chase")))
    workspace = SlackWorkspace(WebClient(token="xoxb-test", base_url=bot.slack.url))
    send_due(bot.services.sessions, bot.services.engine, workspace, bot.services.terms, LONDON,
             first_chase + timedelta(minutes=1))
    (invitation,) = _dms(bot, CHAIR, "invitation")
    (chase,) = _dms(bot, CHAIR, "reply_chase")
    assert "Reminder" in _shown(bot, chase)["text"] and len(_buttons(_shown(bot, chase))) == 3

    bot.click(CHAIR, ids.APOLOGIES, f"{ref}:1:board", channel=case.room_id, message_ts=case.board_ref)
    _confirmations(bot)
    for row in (invitation, chase):
        shown = _shown(bot, row)
        assert f"Your answer: *Can't attend* (given {_answered_at(bot, CHAIR)})" in _text(shown)
        assert [b[0] for b in _buttons(shown)] == [ids.ATTENDING, ids.SENDING_DEPUTY]
    assert "Reminder" not in _shown(bot, chase)["text"]


def test_a_named_deputy_shows_on_the_invitation_and_a_withdrawal_asks_again(bot: Any) -> None:
    case = _convened(bot)
    ref = case.reference
    (invitation,) = _dms(bot, CHAIR, "invitation")
    bot.click(CHAIR, ids.SENDING_DEPUTY, f"{ref}:1", channel=invitation.room, message_ts=invitation.ref)
    form = opened_view(bot.slack)
    assert form["private_metadata"] == f"{ref}:1"
    submit_view(bot, CHAIR, form, {"deputy": {"deputy": {"type": "users_select", "selected_user": DEPUTY}}})
    bot.slack.wait_for("chat.update", lambda c: c.params["ts"] == invitation.ref)
    shown = _shown(bot, invitation)
    assert f"Your answer: *Sending a deputy* <@{DEPUTY}> (given {_answered_at(bot, CHAIR)})" in _text(shown)
    # Naming someone else still does something; so do the other two answers.
    assert [b[:2] for b in _buttons(shown)] == [(ids.ATTENDING, "Attending"),
                                                (ids.SENDING_DEPUTY, "Send a different deputy"),
                                                (ids.APOLOGIES, "Can't attend")]

    # The deputy withdraws on the board: the chair's invitation asks them again, with all three choices.
    bot.click(DEPUTY, ids.APOLOGIES, f"{ref}:1:board", channel=case.room_id, message_ts=case.board_ref)
    bot.slack.wait_for("chat.update", lambda c: c.params["ts"] == invitation.ref, count=2)
    shown = _shown(bot, invitation)
    assert "You have not answered yet. Please tell the group whether you will attend:" in _text(shown)
    assert [b[0] for b in _buttons(shown)] == [ids.ATTENDING, ids.SENDING_DEPUTY, ids.APOLOGIES]
    assert _dms(bot, DEPUTY, "invitation") == []  # the deputy was told in the channel, not redrawn here


def test_the_message_redrawn_is_the_one_the_bot_stored_never_the_one_the_click_names(bot: Any) -> None:
    case = _convened(bot)
    ref = case.reference
    (chairs,) = _dms(bot, CHAIR, "invitation")
    (nurses,) = _dms(bot, NURSE, "invitation")
    before = _shown(bot, chairs)["blocks"]
    # A click whose payload names the chair's invitation (or the board) as the message clicked on.
    bot.click(NURSE, ids.ATTENDING, f"{ref}:1", channel=chairs.room, message_ts=chairs.ref)
    _confirmations(bot)
    assert _shown(bot, chairs)["blocks"] == before
    assert "Your answer: *Attending*" in _text(_shown(bot, nurses))
    assert _dm_updates(bot, chairs) == []


def test_a_redrawing_slack_refuses_is_contained(bot: Any, caplog: pytest.LogCaptureFixture) -> None:
    case = _convened(bot)
    ref = case.reference
    (invitation,) = _dms(bot, NURSE, "invitation")
    bot.slack.refuse("chat.update", "message_not_found", channel=invitation.room)
    with caplog.at_level(logging.WARNING, logger="bot.domain.attendance"):
        bot.click(NURSE, ids.ATTENDING, f"{ref}:1", channel=invitation.room, message_ts=invitation.ref)
        assert _confirmations(bot) == [f"You are down as attending {ref}."]
    assert f"<@{NURSE}> — Attending" in _text(_board_updated(bot, case))
    with bot.services.sessions() as session:
        assert session.exec(select(Invitee).where(Invitee.user_id == NURSE)).one().reply == "attending"
    (record,) = [r for r in caplog.records if r.getMessage() == "answer_dm_update_failed"]
    assert (record.case_ref, record.kind, record.error) == (ref, "invitation", "message_not_found")  # type: ignore[attr-defined]
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert NURSE not in logged and all(name not in logged for name, _, _ in PEOPLE.values())


def _reschedule(bot: Any, case: Case) -> datetime:
    day = (now().astimezone(LONDON) + timedelta(days=5)).date()
    count = len(bot.slack.calls_to("views.open")) + 1
    bot.click("U0MANAGER", ids.CASE_RESCHEDULE, case.reference, channel=case.room_id, message_ts=case.header_ref)
    values = {"call_date": {"call_date": {"type": "datepicker", "selected_date": str(day)}},
              "call_time": {"call_time": {"type": "timepicker", "selected_time": "10:30"}},
              "duration": {"duration": {"type": "static_select", "selected_option": {"value": "60"}}}}
    submit_view(bot, "U0MANAGER", opened_view(bot.slack, count), values)
    bot.slack.wait_for("views.update", lambda c: c.params["view"]["title"]["text"] == "Rescheduled")
    return datetime.combine(day, time(10, 30), tzinfo=LONDON).astimezone(UTC)


def test_after_a_reschedule_the_old_invitation_says_the_call_moved_and_the_new_one_answers(bot: Any) -> None:
    case = _convened(bot)
    ref = case.reference
    (invitation,) = _dms(bot, NURSE, "invitation")
    bot.click(NURSE, ids.ATTENDING, f"{ref}:1", channel=invitation.room, message_ts=invitation.ref)
    _confirmations(bot)
    new_call = _reschedule(bot, case)

    old = _shown(bot, invitation)
    assert _buttons(old) == []
    assert f"moved to <!date^{int(new_call.timestamp())}^" in _text(old)
    assert "please answer on the new invitation" in _text(old)
    assert local_time_text(new_call, LONDON) in old["text"]
    # Every member's old invitation went the same way, redrawn before the new one was sent.
    for user in ("U0CHAIR01", "U0SERVICE", "U0PEOPLE1", "U0GOVERN1", "U0CLINDIR"):
        (row,) = _dms(bot, user, "invitation")
        assert _buttons(_shown(bot, row)) == [] and "moved to" in _text(_shown(bot, row))
    (notice,) = _dms(bot, NURSE, "rescheduled_notice")
    redrawn = next(i for i, c in enumerate(bot.slack.calls) if c.method == "chat.update"
                   and c.params["ts"] == invitation.ref and "moved to" in json.dumps(c.params["blocks"]))
    posted = next(i for i, c in enumerate(bot.slack.calls) if c.method == "chat.postMessage"
                  and c.params["channel"] == NURSE and "has moved" in json.dumps(c.params["blocks"]))
    assert redrawn < posted

    # Answering on the new invitation redraws it; the old one stays out of date.
    bot.click(NURSE, ids.APOLOGIES, f"{ref}:2", channel=notice.room, message_ts=notice.ref)
    _confirmations(bot, 2)
    new = _shown(bot, notice)
    assert "Your answer: *Can't attend*" in _text(new) and f"<!date^{int(new_call.timestamp())}^" in _text(new)
    assert [b[2] for b in _buttons(new)] == [f"{ref}:2", f"{ref}:2"]
    assert _buttons(_shown(bot, invitation)) == [] and "moved to" in _text(_shown(bot, invitation))


def test_after_a_cancel_the_invitations_say_so_without_buttons(bot: Any) -> None:
    case = _convened(bot)
    count = len(bot.slack.calls_to("views.open")) + 1
    bot.click("U0GOVERN1", ids.CASE_CANCEL, case.reference, channel=case.room_id, message_ts=case.header_ref)
    submit_view(bot, "U0GOVERN1", opened_view(bot.slack, count),
                {"reason": {"reason": {"type": "plain_text_input", "value": "Resolved informally."}}})
    bot.slack.wait_for("views.update", lambda c: c.params["view"]["title"]["text"] == "Cancelled")
    for user in ("U0CHAIR01", "U0NURSELD", "U0SERVICE"):
        (row,) = _dms(bot, user, "invitation")
        shown = _shown(bot, row)
        assert _buttons(shown) == []
        assert f"Case *{case.reference}*: the call was cancelled. There is nothing to answer." in _text(shown)
