"""`convene` on Teams end to end: signed activities in, what the Teams stand-in received asserted.

The twins of tests/test_convene_http.py and tests/test_convene_form.py: the dialog opened from the card the
command answers with, field errors shown under their fields with everything typed kept, the case chat made
through Graph with every member and the app (its topic the reference), the invitations in each member's 1:1
chat, the convener told in theirs; one case however often the same dialog is sent; refusals and a failure
part-way leave nothing behind.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

from bot.clock import now
from bot.sandbox.teams_api import visible_text
from storage.tables import ReferenceCounter
from tests.factories import LONDON, seat_choices
from tests.teams_bot import TeamsBotHarness
from tests.teams_convening import (
    MANAGER,
    cases,
    closing,
    dialog_card,
    error_under,
    inputs,
    open_form,
    seen,
    send,
    told,
    typed,
)

CHATS = "POST /v1.0/chats"
POSTS = "POST /v3/conversations/{id}/activities"


def test_convene_typed_answers_with_a_card_whose_button_opens_the_dialog_with_seats_proposed(
        teams_bot: TeamsBotHarness) -> None:
    teams_bot.reset()
    manager = teams_bot.person(MANAGER)
    assert teams_bot.say(manager, "convene").status_code == 200
    card = teams_bot.teams.personal_messages(manager.id)[-1]["attachments"][0]["content"]
    (opener,) = card["actions"]
    assert opener["type"] == "Action.Submit"
    assert opener["data"] == {"msteams": {"type": "task/fetch"}, "dialog_id": "convene"}

    nonce, dialog = open_form(teams_bot)
    assert len(nonce) >= 32
    fields = inputs(dialog)
    assert fields["seat_chair"]["value"] == teams_bot.person("U0CHAIR01").id
    assert fields["seat_line_manager"]["value"] == manager.id
    assert fields["seat_people_team"]["value"] == teams_bot.person("U0PEOPLE1").id
    assert fields["duration"]["value"] == "60"


def test_a_field_error_then_corrected_convenes_one_case_chat_with_everyone(teams_bot: TeamsBotHarness) -> None:
    teams_bot.reset()
    year = now().astimezone(LONDON).year
    reference = f"PMCCG-{year}-001"
    earlier = {uid: seen(teams_bot, uid) for uid in seat_choices().values()}
    nonce, _ = open_form(teams_bot)
    yesterday = (now().astimezone(LONDON).date() - timedelta(days=1)).isoformat()
    values = typed(teams_bot, call_date=yesterday)
    again = dialog_card(send(teams_bot, nonce, values))
    assert "passed" in (error_under(again, "call_date") or "")
    # Everything typed is kept, and the same form (nonce) is sent again.
    assert inputs(again)["concern"]["value"] == values["concern"]
    assert inputs(again)["seat_chair"]["value"] == values["seat_chair"]
    assert again["actions"][0]["data"]["nonce"] == nonce
    assert teams_bot.teams.calls_to(CHATS) == [] and cases(teams_bot) == []

    answer = closing(send(teams_bot, nonce, typed(teams_bot)))
    assert answer.startswith("Convening")
    text = told(teams_bot, MANAGER, "is convened", earlier[MANAGER])
    assert reference in text

    (case,) = cases(teams_bot)
    assert case.reference == reference
    (create,) = teams_bot.teams.calls_to(CHATS)
    chat = teams_bot.teams.conversation(case.room_id)
    members = {teams_bot.person(uid).id for uid in seat_choices().values()}
    assert set(chat.members) == members and chat.app_installed
    # The reference as written, never a name.
    assert chat.topic == reference == create.body["topic"]
    shown = [visible_text(m) for m in chat.messages]
    assert len(shown) == 2 and reference in shown[0]  # the header and the attendance board
    for uid in set(seat_choices().values()) - {MANAGER}:
        invitation = told(teams_bot, uid, "You are invited", earlier[uid])
        assert reference in invitation


def test_the_same_submission_twice_convenes_once(teams_bot: TeamsBotHarness) -> None:
    teams_bot.reset()
    earlier = seen(teams_bot, MANAGER)
    nonce, _ = open_form(teams_bot)
    first = closing(send(teams_bot, nonce, typed(teams_bot)))
    second = closing(send(teams_bot, nonce, typed(teams_bot)))
    assert first.startswith("Convening")
    assert "already sent" in second
    told(teams_bot, MANAGER, "is convened", earlier)
    time.sleep(0.3)
    assert len(cases(teams_bot)) == 1
    assert len(teams_bot.teams.calls_to(CHATS)) == 1


def test_a_person_who_may_not_convene_is_told_why_and_gets_no_form(teams_bot: TeamsBotHarness) -> None:
    teams_bot.reset()
    member = teams_bot.person("U0MEMBER1")
    teams_bot.say(member, "convene")
    reply = teams_bot.teams.personal_messages(member.id)[-1]
    assert "attachments" not in reply
    assert "Only people the PMCCG terms of reference allow" in reply["text"]
    assert "Gwendolyn Ashcombe" in reply["text"]  # governance, named as who to ask
    # The dialog asked for directly (an edited card) is refused the same way; no form is recorded.
    answer = teams_bot.open_dialog(member, {"dialog_id": "convene"}).json()
    assert "Only people the PMCCG terms of reference allow" in closing(answer)


def test_a_staff_members_name_typed_in_the_form_is_refused_at_the_field(teams_bot: TeamsBotHarness) -> None:
    teams_bot.reset()
    nonce, _ = open_form(teams_bot)
    card = dialog_card(send(teams_bot, nonce, typed(teams_bot, concern="Cordelia Marchbanks made two errors.")))
    assert "case number" in (error_under(card, "concern") or "")
    assert cases(teams_bot) == []


def test_a_form_opened_for_someone_else_changes_nothing(teams_bot: TeamsBotHarness) -> None:
    teams_bot.reset()
    nonce, _ = open_form(teams_bot)  # the manager's
    answer = send(teams_bot, nonce, typed(teams_bot), uid="U0GOVERN1")
    assert "not opened for you" in closing(answer)
    answer = send(teams_bot, "made-up-nonce", typed(teams_bot))
    assert "not opened for you" in closing(answer)
    time.sleep(0.2)
    assert cases(teams_bot) == [] and teams_bot.teams.calls_to(CHATS) == []


def test_teams_failing_part_way_keeps_no_case_no_chat_and_tells_the_convener(teams_bot: TeamsBotHarness) -> None:
    teams_bot.reset()
    year = now().astimezone(LONDON).year
    before = {c.id for c in teams_bot.teams.conversations}
    earlier = seen(teams_bot, MANAGER)
    nonce, _ = open_form(teams_bot)
    # The chat is made, then posting its header fails for good.
    teams_bot.teams.fail_next(POSTS, 404, "ConversationNotFound")
    closing(send(teams_bot, nonce, typed(teams_bot)))
    text = told(teams_bot, MANAGER, "could not be convened", earlier)
    assert "Nothing was created" in text and "convene" in text
    assert cases(teams_bot) == []
    (create,) = teams_bot.teams.calls_to(CHATS)
    (chat,) = [c for c in teams_bot.teams.conversations if c.id not in before]
    assert not chat.app_installed and chat.messages == ()  # retired: the bot's messages gone, the app removed
    with teams_bot.services.sessions() as session:
        assert session.get(ReferenceCounter, ("PMCCG", year)) is None

    # The message's button opens a new form with everything typed; sent, it convenes, with the number the
    # failed one did not use.
    (message,) = [m for m in teams_bot.teams.personal_messages(teams_bot.person(MANAGER).id)[earlier:]
                  if "could not be convened" in visible_text(m)]
    (again,) = message["attachments"][0]["content"]["actions"]
    opened = teams_bot.open_dialog(teams_bot.person(MANAGER), {k: v for k, v in again["data"].items()
                                                               if k != "msteams"})
    card = dialog_card(opened.json())
    values = typed(teams_bot)
    assert inputs(card)["concern"]["value"] == values["concern"]
    assert inputs(card)["seat_professional_lead"]["value"] == values["seat_professional_lead"]
    new_nonce = card["actions"][0]["data"]["nonce"]
    assert new_nonce != nonce
    later = seen(teams_bot, MANAGER)
    closing(send(teams_bot, new_nonce, values))
    told(teams_bot, MANAGER, "is convened", later)
    (case,) = cases(teams_bot)
    assert case.reference == f"PMCCG-{year}-001"
    everything = json.dumps([c.body for c in teams_bot.teams.calls_to(CHATS)])
    assert "Rosalind Fairweather" not in everything


def test_choosing_the_profession_proposes_its_lead_and_keeps_the_rest(teams_bot: TeamsBotHarness) -> None:
    teams_bot.reset()
    nonce, card = open_form(teams_bot)
    assert not inputs(card)["seat_professional_lead"].get("value")  # no profession chosen yet
    values = typed(teams_bot, seat_professional_lead="", concern="Late rounds on ward 7")
    response = teams_bot.submit_dialog(teams_bot.person(MANAGER),
                                       {"action": "convene_profession", "nonce": nonce, **values})
    again = dialog_card(response.json())
    assert inputs(again)["seat_professional_lead"]["value"] == teams_bot.person("U0NURSELD").id
    assert inputs(again)["concern"]["value"] == "Late rounds on ward 7"
    assert cases(teams_bot) == []


def test_the_submission_is_answered_at_once_while_the_convening_takes_its_time(teams_bot: TeamsBotHarness) -> None:
    teams_bot.reset()
    earlier = seen(teams_bot, MANAGER)
    nonce, _ = open_form(teams_bot)
    teams_bot.teams.delay_next(CHATS, 3.0)  # Graph slow to make the chat
    started = time.monotonic()
    assert closing(send(teams_bot, nonce, typed(teams_bot))).startswith("Convening")
    assert time.monotonic() - started < 2.0  # well inside Teams' ~5 s for an invoke
    told(teams_bot, MANAGER, "is convened", earlier)
    assert len(cases(teams_bot)) == 1


def test_convene_mentioned_in_a_group_chat_tells_the_result_in_the_1_1_chat_only(teams_bot: TeamsBotHarness) -> None:
    teams_bot.reset()
    manager = teams_bot.person(MANAGER)
    teams_bot.install(manager)  # the 1:1 chat Teams told the bot of when the manager added the app
    earlier = seen(teams_bot, MANAGER)
    chat = teams_bot.teams.add_group_chat([manager.id, teams_bot.person("U0CHAIR01").id], topic="Ward 7 leads")
    teams_bot.mention(manager, chat, "convene")
    (opener,) = teams_bot.teams.messages(chat)
    assert opener["attachments"][0]["content"]["actions"][0]["data"]["dialog_id"] == "convene"
    response = teams_bot.open_dialog(manager, {"dialog_id": "convene"}, conversation=chat)
    nonce = dialog_card(response.json())["actions"][0]["data"]["nonce"]
    # The form is bound to where it was opened: sent from elsewhere (the 1:1 chat), it is refused.
    assert "not opened for you" in closing(send(teams_bot, nonce, typed(teams_bot)))
    answer = teams_bot.submit_dialog(manager, {"action": "convene_submit", "nonce": nonce, **typed(teams_bot)},
                                     conversation=chat).json()
    assert closing(answer).startswith("Convening")
    told(teams_bot, MANAGER, "is convened", earlier)
    assert len(teams_bot.teams.messages(chat)) == 1  # nothing more said in the group chat
    assert len(cases(teams_bot)) == 1


def test_a_wrong_lead_and_values_the_dialog_never_sends_are_refused_at_their_fields(teams_bot: TeamsBotHarness) -> None:
    teams_bot.reset()
    nonce, _ = open_form(teams_bot)
    card = dialog_card(send(teams_bot, nonce, typed(teams_bot, seat_professional_lead=teams_bot.person("U0GPLEAD1").id,
                                                    route="<at>everyone</at>", call_time="25:99",
                                                    seat_chair="not-an-entra-id")))
    assert "professional lead for nursing" in (error_under(card, "seat_professional_lead") or "")
    assert error_under(card, "route") == "Choose one of the options."
    assert error_under(card, "call_time") == "Choose a time with the time picker."
    assert error_under(card, "seat_chair")
    assert cases(teams_bot) == [] and teams_bot.teams.calls_to(CHATS) == []


def test_someone_else_proposing_in_the_managers_form_changes_nothing(teams_bot: TeamsBotHarness) -> None:
    teams_bot.reset()
    nonce, _ = open_form(teams_bot)
    for uid in ("U0MEMBER1", "U0GOVERN1"):  # not a convener; a convener, but not the person it was opened for
        response = teams_bot.submit_dialog(teams_bot.person(uid), {"action": "convene_profession", "nonce": nonce,
                                                                   "profession": "nursing"})
        assert "not opened for you" in closing(response.json())


def test_a_rate_limited_chat_creation_is_tried_again_after_retry_after(teams_bot: TeamsBotHarness) -> None:
    teams_bot.reset()
    earlier = seen(teams_bot, MANAGER)
    teams_bot.teams.rate_limit_next(CHATS, retry_after=1)
    nonce, _ = open_form(teams_bot)
    closing(send(teams_bot, nonce, typed(teams_bot)))
    told(teams_bot, MANAGER, "is convened", earlier)
    assert [c.status for c in teams_bot.teams.calls_to(CHATS)] == [429, 202]
    assert len(cases(teams_bot)) == 1


def test_a_refusal_asked_for_in_a_group_chat_is_said_in_the_1_1_chat(teams_bot: TeamsBotHarness) -> None:
    teams_bot.reset()
    member = teams_bot.person("U0MEMBER1")
    teams_bot.install(member)
    earlier = seen(teams_bot, "U0MEMBER1")
    chat = teams_bot.teams.add_group_chat([member.id, teams_bot.person("U0CHAIR01").id], topic="Ward 7 leads")
    teams_bot.mention(member, chat, "convene")
    assert "Only people the PMCCG terms" in told(teams_bot, "U0MEMBER1", "Only people", earlier)
    assert teams_bot.teams.messages(chat) == []
