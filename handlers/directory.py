"""The workspace directory's names, kept in memory only, to refuse staff names in typed text.

Loading it is slow on a large workspace (users.list is paginated), so it is refreshed in the
background when the convene modal opens, long before the form is submitted.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)


@dataclass
class Directory:
    client: WebClient
    ttl_seconds: float = 600.0
    _names: tuple[str, ...] = ()
    _bots: frozenset[str] = frozenset()
    _loaded_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loading: threading.Event | None = None

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
        try:
            cursor = None
            while True:
                page = self.client.users_list(limit=200, cursor=cursor)
                for user in page.get("members", []):
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
            log.info("directory_refreshed", extra={"event": "directory_refreshed", "count": len(names)})
        except (SlackApiError, OSError) as exc:
            log.warning("directory_refresh_failed", extra={"event": "directory_refresh_failed",
                                                           "error": type(exc).__name__})
        finally:
            with self._lock:
                loading, self._loading = self._loading, None
            if loading is not None:
                loading.set()
