"""Small-number suppression, as NHS statistical disclosure practice does it, so no case can be re-identified.

A count from 1 to threshold-1 is not shown ("<5"): primary suppression. Zero is shown: it identifies
nobody. The hidden counts are then checked against everything a reader can know (the total above
all, shown or itself "<5"), and further counts are hidden ("*": secondary suppression) until every
hidden count, and a hidden total, has at least two values consistent with what is published. Where
no count is left to hide and one could still be worked out (eight calls, four doctors and four
nurses: "<5" and "<5" under a total of 8 can only be 4 and 4), the table is not broken down at all
("–": withheld).

What the reader is taken to know (the exhaustive tests in tests/test_suppression.py check the same
model by brute force, not with this code):
- a shown count, exactly; a zero, exactly;
- "<5": a count from 1 to threshold-1;
- "*": a count of threshold or more (the algorithm hides only counts of threshold or more this way,
  never a zero), and, as it hides the smallest shown count first (the earlier row on a tie), no more
  than any count still shown, and less than a shown one in an earlier row;
- "–": anything from zero up;
- the table's total: exactly when it is shown, from 1 to threshold-1 when it is hidden ("<5"); the
  rows add up to it;
- any upper bound on a row that other figures give away (`at_most`: the report works these out,
  e.g. the outcomes circulated, which are at most the calls with an outcome recorded).
Not modelled: a reader who re-runs this algorithm on every table the report could have come from
and keeps those that come out the same (so learns, say, that "*" was needed at all). Measured on
every split of 8 to 20 cases over five rows, that reader could pin a hidden count in about 4% of
tables; hiding a further count whenever any is hidden would bring that to under 0.5%, at the cost of
about four times as many counts of 5 or more hidden (1.05 a table instead of 0.27).

The value of a hidden count is dropped here, so no document built from it can leak it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

PRIMARY, SECONDARY, WITHHELD = "primary", "secondary", "withheld"
WITHHELD_MARK = "–"


@dataclass(frozen=True)
class Count:
    """A count as published: `value` is None when it is hidden; `shown` is what the reader sees."""

    value: int | None
    shown: str
    hidden: str | None = None  # PRIMARY, SECONDARY or WITHHELD when the count is hidden

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


def table(values: Mapping[str, int], threshold: int, *, at_most: Mapping[str, int] | None = None
          ) -> dict[str, Count]:
    """Counts that add up to a published total (their sum; hidden when it is under the threshold).

    Primary suppression, then secondary until no hidden count can be worked out (see the module
    docstring for what the reader knows); the whole table is withheld when no further count is left
    to hide. `at_most`: bounds on rows that other published figures give the reader.
    """
    keys = list(values)
    caps = [(at_most or {}).get(key) for key in keys]
    states = hide([values[k] for k in keys], threshold, caps=caps)
    marks = {PRIMARY: f"<{threshold}", SECONDARY: "*", WITHHELD: WITHHELD_MARK}
    return {key: Count(values[key], str(values[key])) if state is None else Count(None, marks[state], state)
            for key, state in zip(keys, states, strict=True)}


def hide(values: Sequence[int], threshold: int, *, caps: Sequence[int | None] | None = None
         ) -> tuple[str | None, ...]:
    """Which cells of a table to hide, and how: None (shown), PRIMARY, SECONDARY or WITHHELD, per cell.

    The total is the sum of `values`. Each round hides the smallest count still shown (the earlier
    row on a tie) until `safe`; tables of a handful of rows, so a few rounds at most.
    """
    states: list[str | None] = [PRIMARY if 0 < v < threshold else None for v in values]
    if PRIMARY not in states:
        return tuple(states)
    while not safe(values, states, threshold, caps):
        smallest: int | None = None
        for i, v in enumerate(values):
            if states[i] is None and v > 0 and (smallest is None or v < values[smallest]):
                smallest = i
        if smallest is None:
            return (WITHHELD,) * len(values)
        states[smallest] = SECONDARY
    return tuple(states)


def safe(values: Sequence[int], states: Sequence[str | None], threshold: int,
         caps: Sequence[int | None] | None = None) -> bool:
    """True when every hidden cell (and a hidden total) has at least two values open to the reader.

    Each hidden cell is known to lie in an interval [lo, hi], and the hidden cells add up to what the
    total leaves, `rest` (itself an interval when the total is hidden). The values one cell can take
    are then [max(lo, rest_lo - others' hi), min(hi, rest_hi - others' lo)]: a sum of integer
    intervals is an interval, so nothing in between is ruled out. (Written for speed: the exhaustive
    tests run it on every split of up to twenty cases.)
    """
    t = threshold
    total = shown_sum = 0
    shown_large: list[tuple[int, int]] = []  # (row, count) of the counts of t or more still shown
    for i, v in enumerate(values):
        total += v
        if states[i] is None:
            shown_sum += v
            if v >= t:
                shown_large.append((i, v))
    total_hidden = 0 < total < t
    if total_hidden:
        rest_lo, rest_hi = 1 - shown_sum, t - 1 - shown_sum
    else:
        rest_lo = rest_hi = total - shown_sum
    bounds: list[tuple[int, int]] = []
    sum_lo = sum_hi = 0
    for i, state in enumerate(states):
        if state is None:
            continue
        if state is PRIMARY:
            lo, hi = 1, t - 1
        elif state is SECONDARY:
            lo, hi = t, rest_hi
            for j, v in shown_large:  # hidden before each count still shown, so not larger than it
                below = v - 1 if j < i else v
                if below < hi:
                    hi = below
        else:
            lo, hi = 0, rest_hi
        cap = caps[i] if caps is not None else None
        if cap is not None and cap < hi:
            hi = cap
        bounds.append((lo, hi))
        sum_lo += lo
        sum_hi += hi
    if total_hidden and min(rest_hi, sum_hi) <= max(rest_lo, sum_lo):
        return False  # the hidden total itself would be known
    most, least = rest_hi - sum_lo, rest_lo - sum_hi  # what the others leave, before adding back one's own
    return all(min(hi, most + lo) > max(lo, least + hi) for lo, hi in bounds)


def at_least(value: int, threshold: int) -> int:
    """What a reader knows a count is at least, from `count(value)`: the value, 1 when "<5", or 0."""
    return value if not small(value, threshold) else 1


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

