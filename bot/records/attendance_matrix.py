"""The attendance matrix (seed 001): members × the year's meetings, each member's rate against the target.

A meeting is a call that took place in the year on the organisation's wall clock; a cancelled case
is not one. Each cell says what the record shows for that member: present, deputy sent, apologies
or no reply. Where a roll-call was taken it decides (a member neither marked present nor
represented counts as apologies if they had sent them, else as no reply); otherwise the attendance
replies do. Whether a deputy counts towards the rate follows the terms' quorum rule ("members or
their nominated deputies" in seed 001). Members are user ids (Slack users), never the staff member.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from bot.domain import roster
from bot.domain.roles import ROLE_LABELS, Role
from bot.domain.terms import Terms
from bot.records.period import year_bounds
from storage.tables import Case, CaseStatus, Invitee, Reply, RollCallMark

ROLE_ORDER = {role: index for index, role in enumerate(Role)}


class Cell(StrEnum):
    PRESENT = "present"
    DEPUTY = "deputy"
    APOLOGIES = "apologies"
    NO_REPLY = "no_reply"


CELL_LABELS = {Cell.PRESENT: "Present", Cell.DEPUTY: "Deputy sent", Cell.APOLOGIES: "Apologies",
               Cell.NO_REPLY: "No reply"}
CELL_MARKS = {Cell.PRESENT: "P", Cell.DEPUTY: "D", Cell.APOLOGIES: "A", Cell.NO_REPLY: "N"}
NOT_INVITED = "·"


@dataclass(frozen=True)
class Meeting:
    reference: str
    call_at: datetime
    call_on: date  # in the organisation's zone
    source: str  # "roll-call" or "replies": where the cells come from


@dataclass(frozen=True)
class MemberRow:
    user_id: str
    roles: str  # the roster's role labels, e.g. "Chair" (empty when no longer on the roster)
    cells: tuple[Cell | None, ...]  # one per meeting; None when not invited to it
    invited: int
    present: int
    deputy: int
    apologies: int
    no_reply: int
    attended: int  # what the rate counts: present, plus deputy sent when deputies count
    rate: float | None
    flagged: bool  # under the target

    @property
    def rate_text(self) -> str:
        return "n/a" if self.rate is None else f"{round(100 * self.rate)}%"

    @property
    def marks(self) -> tuple[str, ...]:
        return tuple(CELL_MARKS[c] if c else NOT_INVITED for c in self.cells)


@dataclass(frozen=True)
class AttendanceMatrix:
    year: int
    group_name: str
    group_short_name: str
    zone: str
    target: float
    deputies_count: bool
    generated_on: date
    meetings: tuple[Meeting, ...]
    members: tuple[MemberRow, ...]

    @property
    def target_text(self) -> str:
        return f"{round(100 * self.target)}%"

    @property
    def flagged(self) -> tuple[MemberRow, ...]:
        return tuple(m for m in self.members if m.flagged)

    @property
    def counted_text(self) -> str:
        return "present, or a deputy sent" if self.deputies_count else "present in person"


def _meetings(session: Session, year: int, zone: ZoneInfo, now: datetime) -> list[Case]:
    start, end = year_bounds(year, zone)
    rows = session.exec(select(Case).where(col(Case.call_at) >= start, col(Case.call_at) < end,
                                           col(Case.call_at) <= now, Case.status != CaseStatus.CANCELLED)
                        .order_by(col(Case.call_at), col(Case.id)))
    return list(rows)


def _cells(invitees: Sequence[Invitee], marks: Sequence[RollCallMark], roll_call_taken: bool) -> dict[str, Cell]:
    """One cell per invited member (a member holding two seats is one person at the call)."""
    by_user: dict[str, list[Invitee]] = {}
    for row in invitees:
        by_user.setdefault(row.user_id, []).append(row)
    present = {m.user_id for m in marks}
    represented = {m.deputy_for for m in marks if m.deputy_for}
    cells: dict[str, Cell] = {}
    for user, rows in by_user.items():
        replies = {Reply(r.reply) for r in rows}
        if roll_call_taken:
            if user in present:
                cells[user] = Cell.PRESENT
            elif user in represented:
                cells[user] = Cell.DEPUTY
            elif replies & {Reply.APOLOGIES, Reply.DEPUTY}:
                cells[user] = Cell.APOLOGIES
            else:
                cells[user] = Cell.NO_REPLY
        elif Reply.ATTENDING in replies:
            cells[user] = Cell.PRESENT
        elif Reply.DEPUTY in replies:
            cells[user] = Cell.DEPUTY
        elif Reply.APOLOGIES in replies:
            cells[user] = Cell.APOLOGIES
        else:
            cells[user] = Cell.NO_REPLY
    return cells


def _role_labels(entry: roster.RosterEntry | None) -> str:
    if entry is None:
        return ""
    return ", ".join(ROLE_LABELS[r] for r in sorted(entry.roles, key=lambda r: ROLE_ORDER[r]))


def _sort_key(entry: roster.RosterEntry | None, user_id: str) -> tuple[int, str]:
    first = min((ROLE_ORDER[r] for r in entry.roles), default=len(ROLE_ORDER)) if entry else len(ROLE_ORDER)
    return first, user_id


def build(session: Session, terms: Terms, year: int, zone: ZoneInfo, now: datetime) -> AttendanceMatrix:
    """The attendance matrix for `year`, as the record shows it at `now`."""
    cases = _meetings(session, year, zone, now)
    meetings: list[Meeting] = []
    columns: list[dict[str, Cell]] = []
    for case in cases:
        invitees = list(session.exec(select(Invitee).where(Invitee.case_id == case.id)))
        marks = list(session.exec(select(RollCallMark).where(RollCallMark.case_id == case.id)))
        # A roll-call was taken when it was posted, someone was marked, or a result was recorded from it.
        taken = bool(marks) or case.roll_call_ref is not None or case.quorate is not None
        columns.append(_cells(invitees, marks, taken))
        meetings.append(Meeting(case.reference, case.call_at, case.call_at.astimezone(zone).date(),
                                "roll-call" if taken else "replies"))
    users = list(dict.fromkeys(user for column in columns for user in column))
    entries = roster.entries_for(session, users)
    counts_deputy = terms.quorum.deputies_count
    rows: list[MemberRow] = []
    for user in sorted(users, key=lambda u: _sort_key(entries.get(u), u)):
        cells = tuple(column.get(user) for column in columns)
        given = [c for c in cells if c is not None]
        tally = {cell: sum(1 for c in given if c == cell) for cell in Cell}
        attended = tally[Cell.PRESENT] + (tally[Cell.DEPUTY] if counts_deputy else 0)
        rate = attended / len(given) if given else None
        rows.append(MemberRow(
            user_id=user, roles=_role_labels(entries.get(user)), cells=cells, invited=len(given),
            present=tally[Cell.PRESENT], deputy=tally[Cell.DEPUTY], apologies=tally[Cell.APOLOGIES],
            no_reply=tally[Cell.NO_REPLY], attended=attended, rate=rate,
            flagged=rate is not None and rate < terms.records.attendance_target))
    return AttendanceMatrix(year=year, group_name=terms.name, group_short_name=terms.short_name, zone=zone.key,
                            target=terms.records.attendance_target, deputies_count=counts_deputy,
                            generated_on=now.astimezone(zone).date(), meetings=tuple(meetings), members=tuple(rows))


def to_csv(matrix: AttendanceMatrix) -> str:
    """One row per member, one column per meeting (reference and date), then the tallies and the rate."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["member", "roles", *(f"{m.reference} {m.call_on.isoformat()}" for m in matrix.meetings),
                     "invited", "present", "deputy_sent", "apologies", "no_reply", "attendance_rate",
                     f"under_target_{matrix.target_text}"])
    for row in matrix.members:
        writer.writerow([row.user_id, row.roles, *(CELL_LABELS[c] if c else "not invited" for c in row.cells),
                         row.invited, row.present, row.deputy, row.apologies, row.no_reply,
                         "" if row.rate is None else f"{row.rate:.2f}", "yes" if row.flagged else "no"])
    return out.getvalue()


def chunks(rows: Iterable[MemberRow], size: int) -> list[list[MemberRow]]:
    """Rows in groups of `size` (a chat message block holds a limited amount of text)."""
    batch: list[MemberRow] = []
    groups: list[list[MemberRow]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            groups.append(batch)
            batch = []
    if batch:
        groups.append(batch)
    return groups
