"""Reschedule or cancel a case: buttons on the case header (and the quorum warning) open a modal.

Permission is checked before the modal opens (a refusal is answered privately); the submission is
validated and written in one short transaction before the acknowledgement, so a bad field is shown
at the field and nothing is half-changed; telling people happens after the acknowledgement. Each
modal is a form record (bot/domain/forms.py): the case is kept server-side, and a submission counts once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, time
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.domain import rescheduling
from bot.domain.case_views import local_time_text
from bot.domain.errors import InvalidInput, NotAllowed, NotFound
from bot.domain.forms import AlreadySubmitted, FormKind, FormRefused
from bot.domain.rescheduling import Announced, CaseToAdminister
from bot.services import Services
from handlers.slack import ids
from handlers.slack.forms import answer_not_taken, form_of, open_modal
from handlers.slack.listeners.convene import DURATIONS
from handlers.slack.modals import field_value, input_block, message_modal, modal, option, plain
from handlers.slack.replies import refusal_text
from handlers.slack.workspace import SlackWorkspace

log = logging.getLogger(__name__)
T = TypeVar("T")


def reschedule_view(case: CaseToAdminister, zone: ZoneInfo) -> dict[str, Any]:
    """Date, time (in the organisation's zone) and duration, starting from the current ones."""
    local = case.call_at.astimezone(zone)
    durations = sorted({*DURATIONS, case.duration_minutes})
    duration_options = [option(str(d), f"{d} minutes") for d in durations]
    current = next(o for o in duration_options if o["value"] == str(case.duration_minutes))
    return modal(ids.RESCHEDULE_VIEW, "Reschedule the call", [
        {"type": "section", "text": {"type": "mrkdwn", "text": (
            f"Move the call for *{case.reference}* (now {local_time_text(case.call_at, zone)}). Every member is "
            "asked again whether they will attend, and the reminders follow the new time.")}},
        input_block(ids.CALL_DATE_FIELD, "New date of the call",
                    {"type": "datepicker", "initial_date": local.date().isoformat()}),
        input_block(ids.CALL_TIME_FIELD, f"New time of the call ({zone.key} time)",
                    {"type": "timepicker", "timezone": zone.key, "initial_time": f"{local:%H:%M}"}),
        input_block(ids.DURATION_FIELD, "Duration",
                    {"type": "static_select", "options": duration_options, "initial_option": current}),
    ], submit="Reschedule")


def cancel_view(case: CaseToAdminister) -> dict[str, Any]:
    element = {"type": "plain_text_input", "multiline": True, "max_length": rescheduling.REASON_LIMIT,
               "placeholder": plain("Why the call is not needed, or will not take place")}
    return modal(ids.CANCEL_VIEW, "Cancel the call", [
        {"type": "section", "text": {"type": "mrkdwn", "text": (
            f"Cancel the call for *{case.reference}*. The members are told, with your reason, and no more "
            "reminders are sent. This cannot be undone: convene a new group if one is needed later.")}},
        input_block(ids.CANCEL_REASON_FIELD, "Reason", element,
                    hint="The members see this. Refer to the staff member by case number or initials only."),
    ], submit="Cancel the call", close="Keep the call")


def _parsed(values: dict[str, Any], field: str, parse: Callable[[str], T]) -> T | None:
    raw = field_value(values, field)
    try:
        return parse(raw) if raw else None
    except ValueError:
        return None


def _open(body: dict[str, Any], client: WebClient, respond: Respond, services: Services,
          build: Callable[[CaseToAdminister], dict[str, Any]], kind: FormKind) -> None:
    """Check the clicker may act on the case, then open the modal (the trigger lasts 3 s)."""
    reference = str(body["actions"][0].get("value", ""))
    user_id = body["user"]["id"]
    try:
        case = rescheduling.case_to_administer(services.sessions, services.terms, reference, user_id)
        view, subject = build(case), case.reference
    except (NotAllowed, NotFound) as exc:
        respond(text=refusal_text(exc), response_type="ephemeral", replace_original=False)
        return
    open_modal(client, services, body["trigger_id"], view, kind=kind, user_id=user_id, subject=subject)


def _outcome_text(done: str, announced: Announced) -> str:
    text = done
    if announced.undelivered:
        people = ", ".join(f"<@{u}>" for u in announced.undelivered)
        text += f"\n:warning: I could not tell {people} by direct message; the case channel says who."
    if announced.failed_steps:
        text += f"\n:warning: Slack refused: {', '.join(announced.failed_steps)}."
    return text


def _show(client: WebClient, view_id: str | None, user_id: str, title: str, text: str) -> None:
    try:
        client.views_update(view_id=view_id, view=message_modal(title, text))
    except SlackApiError:
        # The modal was closed: tell them in the app's direct messages instead.
        client.chat_postMessage(channel=user_id, text=text)


def register(app: App) -> None:
    @app.action(ids.CASE_RESCHEDULE)
    def open_reschedule(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond,
                        services: Services) -> None:
        ack()
        _open(body, client, respond, services, lambda case: reschedule_view(case, services.zone), FormKind.RESCHEDULE)

    @app.action(ids.CASE_CANCEL)
    def open_cancel(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, services: Services) -> None:
        ack()
        _open(body, client, respond, services, cancel_view, FormKind.CANCEL)
        # The names used to refuse a staff member's name in the reason: loaded while they type.
        services.directory.refresh_in_background()

    @app.view(ids.RESCHEDULE_VIEW)
    def submit_reschedule(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
        user_id = body["user"]["id"]
        try:
            form = form_of(services, body, FormKind.RESCHEDULE)
        except (FormRefused, AlreadySubmitted) as exc:
            answer_not_taken(ack, exc)
            return
        reference = form.subject
        values = body["view"]["state"]["values"]
        call_date = _parsed(values, ids.CALL_DATE_FIELD, date.fromisoformat)
        call_time = _parsed(values, ids.CALL_TIME_FIELD, time.fromisoformat)
        duration = _parsed(values, ids.DURATION_FIELD, int)
        now = services.clock()
        try:
            result = rescheduling.submit_reschedule(services.sessions, services.engine, form, services.terms, user_id,
                                                    call_date, call_time, duration, now, services.zone)
        except AlreadySubmitted as exc:
            answer_not_taken(ack, exc)
            return
        except InvalidInput as exc:
            ack(response_action="errors", errors=exc.fields)
            return
        except (NotAllowed, NotFound) as exc:
            ack(response_action="update", view=message_modal("Not rescheduled", refusal_text(exc)))
            return
        ack(response_action="update", view=message_modal("Reschedule the call", (
            f":hourglass_flowing_sand: *{reference}* is moved. Telling the members; this takes a few seconds.")))
        announced = rescheduling.announce_rescheduled(services.sessions, services.engine, services.terms,
                                                      SlackWorkspace(client), services.zone, result)
        done = (f":white_check_mark: *{reference}* is moved to {local_time_text(result.call_at, services.zone)}. "
                "The members have been asked again whether they will attend; answer on the board too.")
        _show(client, form.view_id, user_id, "Rescheduled", _outcome_text(done, announced))

    @app.view(ids.CANCEL_VIEW)
    def submit_cancel(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
        user_id = body["user"]["id"]
        try:
            form = form_of(services, body, FormKind.CANCEL)
        except (FormRefused, AlreadySubmitted) as exc:
            answer_not_taken(ack, exc)
            return
        reference = form.subject
        reason = field_value(body["view"]["state"]["values"], ids.CANCEL_REASON_FIELD) or ""
        # Normally loaded when the modal opened; after a restart, load it now (bounded wait).
        services.directory.refresh_in_background()
        names = services.directory.names(wait_seconds=1.5)
        now = services.clock()
        try:
            result = rescheduling.submit_cancel(services.sessions, services.engine, form, services.terms, user_id,
                                                str(reason), now, directory_names=names)
        except AlreadySubmitted as exc:
            answer_not_taken(ack, exc)
            return
        except InvalidInput as exc:
            ack(response_action="errors", errors=exc.fields)
            return
        except (NotAllowed, NotFound) as exc:
            ack(response_action="update", view=message_modal("Not cancelled", refusal_text(exc)))
            return
        ack(response_action="update", view=message_modal("Cancel the call", (
            f":hourglass_flowing_sand: *{reference}* is cancelled. Telling the members; this takes a few seconds.")))
        announced = rescheduling.announce_cancelled(services.sessions, services.engine, services.terms,
                                                    SlackWorkspace(client), services.zone, result, now)
        done = f":white_check_mark: *{reference}* is cancelled. The members have been told, with your reason."
        _show(client, form.view_id, user_id, "Cancelled", _outcome_text(done, announced))
