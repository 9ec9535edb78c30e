"""Each person's direct conversation is kept once, replaced when it moves, and dropped on request (SQLite and
PostgreSQL): what a Teams direct message needs to find its 1:1 chat again (issue 16, point 5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain import direct_rooms
from bot.domain.direct_rooms import DirectRoom
from storage.db import SessionFactory

USER = "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"
CHAT = "a:1" + "x" * 120  # a 1:1 conversation id is long and opaque
SERVICE = "https://smba.trafficmanager.net/emea/"
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def test_a_direct_room_is_kept_replaced_and_forgotten(sessions: SessionFactory) -> None:
    assert direct_rooms.find(sessions, USER) is None
    direct_rooms.remember(sessions, user_id=USER, room=CHAT, service_url=SERVICE, now=NOW)
    assert direct_rooms.find(sessions, USER) == DirectRoom(USER, CHAT, SERVICE)

    # Learnt again (an install, a message): one row, the newer conversation and address.
    direct_rooms.remember(sessions, user_id=USER, room="a:2", service_url="https://other/", now=NOW + timedelta(1))
    assert direct_rooms.find(sessions, USER) == DirectRoom(USER, "a:2", "https://other/")
    direct_rooms.remember(sessions, user_id="someone-else", room="a:3", service_url=SERVICE, now=NOW)

    direct_rooms.forget(sessions, USER)
    assert direct_rooms.find(sessions, USER) is None
    assert direct_rooms.find(sessions, "someone-else") == DirectRoom("someone-else", "a:3", SERVICE)
    direct_rooms.forget(sessions, USER)  # forgetting twice is harmless
