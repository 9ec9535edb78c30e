"""One action point as a line of a message (circulation, reminders): its number, owner, text, due day, RAG.

Shared by bot/domain/circulation.py and bot/domain/action_reminders.py, which the circulation plans.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from bot.domain.action_points import Rag, rag
from bot.domain.agenda import split_text
from storage.tables import ActionPoint, ActionStatus

_RAG = {  # status -> label (the platform's templates choose its icon from `rag`)
    Rag.GREEN: "Green",
    Rag.AMBER: "Amber: due soon",
    Rag.RED: "Red: overdue",
    ActionStatus.DONE: "Done",
    ActionStatus.DROPPED: "Dropped",
}


@dataclass(frozen=True)
class DayView:
    """A day for a Slack date token: each reader sees it in their own zone; `text` otherwise."""

    at: datetime
    text: str

    @property
    def timestamp(self) -> int:
        return int(self.at.timestamp())


@dataclass(frozen=True)
class ActionLine:
    number: int
    owner_id: str
    description_chunks: tuple[str, ...]
    due: DayView
    rag: str
    rag_label: str


def day_view(day: date, zone: ZoneInfo) -> DayView:
    # Midday keeps the date the same for readers a few hours either side of the organisation.
    return DayView(datetime.combine(day, time(12), tzinfo=zone), f"{day:%A} {day.day} {day:%B %Y}")


def action_line(item: ActionPoint, today: date, window_days: int, zone: ZoneInfo) -> ActionLine:
    status = rag(item, today, window_days) if item.status == ActionStatus.OPEN else ActionStatus(item.status)
    label = _RAG[status]
    return ActionLine(number=item.number, owner_id=item.owner_id, description_chunks=split_text(item.description),
                      due=day_view(item.due_on, zone), rag=str(status), rag_label=label)
