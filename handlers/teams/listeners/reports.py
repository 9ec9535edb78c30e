"""`attendance [YEAR]` and `report [YEAR]` on Teams: the year's record, delivered privately.

The twin of handlers/slack/listeners/reports.py. Only roles the terms allow to read the record
(bot.domain.permissions.may_read_records) get it; anyone else, or a bad year, gets a private reply in the
domain's words. The documents are built after the first reply; the report's card goes to the person who asked
in their 1:1 chat (TeamsWorkspace.send_direct, which makes the chat if need be) and its files follow there
through the file consent flow (handlers/teams/listeners/files.py), never into a case chat.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from microsoft_teams.api import MessageActivity
from microsoft_teams.apps import ActivityContext

from bot.domain.errors import InvalidInput, NotAllowed, PlatformFailure
from bot.domain.notify import Message, MessageKind
from bot.domain.permissions import may_read_records
from bot.records import annual_report, attendance_matrix, report_files
from bot.records.period import parse_year
from handlers.teams.context import TeamsContext
from handlers.teams.listeners.commands import Typed, command
from handlers.teams.private import tell
from handlers.teams.replies import refusal_text

log = logging.getLogger(__name__)

Build = Callable[[int], tuple[Message, dict[str, bytes]]]


def _year(ctx: TeamsContext, typed: Typed, what: str) -> int:
    """The year asked for, once the person may read the record (NotAllowed, InvalidInput otherwise)."""
    services = ctx.services
    words = typed.args.split()
    with services.sessions() as session:
        may_read_records(session, services.terms, typed.user_id, what)
    return parse_year(words[0] if words else None, services.clock(), services.zone)


def _deliver(ctx: TeamsContext, user: str, message: Message, files: dict[str, bytes]) -> None:
    """The report's card to the requester's 1:1 chat, then each file offered in that same chat."""
    workspace = ctx.workspace()
    room = workspace.send_direct(user, message).room
    for name, content in files.items():
        workspace.upload_file(room, name, content, name)


async def _run(turn: ActivityContext[MessageActivity], ctx: TeamsContext, typed: Typed, what: str,
               build: Build) -> None:
    user = typed.user_id
    try:
        year = await asyncio.to_thread(_year, ctx, typed, what)
    except NotAllowed as exc:
        await tell(ctx, user, refusal_text(exc, ctx.directory.display_name), turn=turn)
        return
    except InvalidInput as exc:
        await tell(ctx, user, exc.fields.get("year", exc.message), turn=turn)
        return
    await tell(ctx, user, f"Preparing the {what} for {year}: it will arrive in your chat with the bot.", turn=turn)
    try:
        message, files = await asyncio.to_thread(build, year)
        await asyncio.to_thread(_deliver, ctx, user, message, files)
    except PlatformFailure as exc:
        log.warning("report_delivery_failed", extra={"event": "report_delivery_failed", "report": what,
                                                     "error": exc.error})
        await tell(ctx, user, f"The {what} could not be delivered to your chat with the bot ({exc.error}). "
                   "Please try again in a minute.", turn=turn)
        return
    log.info("report_delivered", extra={"event": "report_delivered", "report": what, "files": len(files)})


@command("attendance")
async def attendance_command(turn: ActivityContext[MessageActivity], ctx: TeamsContext, typed: Typed) -> None:
    services = ctx.services

    def build(year: int) -> tuple[Message, dict[str, bytes]]:
        with services.sessions() as session:
            matrix = attendance_matrix.build(session, services.terms, year, services.zone, services.clock())
        return Message(MessageKind.REPORT_ATTENDANCE, matrix), report_files.attendance_files(matrix)

    await _run(turn, ctx, typed, "attendance matrix", build)


@command("report")
async def report_command(turn: ActivityContext[MessageActivity], ctx: TeamsContext, typed: Typed) -> None:
    services = ctx.services

    def build(year: int) -> tuple[Message, dict[str, bytes]]:
        with services.sessions() as session:
            report = annual_report.build(session, services.terms, year, services.zone, services.clock())
        return Message(MessageKind.REPORT_ANNUAL, report), report_files.annual_files(report)

    await _run(turn, ctx, typed, "annual summary report", build)


def register(app: Any, ctx: TeamsContext) -> None:
    """The commands are claimed at import (`@command`); nothing else to attach."""
