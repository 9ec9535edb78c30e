"""Chasing replies and the pre-call quorum check, per the terms of reference's reminder offsets.

A member who has not answered is reminded by direct message at each offset before the call; the
reminder is dropped the moment they answer. At the pre-call check, a call projected inquorate is
reported to the convener and chair with the failing condition and the fixes; a quorate one is
announced in the channel once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select

from bot.domain import roster
from bot.domain.attendance import _entries_for, answer_detail, answer_value, projected_quorum
from bot.domain.case_views import local_time_text
from bot.domain.notify import Message, MessageKind
from bot.domain.outbox import Delivery, Drop, Due
from bot.domain.quorum import Condition
from bot.domain.roles import Role
from storage.tables import CaseStatus, Invitee, Reply


@dataclass(frozen=True)
class ReplyChase:
    reference: str
    group_short_name: str
    seat_label: str
    call_at_local: str
    call_at: object
    late: bool
    answer_value: str


@dataclass(frozen=True)
class PreCallCheck:
    reference: str
    group_short_name: str
    call_at: object
    call_at_local: str
    quorate: bool
    reason: str
    missing: tuple[str, ...]
    # Who the fix buttons propose, from the roster: the deputy chair, other leads for the profession.
    deputy_candidates: tuple[str, ...]
    late: bool


def compose_reply_chase(due: Due) -> list[Delivery] | Drop:
    case = due.case
    if case is None or case.status != CaseStatus.CONVENED:
        return Drop("case not open")
    seats = list(due.session.exec(select(Invitee).where(Invitee.case_id == case.id,
                                                        Invitee.user_id == due.row.recipient)))
    waiting = [s for s in seats if s.reply == Reply.NO_REPLY]
    if not waiting:
        return Drop("answered")
    model = ReplyChase(reference=case.reference, group_short_name=due.terms.short_name,
                       seat_label=waiting[0].seat_label, call_at=case.call_at,
                       call_at_local=local_time_text(case.call_at, due.zone), late=due.late,
                       answer_value=answer_value(case.reference, case.schedule_version))
    # The ledger keeps the version its buttons are for: once answered, or moved, it is redrawn in place.
    return [Delivery(Message(MessageKind.REPLY_CHASE, model), user=due.row.recipient,
                     detail=answer_detail(case.schedule_version))]


def compose_pre_call_check(due: Due) -> list[Delivery] | Drop:
    case = due.case
    if case is None or case.status != CaseStatus.CONVENED:
        return Drop("case not open")
    invitees = list(due.session.exec(select(Invitee).where(Invitee.case_id == case.id)))
    result = projected_quorum(due.terms, case.profession, invitees, _entries_for(due.session, invitees))
    failing = {m.condition for m in result.missing}
    candidates: list[str] = []
    invited = {i.user_id for i in invitees} | {i.deputy_id for i in invitees if i.deputy_id}
    if Condition.CHAIR in failing:
        candidates += [e.user_id for e in roster.holders(due.session, Role.DEPUTY_CHAIR)]
    if Condition.PROFESSIONAL_LEAD in failing:
        candidates += [e.user_id for e in roster.holders(due.session, Role.PROFESSIONAL_LEAD, case.profession)]
    model = PreCallCheck(
        reference=case.reference, group_short_name=due.terms.short_name, call_at=case.call_at,
        call_at_local=local_time_text(case.call_at, due.zone), quorate=result.quorate, reason=result.reason,
        missing=tuple(m.reason for m in result.missing),
        deputy_candidates=tuple(dict.fromkeys(c for c in candidates if c not in invited)), late=due.late)
    if result.quorate:
        return [Delivery(Message(MessageKind.QUORUM_OK, model), room=case.room_id)]
    chairs = [i.user_id for i in invitees if i.seat in due.terms.chair_seats]
    recipients = dict.fromkeys([case.convener_id, *chairs])
    return [Delivery(Message(MessageKind.QUORUM_WARNING, model), user=u) for u in recipients]
