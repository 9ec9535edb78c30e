"""The annual summary report (seed 002): the year's activity and outcomes, anonymised, for the Quality Board.

Built only from the record's categories, dates and counts: no free text, no names, no user ids.
Counts under the terms' small-number threshold are hidden (bot/records/suppression.py), with as many
more as it takes that none can be worked out from the totals, and so is any figure computed from
fewer cases than that. The cases of a year are those convened in it, on the organisation's wall
clock. Days from the concern count from the convener's date, else from convening.

What it publishes, and how the figures constrain each other (each table is suppressed knowing this):
- Cases: calls held, cancelled, still to come; three separate counts with no total beside them.
- Profession, route, recommended process (with "no outcome recorded yet"), quorum: each a partition
  of the calls held, with that total (the same number in every table, in Cases, and in the fairness
  table). A reader cannot pair up rows of two tables, so the tables constrain each other only
  through the total.
- Timeliness: medians of the calls held and of the outcomes circulated, each shown only from
  threshold values, and the outcomes circulated within the limit as a share, whose denominator (the
  outcomes circulated) is printed from the threshold up. The outcomes circulated, and each fairness
  count, are at most the calls with an outcome recorded: together they bound "no outcome recorded
  yet" from above, and the process table is suppressed under that bound (`_outcomes_at_least`).
- Action points: a partition of the year's action points with its own total, and the share done on
  time, shown only when none of the counts it is made of is hidden (so it says nothing they do not).
- Fairness: per principle, the cases needing further inquiry: counts on their own (a case can count
  under several), each hidden under the threshold; at most the calls with an outcome, which the
  process table keeps at two or more wherever it could matter.
- Charts: a bar per shown count; a hidden count gets its mark and no bar, and the scale comes from
  the shown counts only.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from bot.domain.fairness import PRINCIPLES, needs_inquiry
from bot.domain.outcomes import PROCESS_LABELS, Process
from bot.domain.routes import ROUTE_LABELS, Route
from bot.domain.terms import Terms
from bot.records import suppression
from bot.records.case_file import concern_to_call_days
from bot.records.charts import bar_chart
from bot.records.period import year_bounds
from bot.records.suppression import Count
from storage.tables import ActionPoint, ActionStatus, Case, CaseStatus, FairnessAnswer, Outcome

NO_OUTCOME = "no_outcome"
UNLISTED = "unlisted"  # a profession taken out of the terms since: counted, so the rows add up to the total
QUORUM_LABELS = {"quorate": "Quorate", "inquorate": "Inquorate", "unknown": "Not recorded"}
ACTION_LABELS = {"on_time": "Done on time", "late": "Done late", "overdue": "Open, overdue",
                 "not_due": "Open, not yet due", "dropped": "Dropped"}
INTERVAL_NOTE = ("Days from the concern being raised count from the date the convener gave, or from "
                 "convening where none was given.")


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    count: Count


@dataclass(frozen=True)
class Breakdown:
    key: str
    title: str
    base: str  # what the rows add up to, in words
    rows: tuple[Row, ...]
    total: Count
    chart: str | None  # a PNG data: URI
    note: str = ""  # why the table is not broken down, when it is withheld

    @property
    def withheld(self) -> bool:
        return any(r.count.hidden == suppression.WITHHELD for r in self.rows)

    def as_source(self) -> dict[str, Any]:
        return {"title": self.title, "base": self.base, "total": _count_source(self.total),
                "rows": [{"key": r.key, "label": r.label, **_count_source(r.count)} for r in self.rows],
                **({"note": self.note} if self.note else {})}


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    shown: str
    note: str = ""


@dataclass(frozen=True)
class AnnualReport:
    year: int
    group_name: str
    group_short_name: str
    decision_maker: str
    zone: str
    threshold: int
    generated_on: date
    cases: tuple[Figure, ...]  # calls held, cancelled, still to come
    by_profession: Breakdown
    by_route: Breakdown
    by_process: Breakdown
    quorum: Breakdown
    timeliness: tuple[Figure, ...]
    actions: Breakdown
    actions_on_time: Figure
    fairness: Breakdown  # cases per principle that needed further inquiry (not a partition: no total)
    interval_note: str = INTERVAL_NOTE

    @property
    def breakdowns(self) -> tuple[Breakdown, ...]:
        return (self.by_profession, self.by_route, self.by_process, self.quorum, self.actions)

    def as_source(self) -> dict[str, Any]:
        """The report's figures as plain data (the JSON source): hidden counts carry no value."""
        return {
            "report": "annual_summary", "year": self.year, "group": self.group_name,
            "group_short_name": self.group_short_name, "decision_maker": self.decision_maker,
            "time_zone": self.zone, "small_number_threshold": self.threshold,
            "generated_on": self.generated_on.isoformat(),
            "cases": [asdict(f) for f in self.cases],
            **{b.key: b.as_source() for b in self.breakdowns},
            "timeliness": [asdict(f) for f in self.timeliness], "interval_note": self.interval_note,
            "actions_on_time": asdict(self.actions_on_time),
            "fairness_needing_inquiry": self.fairness.as_source(),
        }


def _count_source(count: Count) -> dict[str, Any]:
    return {"value": count.value, "shown": count.shown, **({"suppressed": count.hidden} if count.hidden else {})}


def _local(when: datetime, zone: ZoneInfo) -> date:
    return when.astimezone(zone).date()


WITHHELD_NOTE = ("Not broken down: with so few {base}, any breakdown would let a hidden count be worked out "
                 "from the total.")


def _breakdown(key: str, title: str, base: str, labels: Mapping[str, str], values: Mapping[str, int], total: Count,
               threshold: int, *, chart: bool = True, at_most: Mapping[str, int] | None = None) -> Breakdown:
    """A table of counts adding up to `total`, suppressed so that none it hides can be worked out.
    Every key of `values` must be in `labels`, or the rows would not add up to the total."""
    counts = suppression.table({k: values.get(k, 0) for k in labels}, threshold, at_most=at_most)
    rows = tuple(Row(k, labels[k], counts[k]) for k in labels)
    withheld = any(c.hidden == suppression.WITHHELD for c in counts.values())
    image = bar_chart([r.label for r in rows], [r.count for r in rows], title) if chart and not withheld else None
    return Breakdown(key, title, base, rows, total, image, WITHHELD_NOTE.format(base=base) if withheld else "")


def _tally(keys: Iterable[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for key in keys:
        found[key] = found.get(key, 0) + 1
    return found


def _median(days: list[int], threshold: int, unit: str) -> str:
    if not days:
        return "none yet"
    if len(days) < threshold:
        return f"not shown (fewer than {threshold} {unit})"
    middle = statistics.median(days)
    return f"{middle:g} day{'s' if middle != 1 else ''}"


def build(session: Session, terms: Terms, year: int, zone: ZoneInfo, now: datetime) -> AnnualReport:
    """The annual summary of the cases convened in `year`, as the record shows it at `now`."""
    threshold = terms.records.small_number_threshold
    start, end = year_bounds(year, zone)
    cases = list(session.exec(select(Case).where(col(Case.created_at) >= start, col(Case.created_at) < end)
                              .order_by(col(Case.created_at), col(Case.id))))
    ids = [c.id for c in cases]
    outcomes = {o.case_id: o for o in session.exec(select(Outcome).where(col(Outcome.case_id).in_(ids)))}
    held = [c for c in cases if c.status != CaseStatus.CANCELLED and c.call_at <= now]

    # Cases are counted by the call: the breakdowns add up to the calls held. Cancelled cases and calls
    # still to come are separate counts, with no "convened" total that a hidden count could be taken from.
    held_total = suppression.count(len(held), threshold)
    case_counts = (
        Figure("held", "Calls held", held_total.shown),
        Figure("cancelled", "Cancelled before the call",
               suppression.count(sum(1 for c in cases if c.status == CaseStatus.CANCELLED), threshold).shown),
        Figure("awaiting", "Convened, call still to come",
               suppression.count(len(cases) - len(held) - sum(1 for c in cases if c.status == CaseStatus.CANCELLED),
                                 threshold).shown),
    )

    professions = {p.key: p.label for p in terms.professions}
    profession_counts = _tally(c.profession if c.profession in professions else UNLISTED for c in held)
    if UNLISTED in profession_counts:
        professions[UNLISTED] = "A profession no longer in the terms"
    by_profession = _breakdown("by_profession", "Cases by professional group", "calls held", professions,
                               profession_counts, held_total, threshold)
    routes = {r.value: ROUTE_LABELS[r] for r in Route}
    by_route = _breakdown("by_route", "Cases by how the concern was identified", "calls held", routes,
                          _tally(c.route if c.route in routes else Route.OTHER.value for c in held), held_total,
                          threshold)

    def quorate(case: Case) -> str:
        found = outcomes[case.id].quorate if case.id in outcomes else case.quorate
        return "unknown" if found is None else "quorate" if found else "inquorate"

    quorum = _breakdown("quorum", "Quorum of the calls held", "calls held", QUORUM_LABELS,
                        _tally(quorate(c) for c in held), held_total, threshold, chart=False)

    from_concern = [concern_to_call_days(c, zone) for c in held]
    to_call = [(_local(c.call_at, zone) - _local(c.created_at, zone)).days for c in held]
    circulated = [(_local(o.circulated_at, zone) - _local(c.call_at, zone)).days
                  for c in held if (o := outcomes.get(c.id)) is not None and o.circulated_at is not None]

    fairness = _fairness(session, [c.id for c in held if c.id in outcomes], held_total, threshold)
    process_labels = {p.value: PROCESS_LABELS[p] for p in Process} | {NO_OUTCOME: "No outcome recorded yet"}
    # Other figures tell the reader "no outcome recorded yet" is at most so many (with the total hidden,
    # they say no more than that some call has an outcome, which its own row already says).
    bound = None if held_total.value is None else {
        NO_OUTCOME: held_total.value - _outcomes_at_least(len(circulated), fairness, threshold)}
    by_process = _breakdown("by_process", "Recommended process", "calls held", process_labels,
                            _tally(outcomes[c.id].process if c.id in outcomes else NO_OUTCOME for c in held),
                            held_total, threshold, at_most=bound)
    limit = terms.reminders.circulation_escalate_days
    timeliness = (
        Figure("concern_to_call", "Median days from the concern being raised to the call",
               _median(from_concern, threshold, "calls"),
               "From the date the convener gave, or from convening where none was given."),
        Figure("convened_to_call", "Median days from convening to the call", _median(to_call, threshold, "calls")),
        Figure("call_to_circulation", "Median days from the call to circulating the action points",
               _median(circulated, threshold, "circulated outcomes")),
        Figure("circulated_within_limit", f"Outcomes circulated within {limit} days of the call",
               suppression.share(sum(1 for d in circulated if d <= limit), len(circulated), threshold),
               "The terms of reference ask for action points to be circulated within one week."),
    )

    today = _local(now, zone)
    items = list(session.exec(select(ActionPoint).where(col(ActionPoint.case_id).in_(ids))))

    def action_state(item: ActionPoint) -> str:
        if item.status == ActionStatus.DROPPED:
            return "dropped"
        if item.status == ActionStatus.DONE:
            done_on = _local(item.closed_at, zone) if item.closed_at else today
            return "on_time" if done_on <= item.due_on else "late"
        return "overdue" if today > item.due_on else "not_due"

    action_counts = _tally(action_state(i) for i in items)
    actions = _breakdown("actions", "Action points", "action points of the year's cases", ACTION_LABELS,
                         action_counts, suppression.count(len(items), threshold), threshold)
    judged_keys = ("on_time", "late", "overdue")
    judged = sum(action_counts.get(k, 0) for k in judged_keys)
    shown = {r.key: r.count for r in actions.rows}
    if any(shown[k].is_hidden for k in judged_keys):
        # With the total, a share would give back a count the table hides.
        on_time_text = f"not shown (a count under {threshold} behind it is hidden)"
    else:
        on_time_text = suppression.share(action_counts.get("on_time", 0), judged, threshold)
    on_time = Figure("actions_on_time", "Action points done on time", on_time_text,
                     "Of those done or past their due date; a due date moved with a reason counts as the date due.")

    return AnnualReport(
        year=year, group_name=terms.name, group_short_name=terms.short_name, decision_maker=terms.decision_maker,
        zone=zone.key, threshold=threshold, generated_on=today, cases=case_counts, by_profession=by_profession,
        by_route=by_route, by_process=by_process, quorum=quorum, timeliness=timeliness, actions=actions,
        actions_on_time=on_time, fairness=fairness)


def _outcomes_at_least(circulated: int, fairness: Breakdown, threshold: int) -> int:
    """How many calls held at least have an outcome recorded, as a reader can tell from the outcomes
    circulated (the share's denominator, printed from the threshold up; a median or share "not shown"
    says at least one) and from the fairness counts (each case counted has an outcome)."""
    counted = [r.count.value if r.count.value is not None else 1 for r in fairness.rows]
    return max([suppression.at_least(circulated, threshold), *counted])


def _fairness(session: Session, case_ids: list[int | None], held_total: Count, threshold: int) -> Breakdown:
    """Per principle, the cases where it was answered "no" or "unknown" at some point (each needing
    further inquiry). A case can count under several principles, so there is no total to subtract from."""
    needing: dict[str, set[int]] = {p.key: set() for p in PRINCIPLES}
    for answer in session.exec(select(FairnessAnswer).where(col(FairnessAnswer.case_id).in_(case_ids))):
        if needs_inquiry(answer.answer) and answer.principle in needing:
            needing[answer.principle].add(answer.case_id)
    rows = tuple(Row(p.key, p.title, suppression.count(len(needing[p.key]), threshold)) for p in PRINCIPLES)
    title = "Fairness answers needing further inquiry"
    chart = bar_chart([r.label for r in rows], [r.count for r in rows], "Cases needing further inquiry")
    # The base is the calls held (not the outcomes recorded, which with the process table would
    # reveal a hidden "no outcome recorded" count).
    return Breakdown("fairness", title, "calls held", rows, held_total, chart)
