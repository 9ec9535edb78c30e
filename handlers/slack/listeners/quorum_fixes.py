"""The fixes offered with a pre-call quorum warning: invite a deputy, or proceed and record it."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.domain import attendance
from bot.domain.errors import InvalidInput, NotAllowed, NotFound, PlatformFailure
from bot.domain.notify import Message, MessageKind, attempt
from bot.services import Services
from handlers.slack import ids
from handlers.slack.modals import field_value, input_block, modal, option, plain
from handlers.slack.replies import refusal_text
from handlers.slack.workspace import SlackWorkspace

log = logging.getLogger(__name__)
SEAT_FIELD = "seat"


def invite_deputy_view(reference: str, seats: list[tuple[str, str]], proposed: str | None) -> dict[str, Any]:
    user: dict[str, Any] = {"type": "users_select", "placeholder": plain("Choose a person")}
    if proposed:
        user["initial_user"] = proposed
    seat_el: dict[str, Any] = {"type": "static_select", "options": [option(k, v) for k, v in seats]}
    if seats:
        seat_el["initial_option"] = option(*seats[0])
    return modal(ids.INVITE_DEPUTY_VIEW, "Invite a deputy", [
        input_block(SEAT_FIELD, "Standing in for", seat_el),
        input_block(ids.DEPUTY_FIELD, "Deputy", user,
                    hint="Someone on the roster whose role fits the member they stand in for. They are added to the "
                         "case channel."),
    ], submit="Invite", private_metadata=reference)


def _private(respond: Respond, exc: NotAllowed | NotFound) -> None:
    text = refusal_text(exc)
    respond(text=text, response_type="ephemeral", replace_original=False)


def register(app: App) -> None:
    @app.action(ids.QUORUM_INVITE_DEPUTY)
    def open_invite(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, services: Services) -> None:
        ack()
        reference = str(body["actions"][0].get("value", ""))
        try:
            with services.sessions() as session:
                choices = attendance.fill_choices(session, services.terms, reference, body["user"]["id"],
                                                  services.clock())
        except (NotAllowed, NotFound) as exc:
            _private(respond, exc)
            return
        if not choices.seats:
            respond(text="Every seat is already expected to be filled.", response_type="ephemeral",
                    replace_original=False)
            return
        client.views_open(trigger_id=body["trigger_id"],
                          view=invite_deputy_view(choices.reference, list(choices.seats), choices.proposed))

    @app.view(ids.INVITE_DEPUTY_VIEW)
    def save_invite(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
        reference = body["view"].get("private_metadata", "")
        values = body["view"]["state"]["values"]
        try:
            added = attendance.fill_seat(services.sessions, services.terms, reference, body["user"]["id"],
                                         field_value(values, SEAT_FIELD) or "", field_value(values, ids.DEPUTY_FIELD),
                                         services.clock(), people=services.directory)
        except InvalidInput as exc:
            ack(response_action="errors", errors={SEAT_FIELD if k == "seat" else ids.DEPUTY_FIELD: v
                                                  for k, v in exc.fields.items()})
            return
        except (NotAllowed, NotFound) as exc:
            ack(response_action="errors", errors={ids.DEPUTY_FIELD: exc.message[:150]})
            return
        ack()
        workspace = SlackWorkspace(client)
        attendance.announce_addition(workspace, added)
        try:
            attendance.refresh_board(services.sessions, services.engine, services.terms, added.case_id, workspace,
                                     services.zone)
        except PlatformFailure as exc:
            log.warning("board_update_failed", extra={"event": "board_update_failed", "case_ref": added.reference,
                                                      "error": exc.error})

    @app.action(ids.QUORUM_PROCEED)
    def proceed(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, services: Services) -> None:
        ack()
        reference = str(body["actions"][0].get("value", ""))
        user = body["user"]["id"]
        try:
            room, recorded = attendance.note_proceed(services.sessions, services.terms, reference, user,
                                                     services.clock())
        except (NotAllowed, NotFound) as exc:
            _private(respond, exc)
            return
        if not recorded:
            respond(text=f"Already recorded: the call for {reference} goes ahead and may be inquorate.",
                    response_type="ephemeral", replace_original=False)
            return
        failed: list[str] = []
        attempt("proceed_noted", failed, reference, lambda: SlackWorkspace(client).post(
            room, Message(MessageKind.PROCEED_NOTED, {"reference": reference, "user_id": user})))
        told = " The case channel could not be told; please say so there." if failed else ""
        respond(text=f"Recorded: the call for {reference} goes ahead and may be inquorate.{told}",
                response_type="ephemeral", replace_original=False)
