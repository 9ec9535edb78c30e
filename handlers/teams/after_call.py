"""What the listeners after the call (outcome, action points, home, roll-call) share: who and where an invoke
comes from, routing Action.Execute by its verb and dialogs by their ids, the invoke answers, form records for
dialogs, and the checks that a click came from the bot's own card.

Who is always the signed `from.aadObjectId`; where is the conversation and `replyToId` Teams names, checked
against what the bot stored (the case's chat and header, the delivery ledger), never a field of the data.
Teams has no view id for a dialog: the form record's view is the conversation the dialog was opened in (as
handlers/teams/forms.py in the admin package does), so a submission counts only for that person, from there.

The form and case-card rules are handlers/teams/forms.py's (used here). NOTE for the merge: teams-convene's
handlers/teams/invoke.py holds twins of turn_of / card_answer / on_verbs; once it is in teams-int, these can go.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from microsoft_teams.apps import ActivityContext, App

from bot.domain import forms, ledger
from bot.domain.forms import Form, FormKind, Origin
from bot.domain.notify import Message, Posted
from bot.services import Services
from handlers.teams import forms as teams_forms
from handlers.teams.cards import CARD_CONTENT_TYPE, TEAMS_CARD_VERSION, check_card

log = logging.getLogger(__name__)

PERSONAL = teams_forms.PERSONAL
MESSAGE_CONTENT_TYPE = "application/vnd.microsoft.activity.message"


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
    return Turn(user_id=sender.aad_object_id, conversation_id=conversation.id,
                conversation_type=conversation.conversation_type or PERSONAL, reply_to_id=reply_to)


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


def on_verbs(app: App, verbs: Collection[str], handler: Handler) -> None:
    """Route Action.Execute presses by `verb` (the SDK's own on_card_action_execute("x") matches data["action"],
    which the bot's cards do not send). `handler(turn_ctx, who, verb, data)`; other verbs pass on."""
    wanted = frozenset(verbs)

    @app.on_card_action_execute
    async def by_verb(ctx: ActivityContext[Any]) -> Any:
        action = ctx.activity.value.action if ctx.activity.value else None
        verb = action.verb if action is not None else None
        who = turn_of(ctx.activity)
        if not isinstance(verb, str) or verb not in wanted or who is None:
            return await ctx.next()
        return await handler(ctx, who, verb, _data(action.data))


def on_dialogs(app: App, dialog_ids: Collection[str], handler: Handler) -> None:
    """Route task/fetch by the opener's `dialog_id`; `handler(turn_ctx, who, dialog_id, data)`."""
    wanted = frozenset(dialog_ids)

    @app.on_dialog_open
    async def by_dialog(ctx: ActivityContext[Any]) -> Any:
        data = _data(ctx.activity.value.data if ctx.activity.value else None)
        dialog_id = data.get("dialog_id")
        who = turn_of(ctx.activity)
        if not isinstance(dialog_id, str) or dialog_id not in wanted or who is None:
            return await ctx.next()
        return await handler(ctx, who, dialog_id, data)


def on_submits(app: App, actions: Collection[str], handler: Handler) -> None:
    """Route task/submit (and an in-dialog button) by the Action.Submit's `action`."""
    wanted = frozenset(actions)

    @app.on_dialog_submit
    async def by_action(ctx: ActivityContext[Any]) -> Any:
        data = _data(ctx.activity.value.data if ctx.activity.value else None)
        action = data.get("action")
        who = turn_of(ctx.activity)
        if not isinstance(action, str) or action not in wanted or who is None:
            return await ctx.next()
        return await handler(ctx, who, action, data)


# --- forms --------------------------------------------------------------------------------------------------


def open_form(services: Services, *, kind: FormKind, user_id: str, subject: str, conversation_id: str,
              origin: Origin | None = None, rows: int = 1) -> str:
    """Record a dialog about to be shown to `user_id` in `conversation_id`; the nonce its data is to carry."""
    nonce = forms.open_form(services.sessions, kind=kind, user_id=user_id, subject=subject, now=services.clock(),
                            origin=origin or Origin(), rows=rows)
    forms.record_view(services.sessions, nonce, conversation_id)
    return nonce


def form_of(services: Services, data: Mapping[str, Any], who: Turn, kind: FormKind) -> Form:
    """The form a task/submit names (its nonce), for the signed person, from the conversation it was opened in.
    Raises FormRefused or AlreadySubmitted (handlers/teams/forms.py's rule)."""
    return teams_forms.form_of(services, data, who.user_id, who.conversation_id, kind)


# --- where a click came from ----------------------------------------------------------------------------------


def check_case_card(services: Services, reference: str, who: Turn) -> None:
    """OriginRefused unless a button naming `reference` may act from where it was pressed: in a case chat only on
    that case's own card in its own chat (handlers/teams/forms.py check_case_card)."""
    teams_forms.check_case_card(services, reference, conversation_id=who.conversation_id,
                                conversation_type=who.conversation_type, reply_to_id=who.reply_to_id)


def delivered_card(services: Services, delivery_id: int | None, who: Turn, kinds: Collection[str]) -> Origin:
    """The Origin of a click on a message the bot delivered to `who`: the ledger row `delivery_id` must be one of
    `kinds` sent to that person, in this conversation, and the very card pressed (replyToId). OriginRefused else."""
    if delivery_id is None:
        raise forms.OriginRefused(forms.OUT_OF_DATE_TEXT, "no_delivery")
    with services.sessions() as session:
        origin = forms.click_origin(session, user_id=who.user_id, delivery_id=delivery_id, private_reply=False,
                                    reply_url=None, hosts=(), kinds=kinds)
        row = ledger.own_message(session, delivery_id, who.user_id, kinds)
    if row is None or row.room != who.conversation_id or row.ref != who.reply_to_id:
        log.warning("click_origin_refused", extra={"event": "click_origin_refused", "reason": "other_card",
                                                   "delivery_id": delivery_id})
        raise forms.OriginRefused(forms.OUT_OF_DATE_TEXT, "other_card")
    return origin


def send_direct_recorded(services: Services, workspace: Any, user_id: str, kind: str,
                         build: Callable[[int], Message], *, detail: dict[str, Any] | None = None) -> Posted:
    """Send `user_id` a message whose buttons name its own ledger row: the row is begun first (its id given to
    `build`), then the message sent to their 1:1 chat and the row marked sent, so a later click on it is checked
    against what the bot stored, as for a reminder. Synchronous (call it off the loop)."""
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


async def off_loop(work: Callable[[], Any]) -> Any:
    """The domain (and the workspace, which waits on the loop) in a worker thread."""
    return await asyncio.to_thread(work)
