"""Private replies on Teams and work finished after the invoke's answer: the person's 1:1 chat is the private place.

In the 1:1 chat a reply is already private; in a case chat it is not (Teams' targeted messages are preview),
so a private reply goes to the person's kept 1:1 chat (bot/domain/direct_rooms.py), proactively. Teams gives an
invoke about 5 s, so slow work runs after the answer: `in_background` for a coroutine on the serving loop,
`after_answer` for blocking work (the domain, the workspace) in a thread of its own; its result is told privately.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from microsoft_teams.api import Attachment, MessageActivityInput
from microsoft_teams.apps import ActivityContext, App

from bot.domain import direct_rooms, ledger
from bot.domain.notify import Message, Posted
from bot.services import Services
from handlers.teams.cards import CARD_CONTENT_TYPE, check_card
from handlers.teams.context import TeamsContext
from handlers.teams.forms import PERSONAL

log = logging.getLogger(__name__)

SEND_TIMEOUT = 30.0

_RUNNING: set[asyncio.Task[Any]] = set()  # the loop keeps only weak references to tasks


def in_personal_chat(turn: ActivityContext[Any]) -> bool:
    conversation = turn.activity.conversation
    return conversation is not None and conversation.conversation_type == PERSONAL


async def tell(ctx: TeamsContext, user_id: str, text: str | MessageActivityInput, *,
               turn: ActivityContext[Any] | None = None, app: App | None = None) -> bool:
    """`text` (Markdown, or a whole message: a card) to `user_id` privately: in the turn's conversation when that
    is their 1:1 chat, else in their kept 1:1 chat (through `app`, proactively, or the turn's client). False when
    they have none kept: nothing is said anywhere else."""
    activity = text if isinstance(text, MessageActivityInput) else MessageActivityInput(text=text,
                                                                                        text_format="markdown")
    try:
        sender = turn.activity.from_ if turn is not None else None
        if turn is not None and in_personal_chat(turn) and sender is not None and sender.aad_object_id == user_id:
            await turn.send(activity)
            return True
        kept = await asyncio.to_thread(direct_rooms.find, ctx.services.sessions, user_id)
        if kept is None:
            log.warning("private_reply_no_room", extra={"event": "private_reply_no_room"})
            return False
        if app is not None:
            await app.send(kept.room, activity, service_url=kept.service_url)
        elif turn is not None:
            await turn.api.conversations.create_activity(kept.room, activity)
        else:
            return False
        return True
    except Exception as exc:  # noqa: BLE001  (a reply that cannot be delivered must not fail the request)
        log.warning("private_reply_failed", extra={"event": "private_reply_failed", "error": type(exc).__name__})
        return False


def card_message(card: dict[str, Any], summary: str = "") -> MessageActivityInput:
    """A message of one Adaptive Card (checked by the caller)."""
    activity = MessageActivityInput(attachments=[Attachment(content_type=CARD_CONTENT_TYPE, content=card)])
    if summary:
        activity.summary = summary  # type: ignore[attr-defined]
    return activity


def in_background(work: Coroutine[Any, Any, None], name: str) -> None:
    """Run `work` on the loop after the invoke is answered; a failure is logged (by name), never lost silently."""
    task = asyncio.get_running_loop().create_task(work, name=name)
    _RUNNING.add(task)

    def done(finished: asyncio.Task[Any]) -> None:
        _RUNNING.discard(finished)
        if not finished.cancelled() and finished.exception() is not None:
            log.error("teams_background_failed", extra={"event": "teams_background_failed", "task": name,
                                                        "error": type(finished.exception()).__name__})

    task.add_done_callback(done)


def after_answer(name: str, work: Callable[[], None]) -> None:
    """Run blocking `work` in a thread of its own once the handler has answered: never on the loop (the domain
    and the workspace block), never in the loop's small default pool (a slow convening would hold up others)."""

    def run() -> None:
        try:
            work()
        except Exception:  # noqa: BLE001  (logged by event name: a background failure must not pass silently)
            log.exception("teams_background_failed", extra={"event": "teams_background_failed", "work": name})

    threading.Thread(target=run, name=f"teams-{name}", daemon=True).start()


def tell_privately(ctx: TeamsContext, app: App, loop: asyncio.AbstractEventLoop, user_id: str, text: str, *,
                   turn: ActivityContext[Any] | None = None, card: dict[str, Any] | None = None) -> bool:
    """`tell` from a thread other than the loop's: `text` (Markdown), or `card` (checked; `text` its notification
    summary). False (logged) when it could not be said."""
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


def send_direct_recorded(services: Services, workspace: Any, user_id: str, kind: str,
                         build: Callable[[int], Message], *, detail: dict[str, Any] | None = None) -> Posted:
    """Send `user_id` a message whose buttons name its own ledger row (begun first, its id given to `build`), so
    a later click on it is checked against what the bot stored, as for a reminder. Blocking: call it off the loop."""
    with services.sessions() as session:
        delivery_id = ledger.begin(session, kind=kind, recipient=user_id, now=services.clock(), detail=detail).id or 0
        session.commit()
    try:
        posted = workspace.send_direct(user_id, build(delivery_id))
    except Exception as exc:
        with services.sessions() as session:
            ledger.mark_failed(session, delivery_id, str(getattr(exc, "error", type(exc).__name__)), permanent=True)
            session.commit()
        raise
    with services.sessions() as session:
        ledger.mark_sent(session, delivery_id, posted, services.clock())
        session.commit()
    return posted
