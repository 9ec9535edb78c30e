"""Export a case file: the header's "Export case file" button and `/pmccg export <case>` (bot/records/case_file.py).

Acknowledged at once; the file is built and uploaded after the acknowledgement, into the case
channel (the HTML to print and file, with its Markdown and JSON sources). Only the roles the terms of
reference allow may export; anyone else is told privately who can.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.domain.errors import NotAllowed, NotFound
from bot.records import case_file
from bot.services import Services
from handlers.slack import ids
from handlers.slack.replies import refusal_text
from handlers.slack.workspace import SlackWorkspace

log = logging.getLogger(__name__)


def export_case_file(client: WebClient, reference: str, user_id: str, services: Services,
                     reply: Callable[[str], None]) -> None:
    """Build, upload and confirm; every answer (refusal, failure, confirmation) goes to `reply`, privately."""
    now = services.clock()
    try:
        export = case_file.export_case_file(services.sessions, services.terms, SlackWorkspace(client), reference,
                                            user_id, services.zone, now)
    except NotAllowed as exc:
        reply(refusal_text(exc))
        return
    except NotFound as exc:
        reply(exc.message)
        return
    except case_file.NotShared as exc:
        log.warning("case_file_export_failed", extra={"event": "case_file_export_failed", "case_ref": exc.reference,
                                                      "error": exc.error})
        reply(f":warning: The case file for *{exc.reference}* could not be shared: Slack refused ({exc.error}). "
              "Please try again.")
        return
    log.info("case_file_exported", extra={"event": "case_file_exported", "case_ref": export.reference})
    reply(f":page_facing_up: Case file for *{export.reference}* shared in <#{export.room_id}> (HTML to print and "
          "file, with its Markdown and JSON sources).")


def export_command(command: dict[str, Any], client: WebClient, respond: Respond, services: Services) -> None:
    """`/pmccg export <case>` (a SUBCOMMANDS entry in handlers/slack/listeners/commands.py; acknowledged there)."""
    words = (command.get("text") or "").split()
    if len(words) < 2:
        respond(text=f"Which case? Type `{ids.COMMAND} export PMCCG-2026-001` with the case reference.",
                response_type="ephemeral")
        return
    export_case_file(client, words[1], command["user_id"], services,
                     lambda text: respond(text=text, response_type="ephemeral"))


def register(app: App) -> None:
    @app.action(ids.CASE_EXPORT)
    def export_from_header(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond,
                           services: Services) -> None:
        ack()
        reference = str(body["actions"][0].get("value", ""))
        export_case_file(client, reference, body["user"]["id"], services,
                         lambda text: respond(text=text, response_type="ephemeral", replace_original=False))
