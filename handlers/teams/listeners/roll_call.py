"""Roll-call buttons at the call ("I'm on the call", "Mark someone present", "Record the quorum result") and,
after it, "Correct the roll-call", in Teams: the twin of handlers/slack/listeners/roll_call.py.

Every button sits on the roll-call card the bot posted in the case chat, so a press counts only there: the
case the data names must be this chat's case, and the card pressed (replyToId) its roll-call (what the bot
stored when it posted it). Who is the signed presser; the domain decides what they may do
(bot/domain/roll_call.py). The presser is answered privately (an invoke's message answer); the roll-call card
is redrawn in place for everyone (one activity updated), after the answer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from microsoft_teams.apps import ActivityContext, App

from bot.domain import ledger, roll_call
from bot.domain.cases import find_case
from bot.domain.errors import InvalidInput, NotAllowed, NotFound, PlatformFailure
from bot.domain.forms import OriginRefused
from bot.domain.notify import Message, MessageKind
from bot.domain.roll_call import RollCallView
from handlers.teams import dialogs
from handlers.teams.context import TeamsContext
from handlers.teams.dialogs.fields import FORM_FIELD
from handlers.teams.dialogs.roll_call import CORRECT_SUBMIT, CORRECT_TITLE, MARK_SUBMIT, MARK_TITLE, PERSON
from handlers.teams.invoke import Turn, message_answer, off_loop, on_dialogs, on_submits, on_verbs
from handlers.teams.private import after_answer
from handlers.teams.replies import refusal_text

log = logging.getLogger(__name__)

PRESENT = "roll_call_present"
MARK_OTHER = "roll_call_mark_other"
RECORD = "roll_call_record"
CORRECT = "roll_call_correct"
NOT_THE_ROLL_CALL = ("That button is not on this case's roll-call in its chat, so nothing was changed. "
                     "Use the buttons on the roll-call.")



def register(app: App, ctx: TeamsContext) -> None:
    services = ctx.services
    directory = ctx.directory

    def name(user_id: str) -> str:
        return directory.display_name(user_id) or "a member"

    def capacity_text(view: RollCallView, user_id: str) -> str:
        row = view.row(user_id)
        if row is None:
            return "present"
        if row.capacity == roll_call.DEPUTY:
            return f"present as deputy for {name(row.deputy_for or '')}"
        if row.capacity == roll_call.GUEST:
            return "present as a guest" + ("" if row.counted else " (not counted towards quorum)")
        return "present as a member"

    def on_roll_call(reference: Any, who: Turn, *, card: bool = True) -> str:
        """The case reference, if the press came from that case's chat (and, for a button on it, its roll-call
        card); OriginRefused otherwise. A dialog's submission carries no replyToId: its chat is checked."""
        if not isinstance(reference, str) or not reference:
            raise NotFound("That case no longer exists.")
        with services.sessions() as session:
            case = find_case(session, reference)
            here = case.room_id == who.conversation_id and (
                not card or (case.roll_call_ref is not None and case.roll_call_ref == who.reply_to_id))
            found = case.reference
        if not here:
            log.warning("click_origin_refused", extra={"event": "click_origin_refused", "reason": "not_roll_call"})
            raise OriginRefused(NOT_THE_ROLL_CALL, "not_roll_call")
        return found

    def redraw(view: RollCallView) -> None:
        # After the answer: the card names everyone present, so wait briefly for the directory's names (first use).
        directory.refresh_in_background()
        directory.names(wait_seconds=2.0)
        try:
            roll_call.refresh_roll_call(services.sessions, services.engine, services.terms, view.case_id,
                                        ctx.workspace(), services.zone)
        except PlatformFailure as exc:
            log.warning("roll_call_update_failed", extra={"event": "roll_call_update_failed",
                                                          "case_ref": view.reference, "error": exc.error})

    def mark(reference: str, user_id: str, marked_by: str, **people: Any) -> str:
        view = roll_call.mark(services.sessions, services.terms, reference, user_id, marked_by, services.clock(),
                              services.zone, **people)
        own = user_id == marked_by
        if not view.changed:
            return f"No change: {'You were' if own else name(user_id) + ' was'} already marked present on {reference}."
        after_answer("roll_call_redraw", lambda: redraw(view))
        return f"{'You are' if own else name(user_id) + ' is'} marked {capacity_text(view, user_id)} on {reference}."

    def record(reference: str, actor: str) -> str:
        view = roll_call.record(services.sessions, services.terms, reference, actor, services.clock(), services.zone)
        result = "quorate" if view.recorded_quorate else f"not quorate ({view.recorded_detail})"
        if not view.changed:
            return f"No change: {reference} is already recorded as {result}."

        def announce() -> None:
            try:  # kept in the ledger with the case's other messages, for retention
                ledger.recording(ctx.workspace(), services.sessions, services.clock, view.case_id).post(
                    view.room_id, Message(MessageKind.ROLL_CALL_RESULT, view))
            except PlatformFailure as exc:
                log.warning("roll_call_result_post_failed", extra={"event": "roll_call_result_post_failed",
                                                                   "case_ref": reference, "error": exc.error})
            redraw(view)

        after_answer("roll_call_result", announce)
        return f"Recorded: {reference} was {result}."

    def pressed_sync(who: Turn, verb: str, data: Mapping[str, Any]) -> dict[str, Any]:
        try:
            reference = on_roll_call(data.get("value"), who)
            text = mark(reference, who.user_id, who.user_id) if verb == PRESENT else record(reference, who.user_id)
        except (NotAllowed, NotFound) as exc:
            text = refusal_text(exc, directory.display_name, markdown=False)
        return message_answer(text)

    async def pressed(_turn: ActivityContext[Any], who: Turn, verb: str, data: Mapping[str, Any]) -> Any:
        return await off_loop(lambda: pressed_sync(who, verb, data))

    on_verbs(app, (PRESENT, RECORD), pressed)

    # --- the two dialogs ----------------------------------------------------------------------------------------

    def open_sync(who: Turn, dialog_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
        now = services.clock()
        try:
            reference = on_roll_call(data.get("value"), who)
            with services.sessions() as session:
                if dialog_id == MARK_OTHER:
                    roll_call.check_can_mark_others(session, services.terms, find_case(session, reference),
                                                    who.user_id, now, services.zone)
                else:
                    roll_call.check_can_correct(session, services.terms, reference, who.user_id, now)
        except (NotAllowed, NotFound) as exc:
            return dialogs.dialog_message(refusal_text(exc, directory.display_name, markdown=False))
        directory.refresh_in_background()  # the names refused in the reason
        # No form record: as on Slack, the reference rides with the dialog and the domain checks who may act on it.
        if dialog_id == MARK_OTHER:
            return dialogs.dialog_continue(MARK_TITLE, dialogs.mark_dialog(nonce="", reference=reference))
        return dialogs.dialog_continue(CORRECT_TITLE, dialogs.correct_dialog(nonce="", reference=reference))

    async def opened(_turn: ActivityContext[Any], who: Turn, dialog_id: str, data: Mapping[str, Any]) -> Any:
        return await off_loop(lambda: open_sync(who, dialog_id, data))

    on_dialogs(app, (MARK_OTHER, CORRECT), opened)

    def submit_mark(who: Turn, data: Mapping[str, Any]) -> dict[str, Any]:
        reading = dialogs.read_mark(data)
        reference, person = reading.value

        def again(errors: Mapping[str, str]) -> dict[str, Any]:
            return dialogs.dialog_continue(MARK_TITLE, dialogs.mark_dialog(data, errors, nonce="", reference=reference))

        if not reading.ok:
            return again(reading.errors)
        if not person:
            return again({PERSON: "Choose who joined the call."})
        try:
            reference = on_roll_call(reference, who, card=False)
            text = mark(reference, person, who.user_id, people=directory)
        except InvalidInput as exc:
            return again({PERSON: exc.fields.get("person", exc.message)})
        except (NotAllowed, NotFound) as exc:
            return again({PERSON: exc.message[:150]})
        return dialogs.dialog_message(text)

    def submit_correct(who: Turn, data: Mapping[str, Any]) -> dict[str, Any]:
        reading = dialogs.read_correct(data, actor=who.user_id)
        form = reading.value

        def again(errors: Mapping[str, str]) -> dict[str, Any]:
            return dialogs.dialog_continue(CORRECT_TITLE, dialogs.correct_dialog(data, errors, nonce="",
                                                                                 reference=form.reference))

        if not reading.ok:
            return again(reading.errors)
        directory.refresh_in_background()
        try:
            on_roll_call(form.reference, who, card=False)
            corrected = roll_call.correct_roll_call(services.sessions, services.terms, form, services.clock(),
                                                    services.zone, people=directory,
                                                    directory_names=directory.names(wait_seconds=1.0))
        except InvalidInput as exc:
            return again(exc.fields)
        except (NotAllowed, NotFound) as exc:
            return again({FORM_FIELD: exc.message[:300]})
        after_answer("roll_call_corrected", lambda: roll_call.announce_correction(
            services.sessions, services.engine, services.terms,
            ledger.recording(ctx.workspace(), services.sessions, services.clock, corrected.view.case_id),
            services.zone, corrected))
        return dialogs.dialog_message(f"Corrected: the roll-call for {corrected.view.reference}.")

    handlers = {MARK_SUBMIT: submit_mark, CORRECT_SUBMIT: submit_correct}

    async def submitted(_turn: ActivityContext[Any], who: Turn, action: str, data: Mapping[str, Any]) -> Any:
        return await off_loop(lambda: handlers[action](who, data))

    on_submits(app, handlers, submitted)
