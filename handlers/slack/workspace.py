"""The Workspace of bot/domain/notify.py over Slack's Web API: renders templates and maps errors."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.domain.errors import PlatformFailure, RoomNameTaken
from bot.domain.notify import Budget, Message, Posted
from bot.records import retention
from handlers.slack.render import render_json

log = logging.getLogger(__name__)

# Why a message of a purged case is still in Slack, in words for `pmccg purge` (bot/records/retention.py
# reason_words): Slack's refusal codes, and the run's own reasons as Slack's operators read them.
DELETE_REASONS = {
    retention.NOT_TRIED: "not tried: Slack was unavailable earlier in the run",
    retention.NO_WORKSPACE: "not tried: no Slack token (SLACK_BOT_TOKEN) was set",
    "cant_delete_message": "Slack does not let the bot delete it",
    "compliance_exports_prevent_deletion": "the workspace's compliance exports prevent deleting it",
    "restricted_action": "a workspace setting prevents deleting it",
}


def rendered(message: Message) -> dict[str, Any]:
    """Render `message` to Slack's text + blocks (`delivery_id` is there for buttons that need it)."""
    return render_json(f"slack/{message.template}.json.j2", m=message.model, delivery_id=message.delivery_id)


# Slack's limits, handed to the domain: 50 blocks a message; a digest item takes three blocks; the Home tab
# holds 100 blocks, shared by the action points and the cases.
SLACK_BUDGET = Budget(blocks_per_message=50, items_per_list=15, items_on_home=20, cases_on_home=20)


class SlackWorkspace:
    """Each call is retried by the client's handlers (429 after Retry-After, 5xx, connection)."""

    budget = SLACK_BUDGET

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def _call(self, step: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or exc.response.status_code)
            # Still rate limited after the client's retries is transient too: the scheduler tries again later.
            status = exc.response.status_code
            raise PlatformFailure(step, error, permanent=status < 500 and status != 429) from exc
        except (SlackClientError, OSError) as exc:
            raise PlatformFailure(step, "Slack could not be reached", permanent=False) from exc

    def create_private_room(self, name: str, members: Sequence[str], created: Callable[[str], None]) -> str:
        """Slack makes a channel, then invites: `created` hears the channel's id between the two calls."""
        try:
            response = self.client.conversations_create(name=name, is_private=True)
        except SlackApiError as exc:
            if exc.response.get("error") == "name_taken":
                raise RoomNameTaken(name) from exc
            raise PlatformFailure("creating the case channel", str(exc.response.get("error"))) from exc
        except (SlackClientError, OSError) as exc:
            raise PlatformFailure("creating the case channel", "Slack could not be reached", permanent=False) from exc
        room = str(response["channel"]["id"])
        created(room)
        self.invite(room, members)
        return room

    def invite(self, room: str, users: Sequence[str]) -> None:
        if users:
            self._call("inviting the members", self.client.conversations_invite, channel=room, users=",".join(users))

    def archive_room(self, room: str) -> None:
        self._call("archiving the channel", self.client.conversations_archive, channel=room)

    def rename_room(self, room: str, name: str) -> None:
        try:
            self._call("renaming the channel", self.client.conversations_rename, channel=room, name=name)
        except PlatformFailure as exc:
            if exc.error == "name_taken":
                raise RoomNameTaken(name) from exc
            raise

    def post(self, room: str, message: Message) -> Posted:
        body = rendered(message)
        response = self._call(f"posting the {message.template.replace('_', ' ')}", self.client.chat_postMessage,
                              channel=room, text=body["text"], blocks=body["blocks"], unfurl_links=False,
                              unfurl_media=False)
        return Posted(str(response.get("channel") or room), str(response["ts"]))

    def update(self, room: str, ref: str, message: Message) -> None:
        body = rendered(message)
        self._call(f"updating the {message.template.replace('_', ' ')}", self.client.chat_update, channel=room,
                   ts=ref, text=body["text"], blocks=body["blocks"])

    def send_direct(self, user: str, message: Message) -> Posted:
        body = rendered(message)
        # Posting to a user id delivers to the app's direct message with them (chat:write suffices);
        # the answer names that conversation, which chat.update and chat.delete need later.
        response = self._call(f"sending the {message.template.replace('_', ' ')}", self.client.chat_postMessage,
                              channel=user, text=body["text"], blocks=body["blocks"], unfurl_links=False)
        return Posted(str(response.get("channel") or user), str(response["ts"]))

    def upload_file(self, room: str, filename: str, content: bytes, title: str) -> Posted:
        response = self._call(f"sharing {filename}", self.client.files_upload_v2, channel=room, content=content,
                              filename=filename, title=title)
        files = response.get("files") or [response.get("file") or {}]
        return Posted(room, str(files[0].get("id", "")))

    def delete_message(self, room: str, ref: str) -> None:
        self._call("deleting a message", self.client.chat_delete, channel=room, ts=ref)

    def delete_file(self, ref: str) -> None:
        self._call("deleting a file", self.client.files_delete, file=ref)
