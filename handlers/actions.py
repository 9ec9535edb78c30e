"""Action point buttons (Done / Add an update / New due date) and `/pmccg actions`.

The buttons sit on each item of a reminder digest and of the private list. A click changes the
item through bot/action_points.py and then re-renders the clicked message in place for the
clicker: chat.update for a direct message, the response URL for the private (ephemeral) list.
The modals keep where that message is in their private_metadata, so their submission can too.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from slack_sdk.webhook import WebhookClient

from bot import action_points, action_reminders
from bot.agenda import split_text
from bot.errors import InvalidInput, NotAllowed, NotFound, PlatformFailure
from bot.notify import Message
from bot.outcomes import chair_ids
from handlers import ids
from handlers.context import Services
from handlers.header import refresh_case_header
from handlers.modals import field_value, input_block, message_modal, modal, plain
from handlers.replies import not_allowed_text
from handlers.slack_workspace import SlackWorkspace, rendered
from storage.db import transaction
from storage.tables import ActionPoint, ActionStatus, Case

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Origin:
    """Where the clicked message is, so it can be re-rendered in place."""

    channel: str | None = None
    ts: str | None = None
    response_url: str | None = None  # an ephemeral message can only be replaced through it
    shown: tuple[int, ...] = ()  # the items the message listed

    def as_json(self, action_id: int) -> str:
        return json.dumps({"action": action_id, "channel": self.channel, "ts": self.ts, "url": self.response_url,
                           "shown": list(self.shown)})


def _origin(body: dict[str, Any]) -> Origin:
    container = body.get("container") or {}
    message = body.get("message") or {}
    shown = []
    for block in message.get("blocks") or []:
        if block.get("type") != "actions":
            continue
        for element in block.get("elements") or []:
            if element.get("action_id") == ids.ACTION_DONE and str(element.get("value", "")).isdigit():
                shown.append(int(element["value"]))
    if container.get("is_ephemeral"):
        return Origin(response_url=body.get("response_url"), shown=tuple(shown))
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    return Origin(channel, container.get("message_ts") or message.get("ts"), None, tuple(shown))


def _from_metadata(view: dict[str, Any]) -> tuple[int, Origin]:
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
        origin = Origin(meta.get("channel"), meta.get("ts"), meta.get("url"),
                        tuple(int(i) for i in meta.get("shown") or ()))
        return int(meta["action"]), origin
    except (ValueError, TypeError, KeyError) as exc:
        raise NotFound("That action point no longer exists.") from exc


def _action_id(body: dict[str, Any]) -> int:
    value = str(body["actions"][0].get("value", ""))
    if not value.isdigit():
        raise NotFound("That action point no longer exists.")
    return int(value)


def _refusal(exc: NotAllowed | NotFound) -> str:
    return not_allowed_text(exc) if isinstance(exc, NotAllowed) else exc.message


def _today(services: Services) -> date:
    return services.clock().astimezone(services.zone).date()


def _list_message(services: Services, user_id: str, shown: tuple[int, ...] = ()) -> Message:
    with services.sessions() as session:
        view = action_reminders.digest_view(session, user_id, services.terms, services.zone, _today(services),
                                            shown=shown)
    return Message(action_reminders.DIGEST, view)


def _refresh(services: Services, client: WebClient, origin: Origin, user_id: str, action_id: int) -> None:
    """Re-render the clicked message for the clicker, keeping the changed item in view."""
    message = _list_message(services, user_id, (*origin.shown, action_id))
    with services.sessions() as session:
        item = session.get(ActionPoint, action_id)
    if item is not None:
        refresh_case_header(services, client, item.case_id)  # open and overdue counts
    try:
        if origin.channel and origin.ts:
            SlackWorkspace(client).update(origin.channel, origin.ts, message)
        elif origin.response_url:
            WebhookClient(origin.response_url).send(**rendered(message), response_type="ephemeral",
                                                    replace_original=True)
    except (PlatformFailure, SlackClientError, OSError) as exc:
        # The change is saved either way; the message shows it on the next reminder or list.
        log.warning("action_message_update_failed", extra={"event": "action_message_update_failed",
                                                           "error": getattr(exc, "error", type(exc).__name__)})


def show_actions(command: dict[str, Any], client: WebClient, respond: Respond, services: Services) -> None:
    """`/pmccg actions`: the caller's open action points across cases, privately, with the buttons."""
    respond(response_type="ephemeral", **rendered(_list_message(services, command["user_id"])))


# --- modals ---------------------------------------------------------------------------------------


def _about(item: ActionPoint, case: Case) -> list[dict[str, Any]]:
    # The description is typed text: shown only in a rich_text "text" element.
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*Action {item.number}* on *{case.reference}*, "
                                                               f"due {item.due_on:%A} {item.due_on.day} "
                                                               f"{item.due_on:%B %Y}."}},
        {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [
            {"type": "text", "text": chunk} for chunk in split_text(item.description)]}]},
    ]


def update_view(item: ActionPoint, case: Case, origin: Origin) -> dict[str, Any]:
    element = {"type": "plain_text_input", "multiline": True, "max_length": action_points.REASON_LIMIT,
               "placeholder": plain("What has happened so far")}
    return modal(ids.ACTION_UPDATE_VIEW, "Add an update", [
        *_about(item, case),
        input_block(ids.ACTION_UPDATE_FIELD, "Update", element,
                    hint="Kept in the case record. Refer to the staff member by case number only."),
    ], submit="Add the update", private_metadata=origin.as_json(item.id or 0))


def due_view(item: ActionPoint, case: Case, origin: Origin) -> dict[str, Any]:
    reason = {"type": "plain_text_input", "multiline": True, "max_length": action_points.REASON_LIMIT,
              "placeholder": plain("Why the date moves")}
    return modal(ids.ACTION_DUE_VIEW, "New due date", [
        *_about(item, case),
        input_block(ids.ACTION_DUE_FIELD, "New due date", {"type": "datepicker",
                                                          "initial_date": item.due_on.isoformat()}),
        input_block(ids.ACTION_DUE_REASON_FIELD, "Reason", reason,
                    hint="Required: the old and new dates and your reason are kept in the case record."),
    ], submit="Change the date", private_metadata=origin.as_json(item.id or 0))


def _parse_date(raw: Any) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


# --- listeners ------------------------------------------------------------------------------------


def register(app: App) -> None:
    @app.action(ids.ACTION_DONE)
    def done(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, services: Services) -> None:
        ack()
        user_id, now = body["user"]["id"], services.clock()
        try:
            action_id = _action_id(body)
            with transaction(services.sessions) as session:
                item, case = action_points.get(session, action_id)
                already = item.status == ActionStatus.DONE
                action_points.mark_done(session, action_id, user_id, now, chair_ids(session, services.terms, case))
                if not already:
                    action_reminders.plan_owner(session, item.owner_id, services.terms, services.zone, now)
                number, reference = item.number, case.reference
        except (NotAllowed, NotFound) as exc:
            respond(text=_refusal(exc), response_type="ephemeral", replace_original=False)
            return
        if already:
            respond(text=f"No change: action {number} on {reference} is already done.", response_type="ephemeral",
                    replace_original=False)
            return
        _refresh(services, client, _origin(body), user_id, action_id)

    def _open(body: dict[str, Any], client: WebClient, respond: Respond, services: Services, build: Any) -> None:
        user_id = body["user"]["id"]
        try:
            action_id = _action_id(body)
            with services.sessions() as session:
                item, case = action_reminders.check_can_change(session, services.terms, action_id, user_id)
                view = build(item, case, _origin(body))
        except (NotAllowed, NotFound) as exc:
            respond(text=_refusal(exc), response_type="ephemeral", replace_original=False)
            return
        client.views_open(trigger_id=body["trigger_id"], view=view)
        # The names used to refuse a person's name in the text: loaded while they type.
        services.directory.refresh_in_background()

    @app.action(ids.ACTION_ADD_UPDATE)
    def open_update(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond,
                    services: Services) -> None:
        ack()
        _open(body, client, respond, services, update_view)

    @app.action(ids.ACTION_NEW_DUE)
    def open_due(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, services: Services) -> None:
        ack()
        _open(body, client, respond, services, due_view)

    @app.view(ids.ACTION_UPDATE_VIEW)
    def save_update(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
        user_id, values = body["user"]["id"], body["view"]["state"]["values"]
        text = field_value(values, ids.ACTION_UPDATE_FIELD) or ""
        services.directory.refresh_in_background()
        names = services.directory.names(wait_seconds=1.5)
        try:
            action_id, origin = _from_metadata(body["view"])
            with transaction(services.sessions) as session:
                _, case = action_points.get(session, action_id)
                action_points.add_update(session, action_id, user_id, text, services.clock(),
                                         chair_ids(session, services.terms, case), names)
        except InvalidInput as exc:
            ack(response_action="errors", errors=exc.fields)
            return
        except (NotAllowed, NotFound) as exc:
            ack(response_action="update", view=message_modal("Not saved", _refusal(exc)))
            return
        ack()
        _refresh(services, client, origin, user_id, action_id)

    @app.view(ids.ACTION_DUE_VIEW)
    def save_due(ack: Ack, body: dict[str, Any], client: WebClient, services: Services) -> None:
        user_id, values = body["user"]["id"], body["view"]["state"]["values"]
        new_due = _parse_date(field_value(values, ids.ACTION_DUE_FIELD))
        reason = field_value(values, ids.ACTION_DUE_REASON_FIELD) or ""
        services.directory.refresh_in_background()
        names = services.directory.names(wait_seconds=1.5)
        now = services.clock()
        try:
            action_id, origin = _from_metadata(body["view"])
            with transaction(services.sessions) as session:
                _, case = action_points.get(session, action_id)
                item = action_points.change_due(session, action_id, user_id, new_due, reason, now,
                                                now.astimezone(services.zone).date(),
                                                chair_ids(session, services.terms, case), names)
                action_reminders.plan_owner(session, item.owner_id, services.terms, services.zone, now)
        except InvalidInput as exc:
            ack(response_action="errors", errors=exc.fields)
            return
        except (NotAllowed, NotFound) as exc:
            ack(response_action="update", view=message_modal("Not changed", _refusal(exc)))
            return
        ack()
        _refresh(services, client, origin, user_id, action_id)
