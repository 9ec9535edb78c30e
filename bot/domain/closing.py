"""Closing a case: only when no action point is open, or with a recorded reason.

Only the chair (the chair seat's holder or the deputy they named for it) or governance closes a case;
a chair or deputy chair on the roster who is not on the case does not. A reason is also required
when no outcome was ever recorded, so a case never ends silently without its recommendation.
`close` writes the case, its scheduled messages and a "closed" history event in the caller's
transaction; `announce_closed` posts the closing summary, closes the header and (when
configured) archives the channel after the commit.
Owners' action digests are not per case: they skip closed cases themselves (bot/domain/action_reminders.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.domain import action_points, case_header, forms, ledger, outcomes, permissions, planning, rescheduling
from bot.domain.case_views import local_time_text
from bot.domain.cases import case_named
from bot.domain.errors import InvalidInput, NotAllowed
from bot.domain.history import record_event
from bot.domain.naming import describe_hits, find_person_names
from bot.domain.notify import Message, MessageKind, Workspace, attempt
from bot.domain.outbox import Reporting
from bot.domain.outcomes import PROCESS_LABELS, Process
from bot.domain.rescheduling import Announced
from bot.domain.terms import Terms
from storage.db import SessionFactory
from storage.tables import ActionStatus, Case, CaseStatus

log = logging.getLogger(__name__)

REASON_LIMIT = 1000


@dataclass(frozen=True)
class CloseCheck:
    """What the person closing is told before they confirm: whether a reason is required, and why."""

    reference: str
    open_items: int
    outcome_recorded: bool

    @property
    def reason_required(self) -> bool:
        return self.open_items > 0 or not self.outcome_recorded


@dataclass(frozen=True)
class Closed:
    case_id: int
    reference: str
    room_id: str
    actor_id: str
    reason: str
    open_items: int
    cancelled_messages: int
    closed_at: datetime
    closed_on: date  # the organisation's date, for the header's overdue count


@dataclass(frozen=True)
class ClosingSummary:
    """templates/slack/case_closed.json.j2: what the case came to, in counts and choices only."""

    reference: str
    group_short_name: str
    decision_maker: str
    actor_id: str
    process_label: str | None  # None: no outcome was recorded
    quorate: bool | None  # None: not recorded
    done: int
    dropped: int
    still_open: int
    call_at: datetime
    call_at_local: str
    circulation_days: int | None  # days from the call to circulation; None: never circulated
    circulation_deadline_days: int
    reason: str
    archiving: bool




def may_close(session: Session, terms: Terms, case: Case, user_id: str) -> None:
    """Raise NotAllowed, naming who can, unless `user_id` chairs the case (or deputises for its chair) or is
    governance (bot/domain/permissions.py)."""
    permissions.require_chair_powers(session, terms, case, user_id, "close it")


def require_open(case: Case) -> None:
    if case.status == CaseStatus.CLOSED:
        raise NotAllowed(f"{case.reference} is already closed.")
    if case.status == CaseStatus.CANCELLED:
        raise NotAllowed(f"{case.reference} was cancelled: there is nothing to close.")


def check_can_close(session: Session, terms: Terms, reference: str, user_id: str) -> CloseCheck:
    """Whether `user_id` may close the case now, and what closing it asks of them.

    Raises NotFound or NotAllowed; writes nothing.
    """
    case = case_named(session, reference)
    may_close(session, terms, case, user_id)
    require_open(case)
    return CloseCheck(case.reference, len(outcomes.open_items(session, case.id or 0)),
                      outcomes.outcome_of(session, case.id or 0) is not None)


def reason_prompt(check: CloseCheck) -> str:
    """Why a reason is asked for (shown in the form and in the error at its field)."""
    if check.open_items:
        items = f"{check.open_items} action point{'s are' if check.open_items != 1 else ' is'} still open"
        return f"{items}: give the reason for closing the case with {'them' if check.open_items != 1 else 'it'} open."
    if not check.outcome_recorded:
        return "No outcome is recorded: give the reason for closing the case without one."
    return ""


def submit_close(sessions: SessionFactory, engine: Engine, form: forms.Form, terms: Terms, actor: str, reason: str,
                 now: datetime, zone: ZoneInfo, directory_names: Sequence[str] = ()) -> Closed:
    """A platform's one call for the close form: under the case's admin lock, the form counted once and the
    case closed in one transaction (`close`); raises AlreadySubmitted, InvalidInput, NotAllowed, NotFound."""
    with rescheduling.case_admin_lock(engine, form.subject):
        return forms.submit_once(sessions, form, now, lambda session: close(
            session, terms, form.subject, actor, reason, now, zone, directory_names=directory_names))


def close(session: Session, terms: Terms, reference: str, actor: str, reason: str, now: datetime, zone: ZoneInfo,
          directory_names: Sequence[str] = ()) -> Closed:
    """Close the case; no reminder for it is sent after this.

    A reason is required while any action point is open (or no outcome is recorded). Raises
    InvalidInput keyed "reason" (missing, too long, or naming someone), NotAllowed or NotFound.
    Writes the case (status, closed_at, close_reason), cancels its pending scheduled messages and
    appends a "closed" history event (without the reason's text: the case keeps it), in the
    caller's transaction. Open action points stay open in the record; they are no longer chased.
    """
    case = case_named(session, reference, for_update=True)
    may_close(session, terms, case, actor)
    require_open(case)
    assert case.id is not None

    items = action_points.for_case(session, case.id)
    check = CloseCheck(case.reference, sum(1 for i in items if i.status == ActionStatus.OPEN),
                       outcomes.outcome_of(session, case.id) is not None)
    text = (reason or "").strip()
    if not text and check.reason_required:
        raise InvalidInput({"reason": f"{reason_prompt(check)} It is kept in the case record."})
    if len(text) > REASON_LIMIT:
        raise InvalidInput({"reason": f"Keep this under {REASON_LIMIT} characters (it has {len(text)})."})
    if text and (hits := find_person_names(text, directory_names)):
        raise InvalidInput({"reason": describe_hits(hits)})

    case.status, case.closed_at, case.close_reason = CaseStatus.CLOSED, now, text or None
    # A new version too: a message for the case already claimed by a worker is dropped when composed.
    case.schedule_version += 1
    session.add(case)
    session.flush()
    cancelled = planning.cancel_pending(session, case.id)
    record_event(session, case.id, actor, "closed", now, open_items=check.open_items,
                 done=sum(1 for i in items if i.status == ActionStatus.DONE),
                 dropped=sum(1 for i in items if i.status == ActionStatus.DROPPED),
                 with_reason=bool(text), cancelled_messages=cancelled, schedule_version=case.schedule_version)
    log.info("case_closed", extra={"event": "case_closed", "case_ref": case.reference, "open_items": check.open_items,
                                   "cancelled": cancelled})
    return Closed(case_id=case.id, reference=case.reference, room_id=case.room_id, actor_id=actor, reason=text,
                  open_items=check.open_items, cancelled_messages=cancelled, closed_at=now,
                  closed_on=now.astimezone(zone).date())


def summary(session: Session, terms: Terms, case: Case, zone: ZoneInfo, result: Closed, archiving: bool
            ) -> ClosingSummary:
    """The closing summary: outcome process, quorum, action points by status, days to circulation."""
    outcome = outcomes.outcome_of(session, case.id or 0)
    items = action_points.for_case(session, case.id or 0)
    days: int | None = None
    if outcome is not None and outcome.circulated_at is not None:
        days = (outcome.circulated_at.astimezone(zone).date() - case.call_at.astimezone(zone).date()).days
    return ClosingSummary(
        reference=case.reference, group_short_name=terms.short_name, decision_maker=terms.decision_maker,
        actor_id=result.actor_id, process_label=PROCESS_LABELS[Process(outcome.process)] if outcome else None,
        quorate=outcome.quorate if outcome is not None else case.quorate,
        done=sum(1 for i in items if i.status == ActionStatus.DONE),
        dropped=sum(1 for i in items if i.status == ActionStatus.DROPPED),
        still_open=sum(1 for i in items if i.status == ActionStatus.OPEN),
        call_at=case.call_at, call_at_local=local_time_text(case.call_at, zone), circulation_days=days,
        circulation_deadline_days=terms.reminders.circulation_escalate_days, reason=result.reason,
        archiving=archiving)



def announce_closed(sessions: SessionFactory, terms: Terms, workspace: Workspace, zone: ZoneInfo, result: Closed,
                    reporting: Reporting) -> Announced:
    """After the commit: post the closing summary in the case channel, close the header (no
    buttons), then archive the channel when `reporting.archive_on_close` (not if the summary could
    not be posted: the channel would hide that). One refusal never stops the rest."""
    failed: list[str] = []
    ref = result.reference
    workspace = ledger.recording(workspace, sessions, lambda: result.closed_at, result.case_id)
    with sessions() as session:
        case = session.get(Case, result.case_id)
        if case is None:
            return Announced(failed_steps=("posting the closing summary",))
        post = summary(session, terms, case, zone, result, reporting.archive_on_close)
    posted = attempt("posting the closing summary", failed, ref,
                      lambda: workspace.post(result.room_id, Message(MessageKind.CASE_CLOSED, post)))
    attempt("updating the case header", failed, ref,
             lambda: case_header.refresh_header(sessions, terms, result.case_id, workspace, zone, result.closed_on))
    if reporting.archive_on_close and posted:
        attempt("archiving the case channel", failed, ref, lambda: workspace.archive_room(result.room_id))
    return Announced(failed_steps=tuple(failed))
