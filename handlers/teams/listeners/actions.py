"""Action point buttons (Done / Add an update / New due date) and the typed `actions`, in Teams.

The twin of handlers/slack/listeners/actions.py. The buttons sit on each item of a reminder digest and of the
person's list (both in their 1:1 chat, both delivered through the ledger, so every button carries its ledger
id: `item:delivery`, as on Slack's reminders). A click counts only when that ledger row is a digest the bot
sent to the signed clicker, in this conversation, as this very card (replyToId), and the item is the
clicker's own: anything else changes nothing. Done is answered with the card redrawn (what the clicker sees
at once), and the stored activity is updated in place (PUT) so the chat shows the same everywhere it is open.
Add an update / New due date open dialogs whose form record keeps where the click came from.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from microsoft_teams.apps import ActivityContext, App

from bot.domain import action_reminders, forms
from bot.domain.case_header import refresh_header
from bot.domain.errors import InvalidInput, NotAllowed, NotFound, PlatformFailure
from bot.domain.forms import AlreadySubmitted, FormKind, FormRefused, Origin, OriginRefused, parse_button_value
from bot.domain.notify import Message
from handlers.teams import dialogs
from handlers.teams.context import TeamsContext
from handlers.teams.dialogs.action_points import DUE_SUBMIT, DUE_TITLE, UPDATE_SUBMIT, UPDATE_TITLE
from handlers.teams.forms import delivered_card, form_of, open_form
from handlers.teams.invoke import Turn, card_answer, message_answer, off_loop, on_dialogs, on_submits, on_verbs
from handlers.teams.listeners.commands import Typed, command
from handlers.teams.private import after_answer, send_direct_recorded
from handlers.teams.render import render_activity
from handlers.teams.replies import refusal_text

log = logging.getLogger(__name__)

DONE = "action_point_done"
ADD_UPDATE = "action_point_update"
NEW_DUE = "action_point_new_due"
DIGEST_KINDS = (str(action_reminders.DIGEST),)
OUT_OF_DATE = ("That button is not on a message the bot sent you, so nothing was changed. "
               "Send actions to me to list your action points with fresh buttons.")
GONE = "That action point no longer exists."
NAMES_WAIT = 1.5


def _today(ctx: TeamsContext) -> Any:
    return ctx.services.clock().astimezone(ctx.services.zone).date()


def list_message(ctx: TeamsContext, user_id: str, shown: tuple[int, ...] = (),
                 delivery_id: int | None = None) -> Message:
    """The person's open action points (and the `shown` ones, kept in view once done), as a digest card."""
    services = ctx.services
    with services.sessions() as session:
        view = action_reminders.digest_view(session, user_id, services.terms, services.zone, _today(ctx),
                                            shown=shown, limit=ctx.workspace().budget.items_per_list)
    return Message(action_reminders.DIGEST, view, delivery_id=delivery_id)


def send_list(ctx: TeamsContext, user_id: str) -> None:
    """The list, to the person's 1:1 chat, its buttons naming its own ledger row (a click is checked as on a
    reminder's). Synchronous: off the loop."""
    first = list_message(ctx, user_id)
    shown = [i.action_id for i in first.model.items]
    send_direct_recorded(ctx.services, ctx.workspace(), user_id, str(action_reminders.DIGEST),
                         lambda delivery_id: Message(first.template, first.model, delivery_id=delivery_id),
                         detail={"actions": shown})


@command("actions")
async def command_actions(turn: ActivityContext[Any], ctx: TeamsContext, typed: Typed) -> None:
    try:
        await off_loop(lambda: send_list(ctx, typed.user_id))
    except PlatformFailure as exc:
        log.warning("action_list_failed", extra={"event": "action_list_failed", "error": exc.error})
        await turn.send("I could not send your action points just now. Please try again in a minute.")
        return
    if typed.conversation_type != "personal":
        await turn.send("I have sent your action points to you in our 1:1 chat.")



def register(app: App, ctx: TeamsContext) -> None:
    services = ctx.services
    directory = ctx.directory

    def clicked(who: Turn, data: Mapping[str, Any]) -> tuple[int, Origin]:
        """The item and the card a click names, checked against what the bot stored; refusals raise."""
        value = parse_button_value(data.get("value"))
        if value is None:
            raise NotFound(GONE)
        try:
            origin = delivered_card(services, value.delivery_id, who.user_id, conversation_id=who.conversation_id,
                                    reply_to_id=who.reply_to_id, kinds=DIGEST_KINDS)
        except OriginRefused:
            raise OriginRefused(OUT_OF_DATE, "other_card") from None
        # Who may change the item (its owner or the case's chair) is the domain's rule, as on Slack.
        return value.item_id, origin

    def redraw(origin: Origin, user_id: str, changed: action_reminders.Changed) -> Message:
        return list_message(ctx, user_id, (*origin.shown, changed.action_id), origin.delivery_id)

    def update_in_place(origin: Origin, user_id: str, message: Message, case_id: int) -> None:
        """The stored activity redrawn (everyone who has the chat open sees it) and the case header's counts."""
        with services.sessions() as session:
            found = forms.target(session, origin, user_id, (), DIGEST_KINDS)
        try:
            if found is not None and found.room and found.ref:
                ctx.workspace().update(found.room, found.ref, message)
            refresh_header(services.sessions, services.terms, case_id, ctx.workspace(), services.zone, _today(ctx))
        except PlatformFailure as exc:
            log.warning("action_message_update_failed", extra={"event": "action_message_update_failed",
                                                               "error": exc.error})

    def card_of(message: Message) -> dict[str, Any]:
        return render_activity(message, names=directory.display_name)["attachments"][0]["content"]

    def done(who: Turn, data: Mapping[str, Any]) -> dict[str, Any]:
        try:
            item_id, origin = clicked(who, data)
            changed = action_reminders.complete(services.sessions, services.terms, services.zone, item_id,
                                                who.user_id, services.clock())
        except (NotAllowed, NotFound) as exc:
            return message_answer(refusal_text(exc, markdown=False))
        if changed.already:
            return message_answer(f"No change: action {changed.number} on {changed.reference} is already done.")
        message = redraw(origin, who.user_id, changed)
        after_answer("action_done", lambda: update_in_place(origin, who.user_id, message, changed.case_id))
        log.info("action_done", extra={"event": "action_done", "case_ref": changed.reference})
        return card_answer(card_of(message))

    async def pressed(_turn: ActivityContext[Any], who: Turn, _verb: str, data: Mapping[str, Any]) -> Any:
        return await off_loop(lambda: done(who, data))

    on_verbs(app, (DONE,), pressed)

    # --- the two dialogs ----------------------------------------------------------------------------------------

    kinds = {ADD_UPDATE: FormKind.ACTION_UPDATE, NEW_DUE: FormKind.ACTION_DUE}

    def open_dialog(who: Turn, dialog_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
        try:
            item_id, origin = clicked(who, data)
            item = action_reminders.item_to_change(services.sessions, services.terms, item_id, who.user_id)
        except (NotAllowed, NotFound) as exc:
            return dialogs.dialog_message(refusal_text(exc, markdown=False))
        # The origin is kept with the form, server-side: the dialog carries only the form's nonce.
        nonce = open_form(services, kind=kinds[dialog_id], user_id=who.user_id, subject=str(item_id),
                          conversation_id=who.conversation_id, origin=origin)
        directory.refresh_in_background()  # the names refused in the text: loaded while they type
        if dialog_id == ADD_UPDATE:
            return dialogs.dialog_continue(UPDATE_TITLE, dialogs.action_update_dialog(nonce=nonce, item=item))
        return dialogs.dialog_continue(DUE_TITLE, dialogs.action_due_dialog(nonce=nonce, item=item))

    async def opened(_turn: ActivityContext[Any], who: Turn, dialog_id: str, data: Mapping[str, Any]) -> Any:
        return await off_loop(lambda: open_dialog(who, dialog_id, data))

    on_dialogs(app, kinds, opened)

    def submit(who: Turn, action: str, data: Mapping[str, Any]) -> dict[str, Any]:
        kind = FormKind.ACTION_UPDATE if action == UPDATE_SUBMIT else FormKind.ACTION_DUE
        try:
            form = form_of(services, data, who.user_id, who.conversation_id, kind)
        except (FormRefused, AlreadySubmitted) as exc:
            return dialogs.dialog_message(exc.message)
        if not form.subject.isdigit():
            return dialogs.dialog_message(GONE)
        action_id = int(form.subject)

        def again(errors: Mapping[str, str]) -> dict[str, Any]:
            try:
                item = action_reminders.item_to_change(services.sessions, services.terms, action_id, who.user_id)
            except (NotAllowed, NotFound) as exc:
                return dialogs.dialog_message(refusal_text(exc, markdown=False))
            if kind == FormKind.ACTION_UPDATE:
                return dialogs.dialog_continue(UPDATE_TITLE, dialogs.action_update_dialog(
                    data, errors, nonce=form.nonce, item=item))
            return dialogs.dialog_continue(DUE_TITLE, dialogs.action_due_dialog(data, errors, nonce=form.nonce,
                                                                                item=item))

        directory.refresh_in_background()
        names = directory.names(wait_seconds=NAMES_WAIT)
        now = services.clock()
        try:
            if kind == FormKind.ACTION_UPDATE:
                text = dialogs.read_action_update(data)
                if not text.ok:
                    return again(text.errors)
                changed = forms.submit_once(services.sessions, form, now, lambda session: action_reminders.add_update(
                    session, services.terms, action_id, who.user_id, text.value, now, names))
            else:
                due = dialogs.read_action_due(data)
                if not due.ok:
                    return again(due.errors)
                changed = forms.submit_once(services.sessions, form, now, lambda session: action_reminders.change_due(
                    session, services.terms, services.zone, action_id, who.user_id, due.value.due_on,
                    due.value.reason, now, names))
        except AlreadySubmitted as exc:
            return dialogs.dialog_message(exc.message)
        except InvalidInput as exc:
            return again(exc.fields)
        except (NotAllowed, NotFound) as exc:
            return dialogs.dialog_message(refusal_text(exc, markdown=False))
        message = redraw(form.origin, who.user_id, changed)
        after_answer("action_changed", lambda: update_in_place(form.origin, who.user_id, message, changed.case_id))
        what = "update added" if kind == FormKind.ACTION_UPDATE else "due date changed"
        return dialogs.dialog_message(f"Saved: action {changed.number} on {changed.reference}, {what}.")

    async def submitted(_turn: ActivityContext[Any], who: Turn, action: str, data: Mapping[str, Any]) -> Any:
        return await off_loop(lambda: submit(who, action, data))

    on_submits(app, (UPDATE_SUBMIT, DUE_SUBMIT), submitted)
