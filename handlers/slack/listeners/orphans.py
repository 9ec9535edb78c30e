"""A click on a message of a convening that did not complete: answered, and nothing else done.

Such messages (the header and board of a room whose case was never saved) carry the reference the
convening had reserved, which the next case may since have been given; their buttons must never act
on that case. The domain (bot/domain/convene_recovery.py) decides from the room the message is in.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse

from bot.domain import convene_recovery
from bot.services import Services

log = logging.getLogger(__name__)


def _room(body: dict[str, Any]) -> str | None:
    container = body.get("container") or {}
    if container.get("type") != "message":
        return None
    room = container.get("channel_id") or (body.get("channel") or {}).get("id")
    # A direct message is never a case room (invitations are only sent once the case is saved).
    return None if not room or str(room).startswith("D") else str(room)


def _tell(respond: Any, user_id: str, client: Any, text: str) -> None:
    try:
        respond(text=text, response_type="ephemeral", replace_original=False)
    except Exception:  # noqa: BLE001  (the response_url failed: tell them directly instead)
        try:
            client.chat_postMessage(channel=user_id, text=text)
        except Exception:  # noqa: BLE001  (a courtesy: nothing was changed either way)
            log.warning("orphan_reply_failed", extra={"event": "orphan_reply_failed"})


def register(app: App) -> None:
    @app.middleware
    def refuse_orphaned_clicks(body: dict[str, Any], context: BoltContext, respond: Any, next: Any) -> Any:
        room = _room(body) if body.get("type") == "block_actions" else None
        if room is None:
            return next()
        services: Services = context["services"]
        with services.sessions() as session:
            text = convene_recovery.orphaned_click(session, room, services.clock(),
                                                   timedelta(seconds=services.settings.convene_orphan_seconds))
        if text is None:
            return next()
        log.info("orphaned_click", extra={"event": "orphaned_click", "room": room})
        # Acknowledged now; the answer goes after, so a slow response_url never delays the acknowledgement.
        threading.Thread(target=_tell, args=(respond, body["user"]["id"], context.client, text),
                         name="orphan-reply", daemon=True).start()
        return BoltResponse(status=200, body="")
