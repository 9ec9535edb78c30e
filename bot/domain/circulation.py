"""Action points are circulated within one week of the call (terms of reference): circulate, chase at five days, escalate at seven.

Recording the outcome (bot/domain/outcomes.py) owes the circulation at once: the summary in the case
channel, each owner's items by direct message, the anonymised recommendation to the Medical
Director and, for a high-risk outcome, an anonymised line in the Quality Board's channel. If it
has not gone out `circulation_chase_days` after the call, the chair and the governance
representative are reminded; at `circulation_escalate_days` governance is told, by reference only.

The composers only read. What circulating writes (Outcome.circulated_at, the history event, each
owner's first reminder) is written when the summary is posted, in the scheduler's "sent"
transaction, so a failed post records nothing.
"""  # noqa: E501  (the rule's full wording on the first line)

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from bot.domain import ledger, roster
from bot.domain.action_lines import ActionLine, DayView, action_line, day_view
from bot.domain.action_points import for_case
from bot.domain.action_reminders import plan_owner
from bot.domain.agenda import split_text
from bot.domain.case_views import local_time_text
from bot.domain.fairness import ANSWER_LABELS, PRINCIPLES, Answer
from bot.domain.history import record_event
from bot.domain.notify import Message, MessageKind, Posted
from bot.domain.outbox import Delivery, Drop, Due
from bot.domain.outcomes import (
    PROCESS_LABELS,
    RISK_LABELS,
    Process,
    RiskLevel,
    chair_ids,
    circulation_key,
    current_fairness,
    open_items,
    outcome_of,
)
from bot.domain.planning import days_after
from bot.domain.roles import Role
from bot.domain.terms import Terms
from storage.tables import (
    ActionPoint,
    Case,
    CaseStatus,
    DeliveryState,
    Invitee,
    MessageState,
    Outcome,
    ScheduledMessage,
)

BOT_ACTOR = "bot"
CIRCULATED_EVENT = "outcome_circulated"



# --- view models ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FairnessLine:
    title: str
    answer_label: str
    note_chunks: tuple[str, ...]


@dataclass(frozen=True)
class OutcomeSummary:
    """Posted in the case channel: the recommendation and everything recorded with it."""

    reference: str
    group_short_name: str
    decision_maker: str
    recommendation: str  # "The group recommends to the Medical Director: Formal process"
    rationale_chunks: tuple[str, ...]
    risk_label: str
    risk_notes_chunks: tuple[str, ...]
    ml_policy_label: str
    legal_advice_label: str
    welfare_label: str
    line_manager_support_chunks: tuple[str, ...]
    quorate_label: str
    quorum_statement_chunks: tuple[str, ...]  # only when no roll-call was taken
    fairness: tuple[FairnessLine, ...]
    actions: tuple[ActionLine, ...]
    recorded_by: str
    directors: tuple[str, ...]  # who the recommendation is sent to
    quality_board: bool  # reported to the Quality Board's channel
    late: bool

    @property
    def fairness_notes(self) -> tuple[FairnessLine, ...]:
        return tuple(f for f in self.fairness if f.note_chunks)


@dataclass(frozen=True)
class OwnerActions:
    """Direct message to one owner: their items from this outcome, and nobody else's."""

    reference: str
    group_short_name: str
    actions: tuple[ActionLine, ...]


@dataclass(frozen=True)
class Recommendation:
    """Direct message to the Medical Director: anonymised, the case by reference only."""

    reference: str
    group_short_name: str
    decision_maker: str
    recommendation: str
    process_label: str
    profession: str
    risk_label: str
    rationale_chunks: tuple[str, ...]


@dataclass(frozen=True)
class QualityBoardReport:
    """A high-risk outcome for the Quality Board's channel: the reference and the risk, no rationale,
    and the professional group only where the terms name it (`Profession.named_to_quality_board`)."""

    reference: str
    group_short_name: str
    profession: str | None  # None: not named
    process_label: str
    risk_label: str


@dataclass(frozen=True)
class CirculationChase:
    reference: str
    group_short_name: str
    period: str  # "one week"
    deadline: DayView
    recorded: bool  # the outcome is recorded but could not be circulated yet
    # Who the recorded outcome has not reached (user or room ids): circulated means delivered.
    undelivered: tuple[str, ...] = ()


@dataclass(frozen=True)
class CirculationEscalation:
    reference: str
    period: str
    call: DayView
    undelivered: tuple[str, ...] = ()


# --- building them --------------------------------------------------------------------------------


def _chunks(text: str | None) -> tuple[str, ...]:
    return split_text(text) if text and text.strip() else ()


def _label(labels: dict[str, str], value: str) -> str:
    return labels.get(value, value)


def period_text(days: int) -> str:
    return {7: "one week", 14: "two weeks"}.get(days, f"{days} days")


def _profession_label(terms: Terms, case: Case) -> str:
    found = terms.profession(case.profession)
    return found.label if found else case.profession


def _recommendation(terms: Terms, outcome: Outcome) -> str:
    return f"The group recommends to the {terms.decision_maker}: {_label(PROCESS_LABELS, Process(outcome.process))}"


def _quorate_label(outcome: Outcome) -> str:
    answer = {True: "Yes", False: "No: flagged for governance review", None: "Not recorded"}[outcome.quorate]
    return f"{answer} (stated: no roll-call was taken)" if outcome.quorum_statement is not None else answer


def _fairness(session: Session, case_id: int) -> tuple[FairnessLine, ...]:
    answers = current_fairness(session, case_id)
    lines = []
    for principle in PRINCIPLES:
        found = answers.get(principle.key)
        lines.append(FairnessLine(principle.title, _label(ANSWER_LABELS, Answer(found.answer)) if found else
                                  "Not answered", _chunks(found.note if found else None)))
    return tuple(lines)


def circulated_items(session: Session, case_id: int, outcome: Outcome) -> list[ActionPoint]:
    """The action points recorded with the outcome (fairness inquiries included).

    Items added in the channel afterwards are not part of it; keeping the set fixed also keeps the
    deliveries in the same order on a retry, which is how the scheduler skips those already sent.
    """
    return [a for a in for_case(session, case_id) if a.created_at <= outcome.recorded_at]


def _chase_recipients(session: Session, terms: Terms, case: Case) -> list[str]:
    """The case's chair (and anyone standing in for them), then its governance representative."""
    governance = {s.key for s in terms.seats if s.roster_role is Role.GOVERNANCE}
    seats = session.exec(select(Invitee).where(Invitee.case_id == case.id).order_by(Invitee.position))
    return list(dict.fromkeys([*sorted(chair_ids(session, terms, case)),
                               *(i.user_id for i in seats if i.seat in governance)]))


def _deadline(case: Case, terms: Terms, zone: ZoneInfo) -> datetime:
    call_end = case.call_at + timedelta(minutes=case.duration_minutes)
    return days_after(call_end, terms.reminders.circulation_escalate_days, zone)


def circulation_gaps(session: Session, case: Case) -> tuple[bool, tuple[str, ...]]:
    """Whether the outcome has reached everyone it is circulated to, and who it has not reached yet
    (user ids, or room ids), from the ledger of the circulation's deliveries."""
    row = session.exec(select(ScheduledMessage).where(
        ScheduledMessage.idempotency_key == circulation_key(case.id or 0))).first()
    if row is None:
        return False, ()
    missing = tuple(r.recipient for r in ledger.states(session, row.id or 0).values()
                    if r.state != DeliveryState.SENT)
    return row.state == MessageState.SENT and not missing, missing


def _not_circulated(due: Due) -> tuple[Case, tuple[str, ...]] | Drop:
    """The case, and who the outcome has not reached, if its circulation is not complete and the case is
    open; else why not. Circulated means delivered: a summary posted while an owner's or the Medical
    Director's message failed is not circulated to them, and the chase and escalation say so."""
    case = due.case
    if case is None or case.status != CaseStatus.CONVENED:
        return Drop("case not open")
    complete, missing = circulation_gaps(due.session, case)
    if complete:
        return Drop("circulated")
    return case, missing


# --- what circulating writes ----------------------------------------------------------------------


def _mark_circulated(case_id: int, outcome_id: int, terms: Terms, zone: ZoneInfo,
                     now: datetime) -> Callable[[Session, Posted], None]:
    def on_sent(session: Session, _posted: Posted) -> None:
        outcome = session.get(Outcome, outcome_id)
        if outcome is None or outcome.circulated_at is not None:
            return
        outcome.circulated_at = now
        session.add(outcome)
        owners = sorted({a.owner_id for a in open_items(session, case_id)})
        record_event(session, case_id, BOT_ACTOR, CIRCULATED_EVENT, now, owners=len(owners))
        for owner in owners:
            plan_owner(session, owner, terms, zone, now)

    return on_sent


# --- composers ------------------------------------------------------------------------------------


def compose_circulation(due: Due) -> list[Delivery] | Drop:
    """Circulate the outcome: summary in the channel, each owner's items, the Medical Director,
    and the Quality Board for a high-risk outcome. Dropped once circulated, or for a cancelled case."""
    case = due.case
    if case is None:
        return Drop("case not found")
    if case.status == CaseStatus.CANCELLED:
        return Drop("cancelled")
    outcome = outcome_of(due.session, case.id or 0)
    if outcome is None:
        return Drop("no outcome")
    # A retry after the summary went out carries on with what is left: the outbox skips each delivery
    # its ledger already has as sent (the deliveries are keyed by recipient).
    terms, zone = due.terms, due.zone
    today = due.now.astimezone(zone).date()
    items = circulated_items(due.session, case.id or 0, outcome)
    lines = [action_line(a, today, terms.reminders.action_reminder_days, zone) for a in items]
    directors = tuple(e.user_id for e in roster.holders(due.session, Role.MEDICAL_DIRECTOR))
    high_risk = outcome.risk_level == RiskLevel.HIGH
    board = due.reporting.quality_board_room if high_risk else ""
    risk_label = _label(RISK_LABELS, RiskLevel(outcome.risk_level))
    process_label = _label(PROCESS_LABELS, Process(outcome.process))
    profession = _profession_label(terms, case)
    recommendation = _recommendation(terms, outcome)

    summary = OutcomeSummary(
        reference=case.reference, group_short_name=terms.short_name, decision_maker=terms.decision_maker,
        recommendation=recommendation, rationale_chunks=_chunks(outcome.rationale), risk_label=risk_label,
        risk_notes_chunks=_chunks(outcome.risk_notes),
        ml_policy_label=_label(ANSWER_LABELS, Answer(outcome.ml_policy_notify)),
        legal_advice_label=_label(ANSWER_LABELS, Answer(outcome.legal_advice)),
        welfare_label=_label(ANSWER_LABELS, Answer(outcome.welfare_offered)),
        line_manager_support_chunks=_chunks(outcome.line_manager_support), quorate_label=_quorate_label(outcome),
        quorum_statement_chunks=_chunks(outcome.quorum_statement), fairness=_fairness(due.session, case.id or 0),
        actions=tuple(lines), recorded_by=outcome.recorded_by, directors=directors, quality_board=bool(board),
        late=due.late)
    deliveries = [Delivery(Message(MessageKind.OUTCOME_SUMMARY, summary), room=case.room_id,
                           on_sent=_mark_circulated(case.id or 0, outcome.id or 0, terms, zone, due.now))]
    for owner in sorted({line.owner_id for line in lines}):
        mine = tuple(line for line in lines if line.owner_id == owner)
        deliveries.append(Delivery(Message(MessageKind.OUTCOME_OWNER_ACTIONS, OwnerActions(
            case.reference, terms.short_name, mine)), user=owner))
    recommended = Recommendation(
        reference=case.reference, group_short_name=terms.short_name, decision_maker=terms.decision_maker,
        recommendation=recommendation, process_label=process_label, profession=profession, risk_label=risk_label,
        rationale_chunks=_chunks(outcome.rationale))
    deliveries += [Delivery(Message(MessageKind.OUTCOME_RECOMMENDATION, recommended), user=d) for d in directors]
    if board:
        found = terms.profession(case.profession)
        named = found.label if found is not None and found.named_to_quality_board else None
        deliveries.append(Delivery(Message(MessageKind.OUTCOME_QUALITY_BOARD, QualityBoardReport(
            case.reference, terms.short_name, named, process_label, risk_label)), room=board))
    return deliveries


def compose_circulation_chase(due: Due) -> list[Delivery] | Drop:
    """Five days after the call, not yet circulated: remind the chair and the governance representative."""
    found = _not_circulated(due)
    if isinstance(found, Drop):
        return found
    case, missing = found
    recipients = _chase_recipients(due.session, due.terms, case)
    if not recipients:
        return Drop("nobody to remind")
    deadline = _deadline(case, due.terms, due.zone)
    model = CirculationChase(
        reference=case.reference, group_short_name=due.terms.short_name,
        period=period_text(due.terms.reminders.circulation_escalate_days),
        deadline=DayView(deadline, local_time_text(deadline, due.zone)),
        recorded=outcome_of(due.session, case.id or 0) is not None, undelivered=missing)
    return [Delivery(Message(MessageKind.CIRCULATION_CHASE, model), user=u) for u in recipients]


def compose_circulation_escalate(due: Due) -> list[Delivery] | Drop:
    """Seven days after the call, not yet circulated: tell governance, by case reference only.

    To the configured governance channel; else each governance member on the roster; else, so the
    escalation is never lost, the case channel.
    """
    found = _not_circulated(due)
    if isinstance(found, Drop):
        return found
    case, missing = found
    call_day = case.call_at.astimezone(due.zone).date()
    model = CirculationEscalation(reference=case.reference,
                                  period=period_text(due.terms.reminders.circulation_escalate_days),
                                  call=DayView(case.call_at, day_view(call_day, due.zone).text), undelivered=missing)
    message = Message(MessageKind.CIRCULATION_ESCALATE, model)
    if due.reporting.governance_room:
        return [Delivery(message, room=due.reporting.governance_room)]
    governance: Sequence[str] = [e.user_id for e in roster.holders(due.session, Role.GOVERNANCE)]
    if governance:
        return [Delivery(message, user=u) for u in governance]
    return [Delivery(message, room=case.room_id)]
