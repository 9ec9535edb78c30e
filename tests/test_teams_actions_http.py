"""Action points in Teams (the twins of tests/test_action_reminders.py and test_action_points.py's main
scenarios): `actions` typed lists the person's open items in their 1:1 chat; the weekly reminder's Done marks
the item done and the reminder is updated in place (one activity changed, not a second one); Add an update
and New due date through dialogs; and a click naming another person's item, or pressed on a card the bot did
not send to the presser, changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import select

from bot.domain.action_reminders import DIGEST
from bot.sandbox.teams_api import TeamsUser, visible_text
from storage.tables import ActionPoint, ActionStatus, ActionUpdate, Case, ScheduledMessage
from tests.teams_after_call import (
    buttons,
    card_text,
    convene_case,
    dialog_card,
    dialog_closed_with,
    due,
    record_outcome,
    submit_data,
    tick,
)
from tests.teams_bot import TeamsBotHarness

DESCRIPTION = "Arrange supervised medication rounds"


def _case_with_action(bot: TeamsBotHarness) -> tuple[Case, TeamsUser]:
    bot.reset()
    case = convene_case(bot)
    owner = bot.person("U0SERVICE")
    chair = bot.person("U0CHAIR01")
    assert record_outcome(bot, case, (DESCRIPTION, owner.id, due(bot=bot)),
                          ("Write to the service lead about supervision", chair.id, due(bot=bot))
                          ).startswith("Recorded")
    tick(bot)  # the circulation: the item is reminded from now on
    return case, owner


def _item(bot: TeamsBotHarness) -> ActionPoint:
    with bot.services.sessions() as session:
        return session.exec(select(ActionPoint).where(ActionPoint.description == DESCRIPTION)).one()


def _listed(bot: TeamsBotHarness, owner: TeamsUser) -> dict[str, Any]:
    """`owner` types actions; the list card the bot posted in their 1:1 chat."""
    before = len(bot.teams.personal_messages(owner.id))
    bot.say(owner, "actions")
    (card,) = bot.teams.personal_messages(owner.id)[before:]
    return card


def _button(activity: dict[str, Any], title: str) -> dict[str, Any]:
    return next(b for b in buttons(activity) if b.get("title") == title)


def _conversation(bot: TeamsBotHarness, user: TeamsUser) -> str:
    conv = bot.teams.personal_conversation_id(user.id)
    assert conv
    return conv


def test_actions_typed_lists_the_persons_items_with_their_buttons(teams_bot: TeamsBotHarness) -> None:
    case, owner = _case_with_action(teams_bot)
    listed = _listed(teams_bot, owner)
    text = visible_text(listed)
    assert "Your open action points** (1)" in text and DESCRIPTION in text and case.reference in text
    done = _button(listed, "Done")
    assert done["type"] == "Action.Execute" and done["verb"] == "action_point_done"
    item_id, delivery_id = done["data"]["value"].split(":")  # the item and the list's own ledger row
    assert int(item_id) == _item(teams_bot).id and delivery_id.isdigit()


def test_done_on_the_weekly_reminder_updates_it_in_place(teams_bot: TeamsBotHarness) -> None:
    case, owner = _case_with_action(teams_bot)
    with teams_bot.services.sessions() as session:
        digest = session.exec(select(ScheduledMessage).where(
            ScheduledMessage.kind == DIGEST, ScheduledMessage.recipient == owner.id)).first()
    assert digest is not None
    teams_bot.clock.move_to(digest.due_at.replace(tzinfo=teams_bot.clock().tzinfo) + timedelta(minutes=1)
                            if digest.due_at.tzinfo is None else digest.due_at + timedelta(minutes=1))
    tick(teams_bot)
    reminders = [m for m in teams_bot.teams.personal_messages(owner.id) if "Reminder" in visible_text(m)]
    assert len(reminders) == 1 and DESCRIPTION in visible_text(reminders[0])
    reminder = reminders[0]
    count = len(teams_bot.teams.personal_messages(owner.id))

    answer = teams_bot.click(owner, "action_point_done", _button(reminder, "Done")["data"],
                             reply_to_id=reminder["id"], conversation=_conversation(teams_bot, owner))
    assert answer.status_code == 200
    body = answer.json()
    # The presser sees the card redrawn at once: the item done, its buttons gone.
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    assert "Done" in card_text(body["value"]) and not [b for b in buttons(body["value"]) if b.get("title") == "Done"]
    assert _item(teams_bot).status == ActionStatus.DONE
    # The stored reminder is the one changed: no new message, the same activity now shows it done.
    teams_bot.teams.wait_for("PUT /v3/conversations/{id}/activities/{activityId}",
                             lambda c: c.params["activityId"] == reminder["id"])
    after = teams_bot.teams.personal_messages(owner.id)
    assert len(after) == count
    redrawn = next(m for m in after if m["id"] == reminder["id"])
    assert "Done" in visible_text(redrawn) and not [b for b in buttons(redrawn) if b.get("title") == "Done"]
    # Pressed again, nothing changes.
    again = teams_bot.click(owner, "action_point_done", _button(reminder, "Done")["data"],
                            reply_to_id=reminder["id"], conversation=_conversation(teams_bot, owner))
    assert "already done" in again.json()["value"]


def test_a_click_on_another_persons_item_or_card_changes_nothing(teams_bot: TeamsBotHarness) -> None:
    _case, owner = _case_with_action(teams_bot)
    listed = _listed(teams_bot, owner)
    value = _button(listed, "Done")["data"]["value"]
    chair = teams_bot.person("U0CHAIR01")
    # The chair presses the owner's button as if on their own chat: the card is not one the bot sent them.
    refused = teams_bot.click(chair, "action_point_done", {"value": value}, reply_to_id=listed["id"],
                              conversation=_conversation(teams_bot, chair))
    assert "not on a message the bot sent you" in refused.json()["value"]
    # The owner, on their own list, with data naming the chair's item.
    chair_item = _button(_listed(teams_bot, chair), "Done")["data"]["value"].split(":")[0]
    other = teams_bot.click(owner, "action_point_done", {"value": f"{chair_item}:{value.split(':')[1]}"},
                            reply_to_id=listed["id"], conversation=_conversation(teams_bot, owner))
    assert "Only the owner of action" in other.json()["value"]  # the domain's rule and words, as on Slack
    with teams_bot.services.sessions() as session:
        assert session.get(ActionPoint, int(chair_item)).status == ActionStatus.OPEN
    # The owner's own button, but replyToId names another card of theirs.
    elsewhere = teams_bot.click(owner, "action_point_done", {"value": value}, reply_to_id="1700000000000",
                                conversation=_conversation(teams_bot, owner))
    assert "not on a message the bot sent you" in elsewhere.json()["value"]
    # A ledger id that is not a digest to the owner.
    forged = teams_bot.click(owner, "action_point_done", {"value": f"{value.split(':')[0]}:1"},
                             reply_to_id=listed["id"], conversation=_conversation(teams_bot, owner))
    assert "not on a message the bot sent you" in forged.json()["value"]
    assert _item(teams_bot).status == ActionStatus.OPEN


def test_add_an_update_and_a_new_due_date_through_dialogs(teams_bot: TeamsBotHarness) -> None:
    _case, owner = _case_with_action(teams_bot)
    listed = _listed(teams_bot, owner)
    conv = _conversation(teams_bot, owner)
    opener = _button(listed, "Add an update")
    card = dialog_card(teams_bot.open_dialog(owner, opener["data"], reply_to_id=listed["id"], conversation=conv))
    assert DESCRIPTION in card_text(card)
    data = submit_data(card)
    closed = dialog_closed_with(teams_bot.submit_dialog(owner, {**data, "update": "First round booked for Monday."},
                                                        conversation=conv))
    assert closed.startswith("Saved") and "update added" in closed
    with teams_bot.services.sessions() as session:
        assert len(session.exec(select(ActionUpdate)).all()) == 1
    # Sent again, saved once.
    assert "already sent" in dialog_closed_with(teams_bot.submit_dialog(
        owner, {**data, "update": "First round booked for Monday."}, conversation=conv))

    new_due = _item(teams_bot).due_on + timedelta(days=7)
    card = dialog_card(teams_bot.open_dialog(owner, _button(listed, "New due date")["data"],
                                             reply_to_id=listed["id"], conversation=conv))
    # No reason: the domain's error under the field, the date kept.
    data = submit_data(card)
    again = dialog_card(teams_bot.submit_dialog(owner, {**data, "due": new_due.isoformat()}, conversation=conv))
    assert any(b.get("color") == "Attention" for b in again["body"])
    closed = dialog_closed_with(teams_bot.submit_dialog(
        owner, {**submit_data(again), "due": new_due.isoformat(), "reason": "Rota gap over half-term."},
        conversation=conv))
    assert "due date changed" in closed and _item(teams_bot).due_on == new_due
    # The list the click came from is redrawn in place with the new date.
    teams_bot.teams.wait_for("PUT /v3/conversations/{id}/activities/{activityId}",
                             lambda c: c.params["activityId"] == listed["id"])


def test_actions_typed_in_a_case_chat_is_answered_in_the_1_1_chat_only(teams_bot: TeamsBotHarness) -> None:
    case, owner = _case_with_action(teams_bot)
    in_chat = len(teams_bot.teams.messages(case.room_id))
    before = len(teams_bot.teams.personal_messages(owner.id))
    teams_bot.mention(owner, case.room_id, "actions")
    mine = teams_bot.teams.personal_messages(owner.id)[before:]
    assert len(mine) == 1 and DESCRIPTION in visible_text(mine[0])
    # The case chat hears only where the list went, never the list itself.
    said = teams_bot.teams.messages(case.room_id)[in_chat:]
    assert len(said) == 1 and DESCRIPTION not in visible_text(said[0]) and "1:1 chat" in visible_text(said[0])
