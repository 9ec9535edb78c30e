"""Home in Teams (the twin of tests/test_home_and_closing.py's home scenarios, issue 16 point 9): the home card
reaches a person's 1:1 chat when they install the app, lists their action points with red/amber/green and
their cases with the next step, and refreshes (verb home_refresh, for that person only) to what holds now."""

from __future__ import annotations

from bot.sandbox.teams_api import visible_text
from tests.teams_after_call import buttons, card_text, convene_case, due, record_outcome, tick
from tests.teams_bot import TeamsBotHarness

DESCRIPTION = "Arrange supervised medication rounds"


def _home_cards(bot: TeamsBotHarness, user_id: str) -> list[dict]:
    return [m for m in bot.teams.personal_messages(user_id) if "My action points" in visible_text(m)]


def test_the_home_card_arrives_on_install_and_refreshes_for_that_person_only(teams_bot: TeamsBotHarness) -> None:
    teams_bot.reset()
    case = convene_case(teams_bot)
    owner = teams_bot.person("U0SERVICE")
    assert teams_bot.install(owner).status_code in (200, 201)
    (card,) = _home_cards(teams_bot, owner.id)
    text = visible_text(card)
    assert "You have no open action points." in text and case.reference in text and "Next:" in text
    content = card["attachments"][0]["content"]
    # Teams asks again whenever the owner opens the chat; nobody else's client does.
    assert content["refresh"]["action"]["verb"] == "home_refresh" and content["refresh"]["userIds"] == [owner.id]
    assert not [n for n in text.split("\n") if "Imogen" in n or "Desmond" in n]  # cases by reference, not names

    record_outcome(teams_bot, case, (DESCRIPTION, owner.id, due(bot=teams_bot)))
    tick(teams_bot)
    conv = teams_bot.teams.personal_conversation_id(owner.id)
    answer = teams_bot.click(owner, "home_refresh", {"value": ""}, reply_to_id=card["id"], conversation=conv)
    assert answer.status_code == 200
    body = answer.json()
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    refreshed = card_text(body["value"])
    assert DESCRIPTION in refreshed and "On track" in refreshed and case.reference in refreshed
    assert [b for b in buttons(body["value"]) if b.get("verb") == "home_refresh"]
    # The chair refreshing sees their own home, never the owner's items.
    chair = teams_bot.person("U0CHAIR01")
    theirs = teams_bot.click(chair, "home_refresh", {"value": ""}, reply_to_id=card["id"],
                             conversation=teams_bot.teams.personal_conversation_id(chair.id))
    assert DESCRIPTION not in card_text(theirs.json()["value"])


def test_home_refresh_outside_the_1_1_chat_shows_no_home(teams_bot: TeamsBotHarness) -> None:
    teams_bot.reset()
    case = convene_case(teams_bot)
    owner = teams_bot.person("U0SERVICE")
    answer = teams_bot.click(owner, "home_refresh", {"value": ""}, reply_to_id=case.header_ref,
                             conversation=case.room_id)
    assert answer.json()["value"] == "Your home is in your 1:1 chat with me."


def test_opening_the_chat_refreshes_the_home_card_as_teams_asks_automatically(teams_bot: TeamsBotHarness) -> None:
    # Teams sends trigger "automatic" for a card's refresh; the SDK alone would answer 500 (handlers/teams/guard.py).
    owner = teams_bot.person("U0SERVICE")
    teams_bot.install(owner)
    card = _home_cards(teams_bot, owner.id)[-1]
    conv = teams_bot.teams.personal_conversation_id(owner.id)
    activity = teams_bot.teams.card_action(owner, {"action": "home_refresh", "value": ""}, verb="home_refresh",
                                           reply_to_id=card["id"], conversation_id=conv)
    activity["value"]["trigger"] = "automatic"
    answer = teams_bot.post(activity)
    assert answer.status_code == 200
    assert [b for b in buttons(answer.json()["value"]) if b.get("verb") == "home_refresh"]


def test_home_typed_sends_the_home_card_to_the_1_1_chat_even_from_a_case_chat(teams_bot: TeamsBotHarness) -> None:
    owner = teams_bot.person("U0SERVICE")
    teams_bot.install(owner)
    before = len(_home_cards(teams_bot, owner.id))
    assert teams_bot.say(owner, "home").status_code == 200
    chat = teams_bot.teams.add_group_chat([owner.id, teams_bot.person("U0CHAIR01").id], topic="PMCCG-2026-050")
    assert teams_bot.mention(owner, chat, "home").status_code == 200
    assert len(_home_cards(teams_bot, owner.id)) == before + 2
    said_in_chat = [visible_text(m) for m in teams_bot.teams.messages(chat)]
    assert said_in_chat == ["Your home is in your 1:1 chat with me."]  # no home card in a group chat
