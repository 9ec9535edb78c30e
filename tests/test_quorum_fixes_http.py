"""The fixes on a pre-call quorum warning: invite a deputy into an open seat, or proceed and record it."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import select

from bot.clock import now
from bot.domain.history import events
from storage.tables import Case
from tests.factories import convene_state


def _convened(bot: Any) -> Case:
    bot.submit("U0MANAGER", "convene", convene_state(now()))
    bot.slack.wait_for("views.update")
    with bot.services.sessions() as session:
        return session.exec(select(Case)).one()


def test_convener_invites_the_deputy_chair_into_the_open_chair_seat(bot: Any) -> None:
    case = _convened(bot)
    bot.click("U0MANAGER", "quorum_invite_deputy", case.reference, channel="DU0MANAGER")
    (opened,) = bot.slack.wait_for("views.open")
    view = opened.params["view"]
    seat_block = next(b for b in view["blocks"] if b["block_id"] == "seat")
    assert seat_block["element"]["initial_option"]["value"] == "chair"
    assert next(b for b in view["blocks"] if b["block_id"] == "deputy")["element"]["initial_user"] == "U0DEPUTY1"

    values = {"seat": {"seat": {"type": "static_select", "selected_option": {"value": "chair"}}},
              "deputy": {"deputy": {"type": "users_select", "selected_user": "U0DEPUTY1"}}}
    response = bot.submit("U0MANAGER", "invite_deputy", values, private_metadata=case.reference)
    assert response.status_code == 200 and response.text in ("", "{}")
    invites = bot.slack.wait_for("conversations.invite", count=2)
    assert invites[-1].params["users"] == "U0DEPUTY1" and invites[-1].params["channel"] == case.room_id
    board = bot.slack.wait_for("chat.update")[-1]
    assert "Sending a deputy: <@U0DEPUTY1>" in json.dumps(board.params["blocks"], ensure_ascii=False)


def test_a_seat_already_filled_cannot_take_a_deputy(bot: Any) -> None:
    case = _convened(bot)
    values = {"seat": {"seat": {"type": "static_select", "selected_option": {"value": "line_manager"}}},
              "deputy": {"deputy": {"type": "users_select", "selected_user": "U0DEPUTY1"}}}
    body = bot.submit("U0MANAGER", "invite_deputy", values, private_metadata=case.reference).json()
    assert body["response_action"] == "errors"
    assert "needs nobody to stand in" in body["errors"]["seat"]


def test_only_convener_chair_or_governance_can_use_the_fixes(bot: Any) -> None:
    case = _convened(bot)
    bot.click("U0CLINDIR", "quorum_invite_deputy", case.reference, channel="DU0CLINDIR")
    (reply,) = bot.slack.wait_for("response")
    assert reply.params["response_type"] == "ephemeral"
    assert "Only the person who convened" in reply.params["text"]
    assert bot.slack.calls_to("views.open") == []


def test_proceeding_although_inquorate_is_recorded_and_said_in_the_channel(bot: Any) -> None:
    case = _convened(bot)
    bot.click("U0CHAIR01", "quorum_proceed", case.reference, channel="DU0CHAIR01")
    posts = bot.slack.wait_for("chat.postMessage", predicate=lambda c: c.params["channel"] == case.room_id,
                               count=3)
    assert "may be inquorate" in posts[-1].params["text"]
    with bot.services.sessions() as session:
        assert any(e.kind == "proceed_may_be_inquorate" and e.actor_id == "U0CHAIR01"
                   for e in events(session, case.id or 0))


def test_going_ahead_clicked_twice_is_recorded_and_said_once(bot: Any) -> None:
    case = _convened(bot)
    bot.click("U0CHAIR01", "quorum_proceed", case.reference, channel="DU0CHAIR01")
    bot.click("U0MANAGER", "quorum_proceed", case.reference, channel="DU0MANAGER")
    replies = bot.slack.wait_for("response", count=2)
    texts = sorted(r.params["text"] for r in replies)
    assert texts[0].startswith("Already recorded") and texts[1].startswith("Recorded")
    noted = [c for c in bot.slack.calls_to("chat.postMessage")
             if c.params["channel"] == case.room_id and "may be inquorate" in c.params.get("text", "")]
    assert len(noted) == 1
    with bot.services.sessions() as session:
        assert [e.kind for e in events(session, case.id or 0)].count("proceed_may_be_inquorate") == 1


def test_going_ahead_is_kept_when_the_case_channel_cannot_be_told_and_the_person_is_told_so(bot: Any) -> None:
    case = _convened(bot)
    bot.slack.fail_next("chat.postMessage", "channel_not_found")
    bot.click("U0CHAIR01", "quorum_proceed", case.reference, channel="DU0CHAIR01")
    (reply,) = bot.slack.wait_for("response")
    assert reply.params["text"].startswith("Recorded") and "could not be told" in reply.params["text"]
    with bot.services.sessions() as session:
        assert any(e.kind == "proceed_may_be_inquorate" for e in events(session, case.id or 0))
