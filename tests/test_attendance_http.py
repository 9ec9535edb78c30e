"""Members tick attendance in the case channel: the board updates in place with projected quorum."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlmodel import select

from bot.clock import now
from storage.tables import Case
from tests.factories import convene_state


def _wait(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def _convened(bot: Any) -> Case:
    bot.submit("U0MANAGER", "convene", convene_state(now()))
    bot.slack.wait_for("views.update")
    with bot.services.sessions() as session:
        return session.exec(select(Case)).one()


def _board_text(call: Any) -> str:
    return "\n".join(json.dumps(b, ensure_ascii=False) for b in call.params["blocks"])


def _is_board(call: Any) -> bool:
    return not str(call.params["channel"]).startswith("D")  # not a member's direct message


def _updates(bot: Any) -> list[Any]:
    """The board's updates (a member's own invitation is redrawn too: tests/test_answer_dm.py)."""
    return [c for c in bot.slack.calls_to("chat.update") if _is_board(c)]


def test_each_answer_updates_the_one_board_in_place_with_projected_quorum(bot: Any) -> None:
    case = _convened(bot)
    ref = case.reference
    bot.click("U0CHAIR01", "attendance_attending", ref, channel=case.room_id, message_ts=case.board_ref)
    bot.slack.wait_for("chat.update", _is_board, count=1)
    bot.click("U0SERVICE", "attendance_attending", ref, channel=case.room_id, message_ts=case.board_ref)
    bot.click("U0PEOPLE1", "attendance_apologies", ref, channel=case.room_id, message_ts=case.board_ref)
    bot.slack.wait_for("chat.update", _is_board, count=3)
    last = _updates(bot)[-1]
    assert last.params["ts"] == case.board_ref and last.params["channel"] == case.room_id
    text = _board_text(last)
    assert "<@U0CHAIR01> — Attending" in text
    assert "<@U0PEOPLE1> — Can't attend" in text
    assert "<@U0MANAGER> — Attending" in text  # the convener
    assert "not yet quorate: 3 of 4" in text
    assert "a professional lead for nursing has not replied" in text
    # No new message was posted for the answers: header, board and invitations only.
    assert len(bot.slack.calls_to("chat.postMessage")) == 2 + 6

    bot.click("U0NURSELD", "attendance_attending", ref, channel=case.room_id, message_ts=case.board_ref)
    _wait(lambda: "quorate: 4 of 4 expected" in _board_text(_updates(bot)[-1]))


def test_clicking_the_same_answer_twice_changes_nothing(bot: Any) -> None:
    case = _convened(bot)
    bot.click("U0CHAIR01", "attendance_attending", case.reference, channel=case.room_id)
    bot.slack.wait_for("response", count=1)  # told once the board and their invitation are redrawn
    bot.click("U0CHAIR01", "attendance_attending", case.reference, channel=case.room_id)
    replies = bot.slack.wait_for("response", count=2)
    assert "No change" in replies[-1].params["text"]
    assert len(_updates(bot)) == 1


def test_someone_not_invited_is_told_privately_and_the_board_is_untouched(bot: Any) -> None:
    case = _convened(bot)
    bot.click("U0OUTSIDE", "attendance_attending", case.reference, channel=case.room_id)
    (reply,) = bot.slack.wait_for("response")
    assert reply.params["response_type"] == "ephemeral"
    assert "Only the members invited" in reply.params["text"]
    assert _updates(bot) == []


def test_a_member_names_a_deputy_who_can_then_confirm_or_withdraw(bot: Any) -> None:
    case = _convened(bot)
    bot.click("U0CHAIR01", "attendance_deputy", case.reference, channel=case.room_id)
    (opened,) = bot.slack.wait_for("views.open")
    assert opened.params["view"]["callback_id"] == "deputy"
    assert opened.params["view"]["private_metadata"] == case.reference

    values = {"deputy": {"deputy": {"type": "users_select", "selected_user": "U0CHAIR01"}}}
    response = bot.submit("U0CHAIR01", "deputy", values, private_metadata=case.reference)
    assert response.json()["errors"]["deputy"] == "Choose someone other than yourself."

    values = {"deputy": {"deputy": {"type": "users_select", "selected_user": "U0DEPUTY1"}}}
    response = bot.submit("U0CHAIR01", "deputy", values, private_metadata=case.reference)
    assert response.status_code == 200 and response.text in ("", "{}")
    bot.slack.wait_for("chat.update", _is_board)
    text = _board_text(_updates(bot)[-1])
    assert "Sending a deputy: <@U0DEPUTY1>" in text
    # The appointed deputy chair satisfies the chair condition; the count and the lead still fail.
    projected = next(line for line in text.splitlines() if "Projected" in line)
    assert "not yet quorate: 2 of 4" in projected
    assert "the chair or their appointed deputy" not in projected

    # The deputy may answer; withdrawing puts the seat back to awaiting a reply.
    bot.click("U0DEPUTY1", "attendance_apologies", case.reference, channel=case.room_id)
    bot.slack.wait_for("chat.update", _is_board, count=2)
    assert "<@U0CHAIR01> — No reply yet" in _board_text(_updates(bot)[-1])


def test_an_answer_from_the_invitation_dm_also_updates_the_board(bot: Any) -> None:
    case = _convened(bot)
    bot.click("U0NURSELD", "attendance_attending", case.reference, channel="DU0NURSELD")
    bot.slack.wait_for("chat.update", _is_board)
    (reply,) = bot.slack.wait_for("response")
    assert f"You are down as attending {case.reference}" in reply.params["text"]
