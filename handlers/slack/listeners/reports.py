"""`/pmccg attendance [YEAR]` and `/pmccg report [YEAR]`: the year's record, delivered privately.

Only roles the terms allow to read the record (bot.permissions.may_read_records) get it; anyone
else, or a bad year, gets a private reply. The command is acknowledged first (handlers/slack/listeners/commands.py);
the documents are built after, then a direct message goes to the person who asked and the files are
uploaded into that DM channel, never into a shared channel.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.domain.errors import InvalidInput, NotAllowed, PlatformFailure
from bot.domain.notify import MessageKind
from bot.domain.permissions import may_read_records
from bot.records import annual_report, attendance_matrix, report_files
from bot.records.attendance_matrix import AttendanceMatrix, MemberRow
from bot.records.period import parse_year
from bot.services import Services
from handlers.slack.render import render_json
from handlers.slack.replies import refusal_text
from handlers.slack.workspace import SlackWorkspace

log = logging.getLogger(__name__)

ROWS_PER_BLOCK = 15  # a section holds 3,000 characters; a member's line is well under 200


def _year(command: dict[str, Any], respond: Respond, services: Services, what: str) -> int | None:
    """The year asked for, once the person may read the record; None after a private refusal."""
    words = (command.get("text") or "").split()
    try:
        with services.sessions() as session:
            may_read_records(session, services.terms, command["user_id"], what)
        return parse_year(words[1] if len(words) > 1 else None, services.clock(), services.zone)
    except NotAllowed as exc:
        respond(text=refusal_text(exc), response_type="ephemeral")
    except InvalidInput as exc:
        respond(text=exc.fields.get("year", exc.message), response_type="ephemeral")
    return None


def _deliver(client: WebClient, user_id: str, body: dict[str, Any], files: dict[str, bytes], respond: Respond,
             what: str) -> None:
    """DM the requester, then upload each file into that DM channel; say privately if it failed."""
    try:
        # Posting to a user id opens the app's DM with them; the response names the DM channel.
        response = client.chat_postMessage(channel=user_id, text=body["text"], blocks=body["blocks"],
                                           unfurl_links=False)
        room = str(response["channel"])
        workspace = SlackWorkspace(client)
        for name, content in files.items():
            workspace.upload_file(room, name, content, name)
    except (SlackApiError, SlackClientError, OSError, PlatformFailure) as exc:
        log.warning("report_delivery_failed", extra={"event": "report_delivery_failed", "report": what,
                                                     "error": type(exc).__name__})
        respond(text=f"The {what} could not be delivered to your direct messages ({_reason(exc)}). "
                "Please try again in a minute.", response_type="ephemeral")
        return
    log.info("report_delivered", extra={"event": "report_delivered", "report": what, "files": len(files)})


def _reason(exc: Exception) -> str:
    if isinstance(exc, PlatformFailure):
        return exc.error
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error"))
    return "Slack could not be reached"


def member_line(row: MemberRow) -> str:
    """A member's row for Slack: mention, roles, rate, and one mark per meeting."""
    flag = ":warning: " if row.flagged else ""
    roles = f" ({row.roles})" if row.roles else ""
    return f"{flag}<@{row.user_id}>{roles}: *{row.rate_text}* ({row.attended} of {row.invited}) `{''.join(row.marks)}`"


def attendance_message(matrix: AttendanceMatrix) -> dict[str, Any]:
    rows = [[member_line(r) for r in group] for group in attendance_matrix.chunks(matrix.members, ROWS_PER_BLOCK)]
    return render_json(f"slack/{MessageKind.REPORT_ATTENDANCE}.json.j2", m=matrix, rows=rows)


def _run(command: dict[str, Any], client: WebClient, respond: Respond, services: Services, what: str,
         build: Callable[[int], tuple[dict[str, Any], dict[str, bytes]]]) -> None:
    year = _year(command, respond, services, what)
    if year is None:
        return
    respond(text=f"Preparing the {what} for {year}: it will arrive in your direct messages.",
            response_type="ephemeral")
    body, files = build(year)
    _deliver(client, command["user_id"], body, files, respond, what)


def attendance_command(command: dict[str, Any], client: WebClient, respond: Respond, services: Services) -> None:
    """`/pmccg attendance [YEAR]` (a SUBCOMMANDS entry in handlers/slack/listeners/commands.py)."""
    def build(year: int) -> tuple[dict[str, Any], dict[str, bytes]]:
        with services.sessions() as session:
            matrix = attendance_matrix.build(session, services.terms, year, services.zone, services.clock())
        return attendance_message(matrix), report_files.attendance_files(matrix)

    _run(command, client, respond, services, "attendance matrix", build)


def report_command(command: dict[str, Any], client: WebClient, respond: Respond, services: Services) -> None:
    """`/pmccg report [YEAR]` (a SUBCOMMANDS entry in handlers/slack/listeners/commands.py)."""
    def build(year: int) -> tuple[dict[str, Any], dict[str, bytes]]:
        with services.sessions() as session:
            report = annual_report.build(session, services.terms, year, services.zone, services.clock())
        return render_json(f"slack/{MessageKind.REPORT_ANNUAL}.json.j2", m=report), report_files.annual_files(report)

    _run(command, client, respond, services, "annual summary report", build)
