"""`convene` on Teams: the permission check, a card whose button opens the convene dialog, field errors shown
in the dialog, and the convening itself after the answer, its result in the convener's 1:1 chat.

The twin of handlers/slack/listeners/convene.py. Teams cannot open a dialog from a typed message, so the
command answers with a card holding the button that does (dialog_id "convene"). The dialog is a form record
(bot/domain/forms.py): its nonce is the only thing it carries and the convening's submission key, so the
same submission twice makes one case. A valid submission closes the dialog at once with "Convening…"
(Teams gives an invoke about 5 s; creating a chat and inviting everyone takes longer) and convenes in a
thread; what came of it is posted in the convener's 1:1 chat, as Slack's listener tells them in the modal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from microsoft_teams.api import (
    Attachment,
    MessageActivity,
    MessageActivityInput,
    TaskFetchInvokeActivity,
    TaskSubmitInvokeActivity,
)
from microsoft_teams.apps import ActivityContext, App

from bot.domain import convening, forms, roster
from bot.domain.convening import Convened, ConveneRequest
from bot.domain.errors import DomainError, InvalidInput, NotAllowed, PlatformFailure
from bot.domain.forms import AlreadySubmitted, Form, FormKind, FormRefused
from bot.domain.terms import Terms
from handlers.teams import forms as teams_forms
from handlers.teams.cards import CARD_CONTENT_TYPE, TEAMS_CARD_VERSION, check_card
from handlers.teams.context import TeamsContext
from handlers.teams.dialogs import convene as convene_form
from handlers.teams.dialogs import convene_dialog, dialog_continue, dialog_message, propose_leads, read_convene
from handlers.teams.dialogs.fields import ENTRA_ID
from handlers.teams.invoke import Turn, turn_of
from handlers.teams.listeners.commands import Typed, command
from handlers.teams.private import after_answer, tell, tell_privately
from handlers.teams.replies import refusal_text

log = logging.getLogger(__name__)

DIALOG_ID = "convene"  # the opener's dialog_id (Slack's callback id of the same modal)
REFILL = "refill"  # the data key of the button that opens the form again after a failure, with what was typed
NAMES_WAIT_SECONDS = 1.5  # as Slack's submit: the directory's names, loaded when the form opened, or shortly




def opener_card(short_name: str) -> dict[str, Any]:
    """The answer to `convene`: a button that opens the dialog (a typed message cannot open one)."""
    card = {"type": "AdaptiveCard", "version": TEAMS_CARD_VERSION, "body": [
        {"type": "TextBlock", "wrap": True,
         "text": f"Convene {short_name} for a new case: the form opens in a dialog."},
        {"type": "TextBlock", "wrap": True, "isSubtle": True, "size": "Small",
         "text": "The staff member is referred to by case number only: do not type their name anywhere in the form."},
    ], "actions": [{"type": "Action.Submit", "title": "Open the convene form",
                    "data": {"msteams": {"type": "task/fetch"}, "dialog_id": DIALOG_ID}}]}
    check_card(card)
    return card


def refill_values(data: Any, terms: Terms) -> dict[str, str]:
    """The form's own fields of what a button carries to fill the dialog again (client input: read again on
    submit like anything typed); anything else is dropped."""
    carried = data.get(REFILL) if isinstance(data, Mapping) else None
    if not isinstance(carried, Mapping):
        return {}
    return {k: v for k in convene_form.field_ids(terms) if isinstance(v := carried.get(k), str)}


def failed_card(text: str, values: Mapping[str, Any], terms: Terms) -> dict[str, Any]:
    """What the convener is told when the convening failed: why, and a button opening the form again with
    everything they typed (Slack shows its modal again, filled in; a Teams dialog cannot be shown again later)."""
    card = {"type": "AdaptiveCard", "version": TEAMS_CARD_VERSION,
            "body": [{"type": "TextBlock", "wrap": True, "color": "Warning", "text": text}],
            "actions": [{"type": "Action.Submit", "title": "Open the form again, filled in",
                         "data": {"msteams": {"type": "task/fetch"}, "dialog_id": DIALOG_ID,
                                  REFILL: refill_values({REFILL: values}, terms)}}]}
    check_card(card)
    return card


def chosen_people(values: Iterable[Any]) -> set[str]:
    """The Entra ids a dialog's values name (people pickers send them comma-separated)."""
    found: set[str] = set()
    for value in values:
        if isinstance(value, str):
            found |= {part.strip().lower() for part in value.split(",") if ENTRA_ID.match(part.strip())}
    return found


@dataclass(frozen=True)
class Checked:
    """What a submission came to: a request to convene, or the dialog to show again, or a closing message."""

    request: ConveneRequest | None = None
    errors: Mapping[str, str] | None = None
    closing: str | None = None


def success_text(result: Convened) -> str:
    text = (f"✅ **{result.reference}** is convened in its case chat, **{result.reference}**. The members have been "
            "invited and asked to say whether they will attend.")
    if result.undelivered:
        text += f"\n\n⚠️ {len(result.undelivered)} invitation(s) could not be sent by direct message."
    return text


def failure_text(short_name: str, exc: PlatformFailure) -> str:
    again = ("Teams may be busy: open the form again to try again." if not exc.permanent else
             "Check the members chosen, then open the form again to try again.")
    return f"⚠️ Your {short_name} could not be convened. Nothing was created: {exc.step} failed ({exc.error}). {again}"


@command("convene")
async def convene_typed(turn: ActivityContext[MessageActivity], ctx: TeamsContext, typed: Typed) -> None:
    """The permission check first (who may not convene is told why and who to ask), then the opener card."""
    services = ctx.services
    terms = services.terms

    def check() -> str | None:
        with services.sessions() as session:
            try:
                convening.may_convene(session, terms, typed.user_id)
            except NotAllowed as exc:
                return refusal_text(exc, ctx.directory.display_name)
        return None

    refusal = await asyncio.to_thread(check)
    if refusal is not None:
        # Private, as Slack's ephemeral reply: their 1:1 chat (from a group chat, the one kept for them; said in
        # the group chat only when the bot knows none).
        if not await tell(ctx, typed.user_id, refusal, turn=turn):
            await turn.send(refusal)
        return
    card = opener_card(terms.short_name)
    await turn.send(MessageActivityInput(summary=f"Convene {terms.short_name}",
                                         attachments=[Attachment(content_type=CARD_CONTENT_TYPE, content=card)]))


def register(app: App, ctx: TeamsContext) -> None:
    services = ctx.services
    terms = services.terms
    names = ctx.directory.display_name

    def dialog(values: Mapping[str, Any], errors: Mapping[str, str], nonce: str,
               proposal: Mapping[str, str | None] = {}) -> dict[str, Any]:
        people = chosen_people([*values.values(), *proposal.values()])
        known = {u: n for u in people if (n := names(u))}
        card = convene_dialog(values, errors, nonce=nonce, terms=terms, zone_name=services.settings.timezone,
                              proposal=proposal, names=known)
        return dialog_continue(convene_form.title(terms), card)

    @app.on_dialog_open(DIALOG_ID)
    async def open_convene(turn: ActivityContext[TaskFetchInvokeActivity]) -> dict[str, Any]:
        who = turn_of(turn.activity)
        if who is None:
            return dialog_message("Teams did not say who you are, so the form cannot open.")
        data = turn.activity.value.data if turn.activity.value else None

        def opened() -> dict[str, Any]:
            with services.sessions() as session:
                try:
                    convening.may_convene(session, terms, who.user_id)
                except NotAllowed as exc:
                    return dialog_message(refusal_text(exc, names, markdown=False))
                proposal = convening.proposed_seats(session, terms, who.user_id)
            nonce = teams_forms.open_form(services, kind=FormKind.CONVENE, user_id=who.user_id, subject="",
                                              conversation_id=who.conversation_id)
            # A new form (its own nonce), filled with what the failed one sent when it is opened again.
            values = refill_values(data, terms)
            return dialog(values, {}, nonce, {} if values else proposal)

        answer = await asyncio.to_thread(opened)
        # Slow, after the form is built: the names used to refuse a staff member's name typed in the form.
        ctx.directory.refresh_in_background()
        return answer

    def form_of(who: Turn, data: Mapping[str, Any]) -> Form | str:
        try:
            return teams_forms.form_of(services, data, who.user_id, who.conversation_id, FormKind.CONVENE)
        except (FormRefused, AlreadySubmitted) as exc:
            return refusal_text(exc, names, markdown=False)

    @app.on_dialog_submit(convene_form.PROPOSE)
    async def propose(turn: ActivityContext[TaskSubmitInvokeActivity]) -> dict[str, Any]:
        """The profession chosen: the dialog again, its lead proposed from the roster, the rest as typed."""
        who = turn_of(turn.activity)
        data = turn.activity.value.data if turn.activity.value else None
        if who is None or not isinstance(data, Mapping):
            return dialog_message(forms.REFUSED_TEXT)

        def proposed() -> dict[str, Any]:
            form = form_of(who, data)
            if isinstance(form, str):
                return dialog_message(form)
            reading = read_convene(data, terms, convener_id=who.user_id, submission_key=form.nonce)
            try:
                with services.sessions() as session:
                    convening.may_convene(session, terms, who.user_id)
                    proposal = convening.propose_for_profession(session, terms, who.user_id,
                                                                reading.value.profession, reading.value.seats)
            except NotAllowed as exc:
                return dialog_message(refusal_text(exc, names, markdown=False))
            return dialog(propose_leads(data, terms, proposal), reading.errors, form.nonce)

        return await asyncio.to_thread(proposed)

    def checked(who: Turn, data: Mapping[str, Any], form: Form) -> Checked:
        """The domain's rules, as Slack's submit applies them: the convener may still convene; every field."""
        reading = read_convene(data, terms, convener_id=who.user_id, submission_key=form.nonce)
        # Normally loaded when the dialog opened; after a restart, loaded now (bounded wait).
        ctx.directory.refresh_in_background()
        try:
            with services.sessions() as session:
                convening.may_convene(session, terms, who.user_id)
                entries = roster.entries_for(session, [u for u in reading.value.seats.values() if u])
            request = convening.validate(reading.value, terms, entries, ctx.directory.names(NAMES_WAIT_SECONDS),
                                         services.clock(), services.zone, people=ctx.directory)
        except InvalidInput as exc:
            return Checked(errors={**exc.fields, **reading.errors})
        except NotAllowed as exc:
            return Checked(closing=refusal_text(exc, names, markdown=False))
        if reading.errors:  # a value in a shape the dialog never sends: shown at its field, nothing convened
            return Checked(errors=reading.errors)
        try:
            # Claimed now, before the answer: a second delivery of this submission (Teams retries a slow
            # invoke) is told it was sent, and never starts a second convening.
            forms.submit_once(services.sessions, form, services.clock(), lambda _session: None)
        except AlreadySubmitted as exc:
            return Checked(closing=exc.message)
        return Checked(request=request)

    def convene_now(who: Turn, request: ConveneRequest, typed: Mapping[str, Any], loop: asyncio.AbstractEventLoop,
                    turn: ActivityContext[TaskSubmitInvokeActivity]) -> None:
        """After the answer, in a thread: the convening (Slack's after-ack work), then the convener is told."""
        try:
            result = convening.convene(services.sessions, services.engine, request, terms, ctx.workspace(),
                                       services.clock(), services.zone)
        except PlatformFailure as exc:
            text = failure_text(terms.short_name, exc)
            tell_privately(ctx, app, loop, who.user_id, text, turn=turn, card=failed_card(text, typed, terms))
            return
        except DomainError as exc:
            text = f"⚠️ Your {terms.short_name} could not be convened: {exc.message}"
        else:
            text = success_text(result)
        tell_privately(ctx, app, loop, who.user_id, text, turn=turn)

    @app.on_dialog_submit(convene_form.SUBMIT)
    async def submit_convene(turn: ActivityContext[TaskSubmitInvokeActivity]) -> dict[str, Any]:
        who = turn_of(turn.activity)
        data = turn.activity.value.data if turn.activity.value else None
        if who is None or not isinstance(data, Mapping):
            return dialog_message(forms.REFUSED_TEXT)
        loop = asyncio.get_running_loop()

        def submitted() -> dict[str, Any] | Checked:
            form = form_of(who, data)
            if isinstance(form, str):
                return dialog_message(form)
            result = checked(who, data, form)
            if result.errors is not None:
                # Teams has no field errors: the dialog again, everything typed kept, each error under its field.
                return dialog(data, result.errors, form.nonce)
            return result

        outcome = await asyncio.to_thread(submitted)
        if isinstance(outcome, dict):
            return outcome
        if outcome.closing is not None or outcome.request is None:
            return dialog_message(outcome.closing or forms.REFUSED_TEXT)
        request = outcome.request
        after_answer("convene", lambda: convene_now(who, request, data, loop, turn))
        log.info("teams_convening_started", extra={"event": "teams_convening_started"})
        return dialog_message(f"Convening {terms.short_name}… Creating the case chat and inviting the members. "
                              "I will tell you in our chat when it is done.")
