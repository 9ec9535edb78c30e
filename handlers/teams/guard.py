"""At the door of POST /api/messages, before the Teams SDK: a body-size limit and a JSON-object check.

The SDK's FastAPI route parses the body as JSON before it checks the token, so junk would be a 500
with a traceback in the log (docs/teams-sdk-notes.md §2). Here, in this order: a body declared or
found over MAX_BODY_BYTES is 413 (a chunked one too, without reading to its end); a body that is not
UTF-8 JSON, or JSON that is not an object, is 400. Nothing else is decided here: the SDK then checks
the Bot Framework token (401) before any listener runs. Log lines carry sizes only, never content.

One repair, for an SDK gap: Teams sends `trigger: "automatic"` when a card's `refresh` re-renders it on
its own (the home card, each time its chat is opened), but microsoft-teams-apps 2.1.1 accepts only
"manual" (`AdaptiveCardInvokeValue.trigger` is `Literal["manual"]`) and answers 500. The token does not
cover the body, so the trigger is read as "manual" here; no listener decides anything by it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # Teams' own activities are well under 100 KiB (a message is capped near 28 KB)
MESSAGES_PATH = "/api/messages"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class MessagesGuard:
    """Pure ASGI middleware (it must see the body as it streams, before anything buffers it)."""

    def __init__(self, app: ASGIApp, path: str = MESSAGES_PATH, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.path = path
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].rstrip("/") != self.path:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is None:
            await _refuse(send, 400, "malformed request")
            return
        if declared > self.limit:
            log.warning("request_too_large", extra={"event": "request_too_large", "declared": declared})
            await _refuse(send, 413, "request body too large")
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                log.warning("request_too_large", extra={"event": "request_too_large", "declared": "chunked"
                                                        if declared < 0 else declared})
                await _refuse(send, 413, "request body too large")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            parsed = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            parsed = None
        if not isinstance(parsed, dict):
            log.warning("malformed_teams_request", extra={"event": "malformed_teams_request", "bytes": size})
            await _refuse(send, 400, "malformed request")
            return
        if _automatic_refresh(parsed):
            parsed["value"]["trigger"] = "manual"
            body = json.dumps(parsed).encode("utf-8")
        replayed = False

        async def replay() -> Message:
            # The SDK's route reads the body again: hand it what was read, then whatever the client sends next.
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _automatic_refresh(activity: dict[str, Any]) -> bool:
    value = activity.get("value")
    return (activity.get("type") == "invoke" and activity.get("name") == "adaptiveCard/action"
            and isinstance(value, dict) and value.get("trigger") == "automatic")


def _content_length(scope: Scope) -> int | None:
    """The declared length, -1 when none is declared (chunked), None when it is not a number."""
    for name, value in scope.get("headers") or ():
        if name.lower() == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return -1


async def _refuse(send: Send, status: int, error: str) -> None:
    payload = json.dumps({"error": error}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    if status == 413:
        # The rest of the body is never read: the connection cannot carry another request.
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
