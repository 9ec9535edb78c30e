"""What did not arrive is reported to the people accountable: the case's chair and governance.

When the platform refuses a delivery for good (a leaver's account, an archived room), the outbox
(bot/domain/reminders.py) owes this report at once: a direct message to the case's chair (and the chair
seat's deputy) and its governance representative, and a post in the governance channel where one is
configured, naming what did not arrive and to whom. A report about no single case (an owner's
reminder across cases) goes to governance. Nobody is told by the delivery that failed them, and a
failure to deliver the report itself is logged, never reported again.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select

from bot.domain import roster
from bot.domain.ledger import error_words, kind_words
from bot.domain.notify import Message, MessageKind
from bot.domain.outbox import Delivery, Drop, Due
from bot.domain.roles import Role
from storage.tables import Case, Invitee


@dataclass(frozen=True)
class UndeliveredLine:
    what: str
    recipient: str  # a user id, or a room id when `is_room`
    is_room: bool
    reason: str


@dataclass(frozen=True)
class DeliveryFailedReport:
    reference: str  # empty when the message was about no single case
    lines: tuple[UndeliveredLine, ...]
    late: bool


def accountable(due: Due, case: Case | None) -> list[str]:
    """The case's chair (and the chair seat's deputy), then its governance representative; without a case,
    governance on the roster."""
    if case is None:
        return [e.user_id for e in roster.holders(due.session, Role.GOVERNANCE)]
    governance = {s.key for s in due.terms.seats if s.roster_role is Role.GOVERNANCE}
    people: list[str] = []
    for row in due.session.exec(select(Invitee).where(col(Invitee.case_id) == case.id).order_by(col(Invitee.position))):
        if row.seat in due.terms.chair_seats:
            people += [row.user_id, *([row.deputy_id] if row.deputy_id else [])]
    people += [row.user_id for row in due.session.exec(select(Invitee).where(col(Invitee.case_id) == case.id))
               if row.seat in governance]
    return list(dict.fromkeys(people))


def compose_report(due: Due) -> list[Delivery] | Drop:
    failed = [f for f in due.detail.get("failed", []) if isinstance(f, dict)]
    if not failed:
        return Drop("nothing failed")
    case = due.case
    lines = tuple(UndeliveredLine(kind_words(str(f.get("kind", ""))), str(f.get("recipient", "")),
                                  bool(f.get("is_room")), error_words(str(f.get("error", "")))) for f in failed)
    report = DeliveryFailedReport(case.reference if case else "", lines, due.late)
    message = Message(MessageKind.DELIVERY_FAILED, report)
    missed = {line.recipient for line in lines}
    people = [p for p in accountable(due, case) if p not in missed]
    deliveries = [Delivery(message, user=p, report_failure=False) for p in people]
    room = due.reporting.governance_room
    if room and room not in missed:
        deliveries.append(Delivery(message, room=room, report_failure=False))
    if not deliveries and case is not None and case.room_id not in missed:
        # Never lost: with nobody accountable to tell, the case's own members see it.
        deliveries.append(Delivery(message, room=case.room_id, report_failure=False))
    return deliveries or Drop("nobody to tell")
