"""The file consent flow (Teams' bot file API): the person's Allow or Decline on a consent card in their 1:1 chat.

TeamsWorkspace.upload_file offers a file with a consent card (its accept/decline context names the file held in
memory). Teams answers with a `fileConsent/invoke`: on accept, with an upload address in the person's OneDrive;
the workspace puts the content there and replaces the consent card with the file's card, in place. On decline
the file is forgotten and nothing is sent. A consent counts only from the 1:1 chat its card was offered in
(the signed activity's conversation), so a context copied elsewhere takes nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from microsoft_teams.apps import ActivityContext, App

from bot.domain.errors import PlatformFailure
from handlers.teams.context import TeamsContext
from handlers.teams.forms import PERSONAL
from handlers.teams.listeners.case_admin import who_and_where
from handlers.teams.private import tell
from handlers.teams.workspace import TeamsWorkspace

log = logging.getLogger(__name__)

GONE = ("That file is no longer waiting to be saved (it was answered already, or an hour has passed). "
        "Ask for it again.")
NOT_SAVED = "The file could not be saved to your OneDrive ({error}). Please ask for it again in a minute."


def _upload_info(value: Any) -> dict[str, Any]:
    info = getattr(value, "upload_info", None)
    if info is None:
        return {}
    return {"uploadUrl": info.upload_url, "contentUrl": info.content_url, "name": info.name,
            "uniqueId": info.unique_id, "fileType": info.file_type}


def register(app: App, ctx: TeamsContext) -> None:
    @app.on_file_consent
    async def file_consent(turn: ActivityContext[Any]) -> None:
        user, conversation, conversation_type = who_and_where(turn)
        value = turn.activity.value
        context = getattr(value, "context", None)
        token = context.get("pmccg_file") if isinstance(context, dict) else None
        workspace = ctx.workspace()
        if conversation_type != PERSONAL or not isinstance(token, str) or not isinstance(workspace, TeamsWorkspace):
            log.warning("file_consent_refused", extra={"event": "file_consent_refused", "reason": "not_ours"})
            return
        action = getattr(value, "action", None)
        if getattr(action, "value", action) != "accept":  # the SDK's Action is a str enum
            known = workspace.decline_file(token, room=conversation)
            log.info("file_declined", extra={"event": "file_declined", "known": known})
            return
        try:
            saved = await workspace.accept_file(token, _upload_info(value), room=conversation)
        except PlatformFailure as exc:
            log.warning("file_not_saved", extra={"event": "file_not_saved", "error": exc.error})
            await tell(ctx, user, NOT_SAVED.format(error=exc.error), turn=turn)
            return
        if not saved:
            log.info("file_consent_unknown", extra={"event": "file_consent_unknown"})
            await tell(ctx, user, GONE, turn=turn)
            return
        log.info("file_saved", extra={"event": "file_saved"})
