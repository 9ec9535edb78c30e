"""One error handler: known domain errors become a private message; anything else gets a reference."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from slack_bolt import App
from slack_bolt.response import BoltResponse

from bot.errors import DomainError, NotAllowed
from handlers.replies import not_allowed_text

log = logging.getLogger(__name__)


def register(app: App) -> None:
    @app.error
    def on_error(error: Exception, body: dict[str, Any], respond: Any, response: BoltResponse | None) -> None:
        if isinstance(error, DomainError):
            text = not_allowed_text(error) if isinstance(error, NotAllowed) else error.message
        else:
            ref = uuid.uuid4().hex[:8]
            log.error("listener_failed", exc_info=error, extra={"event": "listener_failed", "error_ref": ref,
                                                                "error": type(error).__name__})
            text = f"Sorry, something went wrong. Nothing more was changed. If it happens again, quote `{ref}`."
        if respond is not None and (body.get("response_url") or body.get("response_urls")):
            try:
                respond(text=text, response_type="ephemeral", replace_original=False)
            except Exception:  # the reply is a courtesy; the error is already logged
                log.warning("error_reply_failed", extra={"event": "error_reply_failed"})
