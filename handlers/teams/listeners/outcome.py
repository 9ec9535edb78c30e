"""Recording the outcome in Teams: the outcome dialog, revisiting fairness, adding an action point later.

The twin of handlers/slack/listeners/outcome.py. Who may record is the domain's (bot/domain/recording.py):
permission is checked before a dialog opens (a refusal closes it with the domain's words), and a submission
is one domain call (the case's outcome lock, the form counted once, one transaction), so a bad field is shown
under the field and nothing is half-written. The circulation (the summary in the case chat, each owner's
action points, the recommendation to the Medical Director) is a scheduled message due at once: the
scheduler's next tick sends it, not this listener.

A typed `outcome REF` (or `fairness REF`, `action REF`) cannot open a dialog by itself (Teams opens one only
from a button): the bot answers in the person's 1:1 chat with a card whose button opens it. In a case chat,
the case card's "Record outcome" button counts only on that case's own card in its own chat.

Each dialog is a form record (bot/domain/forms.py): the dialog carries only its nonce; the case, the person
and the number of action point rows are kept server-side. "Add another action point" counts a row on the
record (bounded) and answers with the dialog built again with what was typed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from microsoft_teams.api import Attachment, MessageActivityInput
from microsoft_teams.apps import ActivityContext, App

from bot.domain import direct_rooms, forms, recording
from bot.domain.case_header import refresh_header
from bot.domain.errors import DomainError, InvalidInput, NotAllowed, NotFound, PlatformFailure
from bot.domain.fairness import ANSWER_LABELS, PRINCIPLE_BY_KEY, Answer
from bot.domain.forms import AlreadySubmitted, FormKind, FormRefused
from bot.domain.notify import Message, MessageKind
from bot.domain.outcomes import MAX_ACTION_ROWS, Recorded
from bot.domain.recording import CaseToRecord, OutcomeAlreadyRecorded, OutcomeNotRecorded
from handlers.teams import dialogs
from handlers.teams.cards import CARD_CONTENT_TYPE, escape_text
from handlers.teams.context import TeamsContext
from handlers.teams.dialogs.fields import ENTRA_ID
from handlers.teams.dialogs.outcome import (
    ACTION,
    ACTION_ADD_SUBMIT,
    ACTION_ADD_TITLE,
    ADD_ROW,
    FAIRNESS_SUBMIT,
    FAIRNESS_TITLE,
    SUBMIT,
    TITLE,
)
from handlers.teams.forms import check_case_card, form_of, open_form
from handlers.teams.invoke import Turn, dialog_opener, off_loop, on_dialogs, on_submits, simple_card
from handlers.teams.listeners.commands import Typed, command
from handlers.teams.private import after_answer
from handlers.teams.replies import refusal_text

log = logging.getLogger(__name__)

RECORD_OUTCOME = "case_record_outcome"  # the case card's button (Slack's action id)
REVISIT_FAIRNESS = "case_revisit_fairness"  # the fairness note's and the closing card's button
ADD_ACTION = "case_add_action"  # the opener the typed `action REF` answers with (no Slack button has one)
OPENERS = {RECORD_OUTCOME: (FormKind.OUTCOME, TITLE, "Record the outcome"),
           REVISIT_FAIRNESS: (FormKind.FAIRNESS, FAIRNESS_TITLE, "Revisit the fairness answers"),
           ADD_ACTION: (FormKind.ACTION_ADD, ACTION_ADD_TITLE, "Add an action point")}
WORD_OF = {FormKind.OUTCOME: "outcome", FormKind.FAIRNESS: "fairness", FormKind.ACTION_ADD: "action"}
NAMES_WAIT = 1.5


def refused(exc: DomainError) -> str:
    """The domain's refusal, pointing to the command that does instead (plain text: dialogs show it as is)."""
    if isinstance(exc, OutcomeAlreadyRecorded):
        return (f"The outcome of {exc.reference} is already recorded. Revisit the fairness answers with "
                f"fairness {exc.reference}, or add an action point with action {exc.reference}.")
    if isinstance(exc, OutcomeNotRecorded):
        return (f"Record the outcome of {exc.reference} first (outcome {exc.reference}): "
                "its action points are circulated with it.")
    return refusal_text(exc, markdown=False)


def recorded_text(recorded: Recorded) -> str:
    text = (f"Recorded: the outcome of {recorded.reference}. The action points are being circulated within a "
            "minute: in the case chat, to each owner, and the recommendation, anonymised, to the Medical Director.")
    if recorded.inquiry_ids:
        text += (f" {len(recorded.inquiry_ids)} fairness answer(s) call for further inquiry: an action point for "
                 "each is with the chair.")
    return text



# --- typed commands: a card with the button that opens the dialog, in the person's 1:1 chat -------------------


async def answer_privately(turn: ActivityContext[Any], ctx: TeamsContext, typed: Typed, card: dict[str, Any]) -> None:
    activity = MessageActivityInput(attachments=[Attachment(content_type=CARD_CONTENT_TYPE, content=card)])
    if typed.conversation_type == "personal":
        await turn.send(activity)
        return
    # In a case chat, what the bot tells one person would be read by all: their 1:1 chat instead.
    kept = await off_loop(lambda: direct_rooms.find(ctx.services.sessions, typed.user_id))
    if kept is None:
        await turn.send("I have sent nothing: message me once in our 1:1 chat, then type the command again.")
        return
    await turn.api.conversations.create_activity(kept.room, activity)


async def typed_opener(turn: ActivityContext[Any], ctx: TeamsContext, typed: Typed, dialog_id: str) -> None:
    """`outcome REF` and its siblings: checked as the button would be, then the button itself."""
    kind, title, button = OPENERS[dialog_id]
    services = ctx.services
    reference = (typed.args.split() or [""])[0]
    if not reference:
        await answer_privately(turn, ctx, typed, simple_card(
            f"Say which case: **{WORD_OF[kind]}** followed by the case reference."))
        return
    try:
        case = await off_loop(lambda: recording.case_to_record(services.sessions, services.terms, reference,
                                                               typed.user_id, kind))
    except (NotAllowed, NotFound) as exc:
        await answer_privately(turn, ctx, typed, simple_card(escape_text(refused(exc))))
        return
    await answer_privately(turn, ctx, typed, simple_card(
        f"**{title}**: {escape_text(case.reference)}", actions=[dialog_opener(button, dialog_id, case.reference)]))


@command("outcome")
async def command_outcome(turn: ActivityContext[Any], ctx: TeamsContext, typed: Typed) -> None:
    await typed_opener(turn, ctx, typed, RECORD_OUTCOME)


@command("fairness")
async def command_fairness(turn: ActivityContext[Any], ctx: TeamsContext, typed: Typed) -> None:
    await typed_opener(turn, ctx, typed, REVISIT_FAIRNESS)


@command("action")
async def command_action(turn: ActivityContext[Any], ctx: TeamsContext, typed: Typed) -> None:
    await typed_opener(turn, ctx, typed, ADD_ACTION)


def register(app: App, ctx: TeamsContext) -> None:
    services = ctx.services
    directory = ctx.directory

    def owner_names(values: Mapping[str, Any]) -> dict[str, str]:
        """Display names of the people already picked, so the picker shows who they are when built again."""
        picked = {str(v).lower() for k, v in values.items()
                  if isinstance(k, str) and k.endswith("_owner") and isinstance(v, str) and ENTRA_ID.match(v)}
        return {u: n for u in picked if (n := directory.display_name(u))}

    def refresh_case_header(case_id: int) -> None:
        try:
            refresh_header(services.sessions, services.terms, case_id, ctx.workspace(), services.zone,
                           services.clock().astimezone(services.zone).date())
        except PlatformFailure as exc:
            log.warning("header_update_failed", extra={"event": "header_update_failed", "error": exc.error})

    def tell(step: str, reference: str, send: Callable[[], object]) -> bool:
        try:
            send()
            return True
        except PlatformFailure as exc:
            log.warning(step, extra={"event": step, "case_ref": reference, "error": exc.error})
            return False

    # --- opening a dialog -------------------------------------------------------------------------------------

    def build(kind: FormKind, case: CaseToRecord, nonce: str, values: Mapping[str, Any] = {},
              errors: Mapping[str, str] = {}, rows: int = 1) -> dict[str, Any]:
        if kind == FormKind.OUTCOME:
            return dialogs.outcome_dialog(values, errors, nonce=nonce, case=case, rows=rows,
                                          names=owner_names(values))
        if kind == FormKind.FAIRNESS:
            return dialogs.fairness_dialog(values, errors, nonce=nonce, reference=case.reference,
                                           current=dict(case.fairness))
        return dialogs.action_add_dialog(values, errors, nonce=nonce, reference=case.reference,
                                         names=owner_names(values))

    def open_dialog(who: Turn, dialog_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
        kind, title, _ = OPENERS[dialog_id]
        reference = data.get("value")
        if not isinstance(reference, str) or not reference.strip():
            return dialogs.dialog_message("Say which case: use the button on the case card.")
        try:
            check_case_card(services, reference, conversation_id=who.conversation_id,
                            conversation_type=who.conversation_type, reply_to_id=who.reply_to_id)
            case = recording.case_to_record(services.sessions, services.terms, reference, who.user_id, kind)
        except (NotAllowed, NotFound) as exc:
            return dialogs.dialog_message(refused(exc))
        nonce = open_form(services, kind=kind, user_id=who.user_id, subject=case.reference,
                          conversation_id=who.conversation_id)
        directory.refresh_in_background()  # the names refused in typed text: loaded while they type
        return dialogs.dialog_continue(title, build(kind, case, nonce), width="large" if kind == FormKind.OUTCOME
                                       else "medium")

    async def opened(_turn: ActivityContext[Any], who: Turn, dialog_id: str, data: Mapping[str, Any]) -> Any:
        answer = await off_loop(lambda: open_dialog(who, dialog_id, data))
        log.info("teams_dialog_opened", extra={"event": "teams_dialog_opened", "dialog": dialog_id})
        return answer

    on_dialogs(app, OPENERS, opened)

    # --- inside and submitting the dialogs --------------------------------------------------------------------

    def not_taken(exc: FormRefused | AlreadySubmitted) -> dict[str, Any]:
        return dialogs.dialog_message(refusal_text(exc, markdown=False) if isinstance(exc, FormRefused)
                                      else exc.message)

    def add_row(who: Turn, data: Mapping[str, Any]) -> dict[str, Any]:
        try:
            form = form_of(services, data, who.user_id, who.conversation_id, FormKind.OUTCOME)
            case = recording.case_of_form(services.sessions, form)
        except (FormRefused, AlreadySubmitted) as exc:
            return not_taken(exc)
        except NotFound as exc:
            return dialogs.dialog_message(refused(exc))
        grown = forms.add_row(services.sessions, form, MAX_ACTION_ROWS)
        rows = grown.rows if grown is not None else form.rows  # at the limit, or a double click counted it
        return dialogs.dialog_continue(TITLE, build(FormKind.OUTCOME, case, form.nonce, data, rows=rows),
                                       width="large")

    def submit_outcome(who: Turn, data: Mapping[str, Any]) -> dict[str, Any]:
        try:
            form = form_of(services, data, who.user_id, who.conversation_id, FormKind.OUTCOME)
        except (FormRefused, AlreadySubmitted) as exc:
            return not_taken(exc)
        reading = dialogs.read_outcome(data, reference=form.subject, actor=who.user_id, rows=form.rows)

        def again(errors: Mapping[str, str]) -> dict[str, Any]:
            try:
                case = recording.case_of_form(services.sessions, form)
            except NotFound as exc:
                return dialogs.dialog_message(refused(exc))
            return dialogs.dialog_continue(TITLE, build(FormKind.OUTCOME, case, form.nonce, data, errors,
                                                        rows=form.rows), width="large")

        if not reading.ok:
            return again(reading.errors)
        directory.refresh_in_background()
        names = directory.names(wait_seconds=NAMES_WAIT)
        try:
            done = recording.record_outcome(services.sessions, services.engine, form, reading.value.form,
                                            services.terms, services.zone, names, directory, services.clock())
        except AlreadySubmitted as exc:
            return not_taken(exc)
        except InvalidInput as exc:
            return again(dialogs.errors_at_rows(exc.fields, reading.value.rows))
        except (NotAllowed, NotFound) as exc:
            return dialogs.dialog_message(refused(exc))
        log.info("outcome_recorded", extra={"event": "outcome_recorded", "case_ref": done.reference,
                                            "actions": len(done.action_ids), "inquiries": len(done.inquiry_ids)})
        after_answer("outcome_header", lambda: refresh_case_header(done.case_id))  # "Record outcome" goes
        return dialogs.dialog_message(recorded_text(done))

    def submit_fairness(who: Turn, data: Mapping[str, Any]) -> dict[str, Any]:
        try:
            form = form_of(services, data, who.user_id, who.conversation_id, FormKind.FAIRNESS)
        except (FormRefused, AlreadySubmitted) as exc:
            return not_taken(exc)
        reading = dialogs.read_fairness(data)

        def again(errors: Mapping[str, str]) -> dict[str, Any]:
            case = recording.case_of_form(services.sessions, form)
            return dialogs.dialog_continue(FAIRNESS_TITLE, build(FormKind.FAIRNESS, case, form.nonce, data, errors))

        if not reading.ok:
            return again(reading.errors)
        directory.refresh_in_background()
        names = directory.names(wait_seconds=NAMES_WAIT)
        try:
            saved = recording.revisit_fairness(services.sessions, services.engine, form, services.terms,
                                               services.zone, who.user_id, reading.value, names, services.clock())
        except AlreadySubmitted as exc:
            return not_taken(exc)
        except InvalidInput as exc:
            return again(exc.fields)
        except (NotAllowed, NotFound) as exc:
            return dialogs.dialog_message(refused(exc))
        model = {"reference": saved.reference, "actor_id": who.user_id, "inquiries": len(saved.inquiry_ids),
                 "owners": list(saved.owners), "revisit_action": REVISIT_FAIRNESS,
                 "answers": [{"title": PRINCIPLE_BY_KEY[k].title, "answer": ANSWER_LABELS[Answer(a)]}
                             for k, (a, _) in saved.answers.items()]}
        after_answer("fairness_note", lambda: tell(
            "fairness_note_failed", saved.reference,
            lambda: ctx.workspace().post(saved.room_id, Message(MessageKind.FAIRNESS_REVISITED, model))))
        text = f"Saved: the fairness answers for {saved.reference}. Earlier answers stay in the record."
        if saved.inquiry_ids:
            text += f" {len(saved.inquiry_ids)} new action point(s) for further inquiry, with the chair."
        return dialogs.dialog_message(text)

    def submit_action(who: Turn, data: Mapping[str, Any]) -> dict[str, Any]:
        try:
            form = form_of(services, data, who.user_id, who.conversation_id, FormKind.ACTION_ADD)
        except (FormRefused, AlreadySubmitted) as exc:
            return not_taken(exc)
        reading = dialogs.read_action_add(data)

        def again(errors: Mapping[str, str]) -> dict[str, Any]:
            case = recording.case_of_form(services.sessions, form)
            return dialogs.dialog_continue(ACTION_ADD_TITLE, build(FormKind.ACTION_ADD, case, form.nonce, data,
                                                                   errors))

        if not reading.ok:
            return again(reading.errors)
        directory.refresh_in_background()
        names = directory.names(wait_seconds=NAMES_WAIT)
        try:
            added = recording.add_action(services.sessions, services.engine, form, services.terms, services.zone,
                                         who.user_id, reading.value, names, directory, ACTION, services.clock())
        except AlreadySubmitted as exc:
            return not_taken(exc)
        except InvalidInput as exc:
            return again(exc.fields)
        except (NotAllowed, NotFound) as exc:
            return dialogs.dialog_message(refused(exc))
        model = {"reference": added.reference, "room_id": added.room_id, "actor_id": who.user_id,
                 "number": added.number, "description": added.description,
                 "due_text": f"{added.due_on:%A} {added.due_on.day} {added.due_on:%B %Y}", "reminded": True}

        def announce() -> None:
            refresh_case_header(added.case_id)
            tell("action_owner_dm_failed", added.reference, lambda: ctx.workspace().send_direct(
                added.owner_id, Message(MessageKind.ACTION_ASSIGNED, model)))

        after_answer("action_added", announce)
        owner = directory.display_name(added.owner_id) or "the owner"
        return dialogs.dialog_message(f"Added action point {added.number} on {added.reference} for {owner}, due "
                                      f"{model['due_text']}. I am telling them in their chat with me.")

    handlers: dict[str, Callable[[Turn, Mapping[str, Any]], dict[str, Any]]] = {
        ADD_ROW: add_row, SUBMIT: submit_outcome, FAIRNESS_SUBMIT: submit_fairness, ACTION_ADD_SUBMIT: submit_action}

    async def submitted(_turn: ActivityContext[Any], who: Turn, action: str, data: Mapping[str, Any]) -> Any:
        return await off_loop(lambda: handlers[action](who, data))

    on_submits(app, handlers, submitted)
