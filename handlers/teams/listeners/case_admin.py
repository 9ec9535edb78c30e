"""Reschedule or cancel a case on Teams: the case header's (and the quorum warning's) buttons open a dialog.

The twin of handlers/slack/listeners/case_admin.py. Opening (task/fetch, dialog_id case_reschedule /
case_cancel): the card must be the case's own in its chat (handlers/teams/forms.check_case_card), then the
domain says whether the person may (a refusal is the dialog's message), then the form is recorded and the
dialog shown carrying only its nonce. Submitting (task/submit): the form must be the person's, from the same
chat, not yet submitted; then one domain call (rescheduling.submit_reschedule / submit_cancel) validates and
writes, so a bad field is shown at the field (the dialog built again with the values kept) and nothing is
half-changed. The dialog then closes with "telling the members"; telling them (header and board updated in
place, each member's 1:1 chat, the case chat) runs after the answer, and the result reaches the person in
their 1:1 chat.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from microsoft_teams.apps import ActivityContext, App

from bot.domain import rescheduling
from bot.domain.case_views import local_time_text
from bot.domain.errors import InvalidInput, NotAllowed, NotFound
from bot.domain.forms import AlreadySubmitted, FormKind, FormRefused
from bot.domain.rescheduling import Announced, CaseToAdminister
from handlers.teams.context import TeamsContext
from handlers.teams.dialogs import cancel_dialog, dialog_continue, dialog_message, read_cancel, read_reschedule
from handlers.teams.dialogs import reschedule_dialog as build_reschedule
from handlers.teams.dialogs.case_admin import CANCEL_SUBMIT, CANCEL_TITLE, RESCHEDULE_SUBMIT, RESCHEDULE_TITLE
from handlers.teams.forms import check_case_card, form_of, not_taken, open_form
from handlers.teams.private import in_background, tell
from handlers.teams.replies import refusal_text

log = logging.getLogger(__name__)

CASE_RESCHEDULE = "case_reschedule"  # the Slack action ids (handlers/slack/ids.py), the dialogs' dialog_id
CASE_CANCEL = "case_cancel"


def who_and_where(turn: ActivityContext[Any]) -> tuple[str, str, str]:
    """(signed user id, conversation id, conversation type) of an invoke; never from its data."""
    activity = turn.activity
    sender, conversation = activity.from_, activity.conversation
    user = (sender.aad_object_id if sender is not None else None) or ""
    return user, conversation.id if conversation else "", (conversation.conversation_type if conversation else "") or ""


def dialog_data(turn: ActivityContext[Any]) -> Mapping[str, Any]:
    value = getattr(turn.activity, "value", None)
    data = getattr(value, "data", None)
    return data if isinstance(data, Mapping) else {}


def outcome_text(done: str, announced: Announced, names: Callable[[str], str | None]) -> str:
    """Slack's _outcome_text: who could not be told, and which steps Teams refused."""
    text = done
    if announced.undelivered:
        people = ", ".join(names(u) or "a member" for u in announced.undelivered)
        text += f"\n\n⚠️ I could not tell {people} by direct message; the case chat says who."
    if announced.failed_steps:
        text += f"\n\n⚠️ Teams refused: {', '.join(announced.failed_steps)}."
    return text


async def open_case_dialog(turn: ActivityContext[Any], ctx: TeamsContext, kind: FormKind, title: str,
                           build: Callable[[str, CaseToAdminister], dict[str, Any]]) -> dict[str, Any]:
    """The card must be the case's, the person allowed; then the form is recorded and the dialog shown."""
    services = ctx.services
    user, conversation, conversation_type = who_and_where(turn)
    reference = str(dialog_data(turn).get("value") or "")[:40]

    def check() -> CaseToAdminister:
        check_case_card(services, reference, conversation_id=conversation, conversation_type=conversation_type,
                        reply_to_id=turn.activity.reply_to_id)
        return rescheduling.case_to_administer(services.sessions, services.terms, reference, user)

    try:
        case = await asyncio.to_thread(check)
    except (NotAllowed, NotFound) as exc:
        return dialog_message(refusal_text(exc, ctx.directory.display_name, markdown=False))
    nonce = await asyncio.to_thread(open_form, services, kind=kind, user_id=user, subject=case.reference,
                                    conversation_id=conversation)
    return dialog_continue(title, build(nonce, case))


def register(app: App, ctx: TeamsContext) -> None:
    services = ctx.services
    names = ctx.directory.display_name

    def reschedule_card(nonce: str, case: CaseToAdminister, values: Mapping[str, Any] = {},
                        errors: Mapping[str, str] = {}) -> dict[str, Any]:
        return build_reschedule(values, errors, nonce=nonce, case=case, zone=services.zone)

    def cancel_card(nonce: str, case: CaseToAdminister, values: Mapping[str, Any] = {},
                    errors: Mapping[str, str] = {}) -> dict[str, Any]:
        return cancel_dialog(values, errors, nonce=nonce, case=case)

    @app.on_dialog_open(CASE_RESCHEDULE)
    async def open_reschedule(turn: ActivityContext[Any]) -> dict[str, Any]:
        return await open_case_dialog(turn, ctx, FormKind.RESCHEDULE, RESCHEDULE_TITLE, reschedule_card)

    @app.on_dialog_open(CASE_CANCEL)
    async def open_cancel(turn: ActivityContext[Any]) -> dict[str, Any]:
        # The names used to refuse a staff member's name in the reason: loaded while they type.
        ctx.directory.refresh_in_background()
        return await open_case_dialog(turn, ctx, FormKind.CANCEL, CANCEL_TITLE, cancel_card)

    async def again(title: str, build: Callable[..., dict[str, Any]], nonce: str, reference: str, user: str,
                    data: Mapping[str, Any], errors: Mapping[str, str]) -> dict[str, Any]:
        """The dialog built again with what was typed and each error under its field."""
        try:
            case = await asyncio.to_thread(rescheduling.case_to_administer, services.sessions, services.terms,
                                           reference, user)
        except (NotAllowed, NotFound) as exc:
            return dialog_message(refusal_text(exc, names, markdown=False))
        return dialog_continue(title, build(nonce, case, data, errors))

    @app.on_dialog_submit(RESCHEDULE_SUBMIT)
    async def submit_reschedule(turn: ActivityContext[Any]) -> dict[str, Any]:
        user, conversation, _ = who_and_where(turn)
        data = dialog_data(turn)
        try:
            form = await asyncio.to_thread(form_of, services, data, user, conversation, FormKind.RESCHEDULE)
        except (FormRefused, AlreadySubmitted) as exc:
            return not_taken(exc)
        reading = read_reschedule(data)
        if not reading.ok:
            return await again(RESCHEDULE_TITLE, reschedule_card, form.nonce, form.subject, user, data, reading.errors)
        when = reading.value
        now = services.clock()
        try:
            result = await asyncio.to_thread(
                rescheduling.submit_reschedule, services.sessions, services.engine, form, services.terms, user,
                when.call_date, when.call_time, when.duration_minutes, now, services.zone)
        except AlreadySubmitted as exc:
            return not_taken(exc)
        except InvalidInput as exc:
            return await again(RESCHEDULE_TITLE, reschedule_card, form.nonce, form.subject, user, data, exc.fields)
        except (NotAllowed, NotFound) as exc:
            return dialog_message(refusal_text(exc, names, markdown=False))
        log.info("case_rescheduled", extra={"event": "case_rescheduled", "case_ref": result.reference})

        async def announce() -> None:
            announced = await asyncio.to_thread(
                rescheduling.announce_rescheduled, services.sessions, services.engine, services.terms,
                ctx.workspace(), services.zone, result)
            done = (f"✅ **{result.reference}** is moved to {local_time_text(result.call_at, services.zone)}. "
                    "The members have been asked again whether they will attend; answer on the board too.")
            await tell(ctx, user, outcome_text(done, announced, names), app=app)

        in_background(announce(), "announce_rescheduled")
        return dialog_message(f"{result.reference} is moved. Telling the members; this takes a few seconds.")

    @app.on_dialog_submit(CANCEL_SUBMIT)
    async def submit_cancel(turn: ActivityContext[Any]) -> dict[str, Any]:
        user, conversation, _ = who_and_where(turn)
        data = dialog_data(turn)
        try:
            form = await asyncio.to_thread(form_of, services, data, user, conversation, FormKind.CANCEL)
        except (FormRefused, AlreadySubmitted) as exc:
            return not_taken(exc)
        reading = read_cancel(data)
        if not reading.ok:
            return await again(CANCEL_TITLE, cancel_card, form.nonce, form.subject, user, data, reading.errors)
        # Normally loaded when the dialog opened; after a restart, load it now (bounded wait).
        ctx.directory.refresh_in_background()
        directory_names = await asyncio.to_thread(ctx.directory.names, 1.5)
        now = services.clock()
        try:
            result = await asyncio.to_thread(
                lambda: rescheduling.submit_cancel(services.sessions, services.engine, form, services.terms, user,
                                                   reading.value, now, directory_names=directory_names))
        except AlreadySubmitted as exc:
            return not_taken(exc)
        except InvalidInput as exc:
            return await again(CANCEL_TITLE, cancel_card, form.nonce, form.subject, user, data, exc.fields)
        except (NotAllowed, NotFound) as exc:
            return dialog_message(refusal_text(exc, names, markdown=False))
        log.info("case_cancelled", extra={"event": "case_cancelled", "case_ref": result.reference})

        async def announce() -> None:
            announced = await asyncio.to_thread(
                rescheduling.announce_cancelled, services.sessions, services.engine, services.terms,
                ctx.workspace(), services.zone, result, now)
            done = f"✅ **{result.reference}** is cancelled. The members have been told, with your reason."
            await tell(ctx, user, outcome_text(done, announced, names), app=app)

        in_background(announce(), "announce_cancelled")
        return dialog_message(f"{result.reference} is cancelled. Telling the members; this takes a few seconds.")
