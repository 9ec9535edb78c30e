"""The case file: one document per case for governance, built from the database and the append-only history.

`build_case_file` makes a frozen view model (hcoop-meetbot's writer pattern): the header, attendance,
roll-call, outcome, fairness answers (every revisit kept), action points with their trails, the
timeliness figures and the timeline. `render_case_file` turns it into the delivered HTML (printable on
A4, self-contained), its Markdown source and JSON. People appear as Slack user ids, never by name; the
staff member is referred to by case number only. Times are shown in the organisation's zone, named.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from bot.domain import action_points, history, ledger, outcomes
from bot.domain.attendance import REPLY_LABELS
from bot.domain.case_views import route_label
from bot.domain.cases import case_named
from bot.domain.errors import PlatformFailure
from bot.domain.fairness import ANSWER_LABELS, PRINCIPLE_BY_KEY, PRINCIPLES, Answer, needs_inquiry
from bot.domain.history import record_event
from bot.domain.notify import Posted, Workspace
from bot.domain.outcomes import PROCESS_LABELS, RISK_LABELS
from bot.domain.permissions import may_read_records
from bot.domain.terms import Terms
from bot.records.documents import render_document
from storage.db import SessionFactory, transaction
from storage.tables import (
    ActionPoint,
    ActionStatus,
    ActionUpdate,
    Case,
    CaseEvent,
    FairnessAnswer,
    Invitee,
    Reply,
    RollCallMark,
)

MESSAGE_LABELS = {
    "reply_chase": "Reminder to reply sent",
    "pre_call_check": "Pre-call quorum check sent",
    "agenda": "Agenda posted",
    "roll_call": "Roll-call posted at the start of the call",
    "roll_call_close": "Roll-call closed at the end of the call",
    "calendar": "Calendar invitation shared",
    "circulation_chase": "Chair and governance reminded to circulate the action points",
    "circulation_escalate": "Uncirculated action points escalated to governance",
    "action_digest": "Action point reminder sent",
    "overdue_escalation": "Overdue action points escalated to the chair",
}
YES_NO_LABELS = {str(k): v for k, v in ANSWER_LABELS.items()}


def person(user_id: str | None) -> str:
    """How the case file names a person: their Slack user id, never their name."""
    if not user_id:
        return "nobody"
    return "the bot" if user_id in ("bot", "cli", "retention") else f"@{user_id}"


# --- the view model ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stamp:
    """A moment: UTC for machines (the JSON), the organisation's wall clock with its zone for people."""

    utc: str
    local: str


@dataclass(frozen=True)
class Member:
    seat: str
    user: str
    reply: str
    deputy: str | None
    replied: Stamp | None


@dataclass(frozen=True)
class Present:
    user: str
    capacity: str  # "Member (Chair)", "Deputy for @U… (Service lead)", "Guest"
    marked_by: str
    at: Stamp


@dataclass(frozen=True)
class OutcomeView:
    recommendation: str
    rationale: str
    risk_level: str
    risk_notes: str
    ml_policy_notify: str
    legal_advice: str
    welfare_offered: str
    line_manager_support: str
    quorate: str
    quorum_statement: str
    recorded_by: str
    recorded: Stamp
    circulated: Stamp | None


@dataclass(frozen=True)
class FairnessView:
    principle: str
    question: str
    answer: str
    note: str
    needs_inquiry: bool
    answered_by: str
    answered: Stamp
    current: bool  # the latest answer to its principle; earlier ones are revisited answers


@dataclass(frozen=True)
class TrailEntry:
    at: Stamp
    by: str
    what: str
    text: str


@dataclass(frozen=True)
class ActionView:
    number: int
    description: str
    owner: str
    source: str
    first_due: str
    due: str
    status: str
    completed: str | None
    timeliness: str  # "done on time", "done 3 days late", "open, overdue by 2 days", "open", "dropped"
    drop_reason: str | None
    trail: tuple[TrailEntry, ...]


@dataclass(frozen=True)
class Timeliness:
    concern_to_call_days: int  # from the date the concern was raised, or from convening if none was given
    convened_to_call_days: int | None
    call_to_circulation_days: int | None
    circulated_within_target: bool | None
    circulation_target_days: int
    actions_total: int
    actions_done_on_time: int
    actions_done_late: int
    actions_open_overdue: int
    actions_open_not_due: int
    actions_dropped: int
    median_days_late: float | None


@dataclass(frozen=True)
class TimelineEntry:
    at: Stamp
    actor: str
    kind: str
    summary: str
    text: str  # free text kept in the case file for this step (an update, a reason); "" when none


@dataclass(frozen=True)
class UndeliveredView:
    """A message about the case that the platform refused for good (never retried; reported at the time)."""

    at: Stamp
    what: str
    to: str
    reason: str


@dataclass(frozen=True)
class CaseFile:
    reference: str
    group_name: str
    group_short_name: str
    decision_maker: str
    zone: str
    status: str
    profession: str
    route: str
    short_notice: bool
    convened_by: str
    convened: Stamp
    concern_raised: str | None  # the convener's date, e.g. "Mon 3 Mar 2025"; None when not given
    call: Stamp
    duration_minutes: int
    concern: str
    risks: str
    call_details: str
    cancel_reason: str | None
    members: tuple[Member, ...]
    present: tuple[Present, ...]
    quorate: str
    quorum_reason: str
    outcome: OutcomeView | None
    fairness: tuple[FairnessView, ...]
    actions: tuple[ActionView, ...]
    timeliness: Timeliness
    timeline: tuple[TimelineEntry, ...]
    undelivered: tuple[UndeliveredView, ...]
    closed: Stamp | None
    closed_by: str | None
    close_reason: str | None
    generated: Stamp

    @property
    def current_fairness(self) -> tuple[FairnessView, ...]:
        return tuple(f for f in self.fairness if f.current)

    @property
    def revisited_fairness(self) -> tuple[FairnessView, ...]:
        return tuple(f for f in self.fairness if not f.current)


def stamp(when: datetime, zone: ZoneInfo) -> Stamp:
    local = when.astimezone(zone)
    return Stamp(utc=when.astimezone(ZoneInfo("UTC")).isoformat(),
                 local=f"{local:%a} {local.day} {local:%b %Y}, {local:%H:%M} {local.tzname()}")


def day_text(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


# --- timeliness ----------------------------------------------------------------------------------


def local_days(start: datetime, end: datetime, zone: ZoneInfo) -> int:
    """Whole calendar days between two moments, on the organisation's wall calendar."""
    return (end.astimezone(zone).date() - start.astimezone(zone).date()).days


def concern_to_call_days(case: Case, zone: ZoneInfo) -> int:
    """Calendar days from the concern being raised (the convener's date, else convening) to the call."""
    raised = case.concern_raised_on or case.created_at.astimezone(zone).date()
    return (case.call_at.astimezone(zone).date() - raised).days


def action_timeliness(item: ActionPoint, today: date, zone: ZoneInfo) -> tuple[str, int | None]:
    """How an action point stands against its due date, and the days late when done late."""
    if item.status == ActionStatus.DROPPED:
        return "dropped", None
    if item.status == ActionStatus.DONE and item.closed_at is not None:
        late = (item.closed_at.astimezone(zone).date() - item.due_on).days
        if late <= 0:
            return "done on time", None
        return f"done {late} day{'s' if late != 1 else ''} late", late
    overdue = (today - item.due_on).days
    if overdue > 0:
        return f"open, overdue by {overdue} day{'s' if overdue != 1 else ''}", None
    return "open", None


def timeliness_of(session: Session, case: Case, terms: Terms, zone: ZoneInfo, today: date) -> Timeliness:
    """Concern to call, convened to call, call to circulation, and action completion against due dates.

    Where the convener gave no date the concern was raised, it counts from convening. The circulation target
    is the terms' (one week in both presets), the day its escalation is due.
    """
    target = terms.reminders.circulation_target_days
    outcome = outcomes.outcome_of(session, case.id or 0)
    circulated = outcome.circulated_at if outcome is not None else None
    to_circulation = local_days(case.call_at, circulated, zone) if circulated is not None else None
    items = action_points.for_case(session, case.id or 0)
    states = [action_timeliness(i, today, zone) for i in items]
    lates = [late for _, late in states if late is not None]
    return Timeliness(
        concern_to_call_days=concern_to_call_days(case, zone),
        convened_to_call_days=local_days(case.created_at, case.call_at, zone),
        call_to_circulation_days=to_circulation,
        circulated_within_target=None if to_circulation is None else to_circulation <= target,
        circulation_target_days=target,
        actions_total=len(items),
        actions_done_on_time=sum(1 for s, _ in states if s == "done on time"),
        actions_done_late=len(lates),
        actions_open_overdue=sum(1 for s, _ in states if s.startswith("open, overdue")),
        actions_open_not_due=sum(1 for s, _ in states if s == "open"),
        actions_dropped=sum(1 for s, _ in states if s == "dropped"),
        median_days_late=float(median(lates)) if lates else None,
    )


# --- building the file ---------------------------------------------------------------------------




def _seat_labels(invitees: list[Invitee]) -> dict[str, list[str]]:
    labels: dict[str, list[str]] = {}
    for i in invitees:
        labels.setdefault(i.user_id, []).append(i.seat_label)
    return labels


def _capacity(mark: RollCallMark, seats: dict[str, list[str]]) -> str:
    if mark.capacity == "member":
        return f"Member ({', '.join(seats.get(mark.user_id, [])) or 'invited'})"
    if mark.capacity == "deputy":
        whose = ", ".join(seats.get(mark.deputy_for or "", []))
        return f"Deputy for {person(mark.deputy_for)}" + (f" ({whose})" if whose else "")
    return "Guest (not counted)"


def _outcome_view(session: Session, terms: Terms, case: Case, zone: ZoneInfo) -> OutcomeView | None:
    outcome = outcomes.outcome_of(session, case.id or 0)
    if outcome is None:
        return None
    quorate = "Not stated" if outcome.quorate is None else "Yes" if outcome.quorate else "No"
    return OutcomeView(
        recommendation=f"The group recommends to the {terms.decision_maker}: "
                       f"{PROCESS_LABELS.get(outcome.process, outcome.process)}",
        rationale=outcome.rationale, risk_level=RISK_LABELS.get(outcome.risk_level, outcome.risk_level),
        risk_notes=outcome.risk_notes, ml_policy_notify=YES_NO_LABELS.get(outcome.ml_policy_notify, "-"),
        legal_advice=YES_NO_LABELS.get(outcome.legal_advice, "-"),
        welfare_offered=YES_NO_LABELS.get(outcome.welfare_offered, "-"),
        line_manager_support=outcome.line_manager_support, quorate=quorate,
        quorum_statement=outcome.quorum_statement or "", recorded_by=person(outcome.recorded_by),
        recorded=stamp(outcome.recorded_at, zone),
        circulated=stamp(outcome.circulated_at, zone) if outcome.circulated_at else None)


def _fairness(session: Session, case: Case, zone: ZoneInfo) -> tuple[FairnessView, ...]:
    rows = list(session.exec(select(FairnessAnswer).where(FairnessAnswer.case_id == case.id)
                             .order_by(FairnessAnswer.answered_at, FairnessAnswer.id)))
    latest = {row.principle: row.id for row in rows}
    order = {p.key: n for n, p in enumerate(PRINCIPLES)}
    views = []
    for row in sorted(rows, key=lambda r: (order.get(r.principle, 99), r.answered_at, r.id or 0)):
        principle = PRINCIPLE_BY_KEY.get(row.principle)
        views.append(FairnessView(
            principle=principle.title if principle else row.principle,
            question=principle.question if principle else "", answer=ANSWER_LABELS.get(Answer(row.answer), row.answer),
            note=row.note, needs_inquiry=needs_inquiry(row.answer), answered_by=person(row.answered_by),
            answered=stamp(row.answered_at, zone), current=latest[row.principle] == row.id))
    return tuple(views)


TRAIL_LABELS = {"update": "Update", "due_date": "Due date moved", "done": "Done", "dropped": "Dropped"}


def _trail(update: ActionUpdate, zone: ZoneInfo) -> TrailEntry:
    what = TRAIL_LABELS.get(update.kind, update.kind)
    if update.kind == "due_date" and update.old_due and update.new_due:
        what = f"Due date moved from {day_text(update.old_due)} to {day_text(update.new_due)}"
    return TrailEntry(at=stamp(update.at, zone), by=person(update.actor_id), what=what, text=update.text)


SOURCE_LABELS = {"outcome": "Outcome", "fairness": "Fairness: further inquiry", "channel": "Added later"}


def _actions(session: Session, case: Case, zone: ZoneInfo, today: date,
             updates: dict[int, list[ActionUpdate]]) -> tuple[ActionView, ...]:
    views = []
    for item in action_points.for_case(session, case.id or 0):
        trail = updates.get(item.id or 0, [])
        moves = [u for u in trail if u.kind == "due_date" and u.old_due]
        first_due = moves[0].old_due if moves else item.due_on
        assert first_due is not None
        standing, _ = action_timeliness(item, today, zone)
        views.append(ActionView(
            number=item.number, description=item.description, owner=person(item.owner_id),
            source=SOURCE_LABELS.get(item.source, item.source), first_due=day_text(first_due),
            due=day_text(item.due_on), status=str(item.status).capitalize(),
            completed=stamp(item.closed_at, zone).local if item.closed_at else None, timeliness=standing,
            drop_reason=item.drop_reason, trail=tuple(_trail(u, zone) for u in trail)))
    return tuple(views)


def _iso_local(value: Any, zone: ZoneInfo) -> str:
    try:
        return stamp(datetime.fromisoformat(str(value)), zone).local
    except ValueError:
        return str(value)


def _summary(event: CaseEvent, detail: dict[str, Any], seats: dict[str, list[str]], zone: ZoneInfo) -> str:
    """One line per history event, built from its ids and choices (the history holds no free text)."""
    who, kind = person(event.actor_id), event.kind
    described: dict[str, Callable[[], str]] = {
        "convened": lambda: (f"Convened by {who} for a call on {_iso_local(detail.get('call_at'), zone)}; "
                             f"{len(detail.get('members') or [])} members invited"
                             + ("; short notice (serious incident)" if detail.get("short_notice") else "")),
        "attendance_reply": lambda: (f"{who} ({', '.join(seats.get(event.actor_id, [])) or 'member'}) replied: "
                                     f"{REPLY_LABELS.get(Reply(detail.get('reply', 'no_reply')), '?')}"
                                     + (f": {person(detail['deputy'])}" if detail.get("deputy") else "")),
        "deputy_withdrew": lambda: f"{who} withdrew as a deputy",
        "deputy_invited": lambda: f"{who} invited {person(detail.get('deputy'))} as deputy ({detail.get('seat')})",
        "proceed_may_be_inquorate": lambda: f"{who} chose to go ahead although the call may not be quorate",
        "message_sent": lambda: MESSAGE_LABELS.get(str(detail.get("kind")), f"Message sent ({detail.get('kind')})"),
        "delivery_failed": lambda: (f"Not delivered: {ledger.kind_words(str(detail.get('kind')))} to "
                                    f"{person(detail.get('recipient'))}"
                                    f" ({ledger.error_words(str(detail.get('error') or ''))})"),
        "roll_call_marked": lambda: (f"{person(detail.get('user'))} marked present as "
                                     + {"member": "a member", "guest": "a guest (not counted)"}.get(
                                         str(detail.get("capacity")), f"deputy for {person(detail.get('deputy_for'))}")
                                     + (f" by {who}" if detail.get("user") != event.actor_id else "")),
        "quorum_recorded": lambda: (("Quorum revised: " if detail.get("revised") else "Quorum recorded: ")
                                    + str(detail.get("reason", ""))
                                    + (" (automatically at the end of the call)" if detail.get("automatic")
                                       else f" by {who}")
                                    + _present_text(detail.get("present") or [])),
        "outcome_recorded": lambda: (f"Outcome recorded by {who}: "
                                     f"{PROCESS_LABELS.get(detail.get('process'), detail.get('process'))}, "
                                     f"risk {str(RISK_LABELS.get(detail.get('risk'), detail.get('risk'))).lower()}, "
                                     f"{_count(detail.get('actions', 0), 'action point')}, "
                                     f"{_count(detail.get('inquiries', 0), 'further inquiry', 'further inquiries')}"),
        "fairness_answered": lambda: f"Fairness answers recorded by {who}: " + "; ".join(
            f"{p.title} {ANSWER_LABELS.get(Answer(a), a).lower()}" for p in PRINCIPLES
            if (a := (detail.get("answers") or {}).get(p.key))),
        "action_added": lambda: (f"Action {detail.get('action')} added by {who}: owner {person(detail.get('owner'))}, "
                                 f"due {_day(detail.get('due'))}"
                                 + (" (further inquiry)" if detail.get("source") == "fairness" else "")),
        "action_update": lambda: f"{who} added an update to action {detail.get('action')}",
        "action_due_changed": lambda: (f"{who} moved action {detail.get('action')}'s due date from "
                                       f"{_day(detail.get('old'))} to {_day(detail.get('new'))}"),
        "action_done": lambda: f"Action {detail.get('action')} marked done by {who}",
        "action_dropped": lambda: f"Action {detail.get('action')} dropped by {who}",
        "outcome_circulated": lambda: (f"Outcome circulated: case channel, {detail.get('owners', 0)} action point "
                                       "owners and the decision maker"),
        "rescheduled": lambda: (f"Call moved by {who} from {_iso_local(detail.get('previous_call_at'), zone)} to "
                                f"{_iso_local(detail.get('call_at'), zone)}"),
        "cancelled": lambda: f"Call cancelled by {who}",
        "closed": lambda: (f"Case closed by {who}: {detail.get('done', 0)} action points done, "
                           f"{detail.get('dropped', 0)} dropped, {detail.get('open_items', 0)} still open"),
        "case_file_exported": lambda: f"Case file exported by {who}",
        "purged": lambda: (f"Free text purged under the retention policy ({detail.get('fields', 0)} fields, "
                           f"{detail.get('retention_days')} days after "
                           + ("its call: the case was never closed)" if detail.get("ended") == "never closed"
                              else "the case ended)")),
        "messages_deleted": lambda: ("The bot deleted "
                                     + _count(detail.get("deleted", 0), "message or file", "messages and files")
                                     + " about the case in the chat workspace"
                                     + (f"; {detail.get('not_deleted')} could not be deleted yet"
                                        if detail.get("not_deleted") else "")),
        "purged_text_erased": lambda: "Purged text erased from the database's files",
    }
    make = described.get(kind)
    return make() if make else f"{kind.replace('_', ' ').capitalize()} by {who}"


def _count(n: Any, one: str, many: str = "") -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _present_text(present: list[dict[str, Any]]) -> str:
    if not present:
        return ""
    return "; present: " + ", ".join(
        person(p.get("user")) + (f" (deputy for {person(p.get('deputy_for'))})" if p.get("deputy_for") else "")
        + ("" if p.get("counted", True) else " (not counted)") for p in present)


def _day(value: Any) -> str:
    try:
        return day_text(date.fromisoformat(str(value)))
    except ValueError:
        return str(value)


def _event_text(event: CaseEvent, detail: dict[str, Any], case: Case, by_action: dict[int, ActionPoint],
                updates: dict[int, list[ActionUpdate]]) -> str:
    """The free text the case file keeps for this step: found in the rows the event points at."""
    if event.kind in ("action_update", "action_due_changed", "action_dropped"):
        item = by_action.get(int(detail.get("action") or 0))
        wanted = {"action_update": "update", "action_due_changed": "due_date", "action_dropped": "dropped"}[event.kind]
        for update in updates.get(item.id or 0, []) if item else []:
            if update.kind == wanted and update.at == event.at and update.actor_id == event.actor_id:
                return update.text
    if event.kind == "cancelled":
        return case.cancel_reason or ""
    if event.kind == "closed":
        return case.close_reason or ""
    return ""


def build_case_file(session: Session, terms: Terms, reference: str, zone: ZoneInfo, now: datetime) -> CaseFile:
    """The case file as the record stands at `now`. Raises NotFound; reads only."""
    case = case_named(session, reference)
    case_id = case.id or 0
    today = now.astimezone(zone).date()
    invitees = list(session.exec(select(Invitee).where(Invitee.case_id == case_id).order_by(Invitee.position)))
    seats = _seat_labels(invitees)
    marks = list(session.exec(select(RollCallMark).where(RollCallMark.case_id == case_id)
                              .order_by(RollCallMark.at, RollCallMark.id)))
    items = action_points.for_case(session, case_id)
    updates: dict[int, list[ActionUpdate]] = {}
    if items:
        for update in session.exec(select(ActionUpdate).where(ActionUpdate.action_id.in_([i.id for i in items]))  # type: ignore[union-attr]
                                   .order_by(ActionUpdate.at, ActionUpdate.id)):
            updates.setdefault(update.action_id, []).append(update)
    by_action = {i.number: i for i in items}

    events = history.events(session, case_id)
    timeline = []
    closed_by = None
    for event in events:
        detail = json.loads(event.detail or "{}")
        if event.kind == "message_sent" and detail.get("kind") == "circulation":
            continue  # the "outcome_circulated" event of the same moment says it, with the owners
        if event.kind == "closed":
            closed_by = person(event.actor_id)
        timeline.append(TimelineEntry(at=stamp(event.at, zone), actor=person(event.actor_id), kind=event.kind,
                                      summary=_summary(event, detail, seats, zone),
                                      text=_event_text(event, detail, case, by_action, updates)))
    profession = terms.profession(case.profession)
    quorate = "Not recorded" if case.quorate is None else "Quorate" if case.quorate else "Not quorate"
    return CaseFile(
        reference=case.reference, group_name=terms.name, group_short_name=terms.short_name,
        decision_maker=terms.decision_maker, zone=str(zone.key), status=str(case.status).capitalize(),
        profession=profession.label if profession else case.profession, route=route_label(case.route),
        short_notice=case.short_notice, convened_by=person(case.convener_id), convened=stamp(case.created_at, zone),
        concern_raised=f"{case.concern_raised_on:%a} {case.concern_raised_on.day} {case.concern_raised_on:%b %Y}"
        if case.concern_raised_on else None,
        call=stamp(case.call_at, zone), duration_minutes=case.duration_minutes, concern=case.concern,
        risks=case.risks, call_details=case.call_details, cancel_reason=case.cancel_reason,
        members=tuple(Member(seat=i.seat_label, user=person(i.user_id),
                             reply=REPLY_LABELS.get(Reply(i.reply), i.reply),
                             deputy=person(i.deputy_id) if i.deputy_id else None,
                             replied=stamp(i.replied_at, zone) if i.replied_at else None) for i in invitees),
        present=tuple(Present(user=person(m.user_id), capacity=_capacity(m, seats), marked_by=person(m.marked_by),
                              at=stamp(m.at, zone)) for m in marks),
        quorate=quorate, quorum_reason=case.quorum_reason or "",
        outcome=_outcome_view(session, terms, case, zone), fairness=_fairness(session, case, zone),
        actions=_actions(session, case, zone, today, updates),
        timeliness=timeliness_of(session, case, terms, zone, today),
        timeline=tuple(timeline),
        undelivered=tuple(UndeliveredView(stamp(u.at, zone), ledger.kind_words(u.kind),
                                          f"room {u.recipient}" if u.is_room else person(u.recipient),
                                          ledger.error_words(u.error)) for u in ledger.undelivered(session, case_id)),
        closed=stamp(case.closed_at, zone) if case.closed_at else None,
        closed_by=closed_by, close_reason=case.close_reason, generated=stamp(now, zone))


# --- rendering -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedFile:
    filename: str
    content: bytes
    title: str


def case_file_json(data: CaseFile) -> str:
    return json.dumps({"format": "pmccg-case-file/1", **asdict(data)}, ensure_ascii=False, indent=2)


def render_case_file(data: CaseFile) -> tuple[RenderedFile, RenderedFile, RenderedFile]:
    """The HTML to file and print, its Markdown source and the JSON data, named after the case."""
    base = f"case-file-{data.reference}"
    title = f"Case file {data.reference}"
    html = render_document("records/case_file.html.j2", c=data)
    markdown = render_document("records/case_file.md.j2", c=data)
    return (RenderedFile(f"{base}.html", html.encode(), title),
            RenderedFile(f"{base}.md", markdown.encode(), f"{title} (Markdown source)"),
            RenderedFile(f"{base}.json", case_file_json(data).encode(), f"{title} (JSON data)"))


# --- exporting -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Export:
    reference: str
    case_id: int
    room_id: str
    files: tuple[RenderedFile, RenderedFile, RenderedFile]


def prepare_export(session: Session, terms: Terms, reference: str, user_id: str, zone: ZoneInfo,
                   now: datetime) -> Export:
    """Check `user_id` may read case files (raises NotAllowed) and render the case's (raises NotFound)."""
    may_read_records(session, terms, user_id, "case files")
    data = build_case_file(session, terms, reference, zone, now)
    case = case_named(session, reference)
    return Export(data.reference, case.id or 0, case.room_id, render_case_file(data))


def share_export(session: Session, workspace: Workspace, export: Export, user_id: str, now: datetime,
                 room: str | None = None) -> list[Posted]:
    """Upload the three files into the case's room (or `room`: on Teams, the requester's 1:1 chat, the only
    place its bot can share a file), then note who exported it in the case history.

    Raises PlatformFailure from the upload; the history event is written in the caller's transaction.
    """
    where = room or export.room_id
    shared = [workspace.upload_file(where, f.filename, f.content, f.title) for f in export.files]
    for posted in shared:
        ledger.add_sent(session, kind=ledger.FILE_KIND, recipient=where, posted=posted, now=now,
                        case_id=export.case_id, is_file=True)
    record_event(session, export.case_id, user_id, "case_file_exported", now, files=len(shared))
    return shared


class NotShared(PlatformFailure):
    """The platform refused the export's upload: nothing was noted in the case history."""

    def __init__(self, reference: str, failure: PlatformFailure) -> None:
        super().__init__(failure.step, failure.error, permanent=failure.permanent)
        self.reference = reference


def export_case_file(sessions: SessionFactory, terms: Terms, workspace: Workspace, reference: str, user_id: str,
                     zone: ZoneInfo, now: datetime, room: str | None = None) -> Export:
    """A platform's one call for an export: check and render (NotAllowed, NotFound), then share the files (into
    the case's room, or `room`) and note who exported it in one transaction (NotShared if the platform refuses
    the upload)."""
    with sessions() as session:
        export = prepare_export(session, terms, reference, user_id, zone, now)
    try:
        with transaction(sessions) as session:
            share_export(session, workspace, export, user_id, now, room)
    except PlatformFailure as exc:
        raise NotShared(export.reference, exc) from exc
    return export
