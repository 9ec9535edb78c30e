"""Small-number suppression, as NHS statistical disclosure practice does it, so no case can be re-identified.

A count from 1 to threshold-1 is not shown ("<5"): primary suppression. Where a table's total is
known, one hidden cell could be worked out by subtracting the others from the total, so the next
smallest shown count is hidden too ("*"): secondary suppression. Zero is shown: it identifies nobody.
The value of a hidden count is dropped here, so no document built from it can leak it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

PRIMARY, SECONDARY = "primary", "secondary"


@dataclass(frozen=True)
class Count:
    """A count as published: `value` is None when it is hidden; `shown` is what the reader sees."""

    value: int | None
    shown: str
    hidden: str | None = None  # PRIMARY or SECONDARY when the count is hidden

    @property
    def is_hidden(self) -> bool:
        return self.value is None


def small(value: int, threshold: int) -> bool:
    return 0 < value < threshold


def count(value: int, threshold: int) -> Count:
    """One count on its own (no total published beside it)."""
    if small(value, threshold):
        return Count(None, f"<{threshold}", PRIMARY)
    return Count(value, str(value))


def table(values: Mapping[str, int], threshold: int, *, total_hidden: bool = False) -> dict[str, Count]:
    """Counts that add up to a published total: primary suppression, then secondary until no table
    has exactly one hidden non-zero cell (one hidden cell would equal the total minus the rest).

    `total_hidden`: the total is itself hidden elsewhere (say, calls held); the shown cells would add
    up to it, so every non-zero cell is hidden.
    """
    if total_hidden:
        return {key: Count(0, "0") if value == 0 else Count(None, f"<{threshold}", PRIMARY)
                if small(value, threshold) else Count(None, "*", SECONDARY) for key, value in values.items()}
    hidden = {key for key, value in values.items() if small(value, threshold)}
    if len(hidden) == 1:
        # Hide the smallest shown non-zero count as well (ties: the first in table order).
        candidates = sorted((value, index, key) for index, (key, value) in enumerate(values.items())
                            if key not in hidden and value > 0)
        if candidates:
            secondary = candidates[0][2]
            return {key: (Count(None, "*", SECONDARY) if key == secondary else
                          Count(None, f"<{threshold}", PRIMARY) if key in hidden else Count(value, str(value)))
                    for key, value in values.items()}
    return {key: Count(None, f"<{threshold}", PRIMARY) if key in hidden else Count(value, str(value))
            for key, value in values.items()}


def share(numerator: int, denominator: int, threshold: int) -> str:
    """A share, shown no more precisely than the counts behind it: a part (or its complement) under the
    threshold is given as a range, so the share cannot reveal a count the tables hide."""
    if denominator == 0:
        return "none yet"
    if denominator < threshold:
        return f"not shown (fewer than {threshold})"
    if small(numerator, threshold):
        return f"fewer than {threshold} of {denominator}"
    if small(denominator - numerator, threshold):
        return f"at least {denominator - threshold + 1} of {denominator}"
    return f"{round(100 * numerator / denominator)}% ({numerator} of {denominator})"
