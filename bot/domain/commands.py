"""The bot's commands, for every platform: one table, so Slack's `/pmccg help`, the Teams command menu
(handlers/teams/manifest.py) and the Teams help reply cannot drift apart.

Each platform dispatches a command's word to its own listener; the table says only what a person
sees: the word, its argument pattern, a one-line summary and who may use it. `who` is the default
terms' wording; the domain's checks (bot/domain/permissions.py, convening.may_convene) decide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

# Said of a command anyone may use: no "(who)" after its summary.
ANYONE = "anyone"
RECORDS_READERS = "governance, chair, deputy chair, Medical Director"
CHAIR_POWERS = "its chair or their deputy, governance"


@dataclass(frozen=True)
class Command:
    word: str
    args: str  # the argument pattern shown to people: "", "REFERENCE", "[YEAR]"
    summary: str
    who: str = ANYONE
    # In the Teams command menu (at most MENU_LIMIT; the rest are typed, and listed by `help`).
    menu: bool = True

    @property
    def usage(self) -> str:
        return f"{self.word} {self.args}".rstrip()

    @property
    def description(self) -> str:
        """The summary with who may use it, as help shows it."""
        return self.summary if self.who == ANYONE else f"{self.summary} ({self.who})"


# Slack's order (its help lists them so); `menu=False` marks those left out of Teams' menu of ten.
COMMANDS: tuple[Command, ...] = (
    Command("convene", "", "convene a group for a new case, in a form", "managers and the roles the terms allow"),
    Command("roster", "", "view or change who holds which role", "governance"),
    Command("outcome", "REFERENCE", "record the outcome of a case", CHAIR_POWERS),
    # Left out of the menu: revisiting answers already given with the outcome is rare; typed, it works.
    Command("fairness", "REFERENCE", "revisit a case's fairness answers", CHAIR_POWERS, menu=False),
    Command("action", "REFERENCE", "add an action point to a case whose outcome is recorded", CHAIR_POWERS),
    Command("actions", "", "list your open action points, with their buttons"),
    # Left out of the menu: the home arrives by itself (Slack's Home tab; on Teams at install, refreshed on opening).
    Command("home", "", "your action points and cases, brought up to date", menu=False),
    Command("close", "REFERENCE", "close a case", CHAIR_POWERS),
    Command("export", "REFERENCE", "share a case file with the case's members", RECORDS_READERS),
    Command("attendance", "[YEAR]", "the year's attendance matrix, sent to you privately", RECORDS_READERS),
    Command("report", "[YEAR]", "the year's anonymised summary report, sent to you privately", RECORDS_READERS),
    Command("help", "", "show this help"),
)

BY_WORD: dict[str, Command] = {c.word: c for c in COMMANDS}
HELP = BY_WORD["help"]
# Teams shows at most ten commands in a bot's menu (its manifest schema allows 12 per list; the
# platform's command-menu guidance says ten): the ten most used, the eleventh is typed.
MENU_LIMIT = 10


def menu_commands() -> tuple[Command, ...]:
    """The commands in Teams' command menu, in table order."""
    return tuple(c for c in COMMANDS if c.menu)


class Parsed(NamedTuple):
    command: Command
    args: str  # the rest of the text, whitespace collapsed ("" when none)


# What may precede the word: an @mention Teams left in the text (`<at>PMCCG</at>`), and Slack's
# `/pmccg` (or a bare `pmccg`) typed out of habit. Whole tokens only: "PMCCG-2026-007" is no prefix.
_MENTION = re.compile(r"<at>.*?</at>", re.IGNORECASE | re.DOTALL)
_PREFIXES = frozenset({"/pmccg", "pmccg", "@pmccg"})


def _words(text: str) -> list[str]:
    # `split()` with no argument also splits on the non-breaking spaces Teams puts around mentions.
    tokens = _MENTION.sub(" ", text.replace("&nbsp;", " ")).split()
    while tokens and tokens[0].lower() in _PREFIXES:
        tokens = tokens[1:]
    return tokens


def command_word(text: str) -> str:
    """The word a person typed as their command (lower case, "" when none), to name it in a refusal."""
    tokens = _words(text)
    return tokens[0].lower() if tokens else ""


def parse_command(text: str) -> Parsed | None:
    """The command typed to the bot and its arguments, or None when the word is not a command.

    Text with no word (an @mention alone, `/pmccg` alone) asks for help, as `/pmccg` does on Slack.
    """
    tokens = _words(text)
    if not tokens:
        return Parsed(HELP, "")
    command = BY_WORD.get(tokens[0].lower())
    if command is None:
        return None
    return Parsed(command, " ".join(tokens[1:]))
