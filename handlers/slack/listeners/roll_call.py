"""Roll-call buttons at the call ("I'm on the call", "Mark someone present", "Record the quorum result")
and, after it, "Correct the roll-call" (the chair or governance, with a reason)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.domain import cases, roll_call
from bot.domain.errors import InvalidInput, NotAllowed, NotFound, PlatformFailure
from bot.domain.notify import Message, MessageKind
from bot.domain.roll_call import RollCallView
from bot.services import Services
from handlers.slack import ids
from handlers.slack.modals import field_value, input_block, modal, option, plain
from handlers.slack.replies import refusal_text
from handlers.slack.workspace import SlackWorkspace

log = logging.getLogger(__name__)


def mark_view(reference: str) -> dict[str, Any]:
    element = {"type": "users_select", "placeholder": plain("Choose a person")}
    return modal(ids.ROLL_CALL_MARK_VIEW, "Mark someone present", [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"Who has joined the call for *{reference}*?"}},
        input_block(ids.ROLL_CALL_PERSON, "Person", element,
                    hint="For someone who joined by phone and cannot press the button themselves."),
    ], submit="Mark present", private_metadata=reference)


PRESENT, ABSENT = "present", "absent"


def correct_view(reference: str) -> dict[str, Any]:
    presence = {"type": "radio_buttons", "options": [option(PRESENT, "Was on the call"),
                                                     option(ABSENT, "Was not on the call")]}
    reason = {"type": "plain_text_input", "multiline": True, "max_length": roll_call.CORRECTION_REASON_LIMIT}
    return modal(ids.ROLL_CALL_CORRECT_VIEW, "Correct the roll-call", [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"Correct who was on the call for *{reference}*."}},
        input_block(ids.ROLL_CALL_PERSON, "Person", {"type": "users_select", "placeholder": plain("Choose a person")}),
        input_block(ids.ROLL_CALL_PRESENT_FIELD, "Attendance", presence),
        input_block(ids.ROLL_CALL_REASON_FIELD, "Reason for the correction", reason,
                    hint="Kept in the case record. Refer to the staff member by case number only."),
    ], submit="Correct", private_metadata=reference)


def _capacity_text(view: RollCallView, user_id: str) -> str:
    row = view.row(user_id)
    if row is None:
        return "present"
    if row.capacity == roll_call.DEPUTY:
        return f"present as deputy for <@{row.deputy_for}>"
    if row.capacity == roll_call.GUEST:
        return "present as a guest" + ("" if row.counted else " (not counted towards quorum)")
    return "present as a member"


def _refresh(services: Services, client: WebClient, view: RollCallView) -> None:
    try:
        roll_call.refresh_roll_call(services.sessions, services.engine, services.terms, view.case_id,
                                    SlackWorkspace(client), services.zone)
    except PlatformFailure as exc:
        log.warning("roll_call_update_failed", extra={"event": "roll_call_update_failed",
                                                      "case_ref": view.reference, "error": exc.error})


def _mark(services: Services, client: WebClient, reference: str, user_id: str, marked_by: str) -> str:
    """Record the mark and refresh the roll-call; return the confirmation to show privately."""
    view = roll_call.mark(services.sessions, services.terms, reference, user_id, marked_by, services.clock(),
                          services.zone)
    if not view.changed:
        who = "You were" if user_id == marked_by else f"<@{user_id}> was"
        return f"No change: {who} already marked present on {reference}."
    _refresh(services, client, view)
    who = "You are" if user_id == marked_by else f"<@{user_id}> is"
    return f"{who} marked {_capacity_text(view, user_id)} on {reference}."


def _record(services: Services, client: WebClient, reference: str, actor: str) -> str:
    """Record the quorum result, post it in the case channel and refresh the roll-call."""
    view = roll_call.record(services.sessions, services.terms, reference, actor, services.clock(), services.zone)
    outcome = "quorate" if view.recorded_quorate else f"not quorate ({view.recorded_detail})"
    if not view.changed:
        return f"No change: {reference} is already recorded as {outcome}."
    try:
        SlackWorkspace(client).post(view.room_id, Message(MessageKind.ROLL_CALL_RESULT, view))
    except PlatformFailure as exc:
        # The result is on the case either way; the post is the announcement.
        log.warning("roll_call_result_post_failed", extra={"event": "roll_call_result_post_failed",
                                                           "case_ref": reference, "error": exc.error})
    _refresh(services, client, view)
    return f"Recorded: {reference} was {outcome}."


def register(app: App) -> None:
    @app.action(ids.ROLL_CALL_PRESENT)
    def on_the_call(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond,
                    services: Services) -> None:
        ack()
        reference = str(body["actions"][0].get("value", ""))
        user_id = body["user"]["id"]
        try:
            text = _mark(services, client, reference, user_id, user_id)
        except (NotAllowed, NotFound) as exc:
            text = refusal_text(exc)
        respond(text=text, response_type="ephemeral", replace_original=False)

    @app.action(ids.ROLL_CALL_MARK_OTHER)
    def choose_person(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond,
                      services: Services) -> None:
        ack()
        reference = str(body["actions"][0].get("value", ""))
        try:
            with services.sessions() as session:
                case = cases.find_case(session, reference)
                roll_call.check_can_mark_others(session, services.terms, case, body["user"]["id"], services.clock(),
                                                services.zone)
        except (NotAllowed, NotFound) as exc:
            respond(text=refusal_text(exc), response_type="ephemeral", replace_original=False)
            return
        client.views_open(trigger_id=body["trigger_id"], view=mark_view(reference))

    @app.view(ids.ROLL_CALL_MARK_VIEW)
    def save_person(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
        reference = body["view"].get("private_metadata", "")
        person = field_value(body["view"]["state"]["values"], ids.ROLL_CALL_PERSON)
        chair = body["user"]["id"]
        if not person:
            ack(response_action="errors", errors={ids.ROLL_CALL_PERSON: "Choose who joined the call."})
            return
        try:
            view = roll_call.mark(services.sessions, services.terms, reference, person, chair, services.clock(),
                                  services.zone, people=services.directory)
        except InvalidInput as exc:
            ack(response_action="errors", errors={ids.ROLL_CALL_PERSON: exc.fields.get("person", exc.message)})
            return
        except (NotAllowed, NotFound) as exc:
            ack(response_action="errors", errors={ids.ROLL_CALL_PERSON: exc.message[:150]})
            return
        ack()
        if view.changed:
            _refresh(services, client, view)
            text = f"<@{person}> is marked {_capacity_text(view, person)} on {reference}."
        else:
            text = f"No change: <@{person}> was already marked present on {reference}."
        try:
            client.chat_postEphemeral(channel=view.room_id, user=chair, text=text)
        except (SlackApiError, SlackClientError, OSError):  # the confirmation is a courtesy
            log.warning("roll_call_confirmation_failed", extra={"event": "roll_call_confirmation_failed",
                                                                "case_ref": reference})

    @app.action(ids.ROLL_CALL_RECORD)
    def record(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, services: Services) -> None:
        ack()
        reference = str(body["actions"][0].get("value", ""))
        try:
            text = _record(services, client, reference, body["user"]["id"])
        except (NotAllowed, NotFound) as exc:
            text = refusal_text(exc)
        respond(text=text, response_type="ephemeral", replace_original=False)

    @app.action(ids.ROLL_CALL_CORRECT)
    def choose_correction(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond,
                          services: Services) -> None:
        ack()
        reference = str(body["actions"][0].get("value", ""))
        try:
            with services.sessions() as session:
                case = roll_call.check_can_correct(session, services.terms, reference, body["user"]["id"],
                                                   services.clock())
                reference = case.reference
        except (NotAllowed, NotFound) as exc:
            respond(text=refusal_text(exc), response_type="ephemeral", replace_original=False)
            return
        client.views_open(trigger_id=body["trigger_id"], view=correct_view(reference))
        services.directory.refresh_in_background()  # the names refused in the reason

    @app.view(ids.ROLL_CALL_CORRECT_VIEW)
    def save_correction(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
        values = body["view"]["state"]["values"]
        presence = field_value(values, ids.ROLL_CALL_PRESENT_FIELD)
        form = roll_call.CorrectionForm(
            reference=body["view"].get("private_metadata", ""), actor=body["user"]["id"],
            person=field_value(values, ids.ROLL_CALL_PERSON),
            present={PRESENT: True, ABSENT: False}.get(presence) if isinstance(presence, str) else None,
            reason=field_value(values, ids.ROLL_CALL_REASON_FIELD) or "")
        services.directory.refresh_in_background()
        try:
            corrected = roll_call.correct_roll_call(services.sessions, services.terms, form, services.clock(),
                                                    services.zone, people=services.directory,
                                                    directory_names=services.directory.names(wait_seconds=1.0))
        except InvalidInput as exc:
            ack(response_action="errors", errors=exc.fields)
            return
        except (NotAllowed, NotFound) as exc:
            ack(response_action="errors", errors={ids.ROLL_CALL_PERSON: exc.message[:150]})
            return
        ack()
        roll_call.announce_correction(services.sessions, services.engine, services.terms, SlackWorkspace(client),
                                      services.zone, corrected)
