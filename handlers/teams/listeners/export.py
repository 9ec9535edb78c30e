"""Export a case file on Teams: the header's "Export case file" button and `export REF` typed (bot/records).

The twin of handlers/slack/listeners/export.py, with one difference Teams imposes and the brief asks for: the
files (HTML to print and file, its Markdown and JSON sources) reach only the person who asked, in their 1:1 chat
with the bot, through the file consent flow (handlers/teams/listeners/files.py), never the case chat. Only the
roles the terms allow may export (the domain says so, in its words); the check is made before anything is
built, the export itself (one domain call) runs after the answer, and its result is told in the 1:1 chat.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from microsoft_teams.api import MessageActivity
from microsoft_teams.apps import ActivityContext, App

from bot.domain import direct_rooms
from bot.domain.errors import NotAllowed, NotFound
from bot.domain.permissions import may_read_records
from bot.records import case_file
from handlers.teams.context import TeamsContext
from handlers.teams.forms import PERSONAL, check_case_card
from handlers.teams.listeners.case_admin import who_and_where
from handlers.teams.listeners.commands import Typed, command
from handlers.teams.private import in_background, tell
from handlers.teams.replies import refusal_text

log = logging.getLogger(__name__)

CASE_EXPORT = "case_export"  # the Slack action id: the header button's verb
NO_CHAT = ("The case file goes only to your own chat with the bot, and you have none yet: open the app's chat "
           "(Apps → the bot → Chat) and type **export {ref}** there.")


def _private_room(ctx: TeamsContext, user: str, conversation: str, conversation_type: str) -> str | None:
    """The requester's 1:1 chat: the one asked from, or the one kept for them; None if they have none."""
    if conversation_type == PERSONAL:
        return conversation
    kept = direct_rooms.find(ctx.services.sessions, user)
    return kept.room if kept else None


def _check(ctx: TeamsContext, user: str) -> None:
    with ctx.services.sessions() as session:
        may_read_records(session, ctx.services.terms, user, "case files")


async def export_privately(ctx: TeamsContext, user: str, reference: str, room: str,
                           turn: ActivityContext[Any] | None = None, app: App | None = None) -> None:
    """Build the case file and offer its three files in `room` (the requester's 1:1 chat); every answer
    (refusal, failure, confirmation) goes to the requester privately."""
    services = ctx.services
    now = services.clock()
    try:
        export = await asyncio.to_thread(case_file.export_case_file, services.sessions, services.terms,
                                         ctx.workspace(), reference, user, services.zone, now, room)
    except (NotAllowed, NotFound) as exc:
        await tell(ctx, user, refusal_text(exc, ctx.directory.display_name), turn=turn, app=app)
        return
    except case_file.NotShared as exc:
        log.warning("case_file_export_failed", extra={"event": "case_file_export_failed", "case_ref": exc.reference,
                                                      "error": exc.error})
        await tell(ctx, user, f"⚠️ The case file for **{exc.reference}** could not be shared: Teams refused "
                   f"({exc.error}). Please try again.", turn=turn, app=app)
        return
    log.info("case_file_exported", extra={"event": "case_file_exported", "case_ref": export.reference})
    await tell(ctx, user, f"📄 Case file for **{export.reference}**: the HTML to print and file, with its Markdown "
               "and JSON sources, above. Choose **Allow** on each to save it to your OneDrive.", turn=turn, app=app)


@command("export")
async def export_typed(turn: ActivityContext[MessageActivity], ctx: TeamsContext, typed: Typed) -> None:
    words = typed.args.split()
    if not words:
        await tell(ctx, typed.user_id, "Which case? Type **export PMCCG-2026-001** with the case reference.",
                   turn=turn)
        return
    room = await asyncio.to_thread(_private_room, ctx, typed.user_id, typed.conversation_id, typed.conversation_type)
    if room is None:
        await turn.send(NO_CHAT.format(ref=words[0][:40]))  # says nothing of the case: safe in a case chat
        return
    await export_privately(ctx, typed.user_id, words[0], room, turn=turn)


def register(app: App, ctx: TeamsContext) -> None:
    names = ctx.directory.display_name

    @app.on_card_action_execute
    async def export_from_header(turn: ActivityContext[Any]) -> dict[str, Any] | None:
        action = turn.activity.value.action
        # Teams routes by the button's verb (the SDK's own matcher reads a data field Teams does not send).
        if getattr(action, "verb", None) != CASE_EXPORT:
            await turn.next()
            return None
        user, conversation, conversation_type = who_and_where(turn)
        data = action.data if isinstance(action.data, dict) else {}
        reference = str(data.get("value") or "")[:40]

        def check() -> str | None:
            check_case_card(ctx.services, reference, conversation_id=conversation,
                            conversation_type=conversation_type, reply_to_id=turn.activity.reply_to_id)
            _check(ctx, user)
            return _private_room(ctx, user, conversation, conversation_type)

        try:
            room = await asyncio.to_thread(check)
        except NotAllowed as exc:
            return _message(refusal_text(exc, names, markdown=False))
        if room is None:
            return _message(NO_CHAT.format(ref=reference).replace("**", ""))
        in_background(export_privately(ctx, user, reference, room, app=app), "export_case_file")
        return _message(f"Preparing the case file for {reference}: it will arrive in your chat with the bot.")


def _message(text: str) -> dict[str, Any]:
    """An Action.Execute answer that leaves the card as it is and shows `text` to the clicker only."""
    return {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": text}
