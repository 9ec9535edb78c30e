"""The workspace directory: its names, to refuse staff names in typed text, and who is a person.

The names are kept in memory only. Loading them is slow on a large workspace (users.list is
paginated), so they are refreshed in the background when the convene modal opens, long before the
form is submitted. `standing` is the Slack implementation of bot/domain/people.py's `People`: Slack's own
user-id form is checked here, then `users.info` (in parallel, within a bounded time) says whether
the id is an active person of this workspace; answers are cached briefly, so a deactivation is
noticed within minutes.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.domain.people import LOOKUP_SECONDS, Standing

log = logging.getLogger(__name__)

# Slack user ids: U (or W on Enterprise Grid) then upper-case letters and digits.
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")
# users.info errors that mean "no such person here"; any other error means "not confirmed".
NOT_HERE = frozenset({"user_not_found", "user_not_visible", "users_not_found"})
LOOKUP_THREADS = 8


def standing_of(user: dict[str, Any]) -> Standing:
    """A users.info / users.list member, as the domain sees them."""
    if user.get("deleted"):
        return Standing.DEACTIVATED
    if user.get("is_bot") or user.get("id") == "USLACKBOT":
        return Standing.BOT
    if user.get("is_stranger"):  # a person of another organisation, seen through a shared channel
        return Standing.UNKNOWN
    return Standing.OK


@dataclass
class Directory:
    client: WebClient
    ttl_seconds: float = 600.0
    _names: tuple[str, ...] = ()
    _bots: frozenset[str] = frozenset()
    _loaded_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loading: threading.Event | None = None
    # bot/domain/people.py's People: how Slack's ids look, for messages; how long to wait for users.info.
    id_label: str = "Slack user ID"
    id_example: str = "U012AB3CD"
    lookup_seconds: float = LOOKUP_SECONDS
    standing_ttl_seconds: float = 120.0
    _standings: dict[str, tuple[Standing, float]] = field(default_factory=dict)

    def standing(self, user_ids: Collection[str]) -> dict[str, Standing]:
        """Each id's standing: Slack's form first, then the cache, then users.info in parallel.

        Returns within about `lookup_seconds`; an id Slack has not answered for by then is
        UNCONFIRMED (its lookup finishes in the background and fills the cache for a retry).
        """
        found: dict[str, Standing] = {}
        todo: list[str] = []
        now = time.monotonic()
        for user_id in dict.fromkeys(user_ids):
            if not isinstance(user_id, str) or not SLACK_USER_ID.match(user_id):
                found[user_id] = Standing.MALFORMED
                continue
            cached = self._standings.get(user_id)
            if cached is not None and now - cached[1] < self.standing_ttl_seconds:
                found[user_id] = cached[0]
            else:
                todo.append(user_id)
        if todo:
            pool = ThreadPoolExecutor(max_workers=min(LOOKUP_THREADS, len(todo)), thread_name_prefix="users-info")
            try:
                futures = {u: pool.submit(self._look_up, u) for u in todo}
                done, _ = wait_for(futures.values(), timeout=self.lookup_seconds)
                for user_id, future in futures.items():
                    found[user_id] = future.result() if future in done else Standing.UNCONFIRMED
            finally:
                pool.shutdown(wait=False)
            late = sum(1 for u in todo if found[u] is Standing.UNCONFIRMED)
            if late:
                log.warning("people_unconfirmed", extra={"event": "people_unconfirmed", "count": late})
        return found

    def _look_up(self, user_id: str) -> Standing:
        try:
            user = self.client.users_info(user=user_id).get("user") or {}
            answer = standing_of(user)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "")) if exc.response is not None else ""
            if error not in NOT_HERE:
                log.warning("users_info_failed", extra={"event": "users_info_failed", "error": error})
                return Standing.UNCONFIRMED
            answer = Standing.UNKNOWN
        except (SlackClientError, OSError) as exc:
            log.warning("users_info_failed", extra={"event": "users_info_failed", "error": type(exc).__name__})
            return Standing.UNCONFIRMED
        self._standings[user_id] = (answer, time.monotonic())
        return answer

    def names(self, wait_seconds: float = 0.0) -> tuple[str, ...]:
        """The names known now; waits up to `wait_seconds` for a refresh already under way."""
        loading = self._loading
        if loading is not None and wait_seconds > 0:
            loading.wait(wait_seconds)
        return self._names

    @property
    def bots(self) -> frozenset[str]:
        return self._bots

    def refresh_in_background(self) -> None:
        with self._lock:
            if self._loading is not None or time.monotonic() - self._loaded_at < self.ttl_seconds and self._loaded_at:
                return
            self._loading = threading.Event()
        threading.Thread(target=self._refresh, name="directory-refresh", daemon=True).start()

    def _refresh(self) -> None:
        names: set[str] = set()
        bots: set[str] = set()
        standings: dict[str, Standing] = {}
        try:
            cursor = None
            while True:
                page = self.client.users_list(limit=200, cursor=cursor)
                for user in page.get("members", []):
                    if isinstance(user.get("id"), str):
                        standings[user["id"]] = standing_of(user)
                    if user.get("is_bot") or user.get("id") == "USLACKBOT":
                        bots.add(user.get("id", ""))
                        continue
                    profile = user.get("profile", {})
                    for key in ("real_name", "display_name"):
                        value = (profile.get(key) or "").strip()
                        if value:
                            names.add(value)
                    if user.get("real_name"):
                        names.add(user["real_name"].strip())
                cursor = page.get("response_metadata", {}).get("next_cursor")
                if not cursor:
                    break
            self._names, self._bots, self._loaded_at = tuple(sorted(names)), frozenset(bots), time.monotonic()
            # The list answers for everyone at once: users.info is then needed only for ids it did not hold.
            self._standings.update({u: (s, self._loaded_at) for u, s in standings.items()})
            log.info("directory_refreshed", extra={"event": "directory_refreshed", "count": len(names)})
        except (SlackApiError, OSError) as exc:
            log.warning("directory_refresh_failed", extra={"event": "directory_refresh_failed",
                                                           "error": type(exc).__name__})
        finally:
            with self._lock:
                loading, self._loading = self._loading, None
            if loading is not None:
                loading.set()
