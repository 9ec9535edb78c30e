"""The seam between the domain and a chat platform (Slack now, Teams next).

The domain decides what to say as a `Message` (a template name and a view model); an
implementation in `handlers/` renders and delivers it. Failures raise PlatformFailure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot.domain.errors import PlatformFailure

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    """What to say: `template` names a template under templates/<platform>/, `model` fills it.

    `delivery_id` is the ledger row of this delivery (bot/domain/ledger.py) when the outbox sends it: a
    message whose buttons must later find the very message they sit on carries it, so a click is
    traced to what the bot stored, never to ids the client sends back.
    """

    template: str
    model: Any
    delivery_id: int | None = None


@dataclass(frozen=True)
class Posted:
    """Where a message (or file) landed: the room (a direct message's own conversation for a DM)
    and the platform's id for it, as needed to update or delete it later."""

    room: str
    ref: str


class Workspace(Protocol):
    """What the domain needs of a chat platform. Every method raises PlatformFailure on refusal."""

    def create_private_room(self, name: str) -> str:
        """Create a private room and return its id; raise RoomNameTaken if the name is used."""
        ...

    def invite(self, room: str, users: Sequence[str]) -> None: ...

    def archive_room(self, room: str) -> None: ...

    def rename_room(self, room: str, name: str) -> None:
        """Rename a room (an abandoned case room, so its name is free again); raise RoomNameTaken if used."""
        ...

    def post(self, room: str, message: Message) -> Posted:
        """Post in a room; return where it landed, for updating it in place."""
        ...

    def update(self, room: str, ref: str, message: Message) -> None: ...

    def send_direct(self, user: str, message: Message) -> Posted:
        """Send a direct message from the bot to one person; return the conversation and message id."""
        ...

    def upload_file(self, room: str, filename: str, content: bytes, title: str) -> Posted:
        """Share a file in a room (a calendar invite, a case export); `ref` is the file's id."""
        ...

    def delete_message(self, room: str, ref: str) -> None:
        """Delete one of the bot's own messages (retention, an abandoned convening)."""
        ...

    def delete_file(self, ref: str) -> None:
        """Delete one of the bot's own files."""
        ...


def attempt(step: str, failed: list[str], reference: str, action: Callable[[], object]) -> bool:
    """Run one announcement step after the change is committed; a refusal is logged and noted in `failed`.

    The change stands either way: the callers tell people which steps did not reach them.
    """
    try:
        action()
    except PlatformFailure as exc:
        log.warning("announce_step_failed", extra={"event": "announce_step_failed", "case_ref": reference,
                                                   "step": step, "error": exc.error})
        failed.append(step)
        return False
    return True
