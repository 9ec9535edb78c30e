"""/pmccg: one slash command, with subcommands; help is derived from the table so it cannot drift."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.domain.errors import NotAllowed
from bot.services import Services
from handlers.slack import ids
from handlers.slack.listeners.actions import show_actions
from handlers.slack.listeners.case_close import close_command
from handlers.slack.listeners.convene import open_convene
from handlers.slack.listeners.export import export_command
from handlers.slack.listeners.outcome import command_action, command_fairness, command_outcome
from handlers.slack.listeners.reports import attendance_command, report_command
from handlers.slack.listeners.roster import show_roster
from handlers.slack.render import slack_escape
from handlers.slack.replies import refusal_text


@dataclass(frozen=True)
class Subcommand:
    usage: str
    summary: str
    run: Callable[[dict[str, Any], WebClient, Respond, Services], None]


def _convene(command: dict[str, Any], client: WebClient, respond: Respond, services: Services) -> None:
    refusal = open_convene(client, command["trigger_id"], command["user_id"], services)
    if refusal:
        respond(text=refusal, response_type="ephemeral")


def _roster(command: dict[str, Any], client: WebClient, respond: Respond, services: Services) -> None:
    try:
        respond(**show_roster(services, command["user_id"]))
    except NotAllowed as exc:
        respond(text=refusal_text(exc), response_type="ephemeral")


def _help(command: dict[str, Any], client: WebClient, respond: Respond, services: Services) -> None:
    respond(text=help_text(services), response_type="ephemeral")


SUBCOMMANDS: dict[str, Subcommand] = {
    "convene": Subcommand("convene", "convene a group for a new case (opens a form)", _convene),
    "roster": Subcommand("roster", "view or change who holds which role (governance)", _roster),
    "outcome": Subcommand("outcome REFERENCE", "record the outcome of a case (its chair or their deputy, governance)",
                          command_outcome),
    "fairness": Subcommand("fairness REFERENCE", "revisit a case's fairness answers", command_fairness),
    "action": Subcommand("action REFERENCE", "add an action point to a case whose outcome is recorded",
                         command_action),
    "actions": Subcommand("actions", "list your open action points, with their buttons", show_actions),
    "close": Subcommand("close REFERENCE", "close a case (chair, governance)", close_command),
    "export": Subcommand("export REFERENCE",
                         "share a case file in the case channel (governance, chair, Medical Director)",
                         export_command),
    "attendance": Subcommand("attendance [YEAR]", "the year's attendance matrix, sent to you privately "
                             "(governance, chair, Medical Director)", attendance_command),
    "report": Subcommand("report [YEAR]", "the year's anonymised annual summary report, sent to you privately "
                         "(governance, chair, Medical Director)", report_command),
    "help": Subcommand("help", "show this help", _help),
}


def help_text(services: Services) -> str:
    lines = [f"*{services.terms.name}* bot. Staff are referred to by case number only.", ""]
    lines += [f"• `{ids.COMMAND} {s.usage}`: {s.summary}" for s in SUBCOMMANDS.values()]
    return "\n".join(lines)


def register(app: App) -> None:
    @app.command(ids.COMMAND)
    def pmccg(ack: Ack, command: dict[str, Any], client: WebClient, respond: Respond, services: Services) -> None:
        word = (command.get("text") or "").strip().split(" ", 1)[0].lower()
        if not word:
            ack(text=help_text(services), response_type="ephemeral")
            return
        sub = SUBCOMMANDS.get(word)
        if sub is None:
            ack(text=f"I don't know `{ids.COMMAND} {slack_escape(word[:40])}`.\n\n{help_text(services)}",
                response_type="ephemeral")
            return
        ack()
        sub.run(command, client, respond, services)
