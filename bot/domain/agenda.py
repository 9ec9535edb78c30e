"""The agenda pro-forma of the terms of reference (seed 000), filled from the case and posted before the call.

The 11 items are the seed's, in its order, each presented by the chair. Items 1 (the issue),
2 (professional group), 3 (how it was identified) and 6 (immediate risks) are filled from the
case; the rest are marked to be covered at the call. The staff member is only ever the case
reference: initials are not stored, so item 2 says they are given at the call.

Typed text is split here, not in the template, so no Block Kit limit is crossed and nothing is
lost: each piece stays far under Slack's 3,000 characters, breaks fall at a paragraph, line,
sentence or word boundary, the pieces join back to the text exactly, and the message keeps
within Slack's 50 blocks (pieces share a block only when there would otherwise be too many).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from bot.domain.case_views import SeatView, local_time_text, route_label
from bot.domain.notify import Message, MessageKind
from bot.domain.outbox import Delivery, Drop, Due
from bot.domain.routes import ROUTE_LABELS, Route
from bot.domain.terms import Terms
from storage.tables import Case, CaseStatus, Invitee

PRESENTER = "Chair"
# Half Slack's 3,000: a piece stays under the limit even if every character counts twice
# (Slack counts UTF-16 units; an emoji is two), and a block stays a readable length.
CHUNK_CHARS = 1_500
# Blocks that are not typed text, at most: header, context, late notice, members, one section per item.
FIXED_BLOCKS = 4 + 11

# Break points, best first: paragraph, line, sentence, word. A piece ends after the break.
_BREAKS = (
    re.compile(r"\n[ \t]*\n\s*"),
    re.compile(r"\n\s*"),
    re.compile(r"[.!?…][\"'’”)\]]*\s+"),
    re.compile(r"\s+"),
)


@dataclass(frozen=True)
class AgendaItem:
    number: int
    title: str
    presenter: str
    filled_text: str | None
    to_cover_at_call: bool
    prompts: tuple[str, ...] = ()
    # filled_text in pieces ("".join(filled_chunks) == filled_text), and the pieces grouped into
    # the rich_text blocks that show them. Both are derived from filled_text when not given.
    filled_chunks: tuple[str, ...] = ()
    filled_blocks: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        if self.filled_text and not self.filled_chunks:
            object.__setattr__(self, "filled_chunks", split_text(self.filled_text))
        if self.filled_chunks and not self.filled_blocks:
            object.__setattr__(self, "filled_blocks", tuple((c,) for c in self.filled_chunks))


@dataclass(frozen=True)
class Agenda:
    reference: str
    group_name: str
    group_short_name: str
    decision_maker: str
    profession: str
    route: str
    call_at: datetime
    call_at_local: str
    seats: tuple[SeatView, ...]
    items: tuple[AgendaItem, ...]
    late: bool = False


def split_text(text: str, limit: int = CHUNK_CHARS) -> tuple[str, ...]:
    """`text` in pieces of at most `limit` characters that join back to it exactly.

    Each piece ends at the best break within the limit (paragraph, line, sentence, then word; the
    first three only past half the limit, so pieces are not tiny). Only a run of more than `limit`
    characters without any space is cut inside, and never before a combining mark.
    """
    if limit < 2:
        raise ValueError("limit must be at least 2")
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = _cut_at(rest, limit)
        pieces.append(rest[:cut])
        rest = rest[cut:]
    if rest or not pieces:
        pieces.append(rest)
    return tuple(pieces)


def _cut_at(text: str, limit: int) -> int:
    window = text[:limit]
    for level, pattern in enumerate(_BREAKS):
        least = 1 if level == len(_BREAKS) - 1 else limit // 2
        ends = [m.end() for m in pattern.finditer(window) if m.end() >= least]
        if ends:
            return ends[-1]
    cut = limit
    while cut > limit // 2 and unicodedata.combining(text[cut]):
        cut -= 1
    return cut


def _pack(items: list[AgendaItem], budget: int) -> list[AgendaItem]:
    """Group each item's pieces so all of them take at most `budget` blocks (one piece a block if they fit)."""
    counts = [len(i.filled_chunks) for i in items]
    per_block = 1
    while sum(-(-n // per_block) for n in counts) > budget and per_block < max(counts, default=1):
        per_block += 1
    return [replace(i, filled_blocks=tuple(i.filled_chunks[k:k + per_block]
                                           for k in range(0, len(i.filled_chunks), per_block)))
            for i in items]


def _text_or_none(text: str) -> str | None:
    return text if text.strip() else None


def _items(case: Case, profession: str, route: str) -> list[AgendaItem]:
    concern, risks = _text_or_none(case.concern), _text_or_none(case.risks)
    routes = tuple(ROUTE_LABELS[r] for r in Route if r != Route.OTHER)
    item = AgendaItem  # short name for the table below
    return [
        item(1, "Describe performance management issue", PRESENTER, concern, concern is None),
        item(2, "Staff member's initials, professional group", PRESENTER,
             f"Professional group: {profession}\nInitials: given at the call", False),
        item(3, "Who, how, when was the issue identified", PRESENTER,
             f"Identified via: {route}\nWho and when: given at the call", False, routes),
        item(4, "Brief overview of the potential performance management issue", PRESENTER, None, True,
             ("Chronology", "Impact against values, including on patients / staff")),
        item(5, "Other staff / services / organisation involvement", PRESENTER, None, True,
             ("Have they been informed of the issue?",)),
        item(6, "Any immediate risks identified?", PRESENTER, risks, risks is None,
             ("Process / service delivery gaps?", "Media interest?", "Patient safety?")),
        item(7, "Performance management process to be enacted: informal or formal", PRESENTER, None, True),
        item(8, "Rationale for agreed approach", PRESENTER, None, True),
        item(9, "Legal liaison", PRESENTER, None, True,
             ("Does the medical-liability policy need notification?",
              "Does advice need seeking from the legal helpline?")),
        item(10, "Risk assessment", PRESENTER, None, True),
        item(11, "Next steps / actions", PRESENTER, None, True),
    ]


def build_agenda(session: Session, case: Case, terms: Terms, zone: ZoneInfo, *, late: bool = False,
                 blocks: int | None = None) -> Agenda:
    """The agenda of `case` as it is now: its members by seat, and the 11 items, in at most `blocks` blocks
    (the platform's budget; None is no limit)."""
    found = terms.profession(case.profession)
    profession = found.label if found else case.profession
    route = route_label(case.route)
    invitees = session.exec(select(Invitee).where(Invitee.case_id == case.id)
                            .order_by(col(Invitee.position), col(Invitee.id)))
    pieces = _items(case, profession, route)
    items = pieces if blocks is None else _pack(pieces, blocks - FIXED_BLOCKS)
    return Agenda(
        reference=case.reference, group_name=terms.name, group_short_name=terms.short_name,
        decision_maker=terms.decision_maker, profession=profession, route=route, call_at=case.call_at,
        call_at_local=local_time_text(case.call_at, zone),
        seats=tuple(SeatView(i.seat_label, i.user_id) for i in invitees), items=tuple(items), late=late)


def compose_agenda(due: Due) -> list[Delivery] | Drop:
    case = due.case
    if case is None:
        return Drop("no case")
    if case.status != CaseStatus.CONVENED:
        return Drop("case not open")
    model = build_agenda(due.session, case, due.terms, due.zone, late=due.late, blocks=due.budget.blocks_per_message)
    return [Delivery(Message(MessageKind.AGENDA, model), room=case.room_id)]
