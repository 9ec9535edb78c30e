"""Attendance buttons on the board and in invitations, and the "who is your deputy?" modal."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.domain import attendance
from bot.domain.attendance import Reply
from bot.domain.errors import InvalidInput, NotAllowed, NotFound
from bot.services import Services
from handlers.slack import ids
from handlers.slack.modals import field_value, input_block, modal, plain
from handlers.slack.replies import refusal_text
from handlers.slack.workspace import SlackWorkspace

CONFIRMATIONS = {
    Reply.ATTENDING: "You are down as attending {ref}.",
    Reply.APOLOGIES: "Your apologies for {ref} are recorded.",
    Reply.DEPUTY: "Your deputy for {ref} is recorded.",
}


def deputy_view(reference: str) -> dict[str, Any]:
    element = {"type": "users_select", "placeholder": plain("Choose a person")}
    return modal(ids.DEPUTY_VIEW, "Send a deputy", [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"Who will attend *{reference}* in your place?"}},
        input_block(ids.DEPUTY_FIELD, "Deputy", element,
                    hint="Someone on the roster; for the chair, the deputy chair. They are added to the case "
                         "channel."),
    ], submit="Save", private_metadata=reference)


def _answer(services: Services, client: WebClient, reference: str, user_id: str, reply: Reply,
            deputy_id: str | None = None) -> str:
    """Record the answer, then invite and announce a new deputy and refresh the board; return the confirmation."""
    result = attendance.answer(services.sessions, services.terms, reference, user_id, reply, services.clock(),
                               services.zone, people=services.directory, deputy_id=deputy_id)
    attendance.announce_reply(services.sessions, services.engine, services.terms, SlackWorkspace(client),
                              services.zone, result)
    return CONFIRMATIONS[reply].format(ref=reference) if result.changed else \
        f"No change: that was already your answer for {reference}."


def register(app: App) -> None:
    def on_answer(reply: Reply) -> Any:
        def listener(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, services: Services) -> None:
            ack()
            reference = str(body["actions"][0].get("value", ""))
            try:
                text = _answer(services, client, reference, body["user"]["id"], reply)
            except (NotAllowed, NotFound) as exc:
                text = refusal_text(exc)
            respond(text=text, response_type="ephemeral", replace_original=False)

        return listener

    app.action(ids.ATTENDING)(on_answer(Reply.ATTENDING))
    app.action(ids.APOLOGIES)(on_answer(Reply.APOLOGIES))

    @app.action(ids.SENDING_DEPUTY)
    def choose_deputy(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond,
                      services: Services) -> None:
        ack()
        reference = str(body["actions"][0].get("value", ""))
        try:
            with services.sessions() as session:
                attendance.check_can_name_deputy(session, services.terms, reference, body["user"]["id"],
                                                 services.clock())
        except (NotAllowed, NotFound) as exc:
            text = refusal_text(exc)
            respond(text=text, response_type="ephemeral", replace_original=False)
            return
        client.views_open(trigger_id=body["trigger_id"], view=deputy_view(reference))

    @app.view(ids.DEPUTY_VIEW)
    def save_deputy(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
        view = body["view"]
        reference = view.get("private_metadata", "")
        deputy = field_value(view["state"]["values"], ids.DEPUTY_FIELD)
        try:
            text = _answer(services, client, reference, body["user"]["id"], Reply.DEPUTY, deputy_id=deputy)
        except InvalidInput as exc:
            ack(response_action="errors", errors=exc.fields)
            return
        except (NotAllowed, NotFound) as exc:
            ack(response_action="errors", errors={ids.DEPUTY_FIELD: exc.message[:150]})
            return
        ack()
        client.chat_postMessage(channel=body["user"]["id"], text=text)
