"""Attendance on Teams end to end: the twins of tests/test_attendance_http.py (and the deputy of it).

Members answer on the case chat's board or on their invitation in their 1:1 chat. The board is one activity,
updated in place (PUT) for everyone; whoever clicked on their invitation sees it replaced by how it reads now;
whoever clicked on the board is told privately. A click that is not on a card the bot sent for that case
(to that person), or from someone not on the case, changes nothing.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sqlmodel import select

from bot.sandbox.teams_api import visible_text
from bot.sandbox.teams_checks import invoke_response_refusal
from storage.tables import Case, DeliveryRecord, Invitee
from tests.teams_bot import TeamsBotHarness
from tests.teams_convening import MANAGER, closing, convened, dialog_card, error_under, wait

UPDATES = "PUT /v3/conversations/{id}/activities/{activityId}"


def card_of(activity: dict[str, Any]) -> dict[str, Any]:
    return activity["attachments"][0]["content"]


def board(bot: TeamsBotHarness, case: Case) -> dict[str, Any]:
    (found,) = [m for m in bot.teams.messages(case.room_id) if m["id"] == case.board_ref]
    return found


def board_text(bot: TeamsBotHarness, case: Case) -> str:
    """The board as it reads now: every text, and each row's name and answer (a fact's value)."""
    return json.dumps(card_of(board(bot, case))["body"], ensure_ascii=False)


def value_of(activity: dict[str, Any], verb: str) -> str:
    """The value the card's button (Action.Execute `verb`, or the dialog opener with that dialog_id) carries."""
    for action in card_of(activity).get("actions", []):
        if action.get("verb") == verb or action.get("data", {}).get("dialog_id") == verb:
            return str(action["data"]["value"])
    raise AssertionError(f"no {verb} button on the card")


def invitation(bot: TeamsBotHarness, uid: str, case: Case) -> dict[str, Any]:
    """`uid`'s invitation to this case in their 1:1 chat (references repeat across tests: found by its id)."""
    person = bot.person(uid)
    with bot.services.sessions() as session:
        (row,) = session.exec(select(DeliveryRecord).where(
            DeliveryRecord.case_id == case.id, DeliveryRecord.recipient == person.id,
            DeliveryRecord.kind == "invitation"))
    (found,) = [m for m in bot.teams.personal_messages(person.id) if m["id"] == row.ref]
    return found


def board_puts(bot: TeamsBotHarness, case: Case) -> list[Any]:
    return [c for c in bot.teams.calls_to(UPDATES) if c.params.get("activityId") == case.board_ref]


def on_board(bot: TeamsBotHarness, uid: str, verb: str, case: Case, value: str | None = None) -> dict[str, Any]:
    """`uid` presses `verb` on the case chat's board; the invoke's answer."""
    value = value if value is not None else value_of(board(bot, case), verb)
    response = bot.click(bot.person(uid), verb, {"value": value}, reply_to_id=case.board_ref,
                         conversation=case.room_id)
    assert response.status_code == 200
    assert invoke_response_refusal(response.json()) is None
    return response.json()


def on_invitation(bot: TeamsBotHarness, uid: str, verb: str, case: Case, value: str | None = None) -> dict[str, Any]:
    """`uid` presses `verb` on their invitation in their 1:1 chat; the invoke's answer."""
    sent = invitation(bot, uid, case)
    value = value if value is not None else value_of(sent, verb)
    response = bot.click(bot.person(uid), verb, {"value": value}, reply_to_id=sent["id"])
    assert response.status_code == 200
    assert invoke_response_refusal(response.json()) is None  # the card replacing theirs is one Teams takes
    return response.json()


def mention(bot: TeamsBotHarness, uid: str) -> str:
    return f"<at>{bot.person(uid).display_name}</at>"


def said(answer: dict[str, Any]) -> str:
    """The private confirmation of an Action.Execute answered with a message."""
    assert answer["type"] == "application/vnd.microsoft.activity.message", answer
    return str(answer["value"])


def fresh_case(bot: TeamsBotHarness) -> Case:
    bot.reset()
    return convened(bot)


def test_each_answer_on_the_board_updates_the_one_board_in_place(teams_bot: TeamsBotHarness) -> None:
    case = fresh_case(teams_bot)
    assert "You are down as attending" in said(on_board(teams_bot, "U0CHAIR01", "attendance_attending", case))
    wait(lambda: board_puts(teams_bot, case))
    on_board(teams_bot, "U0SERVICE", "attendance_attending", case)
    on_board(teams_bot, "U0PEOPLE1", "attendance_apologies", case)
    wait(lambda: "not yet quorate: 3 of 4" in board_text(teams_bot, case)
         and "Can't attend" in board_text(teams_bot, case))
    text = board_text(teams_bot, case)
    assert f"{mention(teams_bot, 'U0CHAIR01')} — Attending" in text
    assert f"{mention(teams_bot, 'U0PEOPLE1')} — Can't attend" in text
    assert f"{mention(teams_bot, MANAGER)} — Attending" in text  # the convener
    assert "a professional lead for nursing has not replied" in text
    # One board, changed in place: the chat still shows the header and the board only.
    assert [m["id"] for m in teams_bot.teams.messages(case.room_id)][1] == case.board_ref
    assert len(teams_bot.teams.messages(case.room_id)) == 2

    on_board(teams_bot, "U0NURSELD", "attendance_attending", case)
    wait(lambda: "quorate: 4 of 4 expected" in board_text(teams_bot, case))


def test_an_answer_on_the_invitation_replaces_that_card_and_updates_the_board(teams_bot: TeamsBotHarness) -> None:
    case = fresh_case(teams_bot)
    sent = invitation(teams_bot, "U0NURSELD", case)
    answer = on_invitation(teams_bot, "U0NURSELD", "attendance_attending", case)
    assert answer["type"] == "application/vnd.microsoft.card.adaptive"
    assert "Your answer: **Attending**" in json.dumps(answer["value"], ensure_ascii=False)
    wait(lambda: f"{mention(teams_bot, 'U0NURSELD')} — Attending" in board_text(teams_bot, case))
    # Their invitation is redrawn in place too (the same activity), with only the buttons that change it.
    redrawn = wait(lambda: next((m for m in teams_bot.teams.personal_messages(teams_bot.person("U0NURSELD").id)
                                 if m["id"] == sent["id"] and "Your answer" in visible_text(m)), None))
    verbs = {a.get("verb") for a in card_of(redrawn)["actions"]}
    assert "attendance_attending" not in verbs and "attendance_apologies" in verbs
    assert len(teams_bot.teams.messages(case.room_id)) == 2


def test_the_same_answer_twice_changes_nothing(teams_bot: TeamsBotHarness) -> None:
    case = fresh_case(teams_bot)
    on_board(teams_bot, "U0CHAIR01", "attendance_attending", case)
    wait(lambda: board_puts(teams_bot, case))
    assert "No change" in said(on_board(teams_bot, "U0CHAIR01", "attendance_attending", case))
    time.sleep(0.3)
    assert len(board_puts(teams_bot, case)) == 1


def test_someone_not_invited_is_told_and_the_board_is_untouched(teams_bot: TeamsBotHarness) -> None:
    case = fresh_case(teams_bot)
    assert "Only the members invited" in said(on_board(teams_bot, "U0OUTSIDE", "attendance_attending", case))
    time.sleep(0.3)
    assert board_puts(teams_bot, case) == []


def test_clicks_not_on_a_card_the_bot_sent_for_that_case_change_nothing(teams_bot: TeamsBotHarness) -> None:
    case = fresh_case(teams_bot)
    chair, nurse = teams_bot.person("U0CHAIR01"), teams_bot.person("U0NURSELD")
    value = value_of(board(teams_bot, case), "attendance_attending")
    refusals = [
        # The board's value, but on another card of the chat (the header).
        teams_bot.click(chair, "attendance_attending", {"value": value}, reply_to_id=case.header_ref,
                        conversation=case.room_id),
        # The board's id, but said to be in the chair's 1:1 chat.
        teams_bot.click(chair, "attendance_attending", {"value": value}, reply_to_id=case.board_ref),
        # Someone else's invitation (the chair's), sent from the nurse lead.
        teams_bot.click(nurse, "attendance_attending", {"value": value},
                        reply_to_id=invitation(teams_bot, "U0CHAIR01", case)["id"]),
        # No card at all.
        teams_bot.click(chair, "attendance_apologies", {"value": value}, conversation=case.room_id),
    ]
    for response in refusals:
        assert "not on a message the bot sent you" in said(response.json())
    # A value naming a case that does not exist.
    missing = teams_bot.click(chair, "attendance_attending", {"value": "PMCCG-1999-999:1:board"},
                              reply_to_id=case.board_ref, conversation=case.room_id)
    assert "PMCCG-1999-999" in said(missing.json())
    time.sleep(0.3)
    assert board_puts(teams_bot, case) == [] and teams_bot.teams.calls_to(UPDATES) == []
    with teams_bot.services.sessions() as session:
        replies = {i.user_id: i.reply for i in session.exec(select(Invitee))}
    assert replies[chair.id] == "no_reply" and replies[nurse.id] == "no_reply"


def test_a_button_sent_for_another_schedule_says_the_call_moved(teams_bot: TeamsBotHarness) -> None:
    case = fresh_case(teams_bot)
    stale = f"{case.reference}:{case.schedule_version + 1}:board"
    assert "The call moved to" in said(on_board(teams_bot, "U0CHAIR01", "attendance_attending", case, stale))
    # On an invitation the version is the one the ledger kept for it, not the one sent back.
    answer = on_invitation(teams_bot, "U0CHAIR01", "attendance_attending", case,
                           f"{case.reference}:{case.schedule_version + 1}")
    assert answer["type"] == "application/vnd.microsoft.card.adaptive"


def test_a_member_names_a_deputy_who_can_then_withdraw(teams_bot: TeamsBotHarness) -> None:
    case = fresh_case(teams_bot)
    chair, deputy = teams_bot.person("U0CHAIR01"), teams_bot.person("U0DEPUTY1")
    opened = teams_bot.open_dialog(chair, {"dialog_id": "attendance_deputy",
                                           "value": value_of(board(teams_bot, case), "attendance_deputy")},
                                   reply_to_id=case.board_ref, conversation=case.room_id).json()
    card = dialog_card(opened)
    data = card["actions"][0]["data"]
    assert data["action"] == "deputy_submit" and case.reference in visible_text({"attachments": [
        {"content": card}]})

    def send(person: str, **extra: str) -> dict[str, Any]:
        response = teams_bot.submit_dialog(chair, {**data, "deputy": person, **extra}, conversation=case.room_id)
        return response.json()

    again = dialog_card(send(chair.id))
    assert error_under(again, "deputy") == "Choose someone other than yourself."
    assert "recorded" in closing(send(deputy.id, answer=f"{case.reference}:99"))  # the copy sent back is not read
    wait(lambda: f"Sending a deputy: {mention(teams_bot, 'U0DEPUTY1')}" in board_text(teams_bot, case))
    text = board_text(teams_bot, case)
    assert "not yet quorate: 2 of 4" in text and "the chair or their appointed deputy" not in text
    # Added to the case chat and announced there.
    wait(lambda: deputy.id in teams_bot.teams.conversation(case.room_id).members)
    wait(lambda: len(teams_bot.teams.messages(case.room_id)) == 3)
    # The same dialog sent again changes nothing.
    assert "already sent" in closing(send(teams_bot.person("U0MEDDIR1").id))

    # The deputy may answer; withdrawing puts the seat back to awaiting a reply.
    on_board(teams_bot, "U0DEPUTY1", "attendance_apologies", case)
    wait(lambda: f"{mention(teams_bot, 'U0CHAIR01')} — No reply yet" in board_text(teams_bot, case))


def test_the_deputy_dialog_opens_only_from_a_card_the_bot_sent_that_member(teams_bot: TeamsBotHarness) -> None:
    case = fresh_case(teams_bot)
    value = value_of(board(teams_bot, case), "attendance_deputy")
    outsider = teams_bot.open_dialog(teams_bot.person("U0OUTSIDE"), {"dialog_id": "attendance_deputy", "value": value},
                                     reply_to_id=case.board_ref, conversation=case.room_id).json()
    assert "Only the members invited" in closing(outsider)
    elsewhere = teams_bot.open_dialog(teams_bot.person("U0CHAIR01"), {"dialog_id": "attendance_deputy",
                                                                      "value": value},
                                      reply_to_id=case.header_ref, conversation=case.room_id).json()
    assert "not on a message the bot sent you" in closing(elsewhere)


def test_a_deputy_named_from_the_invitation_is_recorded_and_the_invitation_redrawn(teams_bot: TeamsBotHarness) -> None:
    case = fresh_case(teams_bot)
    nurse, lead = teams_bot.person("U0NURSELD"), teams_bot.person("U0GPLEAD1")
    sent = invitation(teams_bot, "U0NURSELD", case)
    opened = teams_bot.open_dialog(nurse, {"dialog_id": "attendance_deputy",
                                           "value": value_of(sent, "attendance_deputy")}, reply_to_id=sent["id"])
    data = dialog_card(opened.json())["actions"][0]["data"]
    assert data["answer"] == f"{case.reference}:{case.schedule_version}"  # as the ledger has it: not the board's
    answer = teams_bot.submit_dialog(nurse, {**data, "deputy": lead.id}).json()
    assert "recorded" in closing(answer)
    wait(lambda: f"Sending a deputy: {mention(teams_bot, 'U0GPLEAD1')}" in board_text(teams_bot, case))
    wait(lambda: any(m["id"] == sent["id"] and "Your answer" in visible_text(m)
                     for m in teams_bot.teams.personal_messages(nurse.id)))
