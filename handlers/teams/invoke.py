"""What Teams listeners share about invokes: who and where a turn comes from, the invoke answers, routing
Action.Execute by its verb, work after the answer, and a private word in a person's 1:1 chat.

An invoke is answered by the handler's return value (docs/teams-sdk-notes.md §4) within about 5 s, so slow
work (convening, redrawing messages) runs in a thread of its own after the answer is built, and its result
is posted in the person's 1:1 chat. Who is the signed `from.aadObjectId`; where is the conversation and
`replyToId` Teams names, checked by each listener against what the bot stored.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

from microsoft_teams.apps import ActivityContext, App

from handlers.teams.cards import CARD_CONTENT_TYPE, check_card
from handlers.teams.context import TeamsContext
from handlers.teams.private import card_message, tell

log = logging.getLogger(__name__)

MESSAGE_CONTENT_TYPE = "application/vnd.microsoft.activity.message"
SEND_TIMEOUT = 30.0


@dataclass(frozen=True)
class Turn:
    """Who sent an invoke (the signed Entra object id), from which conversation, on which card."""

    user_id: str
    conversation_id: str
    conversation_type: str  # "personal" or "groupChat"
    reply_to_id: str | None
    service_url: str


def turn_of(activity: Any) -> Turn | None:
    """The signed who and the where of an activity; None when Teams named no person (nothing is done then)."""
    sender, conversation = activity.from_, activity.conversation
    if sender is None or not sender.aad_object_id or conversation is None or not conversation.id:
        return None
    reply_to = activity.reply_to_id if isinstance(activity.reply_to_id, str) and activity.reply_to_id else None
    return Turn(user_id=sender.aad_object_id, conversation_id=conversation.id,
                conversation_type=conversation.conversation_type or "personal", reply_to_id=reply_to,
                service_url=activity.service_url or "")


def card_answer(card: dict[str, Any]) -> dict[str, Any]:
    """Action.Execute's answer that replaces the card for the person who pressed the button."""
    check_card(card)
    return {"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": card}


def message_answer(text: str) -> dict[str, Any]:
    """Action.Execute's answer that leaves the card as it is and shows `text` to the person who pressed it."""
    return {"statusCode": 200, "type": MESSAGE_CONTENT_TYPE, "value": text}


VerbHandler = Callable[[ActivityContext[Any], str], Awaitable[Any]]


def on_verbs(app: App, verbs: Collection[str], handler: VerbHandler) -> None:
    """Route Action.Execute presses by their `verb`, which is what a card's button names (the SDK's own
    on_card_action_execute("x") matches `data["action"]`, which the bot's cards do not send). Others pass on."""
    wanted = frozenset(verbs)

    @app.on_card_action_execute
    async def by_verb(turn: ActivityContext[Any]) -> Any:
        action = turn.activity.value.action if turn.activity.value else None
        verb = action.verb if action is not None else None
        if not isinstance(verb, str) or verb not in wanted:
            await turn.next()
            return None
        return await handler(turn, verb)


def after_answer(name: str, work: Callable[[], None]) -> None:
    """Run `work` in a thread of its own once the handler has answered: never on the loop (the domain and the
    workspace block), never in the loop's small default pool (a slow convening would hold up other invokes)."""

    def run() -> None:
        try:
            work()
        except Exception:  # noqa: BLE001  (logged by event name: a background failure must not pass silently)
            log.exception("teams_background_failed", extra={"event": "teams_background_failed", "work": name})

    threading.Thread(target=run, name=f"teams-{name}", daemon=True).start()


def tell_privately(ctx: TeamsContext, app: App, loop: asyncio.AbstractEventLoop, user_id: str, text: str, *,
                   turn: ActivityContext[Any] | None = None, card: dict[str, Any] | None = None) -> bool:
    """From a thread other than the loop's: `text` (Markdown), or `card` (checked; `text` its notification
    summary), to `user_id` privately, as handlers/teams/private.py's `tell` says it (the turn's 1:1 chat, else
    their kept 1:1 chat; never a group chat). False (logged there) when it could not be said."""
    if card is not None:
        check_card(card)
    message = card_message(card, text) if card is not None else text
    future = asyncio.run_coroutine_threadsafe(tell(ctx, user_id, message, turn=turn, app=app), loop)
    try:
        return future.result(SEND_TIMEOUT)
    except Exception as exc:  # noqa: BLE001  (the work is done either way; the person can ask again)
        future.cancel()
        log.warning("teams_private_word_failed", extra={"event": "teams_private_word_failed",
                                                        "error": type(exc).__name__})
        return False
