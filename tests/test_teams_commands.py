"""Commands typed to the bot on Teams come from the same table as Slack's help (bot/domain/commands.py)."""

from __future__ import annotations

from bot.domain.commands import COMMANDS
from bot.sandbox.teams_api import visible_text
from tests.teams_bot import TeamsBotHarness


def _last_reply(teams_bot: TeamsBotHarness, user_id: str) -> str:
    return visible_text(teams_bot.teams.personal_messages(user_id)[-1])


def test_help_in_the_1_1_chat_lists_every_command_of_the_table(teams_bot: TeamsBotHarness) -> None:
    member = teams_bot.person("U0MEMBER1")
    assert teams_bot.say(member, "help").status_code == 200
    reply = _last_reply(teams_bot, member.id)
    for command in COMMANDS:
        assert command.usage in reply


def test_an_unknown_word_is_named_and_help_follows(teams_bot: TeamsBotHarness) -> None:
    member = teams_bot.person("U0MEMBER1")
    teams_bot.say(member, "/pmccg frobnicate <at>x</at>")
    reply = _last_reply(teams_bot, member.id)
    assert "I don't know **frobnicate**" in reply and "convene" in reply
