"""The Workspace of bot/domain/notify.py over Microsoft Teams: Graph for case chats, the Bot Connector for messages.

The domain is synchronous; Teams' clients are async. Each call is a coroutine submitted to an event loop the
workspace is given (the `pmccg teams` server's, or a loop thread of its own in `pmccg worker`) and waited for
with `asyncio.run_coroutine_threadsafe(...).result(timeout)`. Called from that loop's own thread it would wait
for itself for ever, so it refuses (RuntimeError). Database work (the direct rooms) stays on the calling thread.

- **Case chat**: one Graph `POST /chats` (chatType group, topic = the case reference, every member an owner,
  the app installed in the same request). Graph answers 202 with the chat in `Location`; `created` hears the
  id once that call returns. Nothing else follows inside `create_private_room`, so a failure there means no
  chat was made (or Graph did not say which: the error says so). Chat topics need not be unique in Teams,
  so RoomNameTaken is never raised.
- **Closing** (`archive_room`): chats have no archive. The topic is renamed to say the case is closed and the
  app is removed from the chat (the domain has already posted the closed notice); the members keep the history.
- **Messages**: Bot Connector `POST/PUT/DELETE /v3/conversations/{id}/activities[/{activityId}]` at
  TEAMS_SERVICE_URL, or at the address kept for a person's direct conversation.
- **Direct messages**: the person's 1:1 chat is kept (bot/domain/direct_rooms.py); when there is none it is
  made with `POST /v3/conversations`; when Teams says the app is not installed for the person, it is installed
  for them through Graph and tried once more. A person blocked, gone or refused is a permanent failure.
- **Files**: the Teams bot file API works in the 1:1 chat only, through a consent card the person accepts; a
  file for a case chat goes to each of its members that way, and the case chat says so. See `upload_file`.
- **Errors**: 429 and >= 500 are transient, other 4xx permanent. 429 is retried after Retry-After (at most
  `max_retry_after` seconds); 5xx only on idempotent calls (a POST may have been done: it is left to the
  outbox, whose retry the caller owns); a connection refused before sending is retried.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Collection, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import httpx

from bot.domain import direct_rooms
from bot.domain.errors import PlatformFailure
from bot.domain.notify import Budget, Message, Posted
from bot.domain.people import Standing
from handlers.teams.auth import (
    ClientCredentialsTokens,
    TeamsCredentials,
    TeamsEndpoints,
    TokenRequestError,
    _tls_context,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

# Teams' limits, handed to the domain. A card may be about 100 KB counted as UTF-16 (80 KB recommended:
# handlers/teams/cards.py); it has no element count, so the agenda's text is not packed into blocks. A digest item
# at its largest (a 500-character action, its latest 500-character update, three buttons with their data) is
# about 3.5 KB as Teams counts, so 15 stay near 50 KB; the home card holds 15 action points (no buttons, about
# 2.5 KB each) and 15 cases (about 0.6 KB each), near 50 KB. The same 15 as Slack's list, so people on either
# platform see the same number before "and N more".
TEAMS_BUDGET = Budget(blocks_per_message=None, items_per_list=15, items_on_home=15, cases_on_home=15)

FILE_CONSENT_CONTENT_TYPE = "application/vnd.microsoft.teams.card.file.consent"
FILE_INFO_CONTENT_TYPE = "application/vnd.microsoft.teams.card.file.info"
CLOSED_SUFFIX = " (closed)"
# A chat made with the app is answered before the app is in it (the install is asynchronous): a post to a chat
# this workspace made in the last minute that Teams refuses as "bot not in the roster" is tried again a while.
FRESH_CHAT_SECONDS = 60.0
FRESH_CHAT_WAIT = 1.0
FRESH_CHAT_MAX_WAIT = 10.0  # for one post, well within the call's timeout
PENDING_FILE_SECONDS = 3600.0

_AAD_MEMBER = "#microsoft.graph.aadUserConversationMember"
_CHAT_IN_LOCATION = re.compile(r"chats\('([^']+)'\)")
_BLOCKED = "ConversationBlockedByUser"
_NOT_IN_ROSTER = "BotNotInConversationRoster"


# Teams' refusals in the domain's neutral error words (bot/domain/ledger.py ERROR_WORDS), so an undelivered
# message is reported in the same words as on Slack; any other is "<status> <code>".
_ERRORS = {(404, "ConversationNotFound"): "channel_not_found", (403, "BotNotInConversationRoster"): "not_in_channel",
           (403, "ConversationBlockedByUser"): "blocked_bot"}


class TeamsRefused(PlatformFailure):
    """Teams or Graph answered an error: `status` and `code` (Teams' error code) for the callers here."""

    def __init__(self, step: str, status: int, code: str, error: str | None = None) -> None:
        error = error or _ERRORS.get((status, code)) or f"{status} {code}".strip()
        super().__init__(step, error, permanent=status < 500 and status != 429)
        self.status = status
        self.code = code


@dataclass
class _PendingFile:
    filename: str
    content: bytes
    room: str
    activity_id: str  # the consent card, replaced by the file's card once uploaded
    expires: float  # monotonic


def _step(verb: str, message: Message) -> str:
    return f"{verb} the {message.template.replace('_', ' ')}"


def _error_code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else ""


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


def chat_topic(name: str) -> str:
    """The domain names rooms in Slack's lower-case channel form ("pmccg-2026-001"); a chat topic is free text,
    so it shows the case reference as it is written everywhere else ("PMCCG-2026-001")."""
    return name.upper()


class TeamsWorkspace:
    """The domain's Workspace on Teams. Synchronous; the work runs on `loop` (never call it from that loop).

    `render(message)` gives the activity to send: `{"type": "message", "text": ..., "attachments": [...],
    "entities": [...]}` (handlers/teams/render.py). `sessions` is the domain's session factory, for the direct
    rooms. `teams_app_id` is the app's id in the organisation's catalogue (Graph's teamsApp id, not the
    manifest's id), installed in each case chat and for people who do not have it.
    """

    budget = TEAMS_BUDGET

    def __init__(self, *, credentials: TeamsCredentials, endpoints: TeamsEndpoints, teams_app_id: str,
                 loop: asyncio.AbstractEventLoop, render: Callable[[Message], dict[str, Any]],
                 sessions: Callable[[], Any], tokens: ClientCredentialsTokens | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC), timeout: float = 30.0,
                 retries: int = 2, max_retry_after: float = 5.0,
                 transport: httpx.AsyncBaseTransport | None = None,
                 standing: Callable[[Collection[str]], Mapping[str, Standing]] | None = None) -> None:
        if not teams_app_id:
            raise ValueError("teams_app_id (the app's catalogue id) is needed to install the app in case chats")
        self.credentials = credentials
        self.endpoints = endpoints
        self.teams_app_id = teams_app_id
        self.loop = loop
        self.render = render
        self.sessions = sessions
        self.tokens = tokens or ClientCredentialsTokens(credentials, endpoints.login_url)
        self.now = now
        self.timeout = timeout
        self.retries = retries
        self.max_retry_after = max_retry_after
        self._transport = transport
        # The directory's standing of people (handlers/teams/directory.py): Teams takes a message into a disabled
        # account's 1:1 chat, where nobody reads it, so a leaver is refused here as Slack refuses them.
        self.standing = standing
        self._client: httpx.AsyncClient | None = None  # made on the loop, once: a client costs ~0.2 s to build
        self._graph = endpoints.graph_api_url.rstrip("/")
        self._lock = threading.Lock()
        self._service_urls: dict[str, str] = {}  # direct room -> its Bot Connector address, as learnt
        self._fresh_chats: dict[str, float] = {}  # chat made here -> until when a missing app is waited for
        self._pending_files: dict[str, _PendingFile] = {}
        self.loop_thread: LoopThread | None = None  # set when the workspace has a loop thread of its own

    # ------------------------------------------------------------------------- running on the loop

    def _run(self, step: str, coroutine: Coroutine[Any, Any, T]) -> T:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            coroutine.close()
            raise RuntimeError("TeamsWorkspace called on its own event loop's thread: it would wait for itself")
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(self.timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise PlatformFailure(step, "Teams did not answer in time", permanent=False) from None
        except (PlatformFailure, RuntimeError):
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # An answer not shaped as Teams documents it (not JSON, a field missing): the domain hears a
            # failure it knows, which may pass; the log says what kind, for whoever looks.
            log.warning("teams_unexpected_answer", extra={"event": "teams_unexpected_answer",
                                                          "error": type(exc).__name__})
            raise PlatformFailure(step, "Teams answered in an unexpected way", permanent=False) from exc

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout, verify=_tls_context(), transport=self._transport)
        return self._client

    async def _aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def close(self) -> None:
        """Close the HTTP client (on the loop); the loop itself belongs to whoever gave it."""
        if self.loop.is_running():
            self._run("closing", self._aclose())

    async def _token(self, step: str, scope: str) -> str:
        try:
            return await self.tokens(scope, self.credentials.tenant_id)
        except TokenRequestError as exc:
            raise PlatformFailure(step, f"no token: {exc.error}", permanent=not exc.retryable) from None

    async def _call(self, step: str, method: str, url: str, *, scope: str | None, body: Any = None,
                    headers: dict[str, str] | None = None, content: bytes | None = None) -> httpx.Response:
        idempotent = method in ("GET", "PUT", "PATCH", "DELETE")
        delay = 0.5
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            sent_headers = dict(headers or {})
            if scope is not None:  # None: a pre-authorised address (an upload URL) that must not see our token
                sent_headers["Authorization"] = f"Bearer {await self._token(step, scope)}"
            try:
                response = await self._http().request(method, url, json=body, content=content, headers=sent_headers)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                # Refused before anything was sent: safe to try again, whatever the method.
                if not last:
                    await asyncio.sleep(delay)
                    delay *= 2
                    continue
                log.warning("teams_unreachable", extra={"event": "teams_unreachable", "error": type(exc).__name__})
                raise PlatformFailure(step, "Teams could not be reached", permanent=False) from None
            except httpx.TransportError as exc:
                log.warning("teams_unreachable", extra={"event": "teams_unreachable", "error": type(exc).__name__})
                raise PlatformFailure(step, "Teams could not be reached", permanent=False) from None
            try:
                response.raise_for_status()
                return response
            except httpx.HTTPStatusError:
                status = response.status_code
                wait = _retry_after(response)
                again = status == 429 or (status >= 500 and idempotent)
                if again and not last and (wait is None or wait <= self.max_retry_after):
                    await asyncio.sleep(delay if wait is None else wait)
                    delay *= 2
                    continue
                code = _error_code(response)
                log.warning("teams_refused", extra={"event": "teams_refused", "status": status, "code": code,
                                                    "method": method})
                raise TeamsRefused(step, status, code) from None
        raise AssertionError("unreachable")  # the loop returns or raises

    async def _graph_call(self, step: str, method: str, path: str, body: Any = None) -> httpx.Response:
        return await self._call(step, method, self._graph + path, scope=self.endpoints.graph_scope, body=body)

    async def _connector_call(self, step: str, method: str, service_url: str, path: str,
                              body: Any = None) -> httpx.Response:
        return await self._call(step, method, service_url.rstrip("/") + path, scope=self.endpoints.bot_scope,
                                body=body)

    def _user_bind(self, user: str) -> str:
        return f"{self._graph}/users('{quote(user, safe='')}')"

    def _app_bind(self) -> str:
        return f"{self._graph}/appCatalogs/teamsApps/{quote(self.teams_app_id, safe='')}"

    def _member(self, user: str) -> dict[str, Any]:
        # Everyone an owner, as in any group chat people make; the whole history visible to one added later, as
        # a Slack private channel shows it to someone invited.
        return {"@odata.type": _AAD_MEMBER, "roles": ["owner"], "user@odata.bind": self._user_bind(user),
                "visibleHistoryStartDateTime": "0001-01-01T00:00:00Z"}

    # ------------------------------------------------------------------------- rooms (Graph group chats)

    def create_private_room(self, name: str, members: Sequence[str], created: Callable[[str], None]) -> str:
        """One Graph call makes the chat with every member and the app; `created` hears its id afterwards.

        A refusal makes no chat (Graph creates it whole or not at all) and `created` is not called. Topics need
        not be unique in Teams: RoomNameTaken is never raised."""
        step = "creating the case chat"
        body = {"chatType": "group", "topic": chat_topic(name),
                "members": [self._member(m) for m in dict.fromkeys(members)],
                "installedApps": [{"teamsApp@odata.bind": self._app_bind()}]}
        response = self._run(step, self._graph_call(step, "POST", "/chats", body))
        chat_id = self._chat_id(response)
        if chat_id is None:
            # Graph said yes without saying which chat: one may exist that nobody can find from here.
            log.warning("teams_chat_unnamed", extra={"event": "teams_chat_unnamed", "status": response.status_code})
            raise PlatformFailure(step, "Teams made the chat but did not say which; it may need removing by hand")
        with self._lock:
            self._fresh_chats[chat_id] = time.monotonic() + FRESH_CHAT_SECONDS
        created(chat_id)
        return chat_id

    @staticmethod
    def _chat_id(response: httpx.Response) -> str | None:
        for header in ("Location", "Content-Location"):
            found = _CHAT_IN_LOCATION.search(response.headers.get(header, ""))
            if found:
                return found.group(1)
        try:
            body = response.json() if response.content else {}
        except ValueError:
            return None
        chat_id = body.get("id") if isinstance(body, dict) else None
        return chat_id if isinstance(chat_id, str) and chat_id else None

    @staticmethod
    def _chat_gone(exc: TeamsRefused) -> TeamsRefused:
        # Graph's 404 for a chat in the domain's words for a room that is not there (convene_recovery.py).
        return TeamsRefused(exc.step, exc.status, exc.code, "channel_not_found") if exc.status == 404 else exc

    def invite(self, room: str, users: Sequence[str]) -> None:
        """Each person is added on their own (Graph adds one member a call); all are tried, the first refusal
        is raised after."""
        step = "adding the members"

        async def add_all() -> PlatformFailure | None:
            first: PlatformFailure | None = None
            for user in dict.fromkeys(users):
                try:
                    await self._graph_call(step, "POST", f"/chats/{quote(room, safe='')}/members", self._member(user))
                except TeamsRefused as exc:
                    first = first or self._chat_gone(exc)
                except PlatformFailure as exc:
                    first = first or exc
            return first

        if users and (failure := self._run(step, add_all())) is not None:
            raise failure

    def rename_room(self, room: str, name: str) -> None:
        step = "renaming the case chat"
        try:
            path = f"/chats/{quote(room, safe='')}"
            self._run(step, self._graph_call(step, "PATCH", path, {"topic": chat_topic(name)}))
        except TeamsRefused as exc:
            raise self._chat_gone(exc) from None

    def archive_room(self, room: str) -> None:
        """Teams has no archive for chats: the topic says the case is closed, then the app leaves the chat (its
        permissions in the chat go with it, so the rename comes first). The members keep the history. Done
        already (the app is not in the chat) is done: nothing is asked of Graph but that."""
        step = "closing the case chat"
        path = f"/chats/{quote(room, safe='')}"
        with self._lock:
            self._fresh_chats.pop(room, None)  # the app leaves on purpose: nothing to wait for

        async def retire() -> None:
            # Listing the chat's apps is a tenant permission: it works whether or not the app is still there.
            apps = (await self._graph_call(step, "GET", path + "/installedApps?$expand=teamsApp")).json()
            ours = [item["id"] for item in apps.get("value") or []
                    if (item.get("teamsApp") or {}).get("id") == self.teams_app_id]
            if not ours:
                return
            chat = (await self._graph_call(step, "GET", path)).json()
            topic = str(chat.get("topic") or "")
            if not topic.endswith(CLOSED_SUFFIX):
                await self._graph_call(step, "PATCH", path, {"topic": topic + CLOSED_SUFFIX})
            for install_id in ours:
                try:
                    await self._graph_call(step, "DELETE", f"{path}/installedApps/{quote(install_id, safe='')}")
                except TeamsRefused as exc:
                    if exc.status != 404:  # gone already: retired as wanted
                        raise

        try:
            self._run(step, retire())
        except TeamsRefused as exc:
            raise self._chat_gone(exc) from None

    # ------------------------------------------------------------------------- messages (Bot Connector)

    def _service_url(self, room: str) -> str:
        with self._lock:
            return self._service_urls.get(room, self.endpoints.service_url)

    def _activity(self, message: Message) -> dict[str, Any]:
        body = dict(self.render(message))
        body.setdefault("type", "message")
        return body

    def _fresh(self, room: str) -> float | None:
        with self._lock:
            until = self._fresh_chats.get(room)
            if until is not None and until < time.monotonic():
                del self._fresh_chats[room]
                return None
            return until

    async def _post(self, step: str, room: str, activity: dict[str, Any], service_url: str) -> str:
        path = f"/v3/conversations/{room}/activities"
        give_up = time.monotonic() + FRESH_CHAT_MAX_WAIT
        while True:
            try:
                response = await self._connector_call(step, "POST", service_url, path, activity)
                break
            except TeamsRefused as exc:
                until = self._fresh(room)
                # The app's install in a chat made moments ago has not finished: wait for it a while.
                if (exc.status == 403 and exc.code == _NOT_IN_ROSTER and until is not None
                        and time.monotonic() + FRESH_CHAT_WAIT < min(until, give_up)):
                    await asyncio.sleep(FRESH_CHAT_WAIT)
                    continue
                raise
        activity_id = response.json().get("id") if response.content else None
        if not isinstance(activity_id, str) or not activity_id:
            raise PlatformFailure(step, "Teams did not say which message it made", permanent=False)
        return activity_id

    def post(self, room: str, message: Message) -> Posted:
        step = _step("posting", message)
        activity = self._activity(message)
        return Posted(room, self._run(step, self._post(step, room, activity, self._service_url(room))))

    def update(self, room: str, ref: str, message: Message) -> None:
        step = _step("updating", message)
        activity = {**self._activity(message), "id": ref}
        self._run(step, self._connector_call(step, "PUT", self._service_url(room),
                                             f"/v3/conversations/{room}/activities/{ref}", activity))

    def delete_message(self, room: str, ref: str) -> None:
        step = "deleting a message"
        try:
            self._run(step, self._connector_call(step, "DELETE", self._service_url(room),
                                                 f"/v3/conversations/{room}/activities/{ref}"))
        except TeamsRefused as exc:
            if exc.status == 404:
                # Gone already (retention counts it deleted: bot/records/retention.py ALREADY_GONE).
                raise PlatformFailure(step, "message_not_found") from None
            raise

    # ------------------------------------------------------------------------- direct messages

    def send_direct(self, user: str, message: Message) -> Posted:
        """Into the person's 1:1 chat: the kept one, else one made now (installing the app for them if Teams
        says it is not installed), tried once more when the kept one is gone. Anyone Teams will not let the
        bot reach is a permanent failure, reported as an undelivered direct message is."""
        return self._send_direct(_step("sending", message), user, self._activity(message))

    def _send_direct(self, step: str, user: str, activity: dict[str, Any]) -> Posted:
        if self.standing is not None and self.standing([user]).get(user) is Standing.DEACTIVATED:
            log.info("teams_direct_deactivated", extra={"event": "teams_direct_deactivated"})
            raise PlatformFailure(step, "account_inactive")  # the domain's word: "the account is deactivated"
        kept = direct_rooms.find(self.sessions, user)
        if kept is not None:
            with self._lock:
                self._service_urls[kept.room] = kept.service_url
            try:
                return Posted(kept.room, self._run(step, self._post(step, kept.room, activity, kept.service_url)))
            except TeamsRefused as exc:
                if exc.code == _BLOCKED or not (exc.status == 404 or exc.status == 403):
                    raise
                # The chat is gone or the bot is no longer in it (the app was removed): made again below.
                log.info("teams_direct_room_stale", extra={"event": "teams_direct_room_stale", "status": exc.status})
                direct_rooms.forget(self.sessions, user)
        try:
            room, service_url = self._direct_room(step, user)
        except TeamsRefused as exc:
            if exc.code == _BLOCKED or not exc.permanent:
                raise
            # No 1:1 chat could be had: the person is not in the tenant, or the app cannot be installed for them.
            raise TeamsRefused(step, exc.status, exc.code,
                               "user_not_found" if exc.status == 404 else "not_installed") from None
        return Posted(room, self._run(step, self._post(step, room, activity, service_url)))

    def _direct_room(self, step: str, user: str) -> tuple[str, str]:
        service_url = self.endpoints.service_url
        try:
            room = self._run(step, self._create_conversation(step, user, service_url))
        except TeamsRefused as exc:
            if exc.status != 403 or exc.code == _BLOCKED:
                raise
            # Not installed for the person: install it for them (Graph), then once more.
            self._run(step, self._install_for(step, user))
            room = self._run(step, self._create_conversation(step, user, service_url))
        direct_rooms.remember(self.sessions, user_id=user, room=room, service_url=service_url, now=self.now())
        with self._lock:
            self._service_urls[room] = service_url
        return room, service_url

    async def _create_conversation(self, step: str, user: str, service_url: str) -> str:
        # The member by their Entra object id in Teams' MRI form; the tenant is required.
        body = {"isGroup": False, "bot": {"id": f"28:{self.credentials.client_id}"},
                "members": [{"id": f"8:orgid:{user}", "aadObjectId": user}],
                "tenantId": self.credentials.tenant_id, "channelData": {"tenant": {"id": self.credentials.tenant_id}}}
        response = await self._connector_call(step, "POST", service_url, "/v3/conversations", body)
        room = response.json().get("id") if response.content else None
        if not isinstance(room, str) or not room:
            raise PlatformFailure(step, "Teams did not say which conversation it made", permanent=False)
        return room

    async def _install_for(self, step: str, user: str) -> None:
        try:
            await self._graph_call(step, "POST", f"/users/{quote(user, safe='')}/teamwork/installedApps",
                                   {"teamsApp@odata.bind": self._app_bind()})
        except TeamsRefused as exc:
            if exc.status != 409:  # 409: installed meanwhile, which is what was wanted
                raise

    # ------------------------------------------------------------------------- files

    def upload_file(self, room: str, filename: str, content: bytes, title: str) -> Posted:
        """A bot's file reaches a person only in their 1:1 chat, through a consent card: Teams asks them where to
        keep it (their OneDrive) and the upload happens when they accept (`accept_file`). So:

        - to a 1:1 chat: the consent card there; `ref` is "<room>|<card's activity id>";
        - to a case chat: the consent card to each member of the chat in their own 1:1 chat (the file reaches
          the same people as a file shared in the case's Slack channel, and nobody else), and a line in the case
          chat saying so, whose "<room>|<activity id>" is the `ref`. Members who cannot be reached are logged by
          count; if none can be, it fails as the last of them did.

        The content waits in this process's memory (an hour at most) for the acceptance, so a card accepted after
        that, or sent by another process (`pmccg worker` beside `pmccg teams`), says to ask again (follow-up: keep
        it in the database for the hour). `delete_file` takes the card or the line down from any process."""
        step = f"sharing {filename}"
        if not room.startswith("19:"):
            posted = self._post_consent(step, room, filename, content, title,
                                        lambda card: Posted(room, self._run(step, self._post(
                                            step, room, card, self._service_url(room)))))
            return Posted(room, f"{room}|{posted.ref}")
        members = self._run(step, self._chat_members(step, room))
        reached = 0
        last: PlatformFailure | None = None
        for user in members:
            try:
                self._post_consent(step, user, filename, content, title,
                                   lambda card, u=user: self._send_direct(step, u, card))
                reached += 1
            except PlatformFailure as exc:
                if not exc.permanent:
                    raise
                last = exc
        if reached == 0:
            raise last or PlatformFailure(step, "the chat has no members to send it to")
        if reached < len(members):
            log.warning("teams_file_not_reached", extra={"event": "teams_file_not_reached",
                                                         "count": len(members) - reached})
        notice = {"type": "message", "textFormat": "plain",
                  "text": f"{title}: {filename} was sent to each member of this chat in their chat with the bot."}
        activity_id = self._run(step, self._post(step, room, notice, self._service_url(room)))
        return Posted(room, f"{room}|{activity_id}")

    async def _chat_members(self, step: str, room: str) -> list[str]:
        try:
            listed = (await self._graph_call(step, "GET", f"/chats/{quote(room, safe='')}/members")).json()
        except TeamsRefused as exc:
            raise self._chat_gone(exc) from None
        return list(dict.fromkeys(str(m["userId"]) for m in listed.get("value") or [] if m.get("userId")))

    def _post_consent(self, step: str, where: str, filename: str, content: bytes, title: str,
                      send: Callable[[dict[str, Any]], Posted]) -> Posted:
        token = secrets.token_urlsafe(18)
        card = {"type": "message", "text": title, "attachments": [{
            "contentType": FILE_CONSENT_CONTENT_TYPE, "name": filename,
            "content": {"description": title, "sizeInBytes": len(content),
                        "acceptContext": {"pmccg_file": token}, "declineContext": {"pmccg_file": token}}}]}
        posted = send(card)
        now = time.monotonic()
        with self._lock:
            self._pending_files = {k: v for k, v in self._pending_files.items() if v.expires > now}
            self._pending_files[token] = _PendingFile(filename, content, posted.room, posted.ref,
                                                      now + PENDING_FILE_SECONDS)
        return posted

    def _take_pending(self, token: Any, room: str | None) -> _PendingFile | None:
        # A consent names its file by the card's context; given `room` (the invoke's chat), it counts only from
        # the 1:1 chat the card was offered in, so a context copied into another chat takes nothing.
        if not isinstance(token, str):
            return None
        with self._lock:
            pending = self._pending_files.get(token)
            if pending is None or (room is not None and pending.room != room):
                return None
            return self._pending_files.pop(token)

    async def accept_file(self, token: str, upload_info: dict[str, Any], *, room: str | None = None) -> bool:
        """The person accepted the consent card: a `fileConsent/invoke` whose value has `action` "accept",
        `context` {"pmccg_file": token} and `uploadInfo` (uploadUrl, contentUrl, name, uniqueId, fileType). Puts the
        content at the upload address (pre-authorised: our token is not sent there), then replaces the consent
        card with the file's card, in place. False when this process holds no such file (an hour passed, or
        another process sent it: the person asks again), or none offered in `room`. Runs on the loop (the server's
        invoke handler)."""
        pending = self._take_pending(token, room)
        upload_url = str(upload_info.get("uploadUrl") or "")
        if pending is None or not upload_url:
            return False
        parts = urlsplit(upload_url)
        if parts.scheme != "https" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise PlatformFailure("sharing the file", "the upload address is not https")
        size = len(pending.content)
        await self._call("sharing the file", "PUT", upload_url, scope=None, content=pending.content,
                         headers={"Content-Range": f"bytes 0-{max(size - 1, 0)}/{size}"})
        info = {"type": "message", "attachments": [{
            "contentType": FILE_INFO_CONTENT_TYPE, "name": upload_info.get("name") or pending.filename,
            "contentUrl": upload_info.get("contentUrl"),
            "content": {"uniqueId": upload_info.get("uniqueId"), "fileType": upload_info.get("fileType")}}],
            "id": pending.activity_id}
        await self._connector_call("sharing the file", "PUT", self._service_url(pending.room),
                                   f"/v3/conversations/{pending.room}/activities/{pending.activity_id}", info)
        return True

    def decline_file(self, token: str, *, room: str | None = None) -> bool:
        """Forget the file (nothing is uploaded); False when there was none (offered in `room`, if given)."""
        return self._take_pending(token, room) is not None

    def delete_file(self, ref: str) -> None:
        """Takes down the consent card. A file the person accepted is in their own OneDrive, which the bot
        cannot reach: that is theirs to delete, as a file someone downloaded from Slack is."""
        room, _, activity_id = ref.rpartition("|")
        if not room or not activity_id:
            raise PlatformFailure("deleting a file", "file_not_found")
        try:
            self.delete_message(room, activity_id)
        except PlatformFailure as exc:
            if exc.error == "message_not_found":
                raise PlatformFailure("deleting a file", "file_not_found") from None
            raise


class LoopThread:
    """An event loop on a daemon thread of its own, for a process that sends to Teams without serving it
    (`pmccg worker`, the in-process scheduler): TeamsWorkspace submits its calls here."""

    def __init__(self, name: str = "teams-send") -> None:
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self.thread.start()
        self._ready.wait(5)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        self.loop.run_forever()

    def stop(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.loop.is_running() and not self.loop.is_closed():
            self.loop.close()
