"""Keep each person's 1:1 chat with the bot (conversation id and serviceUrl), for proactive direct messages.

Teams tells the bot the chat when the person installs the app (installationUpdate add) and with every
message they send it; the domain keeps the latest (bot/domain/direct_rooms.py). Who is the signed
`from.aadObjectId` (the inbound token was checked before any listener), never a field of the data.
"""

from __future__ import annotations

import asyncio
import logging

from microsoft_teams.api import ActivityBase
from microsoft_teams.apps import ActivityContext, App

from bot.domain import direct_rooms
from handlers.teams.context import TeamsContext

log = logging.getLogger(__name__)


def personal_room(activity: ActivityBase) -> tuple[str, str, str] | None:
    """(user id, conversation id, serviceUrl) when `activity` opens or uses someone's 1:1 chat with the bot."""
    kind = activity.type
    if kind == "installationUpdate":
        if getattr(activity, "action", None) != "add":
            return None
    elif kind != "message":
        return None
    conversation = activity.conversation
    sender = activity.from_
    if conversation is None or sender is None or conversation.conversation_type != "personal":
        return None
    if not sender.aad_object_id or not conversation.id or not activity.service_url:
        return None
    return sender.aad_object_id, conversation.id, activity.service_url


def register(app: App, ctx: TeamsContext) -> None:
    services = ctx.services

    @app.use
    async def remember_direct_room(turn: ActivityContext[ActivityBase]) -> None:
        room = personal_room(turn.activity)
        if room is not None:
            user_id, conversation_id, service_url = room
            try:
                await asyncio.to_thread(direct_rooms.remember, services.sessions, user_id=user_id,
                                        room=conversation_id, service_url=service_url, now=services.clock())
            except Exception as exc:  # noqa: BLE001  (the person's request still goes on; kept at the next one)
                log.warning("direct_room_not_kept", extra={"event": "direct_room_not_kept",
                                                           "error": type(exc).__name__})
        await turn.next()
