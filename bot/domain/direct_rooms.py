"""Each person's direct conversation with the bot, where the platform needs one made and kept.

On some platforms a direct message goes into a conversation the bot must first create (or learn of, when
the person installs the app or writes to it), and it is delivered through an address the platform names for
that conversation. This keeps the two per person: ids and an address only, never a name or what was said.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import delete

from storage.db import SessionFactory, transaction
from storage.tables import DirectRoomRecord


@dataclass(frozen=True)
class DirectRoom:
    user_id: str
    room: str
    service_url: str


def remember(sessions: SessionFactory, *, user_id: str, room: str, service_url: str, now: datetime) -> None:
    """Keep (or replace) `user_id`'s direct conversation. One statement, so two processes learning of the
    same conversation at once both succeed and the later write stands."""
    values = {"user_id": user_id, "room": room, "service_url": service_url, "updated_at": now}
    with transaction(sessions) as session:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        statement = insert(DirectRoomRecord).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=["user_id"], set_={k: v for k, v in values.items() if k != "user_id"})
        session.exec(statement)  # type: ignore[call-overload]


def find(sessions: SessionFactory, user_id: str) -> DirectRoom | None:
    """`user_id`'s direct conversation, if one is known."""
    with transaction(sessions) as session:
        row = session.get(DirectRoomRecord, user_id)
        return None if row is None else DirectRoom(row.user_id, row.room, row.service_url)


def forget(sessions: SessionFactory, user_id: str) -> None:
    """Drop `user_id`'s direct conversation (it is gone, or the person removed the app)."""
    with transaction(sessions) as session:
        session.exec(delete(DirectRoomRecord).where(DirectRoomRecord.user_id == user_id))  # type: ignore[call-overload, arg-type]
