"""The fixes offered with a pre-call quorum warning, on Teams: invite a deputy (a dialog), or proceed and record it.

The twin of handlers/slack/listeners/quorum_fixes.py. The warning goes to the convener and the case's chair in
their 1:1 chats; its buttons carry the case reference, taken only as a claim: a press must come from that
warning as the ledger has it (sent to this very person about that case), or nothing is changed. Who may use
the fixes is the domain's (attendance.fill_choices, invite_deputy, note_proceed). Inviting and announcing the
deputy, redrawing the board and saying "goes ahead" in the case chat run after the answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from microsoft_teams.api import AdaptiveCardInvokeActivity, TaskFetchInvokeActivity, TaskSubmitInvokeActivity
from microsoft_teams.apps import ActivityContext, App

from bot.domain import attendance, forms, ledger
from bot.domain.cases import find_case
from bot.domain.errors import InvalidInput, NotAllowed, NotFound, PlatformFailure
from bot.domain.forms import AlreadySubmitted, FormKind, FormRefused
from bot.domain.notify import Message, MessageKind, attempt
from handlers.teams import forms as teams_forms
from handlers.teams.context import TeamsContext
from handlers.teams.dialogs import dialog_continue, dialog_message, invite_deputy_dialog, read_invite_deputy
from handlers.teams.dialogs import quorum_fixes as invite_form
from handlers.teams.invoke import NOT_SIGNED, Turn, message_answer, on_verbs, turn_of
from handlers.teams.listeners.attendance import NOT_THE_BOTS, NotOurCard, button_value
from handlers.teams.private import after_answer, tell_privately
from handlers.teams.replies import refusal_text

log = logging.getLogger(__name__)

INVITE_DIALOG = "quorum_invite_deputy"
PROCEED = "quorum_proceed"
WARNING_KINDS = ("quorum_warning",)
ALL_FILLED = "Every seat is already expected to be filled."


def check_warning(session: Any, who: Turn, reference: str) -> str:
    """The case's reference if the press came from the quorum warning the ledger says the bot sent `who` about
    it (that 1:1 chat, that activity). Raises NotFound (no such case) or NotOurCard (logged)."""
    case = find_case(session, reference)
    if who.reply_to_id is not None:
        for row in ledger.messages_to(session, case.id or 0, who.user_id, WARNING_KINDS):
            if row.room == who.conversation_id and row.ref == who.reply_to_id:
                return case.reference
    log.warning("click_origin_refused", extra={"event": "click_origin_refused", "reason": "not_our_card",
                                               "case_ref": case.reference})
    raise NotOurCard(NOT_THE_BOTS.format(ref=case.reference))


def register(app: App, ctx: TeamsContext) -> None:
    services = ctx.services
    terms = services.terms
    names = ctx.directory.display_name

    def refused(exc: NotAllowed | NotFound | FormRefused | AlreadySubmitted) -> str:
        return refusal_text(exc, names, markdown=False)

    def invite_card(values: Mapping[str, Any], errors: Mapping[str, str], nonce: str,
                    choices: attendance.FillChoices) -> dict[str, Any]:
        people = [u for u in (values.get(invite_form.DEPUTY), choices.proposed) if isinstance(u, str) and u]
        known = {u.lower(): n for u in people if (n := names(u))}
        card = invite_deputy_dialog(values, errors, nonce=nonce, reference=choices.reference,
                                    seats=list(choices.seats), proposed=choices.proposed, names=known)
        return dialog_continue(invite_form.TITLE, card)

    @app.on_dialog_open(INVITE_DIALOG)
    async def open_invite(turn: ActivityContext[TaskFetchInvokeActivity]) -> dict[str, Any]:
        who = turn_of(turn.activity)
        if who is None:
            return dialog_message("Teams did not say who you are, so the form cannot open.")
        claimed = button_value(turn.activity)

        def opened() -> dict[str, Any]:
            try:
                with services.sessions() as session:
                    # Who may is the domain's, asked first so a refusal is in its words; then where from.
                    choices = attendance.fill_choices(session, terms, claimed, who.user_id, services.clock())
                    check_warning(session, who, choices.reference)
            except (NotAllowed, NotFound) as exc:
                return dialog_message(refused(exc))
            if not choices.seats:
                return dialog_message(ALL_FILLED)
            nonce = teams_forms.open_form(services, kind=FormKind.INVITE_DEPUTY, user_id=who.user_id,
                                          subject=choices.reference, conversation_id=who.conversation_id)
            return invite_card({}, {}, nonce, choices)

        return await asyncio.to_thread(opened)

    def announce(added: attendance.PersonAdded) -> None:
        workspace = ctx.workspace()
        attendance.announce_addition(workspace, added)
        try:
            attendance.refresh_board(services.sessions, services.engine, terms, added.case_id, workspace,
                                     services.zone)
        except PlatformFailure as exc:
            log.warning("board_update_failed", extra={"event": "board_update_failed", "case_ref": added.reference,
                                                      "error": exc.error})

    @app.on_dialog_submit(invite_form.SUBMIT)
    async def save_invite(turn: ActivityContext[TaskSubmitInvokeActivity]) -> dict[str, Any]:
        who = turn_of(turn.activity)
        data = turn.activity.value.data if turn.activity.value else None
        if who is None or not isinstance(data, Mapping):
            return dialog_message(forms.REFUSED_TEXT)

        def saved() -> dict[str, Any]:
            try:
                form = teams_forms.form_of(services, data, who.user_id, who.conversation_id, FormKind.INVITE_DEPUTY)
            except (FormRefused, AlreadySubmitted) as exc:
                return dialog_message(refused(exc))
            reference = form.subject  # as the bot opened it, not the copy the dialog carries back
            reading = read_invite_deputy(data)
            now = services.clock()

            def again(errors: Mapping[str, str]) -> dict[str, Any]:
                try:
                    with services.sessions() as session:
                        choices = attendance.fill_choices(session, terms, reference, who.user_id, now)
                except (NotAllowed, NotFound) as exc:
                    return dialog_message(refused(exc))
                return invite_card(data, errors, form.nonce, choices)

            errors = {k: v for k, v in reading.errors.items() if k in (invite_form.SEAT, invite_form.DEPUTY)}
            if errors:
                return again(errors)
            try:
                added = forms.submit_once(services.sessions, form, now, lambda session: attendance.invite_deputy(
                    session, terms, reference, who.user_id, reading.value.seat, reading.value.deputy_id, now,
                    people=ctx.directory))
            except InvalidInput as exc:
                return again({invite_form.SEAT if k == "seat" else invite_form.DEPUTY: v
                              for k, v in exc.fields.items()})
            except (NotAllowed, NotFound) as exc:
                return again({invite_form.DEPUTY: exc.message[:150]})
            except AlreadySubmitted as exc:
                return dialog_message(exc.message)
            after_answer("invite_deputy", lambda: announce(added))
            return dialog_message(f"Invited to stand in for {added.seat_label} on {added.reference}: they are "
                                  "added to the case chat and announced there.")

        return await asyncio.to_thread(saved)

    def tell_room(who: Turn, room: str, reference: str, loop: asyncio.AbstractEventLoop,
                  turn: ActivityContext[AdaptiveCardInvokeActivity]) -> None:
        failed: list[str] = []
        attempt("proceed_noted", failed, reference, lambda: ctx.workspace().post(
            room, Message(MessageKind.PROCEED_NOTED, {"reference": reference, "user_id": who.user_id})))
        if failed:
            tell_privately(ctx, app, loop, who.user_id,
                           f"The case chat of **{reference}** could not be told that the call goes ahead and may "
                           "be inquorate; please say so there.", turn=turn)

    async def proceed(turn: ActivityContext[AdaptiveCardInvokeActivity], who: Turn, _verb: str,
                      _data: Mapping[str, Any]) -> dict[str, Any]:
        claimed = button_value(turn.activity)
        loop = asyncio.get_running_loop()

        def decided() -> dict[str, Any]:
            try:
                with services.sessions() as session:
                    reference = check_warning(session, who, claimed)
                room, recorded = attendance.note_proceed(services.sessions, terms, reference, who.user_id,
                                                         services.clock())
            except (NotAllowed, NotFound) as exc:
                return message_answer(refused(exc))
            if not recorded:
                return message_answer(f"Already recorded: the call for {reference} goes ahead and may be inquorate.")
            after_answer("proceed", lambda: tell_room(who, room, reference, loop, turn))
            return message_answer(f"Recorded: the call for {reference} goes ahead and may be inquorate.")

        return await asyncio.to_thread(decided)

    on_verbs(app, (PROCEED,), proceed, unsigned=NOT_SIGNED)
