"""Attendance buttons on the board and in invitations, and the "who is your deputy?" modal.

A button's value names the case and the schedule version it was sent for (bot/domain/attendance.py); the
deputy modal carries it on in its private metadata, so a deputy named on an out-of-date invitation
is refused like a click on it. After the answer, the board and the member's own direct messages are
redrawn (bot/attendance.announce_reply) and the member is told privately what was recorded.
"""

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


def deputy_view(button: attendance.AnswerButton) -> dict[str, Any]:
    element = {"type": "users_select", "placeholder": plain("Choose a person")}
    carried = (attendance.answer_value(button.reference, button.version, board=button.on_board)
               if button.version is not None else button.reference)
    return modal(ids.DEPUTY_VIEW, "Send a deputy", [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"Who will attend *{button.reference}* in your place?"}},
        input_block(ids.DEPUTY_FIELD, "Deputy", element,
                    hint="Someone on the roster; for the chair, the deputy chair. They are added to the case "
                         "channel."),
    ], submit="Save", private_metadata=carried)


def _record(services: Services, button: attendance.AnswerButton, user_id: str, reply: Reply,
            deputy_id: str | None = None) -> attendance.ReplyRecorded:
    return attendance.answer(services.sessions, services.terms, button.reference, user_id, reply, services.clock(),
                             services.zone, people=services.directory, deputy_id=deputy_id, button=button)


def _announce(services: Services, client: WebClient, result: attendance.ReplyRecorded, reply: Reply) -> str:
    """After the commit: invite and announce a new deputy, redraw the board and the member's direct
    messages; return the confirmation (a redrawing Slack refused does not change it: the answer stands)."""
    attendance.announce_reply(services.sessions, services.engine, services.terms, SlackWorkspace(client),
                              services.zone, result)
    return CONFIRMATIONS[reply].format(ref=result.reference) if result.changed else \
        f"No change: that was already your answer for {result.reference}."


def register(app: App) -> None:
    def on_answer(reply: Reply) -> Any:
        def listener(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, services: Services) -> None:
            ack()
            button = attendance.parse_answer_value(str(body["actions"][0].get("value", "")))
            try:
                text = _announce(services, client, _record(services, button, body["user"]["id"], reply), reply)
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
        button = attendance.parse_answer_value(str(body["actions"][0].get("value", "")))
        try:
            with services.sessions() as session:
                attendance.check_can_name_deputy(session, services.terms, button.reference, body["user"]["id"],
                                                 services.clock(), services.zone, button)
        except (NotAllowed, NotFound) as exc:
            text = refusal_text(exc)
            respond(text=text, response_type="ephemeral", replace_original=False)
            return
        client.views_open(trigger_id=body["trigger_id"], view=deputy_view(button))

    @app.view(ids.DEPUTY_VIEW)
    def save_deputy(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
        view = body["view"]
        button = attendance.parse_answer_value(str(view.get("private_metadata", "")))
        deputy = field_value(view["state"]["values"], ids.DEPUTY_FIELD)
        try:
            result = _record(services, button, body["user"]["id"], Reply.DEPUTY, deputy_id=deputy)
        except InvalidInput as exc:
            ack(response_action="errors", errors=exc.fields)
            return
        except (NotAllowed, NotFound) as exc:
            ack(response_action="errors", errors={ids.DEPUTY_FIELD: exc.message[:150]})
            return
        ack()  # recorded: telling people (Slack calls, however slow) comes after the acknowledgement
        text = _announce(services, client, result, Reply.DEPUTY)
        client.chat_postMessage(channel=body["user"]["id"], text=text)
