"""The one clock: every "now" in the process is read through a clock (bot/services.py `Clock`), aware UTC.

Production passes `now` (the system clock; freezegun controls it in tests) to the app and the scheduler.
The sandbox passes a `MovableClock` of its own to both, so reminders and the one-week rules can be watched
happening in a demo; nothing else in the process can move time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


def now() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


class MovableClock:
    """The system clock plus an offset that only grows (the sandbox's clock); call it for "now"."""

    def __init__(self, base: Callable[[], datetime] = now) -> None:
        self._base = base
        self._lock = threading.Lock()
        self._offset = timedelta(0)

    def __call__(self) -> datetime:
        return self._base() + self._offset

    def advance(self, by: timedelta) -> datetime:
        """Move the clock forward; returns the new "now". Time never runs backwards."""
        if by < timedelta(0):
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += by
        return self()
