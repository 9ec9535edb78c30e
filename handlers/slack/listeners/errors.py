"""One error handler: domain errors become a private message, database trouble says plainly that
nothing was recorded, anything else gets a reference. Never silence: a form's error goes back into
the form while Slack still waits for the answer, else to the person privately."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from slack_bolt import App, BoltContext
from slack_bolt.response import BoltResponse
from slack_sdk import WebClient

from bot.domain.errors import DomainError, database_unavailable
from handlers.slack.modals import message_modal
from handlers.slack.payloads import kind_of
from handlers.slack.replies import refusal_text

log = logging.getLogger(__name__)

# Slack waits three seconds for the answer to a form; past this, the answer is sent another way.
ANSWER_WINDOW_SECONDS = 2.5

NOT_RECORDED = {
    "block_actions": ":warning: Your answer was *not recorded*: the bot could not save it just now (its database is "
                     "busy or unavailable). Nothing was changed. Please try again in a minute.",
    "view_submission": ":warning: Your form was *not saved*: the bot could not save it just now (its database is "
                       "busy or unavailable). Nothing was changed. Please submit it again in a minute.",
    "command": ":warning: Nothing was done: the bot could not reach its database just now. Please try the command "
               "again in a minute.",
}
# Shown at the first field of the form, which stays open with everything typed.
NOT_SAVED_AT_FIELD = ("Not saved: the bot's database is busy or unavailable. Nothing was changed; "
                      "submit again in a minute.")


def _text_for(error: Exception, kind: str) -> str:
    if isinstance(error, DomainError):
        return refusal_text(error)
    if database_unavailable(error):
        log.error("database_unavailable", exc_info=error, extra={"event": "database_unavailable", "request": kind,
                                                                 "error": type(error).__name__})
        return NOT_RECORDED.get(kind, NOT_RECORDED["block_actions"])
    ref = uuid.uuid4().hex[:8]
    log.error("listener_failed", exc_info=error, extra={"event": "listener_failed", "error_ref": ref,
                                                        "error": type(error).__name__})
    return f"Sorry, something went wrong. Nothing more was changed. If it happens again, quote `{ref}`."


def _first_input(view: dict[str, Any]) -> str | None:
    for block in view.get("blocks") or []:
        if block.get("type") == "input" and block.get("block_id"):
            return str(block["block_id"])
    return None


def _user_of(body: dict[str, Any]) -> str | None:
    user = body.get("user")
    found = user.get("id") if isinstance(user, dict) else body.get("user_id")
    return str(found) if found else None


def _direct(client: WebClient, body: dict[str, Any], text: str) -> None:
    user = _user_of(body)
    if user:
        client.chat_postMessage(channel=user, text=text)


def register(app: App) -> None:
    @app.error
    def on_error(error: Exception, body: dict[str, Any], client: WebClient, respond: Any,
                 response: BoltResponse | None, context: BoltContext) -> BoltResponse | None:
        kind = kind_of(body)
        text = _text_for(error, kind)
        try:
            if kind == "view_submission":
                return _answer_form(error, body, client, response, context, text)
            if respond is not None and (body.get("response_url") or body.get("response_urls")):
                respond(text=text, response_type="ephemeral", replace_original=False)
            elif kind in ("block_actions", "command"):
                _direct(client, body, text)  # a button in a modal or on the Home tab has no response_url
        except Exception:  # the reply is a courtesy; the error is already logged
            log.warning("error_reply_failed", extra={"event": "error_reply_failed", "request": kind})
        return None

    def _answer_form(error: Exception, body: dict[str, Any], client: WebClient, response: BoltResponse | None,
                     context: BoltContext, text: str) -> BoltResponse | None:
        view = body.get("view") or {}
        received = context.get("received_at")
        waiting = response is not None and received is not None and \
            time.monotonic() - received < ANSWER_WINDOW_SECONDS
        if waiting:
            # Slack still waits for this form's answer: show it at the first field, the form stays
            # open with everything typed, and pressing submit again is the retry.
            field = _first_input(view)
            short = NOT_SAVED_AT_FIELD if database_unavailable(error) else text[:150]
            if field:
                return BoltResponse(status=200, body={"response_action": "errors", "errors": {field: short}})
            return BoltResponse(status=200, body={"response_action": "update",
                                                  "view": message_modal("Not saved", text)})
        if response is None and view.get("id"):
            # Already answered (a progress notice, or closed): replace the notice if it is still open.
            try:
                client.views_update(view_id=str(view["id"]), view=message_modal("Not saved", text))
                return None
            except Exception:  # noqa: BLE001  (closed by the person: tell them in the app's DM instead)
                pass
        _direct(client, body, text)
        return None
