"""The case header as the case stands now: the one place a header is built from a stored case.

At convening the header is built from the request (bot/domain/convening.py); every later version (after a
reschedule, a cancellation, an outcome, an action point changing, the case closing) is built here
from the database, with the action points' open and overdue counts once an outcome is recorded.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.domain import action_points, outcomes
from bot.domain.case_views import CaseHeader, SeatView, local_time_text, route_label
from bot.domain.notify import Message, MessageKind, Workspace
from bot.domain.terms import Terms
from storage.db import SessionFactory
from storage.locks import named_lock
from storage.tables import Case, Invitee


def header_view(session: Session, terms: Terms, case: Case, zone: ZoneInfo, today: date) -> CaseHeader:
    """The header's view model: seats in order, status, and (once an outcome exists) the counts of
    open and overdue action points on `today` (the organisation's date)."""
    profession = terms.profession(case.profession)
    invitees = session.exec(select(Invitee).where(Invitee.case_id == case.id).order_by(Invitee.position))
    open_actions, overdue_actions = action_points.counts(session, case.id or 0, today)
    return CaseHeader(
        reference=case.reference, group_name=terms.name, group_short_name=terms.short_name,
        profession=profession.label if profession else case.profession, route=route_label(case.route),
        concern=case.concern, risks=case.risks, call_at=case.call_at, call_at_local=local_time_text(case.call_at, zone),
        duration_minutes=case.duration_minutes, call_details=case.call_details, short_notice=case.short_notice,
        convener_id=case.convener_id, seats=tuple(SeatView(i.seat_label, i.user_id) for i in invitees),
        decision_maker=terms.decision_maker, status=str(case.status), open_actions=open_actions,
        overdue_actions=overdue_actions, outcome_recorded=outcomes.outcome_of(session, case.id or 0) is not None,
    )


def _engine(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def refresh_header(sessions: SessionFactory, terms: Terms, case_id: int, workspace: Workspace, zone: ZoneInfo,
                   today: date) -> None:
    """Re-render the header from the database and update it in place (`case.header_ref`).

    Serialised per case and read inside the lock, so two changes at once never leave the older
    header showing. Does nothing for a case without a header. Raises PlatformFailure.
    """
    # The session has run no query when the lock is taken, so every row below is read under it.
    with sessions() as session, named_lock(_engine(session), f"header:{case_id}"):
        case = session.get(Case, case_id)
        if case is None or not case.header_ref:
            return
        header = header_view(session, terms, case, zone, today)
        workspace.update(case.room_id, case.header_ref, Message(MessageKind.CASE_HEADER, header))
