"""Attendance buttons on the board and in invitations, and the "Send a deputy" dialog, on Teams.

The twin of handlers/slack/listeners/attendance.py. A button's value names the case and the schedule version
it was sent for ("REF:version[:board]"), but on Teams it is only taken as a claim: the click must come from
a card the bot sent for that case, the case chat's board (its chat and activity id, as stored with the case)
or a direct message the ledger says the bot sent this very person about it (whose version the ledger kept).
Anything else changes nothing. Then one domain call (attendance.answer), and the answer to the invoke: on
an invitation, the card replaced for the clicker by how it reads now (the domain's answer_dm, which the
redrawing also puts in place); on the board, a private confirmation in the domain's words. Redrawing the
board for everyone (one activity, updated in place) and the member's other messages runs after the answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from microsoft_teams.api import AdaptiveCardInvokeActivity, TaskFetchInvokeActivity, TaskSubmitInvokeActivity
from microsoft_teams.apps import ActivityContext, App

from bot.domain import attendance, forms, ledger
from bot.domain.attendance import AnswerButton, Reply
from bot.domain.cases import find_case
from bot.domain.errors import InvalidInput, NotAllowed, NotFound
from bot.domain.forms import AlreadySubmitted, FormKind, FormRefused
from handlers.teams import forms as teams_forms
from handlers.teams.context import TeamsContext
from handlers.teams.dialogs import deputy as deputy_form
from handlers.teams.dialogs import deputy_dialog, dialog_continue, dialog_message, read_deputy
from handlers.teams.invoke import NOT_SIGNED, Turn, card_answer, message_answer, on_verbs, turn_of
from handlers.teams.private import after_answer
from handlers.teams.render import render_card
from handlers.teams.replies import refusal_text

log = logging.getLogger(__name__)

ANSWERS = {"attendance_attending": Reply.ATTENDING, "attendance_apologies": Reply.APOLOGIES}
DEPUTY_DIALOG = "attendance_deputy"
CONFIRMATIONS = {
    Reply.ATTENDING: "You are down as attending {ref}.",
    Reply.APOLOGIES: "Your apologies for {ref} are recorded.",
    Reply.DEPUTY: "Your deputy for {ref} is recorded.",
}
NOT_THE_BOTS = "That button is not on a message the bot sent you about {ref}, so nothing was changed."


class NotOurCard(NotAllowed):
    """The click names a case, but did not come from a card the bot sent for it (to this person)."""


def button_value(activity: Any) -> str:
    """The value a button (or a dialog opener) carried; "" when it carried none or something else."""
    value = activity.value
    data = getattr(getattr(value, "action", None), "data", None) if value is not None else None
    if data is None and value is not None:
        data = getattr(value, "data", None)
    found = data.get("value") if isinstance(data, Mapping) else None
    return found if isinstance(found, str) else ""


def sent_button(session: Any, who: Turn, claimed: AnswerButton) -> AnswerButton:
    """The attendance button as the bot sent it, from what the bot stored about the card clicked: the case's
    board (its chat and activity), or a direct message of ANSWER_KINDS to `who` about the case (the ledger's
    version, not the one the client sent). Raises NotFound (no such case) or NotOurCard (logged)."""
    case = find_case(session, claimed.reference)
    reference = case.reference
    if who.reply_to_id is not None:
        if who.conversation_id == case.room_id and who.reply_to_id == case.board_ref:
            return AnswerButton(reference, claimed.version, on_board=True)
        for row in ledger.messages_to(session, case.id or 0, who.user_id, attendance.ANSWER_KINDS):
            if row.room == who.conversation_id and row.ref == who.reply_to_id:
                version = ledger.detail_of(row).get("answer_version")
                return AnswerButton(reference, version if isinstance(version, int) else claimed.version)
    log.warning("click_origin_refused", extra={"event": "click_origin_refused", "reason": "not_our_card",
                                               "case_ref": reference})
    raise NotOurCard(NOT_THE_BOTS.format(ref=reference))


def register(app: App, ctx: TeamsContext) -> None:
    services = ctx.services
    terms = services.terms
    names = ctx.directory.display_name

    def refused(exc: NotAllowed | NotFound) -> str:
        return refusal_text(exc, names, markdown=False)

    def announce(result: attendance.ReplyRecorded) -> None:
        """After the answer: a new deputy invited and announced, the board and the member's messages redrawn."""
        failed = attendance.announce_reply(services.sessions, services.engine, terms, ctx.workspace(),
                                           services.zone, result)
        if failed:
            log.warning("attendance_announce_incomplete", extra={"event": "attendance_announce_incomplete",
                                                                 "case_ref": result.reference, "failed": len(failed)})

    def own_card(reference: str, user_id: str) -> dict[str, Any] | None:
        """The clicker's invitation as it reads now (what the redrawing puts in place), or None without seats."""
        with services.sessions() as session:
            case = find_case(session, reference)
            seats = attendance.seats_of(session, case, user_id)
            if not seats:
                return None
            model = attendance.answer_dm(terms, case, seats, case.schedule_version, services.zone)
        return render_card("answer_dm", names=names, m=model, delivery_id=None)

    def clicked(who: Turn, value: str, reply: Reply) -> dict[str, Any]:
        claimed = attendance.parse_answer_value(value)
        try:
            with services.sessions() as session:
                button = sent_button(session, who, claimed)
            result = attendance.answer(services.sessions, terms, button.reference, who.user_id, reply,
                                       services.clock(), services.zone, people=ctx.directory, button=button)
        except (NotAllowed, NotFound) as exc:
            return message_answer(refused(exc))
        if result.changed or result.added:
            after_answer("attendance", lambda: announce(result))
        text = CONFIRMATIONS[reply].format(ref=result.reference) if result.changed else \
            f"No change: that was already your answer for {result.reference}."
        card = None if button.on_board else own_card(result.reference, who.user_id)
        return card_answer(card) if card is not None else message_answer(text)

    async def on_answer(turn: ActivityContext[AdaptiveCardInvokeActivity], who: Turn, verb: str,
                        _data: Mapping[str, Any]) -> dict[str, Any]:
        return await asyncio.to_thread(clicked, who, button_value(turn.activity), ANSWERS[verb])

    on_verbs(app, ANSWERS, on_answer, unsigned=NOT_SIGNED)

    # --- "Sending a deputy": the dialog, its submission -------------------------------------------------

    def deputy_card(values: Mapping[str, Any], errors: Mapping[str, str], nonce: str, answer: str) -> dict[str, Any]:
        chosen = values.get(deputy_form.DEPUTY)
        known = {chosen.lower(): n for n in [names(chosen)] if n} if isinstance(chosen, str) and chosen else {}
        return dialog_continue(deputy_form.TITLE, deputy_dialog(values, errors, nonce=nonce, answer=answer,
                                                                names=known))

    @app.on_dialog_open(DEPUTY_DIALOG)
    async def open_deputy(turn: ActivityContext[TaskFetchInvokeActivity]) -> dict[str, Any]:
        who = turn_of(turn.activity)
        if who is None:
            return dialog_message("Teams did not say who you are, so the form cannot open.")
        claimed = attendance.parse_answer_value(button_value(turn.activity))

        def opened() -> dict[str, Any]:
            try:
                with services.sessions() as session:
                    button = sent_button(session, who, claimed)
                    attendance.check_can_name_deputy(session, terms, button.reference, who.user_id,
                                                     services.clock(), services.zone, button)
            except (NotAllowed, NotFound) as exc:
                return dialog_message(refused(exc))
            # The form keeps the button as the bot sent it: the submission is checked against that, never
            # against the copy the dialog carries back.
            answer = (attendance.answer_value(button.reference, button.version, board=button.on_board)
                      if button.version is not None else button.reference)
            nonce = teams_forms.open_form(services, kind=FormKind.DEPUTY, user_id=who.user_id, subject=answer,
                                              conversation_id=who.conversation_id)
            return deputy_card({}, {}, nonce, answer)

        return await asyncio.to_thread(opened)

    @app.on_dialog_submit(deputy_form.SUBMIT)
    async def save_deputy(turn: ActivityContext[TaskSubmitInvokeActivity]) -> dict[str, Any]:
        who = turn_of(turn.activity)
        data = turn.activity.value.data if turn.activity.value else None
        if who is None or not isinstance(data, Mapping):
            return dialog_message(forms.REFUSED_TEXT)

        def saved() -> dict[str, Any]:
            try:
                form = teams_forms.form_of(services, data, who.user_id, who.conversation_id, FormKind.DEPUTY)
            except (FormRefused, AlreadySubmitted) as exc:
                return dialog_message(refusal_text(exc, names, markdown=False))
            button = attendance.parse_answer_value(form.subject)
            reading = read_deputy(data)
            errors = {k: v for k, v in reading.errors.items() if k == deputy_form.DEPUTY}
            if errors:
                return deputy_card(data, errors, form.nonce, form.subject)
            now = services.clock()
            try:
                # Claimed with the answer, in one transaction: a second delivery changes nothing; a refused
                # deputy rolls the claim back, so the dialog can be corrected and sent again.
                result = forms.submit_once(services.sessions, form, now, lambda session: attendance.record_reply(
                    session, terms, button.reference, who.user_id, Reply.DEPUTY, now, services.zone,
                    reading.value.deputy_id, people=ctx.directory, button=button))
            except InvalidInput as exc:
                return deputy_card(data, exc.fields, form.nonce, form.subject)
            except (NotAllowed, NotFound) as exc:
                return deputy_card(data, {deputy_form.DEPUTY: exc.message[:150]}, form.nonce, form.subject)
            except AlreadySubmitted as exc:
                return dialog_message(exc.message)
            if result.changed or result.added:
                after_answer("deputy", lambda: announce(result))
            return dialog_message(CONFIRMATIONS[Reply.DEPUTY].format(ref=result.reference) if result.changed else
                                  f"No change: that was already your answer for {result.reference}.")

        return await asyncio.to_thread(saved)
