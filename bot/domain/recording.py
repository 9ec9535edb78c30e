"""Recording on a case after the call: the outcome, the fairness answers revisited, an action point added later.

Each is one call from a platform's listener, which only parses the form and words the answer. Here the domain
decides from the signed user id and the stored case who may record (the chair, the deputy they named, or
governance: bot/domain/outcomes.py `may_record`) and on which cases (convened, neither cancelled nor closed),
holds the case's outcome lock so two submissions for one case never interleave, counts the form once
(bot/domain/forms.py `submit_once`) and writes the change, its history and the owners' reminders in one
transaction: a refusal or a bad field leaves nothing written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.domain import action_points, action_reminders, cases, forms, outcomes
from bot.domain.action_points import NewAction
from bot.domain.errors import InvalidInput, NotAllowed
from bot.domain.fairness import Answer
from bot.domain.forms import Form, FormKind
from bot.domain.naming import describe_hits, find_person_names
from bot.domain.outcomes import OutcomeForm, Recorded
from bot.domain.people import People
from bot.domain.terms import Terms
from storage.db import SessionFactory
from storage.locks import named_lock
from storage.tables import ActionPoint, Case, CaseStatus


class OutcomeAlreadyRecorded(NotAllowed):
    """The outcome form again, once the outcome stands: the platform points to revisiting fairness instead."""

    def __init__(self, reference: str) -> None:
        super().__init__(f"The outcome of {reference} is already recorded.")
        self.reference = reference


class OutcomeNotRecorded(NotAllowed):
    """An action point added before the outcome: the platform points to recording the outcome first."""

    def __init__(self, reference: str) -> None:
        super().__init__(f"Record the outcome of {reference} first: its action points are circulated with it.")
        self.reference = reference


@dataclass(frozen=True)
class CaseToRecord:
    """What a form for recording on a case shows: plain values, no table row."""

    reference: str
    case_id: int
    quorate: bool | None  # from the roll-call; None if none was recorded (the outcome form then asks)
    quorum_reason: str | None
    outcome_recorded: bool
    fairness: Mapping[str, tuple[str, str]]  # the current answers: principle key -> (answer, note)


@dataclass(frozen=True)
class FairnessSaved:
    reference: str
    room_id: str
    answers: Mapping[str, tuple[str, str]]
    inquiry_ids: tuple[int, ...]  # the new action points for further inquiry
    owners: tuple[str, ...]


@dataclass(frozen=True)
class ActionAdded:
    reference: str
    case_id: int
    room_id: str
    number: int
    description: str
    owner_id: str
    due_on: date


def open_case(session: Session, terms: Terms, reference: str, user_id: str) -> Case:
    """The case, if `user_id` may record on it and it is neither cancelled nor closed."""
    case = cases.case_named(session, reference)
    outcomes.may_record(session, terms, case, user_id)
    if case.status != CaseStatus.CONVENED:
        raise NotAllowed(f"{case.reference} is {case.status}: nothing more can be recorded on it.")
    return case


def to_record(session: Session, case: Case) -> CaseToRecord:
    current = outcomes.current_fairness(session, case.id or 0)
    return CaseToRecord(reference=case.reference, case_id=case.id or 0, quorate=case.quorate,
                        quorum_reason=case.quorum_reason,
                        outcome_recorded=outcomes.outcome_of(session, case.id or 0) is not None,
                        fairness={k: (a.answer, a.note) for k, a in current.items()})


def case_to_record(sessions: SessionFactory, terms: Terms, reference: str, user_id: str,
                   kind: FormKind) -> CaseToRecord:
    """Before a form opens: may `user_id` record this `kind` (outcome, fairness, a later action) on the case?"""
    with sessions() as session:
        found = to_record(session, open_case(session, terms, reference, user_id))
    if kind == FormKind.OUTCOME and found.outcome_recorded:
        raise OutcomeAlreadyRecorded(found.reference)
    if kind == FormKind.ACTION_ADD and not found.outcome_recorded:
        raise OutcomeNotRecorded(found.reference)
    return found


def case_of_form(sessions: SessionFactory, form: Form) -> CaseToRecord:
    """The case an open form is about (a form the bot opened for this person, as its record says)."""
    with sessions() as session:
        return to_record(session, cases.case_named(session, form.subject))


def _lock(engine: Engine, reference: str) -> AbstractContextManager[None]:
    return named_lock(engine, f"outcome:{reference}")


def record_outcome(sessions: SessionFactory, engine: Engine, form: Form, outcome: OutcomeForm, terms: Terms,
                   zone: ZoneInfo, names: Sequence[str], people: People, now: datetime) -> Recorded:
    """The outcome, once per form, under the case's outcome lock (bot/domain/outcomes.py `record_outcome`)."""
    with _lock(engine, form.subject):
        return forms.submit_once(sessions, form, now, lambda session: outcomes.record_outcome(
            session, terms, outcome, now, zone, names, people))


def check_fairness(answers: Mapping[str, tuple[str | None, str]], names: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Each principle answered yes, no or unknown, its note short and naming nobody; InvalidInput otherwise."""
    errors: dict[str, str] = {}
    checked: dict[str, tuple[str, str]] = {}
    for key, (answer, note) in answers.items():
        if answer not in {a.value for a in Answer}:
            errors[f"fairness_{key}"] = "Answer yes, no or unknown."
        note = note.strip()
        if len(note) > outcomes.TEXT_LIMIT:
            errors[f"fairness_{key}_note"] = f"Keep this under {outcomes.TEXT_LIMIT} characters."
        elif hits := find_person_names(note, names):
            errors[f"fairness_{key}_note"] = describe_hits(hits)
        checked[key] = (str(answer), note)
    if errors:
        raise InvalidInput(errors)
    return checked


def revisit_fairness(sessions: SessionFactory, engine: Engine, form: Form, terms: Terms, zone: ZoneInfo,
                     user_id: str, answers: Mapping[str, tuple[str | None, str]], names: Sequence[str],
                     now: datetime) -> FairnessSaved:
    """New fairness answers (the earlier ones stay in the record); a "no" or "unknown" becomes an action point
    for further inquiry, owned by the chair."""
    def change(session: Session) -> FairnessSaved:
        case = open_case(session, terms, form.subject, user_id)
        checked = check_fairness(answers, names)
        created = outcomes.record_fairness(session, terms, case, user_id, checked, now, now.astimezone(zone).date())
        items = [session.get(ActionPoint, i) for i in created]
        owners = tuple(sorted({item.owner_id for item in items if item is not None}))
        return FairnessSaved(case.reference, case.room_id, checked, tuple(created), owners)

    with _lock(engine, form.subject):
        return forms.submit_once(sessions, form, now, change)


def add_action(sessions: SessionFactory, engine: Engine, form: Form, terms: Terms, zone: ZoneInfo, user_id: str,
               action: NewAction, names: Sequence[str], people: People, field: str, now: datetime) -> ActionAdded:
    """One action point added after the outcome, with its owner's reminders planned, in one transaction.
    Problems are keyed by `field` + _description/_owner/_due (the platform's form fields)."""
    def change(session: Session) -> ActionAdded:
        case = open_case(session, terms, form.subject, user_id)
        if outcomes.outcome_of(session, case.id or 0) is None:
            raise OutcomeNotRecorded(case.reference)
        errors = action_points.check_new(action, now.astimezone(zone).date(), names, field, people)
        if errors:
            raise InvalidInput(errors)
        item = action_points.add(session, case, action, user_id, now, source="channel")
        action_reminders.plan_owner(session, item.owner_id, terms, zone, now)
        return ActionAdded(case.reference, item.case_id, case.room_id, item.number, item.description,
                           item.owner_id, item.due_on)

    with _lock(engine, form.subject):
        return forms.submit_once(sessions, form, now, change)
