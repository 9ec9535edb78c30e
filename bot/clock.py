"""The one clock: every "now" in the process is read here, as an aware UTC datetime."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """Return the current time in UTC (freezegun controls it in tests)."""
    return datetime.now(UTC)
