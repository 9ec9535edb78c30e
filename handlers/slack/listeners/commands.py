"""/pmccg: one slash command, with subcommands; help renders the shared command table (bot/domain/commands.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.domain import commands
from bot.domain.errors import NotAllowed
from bot.services import Services
from handlers.slack import ids
from handlers.slack.listeners.actions import show_actions
from handlers.slack.listeners.case_close import close_command
from handlers.slack.listeners.convene import open_convene
from handlers.slack.listeners.export import export_command
from handlers.slack.listeners.home import publish_home
from handlers.slack.listeners.outcome import command_action, command_fairness, command_outcome
from handlers.slack.listeners.reports import attendance_command, report_command
from handlers.slack.listeners.roster import show_roster
from handlers.slack.render import slack_escape
from handlers.slack.replies import refusal_text

# What runs each command of the table (bot/domain/commands.py); the table says what help shows.
Runner = Callable[[dict[str, Any], WebClient, Respond, Services], None]


def _convene(command: dict[str, Any], client: WebClient, respond: Respond, services: Services) -> None:
    refusal = open_convene(client, command["trigger_id"], command["user_id"], services)
    if refusal:
        respond(text=refusal, response_type="ephemeral")


def _roster(command: dict[str, Any], client: WebClient, respond: Respond, services: Services) -> None:
    try:
        respond(**show_roster(services, command["user_id"]))
    except NotAllowed as exc:
        respond(text=refusal_text(exc), response_type="ephemeral")


def _home(command: dict[str, Any], client: WebClient, respond: Respond, services: Services) -> None:
    publish_home(client, services, command["user_id"])
    respond(text="Your Home tab is up to date: open the bot's *Home* tab to see your action points and cases.",
            response_type="ephemeral")


def _help(command: dict[str, Any], client: WebClient, respond: Respond, services: Services) -> None:
    respond(text=help_text(services), response_type="ephemeral")


SUBCOMMANDS: dict[str, Runner] = {
    "convene": _convene,
    "roster": _roster,
    "outcome": command_outcome,
    "fairness": command_fairness,
    "action": command_action,
    "actions": show_actions,
    "home": _home,
    "close": close_command,
    "export": export_command,
    "attendance": attendance_command,
    "report": report_command,
    "help": _help,
}
# Every command in the table runs here, and nothing runs that help does not list.
if set(SUBCOMMANDS) != set(commands.BY_WORD):
    raise RuntimeError(f"Slack runs {sorted(SUBCOMMANDS)} but the command table lists {sorted(commands.BY_WORD)}")


def help_text(services: Services) -> str:
    lines = [f"*{services.terms.name}* bot. Staff are referred to by case number only.", ""]
    lines += [f"• `{ids.COMMAND} {c.usage}`: {c.description}" for c in commands.COMMANDS]
    return "\n".join(lines)


def register(app: App) -> None:
    @app.command(ids.COMMAND)
    def pmccg(ack: Ack, command: dict[str, Any], client: WebClient, respond: Respond, services: Services) -> None:
        word = (command.get("text") or "").strip().split(" ", 1)[0].lower()
        if not word:
            ack(text=help_text(services), response_type="ephemeral")
            return
        run = SUBCOMMANDS.get(word)
        if run is None:
            ack(text=f"I don't know `{ids.COMMAND} {slack_escape(word[:40])}`.\n\n{help_text(services)}",
                response_type="ephemeral")
            return
        ack()
        run(command, client, respond, services)
