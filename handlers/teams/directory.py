"""The organisation's directory on Teams: its names, to refuse staff names in typed text, and who is a person.

Microsoft Graph answers (application permission User.Read.All). Like handlers/slack/directory.py:
names are kept in memory only and reloaded in the background (`GET /users`, paged with
`@odata.nextLink`); `standing` is bot/domain/people.py's `People` for Entra object ids: the GUID form
is checked here, then `GET /users/{id}` (in parallel, within a bounded time) says whether the id is an
enabled member of this organisation. A guest (userType Guest) is a person of another organisation and
refused as UNKNOWN, as Slack refuses a stranger seen through a shared channel. Answers are cached
briefly, so a leaver (accountEnabled false) is noticed within minutes.

The domain is synchronous and calls this from worker threads; Graph is called with httpx on the directory's
own event loop (one helper thread), never on the server's loop (so no caller can deadlock it), with one client
kept for every call: building one per lookup took ~0.2 s of the wait, and people came back UNCONFIRMED.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Collection, Coroutine, Iterable
from concurrent.futures import Future
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import certifi
import httpx

from bot.domain.people import LOOKUP_SECONDS, Standing
from handlers.teams.auth import TeamsAuthError, TeamsEndpoints

log = logging.getLogger(__name__)

# An Entra object id: a GUID, as Teams sends it in from.aadObjectId.
ENTRA_OBJECT_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# What a lookup and the list ask for: accountEnabled and userType come only when $select names them.
USER_SELECT = "id,accountEnabled,userType"
LIST_SELECT = "id,displayName,givenName,surname,accountEnabled,userType"
PAGE_SIZE = 999  # Graph's largest page of users
# Graph answers these for an id that is no user here; any other failure means "not confirmed".
NOT_HERE = frozenset({400, 404})
REQUEST_SECONDS = 10.0

Tokens = Callable[[str], Awaitable[str]]


def standing_of(user: dict[str, Any]) -> Standing:
    """A Graph user (with accountEnabled and userType selected), as the domain sees them."""
    if user.get("accountEnabled") is False:
        return Standing.DEACTIVATED
    if str(user.get("userType") or "Member").lower() == "guest":  # of another organisation
        return Standing.UNKNOWN
    return Standing.OK


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Built once: loading the CA bundle costs ~0.2 s per client otherwise (docs/teams-sdk-notes.md §3).
    return ssl.create_default_context(cafile=certifi.where())


def _names_of(user: dict[str, Any]) -> Iterable[str]:
    display = str(user.get("displayName") or "").strip()
    if display:
        yield display
    full = " ".join(str(user.get(k) or "").strip() for k in ("givenName", "surname")).strip()
    if full and " " in full:
        yield full


@dataclass
class TeamsDirectory:
    """`People` plus the names, over Microsoft Graph. `tokens` is handlers/teams/auth.py's ClientCredentialsTokens."""

    endpoints: TeamsEndpoints
    tokens: Tokens
    ttl_seconds: float = 600.0
    id_label: str = "Microsoft Entra object ID"
    id_example: str = "8f3c2a1e-5b6d-4e7f-9a0b-1c2d3e4f5a6b"
    lookup_seconds: float = LOOKUP_SECONDS
    standing_ttl_seconds: float = 120.0
    page_size: int = PAGE_SIZE
    first_load_seconds: float = 5.0  # how long a card waits for the first load of the names (render_name)
    transport: httpx.AsyncBaseTransport | None = None  # tests only; production uses the network
    _names: tuple[str, ...] = ()
    _display: dict[str, str] = field(default_factory=dict)
    _loaded_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loading: threading.Event | None = None
    _standings: dict[str, tuple[Standing, float]] = field(default_factory=dict)
    _loop: asyncio.AbstractEventLoop | None = None
    _http: httpx.AsyncClient | None = None

    # ----------------------------------------------------------------------------- People

    def standing(self, user_ids: Collection[str]) -> dict[str, Standing]:
        """Each id's standing: the GUID form first, then the cache, then Graph in parallel.

        Returns within about `lookup_seconds`; an id Graph has not answered for by then is
        UNCONFIRMED (its lookup finishes in the background and fills the cache for a retry).
        """
        found: dict[str, Standing] = {}
        todo: list[str] = []
        now = time.monotonic()
        for user_id in dict.fromkeys(user_ids):
            if not isinstance(user_id, str) or not ENTRA_OBJECT_ID.match(user_id):
                found[user_id] = Standing.MALFORMED
                continue
            cached = self._standings.get(user_id.lower())
            if cached is not None and now - cached[1] < self.standing_ttl_seconds:
                found[user_id] = cached[0]
            else:
                todo.append(user_id)
        if todo:
            future = self._submit(self._look_up_all(todo))
            wait_for([future], timeout=self.lookup_seconds)
            answered = future.result() if future.done() and future.exception() is None else {}
            for user_id in todo:
                found[user_id] = answered.get(user_id, Standing.UNCONFIRMED)
            late = sum(1 for u in todo if found[u] is Standing.UNCONFIRMED)
            if late:
                log.warning("people_unconfirmed", extra={"event": "people_unconfirmed", "count": late})
        return found

    def forget_standings(self) -> None:
        """Ask Graph again for everyone's standing on next use (the cache keeps each for `standing_ttl_seconds`)."""
        self._standings.clear()

    async def _look_up_all(self, user_ids: list[str]) -> dict[str, Standing]:
        client = self._client()
        try:
            token = await self.tokens(self.endpoints.graph_scope)
        except TeamsAuthError as exc:
            log.warning("graph_users_failed", extra={"event": "graph_users_failed", "error": type(exc).__name__})
            return {}
        answers = await asyncio.gather(*(self._look_up(client, token, u) for u in user_ids))
        return dict(zip(user_ids, answers, strict=True))

    async def _look_up(self, client: httpx.AsyncClient, token: str, user_id: str) -> Standing:
        url = f"{self.endpoints.graph_api_url.rstrip('/')}/users/{quote(user_id, safe='')}"
        try:
            response = await client.get(url, params={"$select": USER_SELECT}, headers=_auth(token))
        except httpx.HTTPError as exc:
            log.warning("graph_user_failed", extra={"event": "graph_user_failed", "error": type(exc).__name__})
            return Standing.UNCONFIRMED
        if response.status_code in NOT_HERE:
            answer = Standing.UNKNOWN
        elif response.status_code == 200:
            body = _json(response)
            answer = standing_of(body) if body.get("id", user_id).lower() == user_id.lower() else Standing.UNKNOWN
        else:
            # 401/403 (a permission not consented), 429, 5xx: not confirmed, and not cached, so a retry asks again.
            log.warning("graph_user_failed", extra={"event": "graph_user_failed", "status": response.status_code})
            return Standing.UNCONFIRMED
        self._standings[user_id.lower()] = (answer, time.monotonic())
        return answer

    # ----------------------------------------------------------------------------- names

    def names(self, wait_seconds: float = 0.0) -> tuple[str, ...]:
        """The names known now; waits up to `wait_seconds` for a refresh already under way."""
        loading = self._loading
        if loading is not None and wait_seconds > 0:
            loading.wait(wait_seconds)
        return self._names

    def display_name(self, user_id: str) -> str | None:
        """The person's display name as last loaded (for mentions, rendered at send time), or None."""
        return self._display.get(user_id.lower())

    def render_name(self, user_id: str) -> str | None:
        """`display_name` for a card being made now (handlers/teams/render.py's `names`). A process that sends
        before anything asked for the names (`pmccg worker`, the scheduler of `pmccg teams`) would otherwise
        mention everyone as "a member": the names are loaded first (waiting up to `first_load_seconds`) if they
        never were, and reloaded in the background once stale."""
        self.refresh_in_background()  # nothing while the names are fresh or a load is under way
        if not self._loaded_at:
            self.names(wait_seconds=self.first_load_seconds)
        return self.display_name(user_id)

    def refresh_in_background(self) -> None:
        with self._lock:
            if self._loading is not None or time.monotonic() - self._loaded_at < self.ttl_seconds and self._loaded_at:
                return
            self._loading = threading.Event()
        threading.Thread(target=self._refresh, name="directory-refresh", daemon=True).start()

    def _refresh(self) -> None:
        try:
            names, display, standings = self._submit(self._load_all()).result()
            self._names, self._display, self._loaded_at = tuple(sorted(names)), display, time.monotonic()
            # The list answers for everyone at once: a lookup is then needed only for ids it did not hold.
            self._standings.update({u: (s, self._loaded_at) for u, s in standings.items()})
            log.info("directory_refreshed", extra={"event": "directory_refreshed", "count": len(names)})
        except (httpx.HTTPError, TeamsAuthError, ValueError, OSError) as exc:
            status = exc.response.status_code if isinstance(exc, httpx.HTTPStatusError) else ""
            log.warning("directory_refresh_failed", extra={"event": "directory_refresh_failed",
                                                           "error": type(exc).__name__, "status": status})
        finally:
            with self._lock:
                loading, self._loading = self._loading, None
            if loading is not None:
                loading.set()

    async def _load_all(self) -> tuple[set[str], dict[str, str], dict[str, Standing]]:
        names: set[str] = set()
        display: dict[str, str] = {}
        standings: dict[str, Standing] = {}
        base = self.endpoints.graph_api_url.rstrip("/")
        url: str | None = f"{base}/users"
        params: dict[str, Any] | None = {"$select": LIST_SELECT, "$top": self.page_size}
        client = self._client()
        token = await self.tokens(self.endpoints.graph_scope)
        while url:
            response = await client.get(url, params=params, headers=_auth(token))
            response.raise_for_status()
            page = _json(response)
            for user in page.get("value") or []:
                if not isinstance(user, dict) or not isinstance(user.get("id"), str):
                    continue
                oid = user["id"].lower()
                standings[oid] = standing_of(user)
                for name in _names_of(user):
                    names.add(name)
                if user.get("displayName"):
                    display[oid] = str(user["displayName"]).strip()
            url, params = page.get("@odata.nextLink"), None  # the link carries the query
            if url is not None and not _same_origin(str(url), base):
                # The bearer token goes only to Graph itself, whatever a page says.
                raise ValueError("@odata.nextLink points outside GRAPH_API_URL")
        return names, display, standings

    def _submit(self, work: Coroutine[Any, Any, Any]) -> Future[Any]:
        """Run `work` on the directory's own loop, started on first use (the one client is bound to it)."""
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, name="graph-directory", daemon=True).start()
            loop = self._loop
        return asyncio.run_coroutine_threadsafe(work, loop)

    def _client(self) -> httpx.AsyncClient:
        # On the directory's loop only: built once and kept, so a lookup waits for Graph, not for a client.
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=REQUEST_SECONDS, transport=self.transport, verify=_tls_context())
        return self._http


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _same_origin(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)
