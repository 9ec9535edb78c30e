"""Action point buttons (Done / Add an update / New due date) and `/pmccg actions`.

The buttons sit on each item of a reminder digest and of the private list. A click changes the
item through bot/domain/action_reminders.py and then re-renders the clicked message in place for the
clicker. Which message that is comes from what the bot stored (bot/domain/forms.py): a reminder's buttons
carry its ledger id, which must be a reminder the bot sent to the clicker (chat.update there); the
private list can only be replaced through its response URL, used only on Slack's host. A form keeps
that origin in its server-side record, never in private_metadata.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from slack_sdk.webhook import WebhookClient

from bot.domain import action_points, action_reminders, forms
from bot.domain.action_reminders import ItemToChange
from bot.domain.agenda import split_text
from bot.domain.errors import InvalidInput, NotAllowed, NotFound, PlatformFailure
from bot.domain.forms import AlreadySubmitted, FormKind, FormRefused, Origin, ParsedValue, parse_button_value
from bot.domain.notify import Message
from bot.services import Services
from handlers.slack import ids
from handlers.slack.forms import answer_not_taken, form_of, open_modal, reply_hosts
from handlers.slack.header import refresh_case_header
from handlers.slack.modals import field_value, input_block, message_modal, modal, plain
from handlers.slack.replies import refusal_text
from handlers.slack.workspace import SLACK_BUDGET, SlackWorkspace, rendered

log = logging.getLogger(__name__)

DIGEST_KINDS = (action_reminders.DIGEST,)


def _value(body: dict[str, Any]) -> ParsedValue:
    """The clicked button's value as the bot wrote it: the action point id and, on a reminder, its ledger id."""
    actions = body.get("actions") or [{}]
    parsed = parse_button_value(actions[0].get("value") if isinstance(actions[0], dict) else None)
    if parsed is None:
        raise NotFound("That action point no longer exists.")
    return parsed


def _click_origin(services: Services, body: dict[str, Any], user_id: str, delivery_id: int | None) -> Origin:
    """Where the click writes afterwards, from what the bot stored (bot/domain/forms.py click_origin)."""
    container = body.get("container") if isinstance(body.get("container"), dict) else {}
    with services.sessions() as session:
        return forms.click_origin(session, user_id=user_id, delivery_id=delivery_id,
                                  private_reply=bool(container.get("is_ephemeral")),
                                  reply_url=body.get("response_url"), hosts=reply_hosts(services.settings),
                                  kinds=DIGEST_KINDS)


def _today(services: Services) -> date:
    return services.clock().astimezone(services.zone).date()


def _list_message(services: Services, user_id: str, shown: tuple[int, ...] = (),
                  delivery_id: int | None = None) -> Message:
    with services.sessions() as session:
        view = action_reminders.digest_view(session, user_id, services.terms, services.zone, _today(services),
                                            shown=shown, limit=SLACK_BUDGET.items_per_list)
    # A reminder redrawn in place keeps its ledger id on its buttons.
    return Message(action_reminders.DIGEST, view, delivery_id=delivery_id)


def _refresh(services: Services, client: WebClient, origin: Origin, user_id: str, changed: action_reminders.Changed
             ) -> None:
    """Re-render the clicked message for the clicker, keeping the changed item in view."""
    refresh_case_header(services, client, changed.case_id)  # open and overdue counts
    message = _list_message(services, user_id, (*origin.shown, changed.action_id), origin.delivery_id)
    with services.sessions() as session:
        found = forms.target(session, origin, user_id, reply_hosts(services.settings), DIGEST_KINDS)
    try:
        if found is not None and found.room and found.ref:
            SlackWorkspace(client).update(found.room, found.ref, message)
        elif found is not None and found.reply_url:
            # Timed and not retried, like every reply after ack (handlers/after_ack.py).
            WebhookClient(found.reply_url, timeout=int(services.settings.slack_timeout_seconds),
                          retry_handlers=[]).send(**rendered(message), response_type="ephemeral",
                                                  replace_original=True)
    except (PlatformFailure, SlackClientError, OSError) as exc:
        # The change is saved either way; the message shows it on the next reminder or list.
        log.warning("action_message_update_failed", extra={"event": "action_message_update_failed",
                                                           "error": getattr(exc, "error", type(exc).__name__)})


def show_actions(command: dict[str, Any], client: WebClient, respond: Respond, services: Services) -> None:
    """`/pmccg actions`: the caller's open action points across cases, privately, with the buttons."""
    respond(response_type="ephemeral", **rendered(_list_message(services, command["user_id"])))


# --- modals ---------------------------------------------------------------------------------------


def _about(item: ItemToChange) -> list[dict[str, Any]]:
    # The description is typed text: shown only in a rich_text "text" element.
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*Action {item.number}* on *{item.reference}*, "
                                                               f"due {item.due_on:%A} {item.due_on.day} "
                                                               f"{item.due_on:%B %Y}."}},
        {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
            {"type": "text", "text": chunk} for chunk in split_text(item.description)]}]},
    ]


def update_view(item: ItemToChange) -> dict[str, Any]:
    element = {"type": "plain_text_input", "multiline": True, "max_length": action_points.REASON_LIMIT,
               "placeholder": plain("What has happened so far")}
    return modal(ids.ACTION_UPDATE_VIEW, "Add an update", [
        *_about(item),
        input_block(ids.ACTION_UPDATE_FIELD, "Update", element,
                    hint="Kept in the case record. Refer to the staff member by case number only."),
    ], submit="Add the update")


def due_view(item: ItemToChange) -> dict[str, Any]:
    reason = {"type": "plain_text_input", "multiline": True, "max_length": action_points.REASON_LIMIT,
              "placeholder": plain("Why the date moves")}
    return modal(ids.ACTION_DUE_VIEW, "New due date", [
        *_about(item),
        input_block(ids.ACTION_DUE_FIELD, "New due date", {"type": "datepicker",
                                                          "initial_date": item.due_on.isoformat()}),
        input_block(ids.ACTION_DUE_REASON_FIELD, "Reason", reason,
                    hint="The old and new dates and your reason are kept in the case record."),
    ], submit="Change the date")


def _parse_date(raw: Any) -> date | None:
    try:
        return date.fromisoformat(raw) if isinstance(raw, str) and raw else None
    except ValueError:
        return None


def _subject(form: forms.Form) -> int:
    if not form.subject.isdigit():
        raise NotFound("That action point no longer exists.")
    return int(form.subject)


# --- listeners ------------------------------------------------------------------------------------


def register(app: App) -> None:
    @app.action(ids.ACTION_DONE)
    def done(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, services: Services) -> None:
        ack()
        user_id = body["user"]["id"]
        try:
            value = _value(body)
            # Where it writes is settled first: a tampered click is refused before anything changes.
            origin = _click_origin(services, body, user_id, value.delivery_id)
            changed = action_reminders.complete(services.sessions, services.terms, services.zone, value.item_id,
                                                user_id, services.clock())
        except (NotAllowed, NotFound) as exc:
            respond(text=refusal_text(exc), response_type="ephemeral", replace_original=False)
            return
        if changed.already:
            respond(text=f"No change: action {changed.number} on {changed.reference} is already done.",
                    response_type="ephemeral", replace_original=False)
            return
        _refresh(services, client, origin, user_id, changed)

    def _open(body: dict[str, Any], client: WebClient, respond: Respond, services: Services, build: Any,
              kind: FormKind) -> None:
        user_id = body["user"]["id"]
        try:
            value = _value(body)
            origin = _click_origin(services, body, user_id, value.delivery_id)
            view = build(action_reminders.item_to_change(services.sessions, services.terms, value.item_id, user_id))
        except (NotAllowed, NotFound) as exc:
            respond(text=refusal_text(exc), response_type="ephemeral", replace_original=False)
            return
        # The origin is kept with the form, server-side: the modal carries only the form's nonce.
        open_modal(client, services, body["trigger_id"], view, kind=kind, user_id=user_id,
                   subject=str(value.item_id), origin=origin)
        # The names used to refuse a person's name in the text: loaded while they type.
        services.directory.refresh_in_background()

    @app.action(ids.ACTION_ADD_UPDATE)
    def open_update(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond,
                    services: Services) -> None:
        ack()
        _open(body, client, respond, services, update_view, FormKind.ACTION_UPDATE)

    @app.action(ids.ACTION_NEW_DUE)
    def open_due(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, services: Services) -> None:
        ack()
        _open(body, client, respond, services, due_view, FormKind.ACTION_DUE)

    @app.view(ids.ACTION_UPDATE_VIEW)
    def save_update(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
        user_id, values = body["user"]["id"], body["view"]["state"]["values"]
        text = field_value(values, ids.ACTION_UPDATE_FIELD) or ""
        services.directory.refresh_in_background()
        names = services.directory.names(wait_seconds=1.5)
        try:
            form = form_of(services, body, FormKind.ACTION_UPDATE)
            action_id = _subject(form)
            changed = forms.submit_once(services.sessions, form, services.clock(), lambda session: (
                action_reminders.add_update(session, services.terms, action_id, user_id, str(text),
                                            services.clock(), names)))
        except (FormRefused, AlreadySubmitted) as exc:
            answer_not_taken(ack, exc)
            return
        except InvalidInput as exc:
            ack(response_action="errors", errors=exc.fields)
            return
        except (NotAllowed, NotFound) as exc:
            ack(response_action="update", view=message_modal("Not saved", refusal_text(exc)))
            return
        ack()
        _refresh(services, client, form.origin, user_id, changed)

    @app.view(ids.ACTION_DUE_VIEW)
    def save_due(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
        user_id, values = body["user"]["id"], body["view"]["state"]["values"]
        new_due = _parse_date(field_value(values, ids.ACTION_DUE_FIELD))
        reason = field_value(values, ids.ACTION_DUE_REASON_FIELD) or ""
        services.directory.refresh_in_background()
        names = services.directory.names(wait_seconds=1.5)
        now = services.clock()
        try:
            form = form_of(services, body, FormKind.ACTION_DUE)
            action_id = _subject(form)
            changed = forms.submit_once(services.sessions, form, now, lambda session: action_reminders.change_due(
                session, services.terms, services.zone, action_id, user_id, new_due, str(reason), now, names))
        except (FormRefused, AlreadySubmitted) as exc:
            answer_not_taken(ack, exc)
            return
        except InvalidInput as exc:
            ack(response_action="errors", errors=exc.fields)
            return
        except (NotAllowed, NotFound) as exc:
            ack(response_action="update", view=message_modal("Not changed", refusal_text(exc)))
            return
        ack()
        _refresh(services, client, form.origin, user_id, changed)
