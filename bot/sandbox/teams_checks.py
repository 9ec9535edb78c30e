"""What Teams refuses, checked before the sandbox's Bot Connector stand-in accepts a message or an invoke answer.

Each check returns the HTTP status and error code the Bot Connector answers with ("Status codes from
bot conversational APIs", Microsoft Learn), so the page can show the refusal and the bot's own error
handling runs, as bot/sandbox/checks.py does for Slack:

- a message over about 100 KB counted as UTF-16: 413 `MessageSizeTooBig` ("Format your bot messages");
- an Adaptive Card that handlers/teams/cards.py refuses (schema 1.5 with Teams' additions, the 1.5
  version ceiling, Media, mentions, a verb on every Action.Execute): 400 `BadArgument`. Teams itself
  often accepts such a card and shows "this card couldn't be displayed" instead; the sandbox refuses
  it loudly so a test or a person trying the bot sees the mistake at once;
- an invoke answer (Action.Execute's refreshed card, a dialog's card) carrying such a card: the same.

Proactive messages to someone without the app, and Graph calls the manifest does not cover, need the
stand-in's own state (installations, consented permissions) and are checked there.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from handlers.teams.cards import CARD_CONTENT_TYPE, MESSAGE_SIZE_LIMIT, card_problems, payload_size
from handlers.teams.manifest_schema import manifest_problems


@dataclass(frozen=True)
class Refusal:
    """An error answer from the stand-in: status, Bot Connector error code, message, the details."""

    status: int
    code: str
    message: str
    details: tuple[str, ...] = ()

    def body(self) -> dict[str, Any]:
        """The JSON error body, shaped as the Bot Connector's `{"error": {"code", "message"}}`."""
        return {"error": {"code": self.code, "message": self.describe()}}

    def describe(self) -> str:
        return self.message + (": " + "; ".join(self.details) if self.details else "")


def _card_refusal(cards: Iterator[tuple[str, Any]]) -> Refusal | None:
    details = [f"{where}{problem}" for where, card in cards
               for problem in card_problems(card, size_limit=MESSAGE_SIZE_LIMIT)]
    if details:
        return Refusal(400, "BadArgument", "Teams cannot show this Adaptive Card", tuple(details))
    return None


def _attachment_cards(attachments: Any, pointer: str) -> Iterator[tuple[str, Any]]:
    for i, item in enumerate(attachments if isinstance(attachments, list) else []):
        yield from _attachment_card(item, f"{pointer}/{i}")


def _attachment_card(item: Any, pointer: str) -> Iterator[tuple[str, Any]]:
    if isinstance(item, Mapping) and item.get("contentType") == CARD_CONTENT_TYPE:
        yield f"{pointer}/content", item.get("content")


def activity_refusal(activity: Any) -> Refusal | None:
    """What the Bot Connector would refuse about a message the bot posts or updates, or None."""
    if not isinstance(activity, Mapping):
        return Refusal(400, "BadSyntax", "the activity must be a JSON object")
    size = payload_size(activity)
    if size > MESSAGE_SIZE_LIMIT:
        return Refusal(413, "MessageSizeTooBig", "Message size too large",
                       (f"{size:,} bytes counted as UTF-16, over {MESSAGE_SIZE_LIMIT:,}",))
    return _card_refusal(_attachment_cards(activity.get("attachments"), "/attachments"))


def invoke_response_refusal(response: Any) -> Refusal | None:
    """What Teams would refuse about the bot's answer to an invoke, or None.

    Shapes read: Action.Execute's `{"statusCode": 200, "type": "application/vnd.microsoft.card.adaptive",
    "value": card}` ("Universal Actions for Adaptive Cards: adaptiveCard/action invoke") and a dialog's
    `{"task": {"type": "continue", "value": {"card": attachment}}}` ("Use dialogs with bots").
    """
    if not isinstance(response, Mapping):
        return None
    if payload_size(response) > MESSAGE_SIZE_LIMIT:
        return Refusal(413, "MessageSizeTooBig", "Message size too large")
    if response.get("type") == CARD_CONTENT_TYPE:
        return _card_refusal(iter([("/value", response.get("value"))]))
    task = response.get("task")
    value = task.get("value") if isinstance(task, Mapping) else None
    if isinstance(task, Mapping) and task.get("type") == "continue" and isinstance(value, Mapping):
        return _card_refusal(_attachment_card(value.get("card"), "/task/value/card"))
    return None


def manifest_refusal(manifest: Any) -> Refusal | None:
    """Why Teams would refuse to upload this app manifest (Microsoft's v1.29 schema), or None.

    Uploads are not a Bot Connector call, so `InvalidManifest` is the sandbox's own code.
    """
    problems = manifest_problems(manifest)
    if problems:
        return Refusal(400, "InvalidManifest", "The app manifest does not match the Teams schema",
                       tuple(map(str, problems)))
    return None


def resource_specific_permissions(manifest: Mapping[str, Any]) -> frozenset[str]:
    """The resource-specific (RSC) permissions the manifest asks for, e.g. `ChatMember.Read.Chat`."""
    permissions = (manifest.get("authorization") or {}).get("permissions") or {}
    return frozenset(p["name"] for p in permissions.get("resourceSpecific") or [] if isinstance(p, Mapping)
                     and isinstance(p.get("name"), str))
