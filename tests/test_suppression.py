"""Suppression that holds: no count the annual report hides can be worked out from what it publishes.

Exhaustive: every split of up to twenty cases over each breakdown of the report (the terms'
professions, the routes, the recommended processes, the quorum, the action points), run through
`suppression.hide`, then checked by brute force, independently of the code under test: for each
published table, every value each hidden cell could take is tried against every way the other cells
could add up to the total, as sets of possible sums (bit masks, one bit per value, numpy-vectorised
over all the splits of a total at once).

What the reader knows, cell by cell (the same model bot/records/suppression.py states):
  a shown count or zero: that value; "<5": 1 to 4; "*": 5 or more (never small, never zero), and no
  more than any count of 5 or more still shown (less than one in an earlier row), since the smallest
  is hidden first; "–": anything; the total: exactly, or 1 to 4 when it is "<5"; a bound another
  figure gives (the calls with an outcome are at least the outcomes circulated).
"""

from __future__ import annotations

import time
from functools import cache

import numpy as np
import pytest

from bot.domain.outcomes import Process
from bot.domain.routes import Route
from bot.domain.terms import load_terms
from bot.records import suppression
from bot.records.annual_report import ACTION_LABELS, QUORUM_LABELS

T = 5  # the terms' default threshold
LARGEST = 20  # splits of 1 to 20 cases
FULL = 12  # every split, zeros anywhere, up to this many cases
CODE = {None: 0, suppression.PRIMARY: 1, suppression.SECONDARY: 2, suppression.WITHHELD: 3}

TABLES = {  # rows of each breakdown of the annual report
    "profession": len(load_terms().professions),
    "route": len(Route),
    "process": len(Process) + 1,  # and "no outcome recorded yet"
    "quorum": len(QUORUM_LABELS),
    "action point": len(ACTION_LABELS),
}


@cache
def splits(rows: int, total: int) -> np.ndarray:
    """Every way of spreading `total` cases over `rows` rows, one split per line."""
    if rows == 1:
        return np.array([[total]], dtype=np.int64)
    return np.vstack([np.hstack([np.full((len(rest := splits(rows - 1, total - first)), 1), first), rest])
                      for first in range(total + 1)])


def packed(rows: int, total: int) -> np.ndarray:
    """Every sequence of non-zero counts adding up to `total`, in the first rows, zeros after."""
    return np.vstack([np.hstack([splits(k, total - k) + 1, np.zeros((len(splits(k, total - k)), rows - k),
                                                                    dtype=np.int64)])
                      for k in range(1, min(rows, total) + 1)])


def tables(rows: int, total: int) -> np.ndarray:
    """The splits to try: all of them, but for seven rows above FULL cases, where there are 100,000 to
    230,000 per total, the packed ones. Where the zero rows sit changes nothing (they are shown,
    never hidden but with the whole table, and take no part in the order of hiding):
    test_where_the_zero_rows_sit_changes_nothing checks that on every split up to FULL cases."""
    return splits(rows, total) if rows <= 5 or total <= FULL else packed(rows, total)


STATES = {}  # a hidden pattern as codes, built once per pattern


def codes(states: tuple[str | None, ...]) -> tuple[int, ...]:
    if states not in STATES:
        STATES[states] = tuple(CODE[s] for s in states)
    return STATES[states]


def publish(values: np.ndarray, caps: list[int | None] | None = None, t: int = T) -> np.ndarray:
    """What the code under test hides, as codes per cell (0 shown, 1 "<5", 2 "*", 3 "–")."""
    hide = suppression.hide
    return np.array([codes(hide(row, t, caps=caps)) for row in values.tolist()],
                    dtype=np.int64).reshape(values.shape)


def bits(lo: np.ndarray | int, hi: np.ndarray | int) -> np.ndarray:
    """The mask with bits lo..hi set (none when hi < lo)."""
    lo, hi = np.asarray(lo, dtype=np.int64), np.asarray(hi, dtype=np.int64)
    return np.where(hi >= lo, ((1 << (hi + 1)) - 1) & ~((1 << lo) - 1), 0)


def add(a: np.ndarray, b: np.ndarray, top: int) -> np.ndarray:
    """The sums x + y, x from a and y from b, as a mask up to `top`."""
    out = np.zeros_like(a)
    for x in range(top + 1):
        out |= np.where((a >> x) & 1 == 1, b << x, 0)
    return out & ((1 << (top + 1)) - 1)


def reader_domains(values: np.ndarray, states: np.ndarray, total: int, caps: list[int | None] | None, t: int
                   ) -> tuple[np.ndarray, int, int]:
    """Per cell, the values the reader allows it (a mask); the totals they allow; the largest total."""
    top = total if total >= t else t - 1
    rows, cells = values.shape
    shown_large = (states == 0) & (values >= t)
    domains = np.zeros_like(values)
    for i in range(cells):
        # "*": not larger than any count of t or more still shown, and smaller than one in an earlier row.
        limit = np.full(rows, top)
        for j in range(cells):
            if j != i:
                limit = np.where(shown_large[:, j], np.minimum(limit, values[:, j] - (1 if j < i else 0)), limit)
        state = states[:, i]
        domains[:, i] = np.select(
            [state == 0, state == 1, state == 2, state == 3],
            [np.int64(1) << values[:, i], bits(1, t - 1), bits(t, limit), bits(0, top)])
        if caps and caps[i] is not None:
            domains[:, i] &= bits(0, caps[i])
    totals = int(bits(total, total)) if total >= t else int(bits(1, t - 1))
    return domains, totals, top


def popcount(masks: np.ndarray) -> np.ndarray:
    return sum(((masks >> v) & 1 for v in range(LARGEST + 1)), np.zeros_like(masks))


def possible(values: np.ndarray, states: np.ndarray, total: int, caps: list[int | None] | None = None,
             t: int = T) -> tuple[np.ndarray, np.ndarray]:
    """The values each cell could have for the reader, and the totals, as masks (brute force over sums)."""
    domains, totals, top = reader_domains(values, states, total, caps, t)
    rows, cells = values.shape
    before = [np.ones(rows, dtype=np.int64)]  # the sums the cells before i could make (bit 0: nothing)
    for i in range(cells):
        before.append(add(before[-1], domains[:, i], top))
    after = [np.ones(rows, dtype=np.int64)]
    for i in reversed(range(cells)):
        after.append(add(after[-1], domains[:, i], top))
    after.reverse()
    found = np.zeros_like(values)
    for i in range(cells):
        others = add(before[i], after[i + 1], top)
        for v in range(top + 1):
            # v is possible when the others can make up one of the totals the reader allows.
            found[:, i] |= np.where(((domains[:, i] >> v) & 1 == 1) & ((others << v) & totals != 0), 1 << v, 0)
    assert ((found >> values) & 1 == 1).all(), "the reader's model rules out the true value: the model is wrong"
    return found, before[cells] & totals


def assert_nothing_given_back(values: np.ndarray, states: np.ndarray, total: int,
                              caps: list[int | None] | None = None, t: int = T) -> np.ndarray:
    found, totals = possible(values, states, total, caps, t)
    given_back = (states != 0) & (values > 0) & (popcount(found) < 2)
    if given_back.any():
        row = int(np.argwhere(given_back.any(axis=1))[0][0])
        pytest.fail(f"{values[row].tolist()} (caps {caps}) published as {states[row].tolist()} "
                    "gives back a hidden count")
    if 0 < total < t:
        assert (popcount(totals) >= 2).all(), "a hidden total is given back"
    return found


# --- the example, and what each mark looks like -------------------------------------------


def test_doctor_12_nursing_1_paramedic_1_does_not_give_back_the_hidden_cells() -> None:
    counts = suppression.table({"doctor": 12, "nursing": 1, "paramedic": 1, "pharmacy": 0}, T)
    assert {k: c.shown for k, c in counts.items()} == {"doctor": "*", "nursing": "<5", "paramedic": "<5",
                                                       "pharmacy": "0"}
    assert all(counts[k].value is None for k in ("doctor", "nursing", "paramedic"))  # dropped, not masked
    # Total 14: doctor 5 or more, the other two 1 to 4 each: nursing could be 1 to 4.
    values = np.array([[12, 1, 1, 0]])
    found, _ = possible(values, publish(values), 14)
    assert popcount(found)[0].tolist() == [7, 4, 4, 1]  # doctor 6 to 12; nursing, paramedic 1 to 4; pharmacy 0


@pytest.mark.parametrize(("values", "expected"), [
    pytest.param({"a": 6, "b": 1, "c": 0, "d": 9}, {"a": "*", "b": "<5", "c": "0", "d": "9"},
                 id="one small count: the smallest other is hidden with it"),
    pytest.param({"a": 5, "b": 1, "c": 7}, {"a": "*", "b": "<5", "c": "*"},
                 id="5 and 1 would add up to exactly what the total leaves: a third is hidden"),
    pytest.param({"a": 6, "b": 2, "c": 2}, {"a": "6", "b": "<5", "c": "<5"},
                 id="two small counts sharing 4: each 1 to 3, nothing more to hide"),
    pytest.param({"a": 4, "b": 4, "c": 0}, {"a": "–", "b": "–", "c": "–"},
                 id="4 and 4 of 8 with nothing else to hide: the table is withheld"),
    pytest.param({"a": 1, "b": 1, "c": 1, "d": 1, "e": 0}, {k: "–" for k in "abcde"},
                 id="four calls in four rows: each would be 1, so withheld"),
    pytest.param({"a": 1, "b": 2, "c": 0}, {"a": "<5", "b": "<5", "c": "0"},
                 id="a hidden total of three: each row 1 to 3"),
])
def test_what_each_table_shows(values: dict[str, int], expected: dict[str, str]) -> None:
    assert {k: c.shown for k, c in suppression.table(values, T).items()} == expected


def test_a_share_is_no_more_precise_than_its_counts() -> None:
    assert suppression.share(6, 19, T) == "32% (6 of 19)"
    assert suppression.share(11, 12, T) == "at least 8 of 12"
    assert suppression.share(2, 12, T) == "fewer than 5 of 12"
    assert suppression.share(3, 4, T) == "not shown (fewer than 5)"


@pytest.mark.parametrize(("bound", "expected"), [
    pytest.param(None, {"informal": "7", "formal": "*", "no_outcome": "<5"}, id="no bound"),
    pytest.param(2, {"informal": "7", "formal": "*", "no_outcome": "<5"}, id="12 of 14 circulated: 1 or 2"),
    pytest.param(1, {"informal": "–", "formal": "–", "no_outcome": "–"},
                 id="13 of 14 circulated: '<5' would be exactly 1, withheld"),
])
def test_a_bound_from_another_figure_is_taken_into_account(bound: int | None, expected: dict[str, str]) -> None:
    values = {"informal": 7, "formal": 6, "no_outcome": 1}
    at_most = {"no_outcome": bound} if bound is not None else None
    assert {k: c.shown for k, c in suppression.table(values, T, at_most=at_most).items()} == expected


# --- exhaustively ---------------------------------------------------------------------------------


@pytest.mark.parametrize("cells", sorted(set(TABLES.values()), reverse=True),
                         ids=lambda n: "rows: " + ", ".join(k for k, v in TABLES.items() if v == n) + f" ({n})")
def test_no_split_of_up_to_twenty_cases_gives_back_a_hidden_count(cells: int) -> None:
    started = time.perf_counter()
    tried = 0
    for total in range(1, LARGEST + 1):
        values = tables(cells, total)
        assert_nothing_given_back(values, publish(values), total)
        tried += len(values)
    print(f"{cells} rows: {tried} splits in {time.perf_counter() - started:.2f}s")


@pytest.mark.parametrize("threshold", [3, 10], ids=lambda t: f"threshold {t}")
def test_another_threshold_holds_too(threshold: int) -> None:
    """The terms may set any threshold from 3: every split of up to twenty cases over five rows."""
    for total in range(1, LARGEST + 1):
        values = splits(5, total)
        assert_nothing_given_back(values, publish(values, t=threshold), total, t=threshold)


def test_where_the_zero_rows_sit_changes_nothing() -> None:
    """Every split of up to FULL cases over seven rows is hidden as its packed form (zeros last) is."""
    cells = TABLES["profession"]
    for total in range(1, FULL + 1):
        for row in splits(cells, total).tolist():
            nonzero = [v for v in row if v]
            packed_states = iter(suppression.hide(nonzero + [0] * (cells - len(nonzero)), T))
            states = suppression.hide(row, T)
            withheld = states[0] == suppression.WITHHELD
            assert list(states) == [next(packed_states) if v else suppression.WITHHELD if withheld else None
                                    for v in row], row


def test_no_process_split_gives_back_a_count_once_other_figures_bound_the_calls_without_an_outcome() -> None:
    """The outcomes circulated and the fairness counts say how many calls at least have an outcome
    recorded: "no outcome recorded yet" is then at most the total less that. Every bound, every split
    of up to fourteen calls; and a fairness count under 5 (at most the calls with an outcome) always
    keeps two values."""
    cells, no_outcome = TABLES["process"], TABLES["process"] - 1
    for total in range(T, 15):
        values = splits(cells, total)
        for cap in range(total + 1):
            chosen = values[values[:, no_outcome] <= cap]
            caps: list[int | None] = [None] * no_outcome + [cap]
            states = publish(chosen, caps)
            found = assert_nothing_given_back(chosen, states, total, caps)
            # At most total - (the least "no outcome" could be) calls have an outcome: two or more
            # wherever a fairness count could be above zero, so "<5" there is 1 or more than 1.
            lowest = found[:, no_outcome] & -found[:, no_outcome]
            least_without = np.log2(lowest).astype(np.int64)
            with_outcome = chosen[:, :no_outcome].sum(axis=1)
            assert ((with_outcome == 0) | (total - least_without >= 2)).all()
