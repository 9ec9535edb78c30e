"""The reporting year: a calendar year on the organisation's wall clock, checked where it is typed."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.domain.errors import InvalidInput

FIRST_YEAR = 2000


def parse_year(text: str | None, now: datetime, zone: ZoneInfo) -> int:
    """The year asked for (this year in the organisation's zone when none is given).

    Raises InvalidInput keyed "year" for anything but a four-digit year from FIRST_YEAR to this year.
    """
    this_year = now.astimezone(zone).year
    raw = (text or "").strip()
    if not raw:
        return this_year
    if not (raw.isascii() and raw.isdigit() and len(raw) == 4):
        raise InvalidInput({"year": f"{raw[:20]!r} is not a year. Give a year such as {this_year}."})
    year = int(raw)
    if not FIRST_YEAR <= year <= this_year:
        raise InvalidInput({"year": f"There is no record for {year}: give a year from {FIRST_YEAR} to {this_year}."})
    return year


def year_bounds(year: int, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of `year` on the organisation's wall clock, as aware UTC datetimes."""
    start = datetime(year, 1, 1, tzinfo=zone).astimezone(UTC)
    end = datetime(year + 1, 1, 1, tzinfo=zone).astimezone(UTC)
    return start, end
