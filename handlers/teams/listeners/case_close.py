"""Close a case on Teams: the header's "Close case" button and `close REF` typed (bot/domain/closing.py).

The twin of handlers/slack/listeners/case_close.py. The header's button opens the dialog (task/fetch,
dialog_id case_close) once the card is the case's own in its chat and the person may close it. Typed text
cannot open a dialog in Teams, so `close REF` answers, privately, the same check and a card with the button
that opens it (or the refusal). The submission is one domain call (closing.submit_close: the case's lock, the
form counted once), so a missing reason or a name in it is shown at the field. After the answer the closing
summary is posted in the case chat, the header is closed, and the chat retired when the deployment archives
on close (TeamsWorkspace.archive_room: the topic says closed, the app leaves); the person is told in their
1:1 chat.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

from microsoft_teams.api import MessageActivity
from microsoft_teams.apps import ActivityContext, App

from bot.domain import closing
from bot.domain.closing import CloseCheck
from bot.domain.errors import InvalidInput, NotAllowed, NotFound
from bot.domain.forms import AlreadySubmitted, FormKind, FormRefused
from handlers.teams.cards import TEAMS_CARD_VERSION, check_card, escape_text
from handlers.teams.context import TeamsContext
from handlers.teams.dialogs import close_dialog, dialog_continue, dialog_message, read_close
from handlers.teams.dialogs.close import SUBMIT as CLOSE_SUBMIT
from handlers.teams.dialogs.close import TITLE as CLOSE_TITLE
from handlers.teams.forms import check_case_card, form_of, not_taken, open_form
from handlers.teams.listeners.case_admin import dialog_data, who_and_where
from handlers.teams.listeners.commands import Typed, command
from handlers.teams.private import card_message, in_background, tell
from handlers.teams.replies import refusal_text

log = logging.getLogger(__name__)

CASE_CLOSE = "case_close"  # the Slack action id, the header button's dialog_id


def opener_card(reference: str) -> dict[str, Any]:
    """The private answer to `close REF`: the button that opens the dialog (typed text cannot open one)."""
    card = {"type": "AdaptiveCard", "version": TEAMS_CARD_VERSION, "body": [
        {"type": "TextBlock", "wrap": True,
         "text": f"Close **{escape_text(reference)}**. The form asks for a reason when one is needed."}],
        "actions": [{"type": "Action.Submit", "title": "Close case",
                     "data": {"msteams": {"type": "task/fetch"}, "dialog_id": CASE_CLOSE, "value": reference}}]}
    check_card(card)
    return card


def check_can_close(ctx: TeamsContext, reference: str, user: str) -> CloseCheck:
    with ctx.services.sessions() as session:
        return closing.check_can_close(session, ctx.services.terms, reference, user)


@command("close")
async def close_typed(turn: ActivityContext[MessageActivity], ctx: TeamsContext, typed: Typed) -> None:
    """`close REF`: the check, then privately the refusal or the button that opens the dialog."""
    words = typed.args.split()
    if not words:
        await tell(ctx, typed.user_id, "Which case? Type **close PMCCG-2026-001** with the case reference.", turn=turn)
        return
    try:
        check = await asyncio.to_thread(check_can_close, ctx, words[0], typed.user_id)
    except (NotAllowed, NotFound) as exc:
        await tell(ctx, typed.user_id, refusal_text(exc, ctx.directory.display_name), turn=turn)
        return
    await tell(ctx, typed.user_id, card_message(opener_card(check.reference), f"Close {check.reference}"), turn=turn)


def register(app: App, ctx: TeamsContext) -> None:
    services = ctx.services
    names = ctx.directory.display_name

    def can_close(reference: str, user: str) -> CloseCheck:
        return check_can_close(ctx, reference, user)

    @app.on_dialog_open(CASE_CLOSE)
    async def open_close(turn: ActivityContext[Any]) -> dict[str, Any]:
        user, conversation, conversation_type = who_and_where(turn)
        reference = str(dialog_data(turn).get("value") or "")[:40]

        def check() -> CloseCheck:
            check_case_card(services, reference, conversation_id=conversation, conversation_type=conversation_type,
                            reply_to_id=turn.activity.reply_to_id)
            return can_close(reference, user)

        try:
            found = await asyncio.to_thread(check)
        except (NotAllowed, NotFound) as exc:
            return dialog_message(refusal_text(exc, names, markdown=False))
        nonce = await asyncio.to_thread(open_form, services, kind=FormKind.CLOSE, user_id=user,
                                        subject=found.reference, conversation_id=conversation)
        # The names used to refuse a staff member's name in the reason: loaded while they type.
        ctx.directory.refresh_in_background()
        return dialog_continue(CLOSE_TITLE, close_dialog(nonce=nonce, check=found))

    @app.on_dialog_submit(CLOSE_SUBMIT)
    async def submit_close(turn: ActivityContext[Any]) -> dict[str, Any]:
        user, conversation, _ = who_and_where(turn)
        data = dialog_data(turn)
        try:
            form = await asyncio.to_thread(form_of, services, data, user, conversation, FormKind.CLOSE)
        except (FormRefused, AlreadySubmitted) as exc:
            return not_taken(exc)

        async def again(errors: dict[str, str]) -> dict[str, Any]:
            try:
                found = await asyncio.to_thread(can_close, form.subject, user)
            except (NotAllowed, NotFound) as exc:
                return dialog_message(refusal_text(exc, names, markdown=False))
            return dialog_continue(CLOSE_TITLE, close_dialog(data, errors, nonce=form.nonce, check=found))

        reading = read_close(data)
        if not reading.ok:
            return await again(reading.errors)
        # Normally loaded when the dialog opened; after a restart, load it now (bounded wait).
        ctx.directory.refresh_in_background()
        directory_names = await asyncio.to_thread(ctx.directory.names, 1.5)
        now = services.clock()
        try:
            result = await asyncio.to_thread(
                lambda: closing.submit_close(services.sessions, services.engine, form, services.terms, user,
                                             reading.value, now, services.zone, directory_names=directory_names))
        except AlreadySubmitted as exc:
            return not_taken(exc)
        except InvalidInput as exc:
            return await again(exc.fields)
        except (NotAllowed, NotFound) as exc:
            return dialog_message(refusal_text(exc, names, markdown=False))
        log.info("case_closed", extra={"event": "case_closed", "case_ref": result.reference})

        async def announce() -> None:
            # Teams chats have no archive: a closed case's chat is always retired (topic, app removed), as the
            # README's Teams section says, whatever PMCCG_ARCHIVE_ON_CLOSE says for Slack channels.
            reporting = replace(services.settings.reporting, archive_on_close=True)
            announced = await asyncio.to_thread(closing.announce_closed, services.sessions, services.terms,
                                                ctx.workspace(), services.zone, result, reporting)
            text = f"✅ **{result.reference}** is closed. The closing summary is in the case chat."
            if announced.failed_steps:
                text += f"\n\n⚠️ Teams refused: {', '.join(announced.failed_steps)}."
            await tell(ctx, user, text, app=app)

        in_background(announce(), "announce_closed")
        return dialog_message(f"{result.reference} is closed. Posting the closing summary.")
