"""The one clock: every "now" in the process is read here, as an aware UTC datetime.

Production reads the system clock (freezegun controls it in tests). Only the sandbox moves it,
by an offset, so reminders and the one-week rules can be watched happening in a demo.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

_lock = threading.Lock()
_offset = timedelta(0)


def now() -> datetime:
    """Return the current time in UTC, plus the sandbox's offset (zero outside the sandbox)."""
    return datetime.now(UTC) + _offset


def advance(by: timedelta) -> datetime:
    """Move the clock forward (sandbox only); returns the new "now". Time never runs backwards."""
    global _offset
    if by < timedelta(0):
        raise ValueError("the clock only moves forward")
    with _lock:
        _offset += by
    return now()


def offset() -> timedelta:
    return _offset


def reset() -> None:
    """Back to the system clock (tests of the sandbox clean up with this)."""
    global _offset
    with _lock:
        _offset = timedelta(0)
