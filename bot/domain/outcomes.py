"""The advisory outcome per the terms of reference: a recommendation to the decision maker (the
Medical Director), with rationale, risk assessment, legal liaison, welfare and fairness answers.

Recording it writes the outcome, the fairness answers and the action points in one transaction
and owes the circulation (bot/domain/circulation.py) at once; any "no" or "unknown" fairness answer
becomes an action point for further inquiry, owned by the chair.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from bot.domain import action_points, permissions
from bot.domain.action_points import NewAction
from bot.domain.cases import case_named
from bot.domain.errors import InvalidInput, NotAllowed
from bot.domain.fairness import PRINCIPLE_BY_KEY, PRINCIPLES, Answer, needs_inquiry
from bot.domain.history import record_event
from bot.domain.naming import describe_hits, find_person_names
from bot.domain.people import People
from bot.domain.terms import Terms
from storage.tables import (
    ActionPoint,
    ActionStatus,
    Case,
    CaseStatus,
    FairnessAnswer,
    Outcome,
    ScheduledMessage,
)

TEXT_LIMIT = 2000
INQUIRY_DAYS = 14
# Action point rows one outcome form takes ("Add another" stops here); more are added later, one at a time.
MAX_ACTION_ROWS = 10


class Process(StrEnum):
    INFORMAL = "informal"
    FORMAL = "formal"
    NO_FURTHER_ACTION = "no_further_action"
    OTHER = "other"


PROCESS_LABELS = {Process.INFORMAL: "Informal process", Process.FORMAL: "Formal process",
                  Process.NO_FURTHER_ACTION: "No further action", Process.OTHER: "Other (see rationale)"}


class RiskLevel(StrEnum):
    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"


RISK_LABELS = {RiskLevel.LOW: "Low", RiskLevel.MODERATE: "Moderate", RiskLevel.HIGH: "High"}


@dataclass(frozen=True)
class OutcomeForm:
    """What the chair entered; keys of `fairness` are principle keys, values (answer, note)."""

    reference: str
    actor: str
    process: str | None
    rationale: str
    risk_level: str | None
    risk_notes: str
    ml_policy_notify: str | None
    legal_advice: str | None
    welfare_offered: str | None
    line_manager_support: str
    fairness: Mapping[str, tuple[str | None, str]]
    actions: tuple[NewAction, ...] = ()
    # Only when no roll-call was taken: whether the call was quorate, and why that is known.
    quorate_stated: bool | None = None
    quorum_statement: str = ""


@dataclass(frozen=True)
class Recorded:
    case_id: int
    reference: str
    action_ids: tuple[int, ...]
    inquiry_ids: tuple[int, ...]




def chair_ids(session: Session, terms: Terms, case: Case) -> set[str]:
    """Who chairs this case: the chair seat's holder, and the deputy they named (bot/domain/permissions.py)."""
    return permissions.chairs_of(session, terms, case)


def may_record(session: Session, terms: Terms, case: Case, user_id: str) -> None:
    """The case's chair (or the deputy they named) or governance records the outcome."""
    permissions.require_chair_powers(session, terms, case, user_id, "record its outcome")


def _text(errors: dict[str, str], field: str, value: str, names: Sequence[str], *, required: str | None) -> str:
    text = value.strip()
    if not text:
        if required:
            errors[field] = required
    elif len(text) > TEXT_LIMIT:
        errors[field] = f"Keep this under {TEXT_LIMIT} characters."
    elif hits := find_person_names(text, names):
        errors[field] = describe_hits(hits)
    return text


def _choice(errors: dict[str, str], field: str, value: str | None, allowed: type[StrEnum], message: str) -> str:
    if value not in {m.value for m in allowed}:
        errors[field] = message
        return ""
    return str(value)


def record_outcome(session: Session, terms: Terms, form: OutcomeForm, now: datetime, zone: ZoneInfo,
                   directory_names: Sequence[str], people: People) -> Recorded:
    """Validate and record the outcome, fairness answers and action points; owe the circulation now.

    Every action point's owner must be an active person of the workspace (`people`).

    Raises NotFound, NotAllowed (wrong person, case not open, outcome already recorded) or
    InvalidInput keyed by form field (nothing is written then).
    """
    case = case_named(session, form.reference)
    if case.status != CaseStatus.CONVENED:
        raise NotAllowed(f"{case.reference} is {case.status}: its outcome cannot be recorded.")
    may_record(session, terms, case, form.actor)
    if session.exec(select(Outcome).where(Outcome.case_id == case.id)).first() is not None:
        raise NotAllowed(f"The outcome of {case.reference} is already recorded. Fairness answers can be revisited "
                         "and action points added from the case channel.")
    today = now.astimezone(zone).date()
    errors: dict[str, str] = {}
    process = _choice(errors, "process", form.process, Process, "Choose the recommended process.")
    rationale = _text(errors, "rationale", form.rationale, directory_names,
                      required="The rationale is required: say why this process is recommended.")
    risk = _choice(errors, "risk_level", form.risk_level, RiskLevel, "Choose the risk level.")
    risk_notes = _text(errors, "risk_notes", form.risk_notes, directory_names, required=None)
    ml_policy = _choice(errors, "ml_policy", form.ml_policy_notify, Answer, "Answer yes, no or unknown.")
    legal = _choice(errors, "legal_advice", form.legal_advice, Answer, "Answer yes, no or unknown.")
    welfare = _choice(errors, "welfare", form.welfare_offered, Answer, "Answer yes, no or unknown.")
    support = _text(errors, "line_manager_support", form.line_manager_support, directory_names, required=None)
    statement = ""
    if case.quorate is None:
        if form.quorate_stated is None:
            errors["quorate_stated"] = "No roll-call was recorded: say whether the call was quorate."
        statement = _text(errors, "quorum_statement", form.quorum_statement, directory_names,
                          required="Say how quorum was established without a roll-call.")
    answers: dict[str, tuple[str, str]] = {}
    for principle in PRINCIPLES:
        answer, note = form.fairness.get(principle.key, (None, ""))
        chosen = _choice(errors, f"fairness_{principle.key}", answer, Answer, "Answer yes, no or unknown.")
        answers[principle.key] = (chosen, _text(errors, f"fairness_{principle.key}_note", note, directory_names,
                                                required=None))
    for index, action in enumerate(form.actions, start=1):
        errors.update(action_points.check_new(action, today, directory_names, f"action_{index}", people))
    if errors:
        raise InvalidInput(errors)

    quorate = case.quorate if case.quorate is not None else form.quorate_stated
    session.add(Outcome(case_id=case.id or 0, process=process, rationale=rationale, risk_level=risk,
                        risk_notes=risk_notes, ml_policy_notify=ml_policy, legal_advice=legal, welfare_offered=welfare,
                        line_manager_support=support, quorate=quorate, quorum_statement=statement or None,
                        recorded_by=form.actor, recorded_at=now))
    action_ids = [action_points.add(session, case, a, form.actor, now, "outcome").id or 0 for a in form.actions]
    inquiry_ids = record_fairness(session, terms, case, form.actor, answers, now, today)
    record_event(session, case.id or 0, form.actor, "outcome_recorded", now, process=process, risk=risk,
                 quorate=quorate, actions=len(action_ids), inquiries=len(inquiry_ids))
    owe_circulation(session, case, now)
    return Recorded(case.id or 0, case.reference, tuple(action_ids), tuple(inquiry_ids))


def record_fairness(session: Session, terms: Terms, case: Case, actor: str, answers: Mapping[str, tuple[str, str]],
                    now: datetime, today: date) -> list[int]:
    """Append fairness answers; a "no"/"unknown" without an open inquiry gets one, owned by the chair."""
    owner = sorted(chair_ids(session, terms, case))[:1] or [actor]
    open_inquiries = {a.principle for a in action_points.for_case(session, case.id or 0)
                      if a.source == "fairness" and a.status == ActionStatus.OPEN}
    created: list[int] = []
    for key, (answer, note) in answers.items():
        session.add(FairnessAnswer(case_id=case.id or 0, principle=key, answer=answer, note=note, answered_by=actor,
                                   answered_at=now))
        if needs_inquiry(answer) and key not in open_inquiries:
            principle = PRINCIPLE_BY_KEY[key]
            item = action_points.add(session, case, NewAction(
                f"Further inquiry ({principle.title}, answered {answer}): {note or principle.question}"[:500],
                owner[0], today + timedelta(days=INQUIRY_DAYS)), actor, now, "fairness", principle=key)
            created.append(item.id or 0)
    record_event(session, case.id or 0, actor, "fairness_answered", now,
                 answers={k: a for k, (a, _) in answers.items()})
    return created


def current_fairness(session: Session, case_id: int) -> dict[str, FairnessAnswer]:
    """The latest answer to each principle (earlier ones stay in the record)."""
    latest: dict[str, FairnessAnswer] = {}
    for row in session.exec(select(FairnessAnswer).where(FairnessAnswer.case_id == case_id)
                            .order_by(FairnessAnswer.answered_at, FairnessAnswer.id)):
        latest[row.principle] = row
    return latest


def circulation_key(case_id: int) -> str:
    return f"case:{case_id}:circulation"


def owe_circulation(session: Session, case: Case, now: datetime) -> None:
    """Circulation is a scheduled message due now: durable, sent once, retried if the platform is down."""
    key = circulation_key(case.id or 0)
    if session.exec(select(ScheduledMessage.id).where(ScheduledMessage.idempotency_key == key)).first() is None:
        session.add(ScheduledMessage(case_id=case.id, kind="circulation", recipient="room", due_at=now,
                                     idempotency_key=key, detail="{}"))  # no version: never dropped as moved


def outcome_of(session: Session, case_id: int) -> Outcome | None:
    return session.exec(select(Outcome).where(Outcome.case_id == case_id)).first()


def open_items(session: Session, case_id: int) -> list[ActionPoint]:
    return [a for a in action_points.for_case(session, case_id) if a.status == ActionStatus.OPEN]
