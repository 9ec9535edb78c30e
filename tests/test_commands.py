"""One command table for Slack and Teams (bot/domain/commands.py): Slack's help lists it all, and the
text typed to the bot on Teams parses to the same commands."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.commands import BY_WORD, COMMANDS, HELP, MENU_LIMIT, command_word, menu_commands, parse_command


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)  # the help, not the database
def test_slack_help_lists_every_command_of_the_table(bot: Any) -> None:
    bot.command("U0MANAGER", "help")
    (reply,) = bot.slack.wait_for("response")
    lines = reply.params["text"].splitlines()
    for command in COMMANDS:
        line = f"• `/pmccg {command.usage}`: {command.description}"
        assert line in lines, (line, lines)
    # And in the table's order, nothing else listed.
    assert [ln for ln in lines if ln.startswith("• ")] == [
        f"• `/pmccg {c.usage}`: {c.description}" for c in COMMANDS]


def test_the_table_reads_as_slack_help_did() -> None:
    # Who may use a command follows its summary in brackets; the argument pattern follows the word.
    assert BY_WORD["outcome"].usage == "outcome REFERENCE"
    assert BY_WORD["outcome"].description == "record the outcome of a case (its chair or their deputy, governance)"
    assert BY_WORD["attendance"].usage == "attendance [YEAR]"
    assert BY_WORD["actions"].description == "list your open action points, with their buttons"


def test_the_teams_menu_has_at_most_ten_commands_and_help_among_them() -> None:
    menu = menu_commands()
    assert len(menu) <= MENU_LIMIT == 10
    assert HELP in menu and BY_WORD["convene"] in menu and BY_WORD["actions"] in menu
    # Those left out are still commands: typed, they parse, and help lists them.
    assert [c.word for c in COMMANDS if c not in menu] == ["fairness", "home"]


@pytest.mark.parametrize(("text", "word", "args"), [
    ("convene", "convene", ""),                                   # typed in the 1:1 chat
    ("  Outcome   PMCCG-2026-007 ", "outcome", "PMCCG-2026-007"),  # case and spacing as typed
    ("<at>PMCCG</at> close PMCCG-2026-007", "close", "PMCCG-2026-007"),  # @mention left in a group chat's text
    ("<at>PMCCG bot</at>&nbsp;export PMCCG-2026-003", "export", "PMCCG-2026-003"),
    ("\u00a0actions\u00a0", "actions", ""),                    # the non-breaking spaces Teams puts round a mention
    ("/pmccg report 2025", "report", "2025"),                     # Slack's prefix out of habit
    ("pmccg attendance", "attendance", ""),
    ("HELP", "help", ""),
    ("", "help", ""),                                             # nothing typed: help, as `/pmccg` alone
    ("<at>PMCCG</at>", "help", ""),                               # an @mention alone
    ("/pmccg", "help", ""),
    ("fairness PMCCG-2026-001\nplease", "fairness", "PMCCG-2026-001 please"),
])
def test_typed_text_parses_to_a_command_of_the_table(text: str, word: str, args: str) -> None:
    parsed = parse_command(text)
    assert parsed is not None
    command, rest = parsed
    assert command is BY_WORD[word]
    assert rest == args


@pytest.mark.parametrize("text", [
    "hello",
    "PMCCG-2026-007",            # a reference is not the prefix `pmccg`
    "pmccg-2026-007 outcome",
    "convene-now",
    "<at>PMCCG</at> what is this",
])
def test_anything_else_is_no_command_and_its_word_can_be_named(text: str) -> None:
    assert parse_command(text) is None
    assert command_word(text) == text.replace("<at>PMCCG</at>", "").split()[0].lower()
