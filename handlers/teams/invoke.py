"""Invoke routing and answers, shared by every Teams listener: who and where a turn comes from, routing
Action.Execute by verb and dialogs by id, and the answers Teams shows.

An invoke is answered by the handler's return value (docs/teams-sdk-notes.md §4) within about 5 s; slow work
goes to handlers/teams/private.py after the answer. Who is the signed `from.aadObjectId`; where is the
conversation and `replyToId`, checked against what the bot stored (handlers/teams/forms.py), never data fields.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from microsoft_teams.apps import ActivityContext, App

from handlers.teams.cards import CARD_CONTENT_TYPE, TEAMS_CARD_VERSION, check_card
from handlers.teams.forms import PERSONAL

MESSAGE_CONTENT_TYPE = "application/vnd.microsoft.activity.message"
NOT_SIGNED = "Teams did not say who you are, so nothing was changed."


@dataclass(frozen=True)
class Turn:
    """Who sent an activity (the signed Entra object id), from which conversation, on which card."""

    user_id: str
    conversation_id: str
    conversation_type: str  # "personal" (the 1:1 chat) or "groupChat" (a case chat)
    reply_to_id: str | None

    @property
    def personal(self) -> bool:
        return self.conversation_type == PERSONAL


def turn_of(activity: Any) -> Turn | None:
    """The signed who and the where of an activity; None when Teams named no person (nothing is done then)."""
    sender, conversation = activity.from_, activity.conversation
    if sender is None or not sender.aad_object_id or conversation is None or not conversation.id:
        return None
    reply_to = activity.reply_to_id if isinstance(activity.reply_to_id, str) and activity.reply_to_id else None
    # No conversation type is neither a 1:1 nor a case chat: nothing private or case-bound is taken from it.
    return Turn(user_id=sender.aad_object_id, conversation_id=conversation.id,
                conversation_type=conversation.conversation_type or "", reply_to_id=reply_to)


# --- answers ----------------------------------------------------------------------------------------------


def card_answer(card: dict[str, Any]) -> dict[str, Any]:
    """Action.Execute's answer: `card` replaces the one pressed, for the person who pressed it."""
    check_card(card)
    return {"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": card}


def message_answer(text: str) -> dict[str, Any]:
    """Action.Execute's answer that leaves the card as it is and shows `text` (plain) to the presser."""
    return {"statusCode": 200, "type": MESSAGE_CONTENT_TYPE, "value": text}


def simple_card(text: str, *, actions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A card of one paragraph (bot's wording: Markdown; typed text must be escaped by the caller)."""
    card: dict[str, Any] = {"type": "AdaptiveCard", "version": TEAMS_CARD_VERSION,
                            "body": [{"type": "TextBlock", "text": text, "wrap": True}]}
    if actions:
        card["actions"] = actions
    check_card(card)
    return card


def dialog_opener(title: str, dialog_id: str, value: str) -> dict[str, Any]:
    """A button that opens a dialog, as templates/teams/_macros.j2 `dialog` writes it."""
    return {"type": "Action.Submit", "title": title,
            "data": {"msteams": {"type": "task/fetch"}, "dialog_id": dialog_id, "value": value}}


# --- routing ----------------------------------------------------------------------------------------------


Handler = Callable[[ActivityContext[Any], Turn, str, Mapping[str, Any]], Awaitable[Any]]


def _data(raw: Any) -> Mapping[str, Any]:
    return raw if isinstance(raw, Mapping) else {}


def on_verbs(app: App, verbs: Collection[str], handler: Handler, *, unsigned: str | None = None) -> None:
    """Route Action.Execute presses by `verb` (the SDK's own on_card_action_execute("x") matches data["action"],
    which the bot's cards do not send). `handler(turn_ctx, who, verb, data)`; other verbs pass on. An unsigned
    press passes on too, or is answered with `unsigned` when given (a button the person can see did nothing)."""
    wanted = frozenset(verbs)

    @app.on_card_action_execute
    async def by_verb(ctx: ActivityContext[Any]) -> Any:
        action = ctx.activity.value.action if ctx.activity.value else None
        verb = action.verb if action is not None else None
        if not isinstance(verb, str) or verb not in wanted:
            return await ctx.next()
        who = turn_of(ctx.activity)
        if who is None:
            return message_answer(unsigned) if unsigned is not None else await ctx.next()
        return await handler(ctx, who, verb, _data(action.data))


def _by_data_key(register: Callable[[Any], Any], key: str, wanted: Collection[str], handler: Handler) -> None:
    """Route a dialog invoke by `data[key]`, signed only; the rest pass on."""
    names = frozenset(wanted)

    async def route(ctx: ActivityContext[Any]) -> Any:
        data = _data(ctx.activity.value.data if ctx.activity.value else None)
        name = data.get(key)
        who = turn_of(ctx.activity)
        if not isinstance(name, str) or name not in names or who is None:
            return await ctx.next()
        return await handler(ctx, who, name, data)

    register(route)


def on_dialogs(app: App, dialog_ids: Collection[str], handler: Handler) -> None:
    """Route task/fetch by the opener's `dialog_id`; `handler(turn_ctx, who, dialog_id, data)`."""
    _by_data_key(app.on_dialog_open, "dialog_id", dialog_ids, handler)


def on_submits(app: App, actions: Collection[str], handler: Handler) -> None:
    """Route task/submit (and an in-dialog button) by the Action.Submit's `action`."""
    _by_data_key(app.on_dialog_submit, "action", actions, handler)


async def off_loop(work: Callable[[], Any]) -> Any:
    """The domain (and the workspace, which waits on the loop) in a worker thread."""
    return await asyncio.to_thread(work)
