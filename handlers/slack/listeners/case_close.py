"""Close a case: the header's "Close case" button and `/pmccg close <case>` open one modal (bot/domain/closing.py).

Permission is checked before the modal opens (a refusal is answered privately). The modal says
whether a reason is required (action points still open, or no outcome recorded). The submission is
one domain call (bot/domain/closing.py `submit_close`: the case's lock, the form counted once, one short
transaction) before the acknowledgement, so a missing reason or a name in it is shown at the field; the
summary, header and archiving happen after the acknowledgement. The modal is a form record
(bot/domain/forms.py): the case it closes is kept server-side, and it counts once.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.domain import closing
from bot.domain.closing import CloseCheck
from bot.domain.errors import InvalidInput, NotAllowed, NotFound
from bot.domain.forms import AlreadySubmitted, FormKind, FormRefused
from bot.services import Services
from handlers.slack import ids
from handlers.slack.forms import answer_not_taken, form_of, open_modal
from handlers.slack.modals import field_value, input_block, message_modal, modal, plain
from handlers.slack.replies import refusal_text
from handlers.slack.workspace import SlackWorkspace

log = logging.getLogger(__name__)


def close_view(check: CloseCheck) -> dict[str, Any]:
    if check.reason_required:
        intro = f"{closing.reason_prompt(check)} The reason is required and kept in the case record."
    else:
        intro = "Every action point is done or dropped. A closing note is optional."
    element = {"type": "plain_text_input", "multiline": True, "max_length": closing.REASON_LIMIT,
               "placeholder": plain("Why the case is closed now")}
    return modal(ids.CLOSE_VIEW, "Close the case", [
        {"type": "section", "text": {"type": "mrkdwn", "text": (
            f"Close *{check.reference}*. {intro}\n\nA closing summary is posted in the case channel and no more "
            "reminders are sent for it. This cannot be undone.")}},
        input_block(ids.CLOSE_REASON_FIELD, "Reason" if check.reason_required else "Closing note",
                    element, optional=not check.reason_required,
                    hint="The members see this. Refer to the staff member by case number only."),
    ], submit="Close case", close="Keep it open")


def open_close(client: WebClient, trigger_id: str, reference: str, user_id: str, services: Services) -> str | None:
    """Open the modal if `user_id` may close the case now; return a refusal to show privately, or None."""
    try:
        with services.sessions() as session:
            check = closing.check_can_close(session, services.terms, reference, user_id)
    except (NotAllowed, NotFound) as exc:
        return refusal_text(exc)
    open_modal(client, services, trigger_id, close_view(check), kind=FormKind.CLOSE, user_id=user_id,
               subject=check.reference)
    # The names used to refuse a staff member's name in the reason: loaded while they type.
    services.directory.refresh_in_background()
    return None


def close_command(command: dict[str, Any], client: WebClient, respond: Respond, services: Services) -> None:
    """`/pmccg close <case>` (a SUBCOMMANDS entry in handlers/slack/listeners/commands.py)."""
    words = (command.get("text") or "").split()
    if len(words) < 2:
        respond(text=f"Which case? Type `{ids.COMMAND} close PMCCG-2026-001` with the case reference.",
                response_type="ephemeral")
        return
    refusal = open_close(client, command["trigger_id"], words[1], command["user_id"], services)
    if refusal:
        respond(text=refusal, response_type="ephemeral")


def register(app: App) -> None:
    @app.action(ids.CASE_CLOSE)
    def open_from_header(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond,
                         services: Services) -> None:
        ack()
        reference = str(body["actions"][0].get("value", ""))
        refusal = open_close(client, body["trigger_id"], reference, body["user"]["id"], services)
        if refusal:
            respond(text=refusal, response_type="ephemeral", replace_original=False)

    @app.view(ids.CLOSE_VIEW)
    def submit_close(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
        user_id = body["user"]["id"]
        try:
            form = form_of(services, body, FormKind.CLOSE)
        except (FormRefused, AlreadySubmitted) as exc:
            answer_not_taken(ack, exc)
            return
        reason = field_value(body["view"]["state"]["values"], ids.CLOSE_REASON_FIELD) or ""
        # Normally loaded when the modal opened; after a restart, load it now (bounded wait).
        services.directory.refresh_in_background()
        names = services.directory.names(wait_seconds=1.5)
        now = services.clock()
        try:
            result = closing.submit_close(services.sessions, services.engine, form, services.terms, user_id,
                                          str(reason), now, services.zone, directory_names=names)
        except AlreadySubmitted as exc:
            answer_not_taken(ack, exc)
            return
        except InvalidInput as exc:
            ack(response_action="errors", errors=exc.fields)
            return
        except (NotAllowed, NotFound) as exc:
            text = refusal_text(exc)
            ack(response_action="update", view=message_modal("Not closed", text))
            return
        ack(response_action="update", view=message_modal("Close the case", (
            f":hourglass_flowing_sand: *{result.reference}* is closed. Posting the closing summary.")))
        announced = closing.announce_closed(services.sessions, services.terms, SlackWorkspace(client),
                                            services.zone, result, services.settings.reporting)
        text = f":white_check_mark: *{result.reference}* is closed. The closing summary is in the case channel."
        if announced.failed_steps:
            text += f"\n:warning: Slack refused: {', '.join(announced.failed_steps)}."
        try:
            client.views_update(view_id=form.view_id, view=message_modal("Closed", text))
        except SlackApiError:
            # The modal was closed: tell them in the app's direct messages instead.
            client.chat_postMessage(channel=user_id, text=text)
