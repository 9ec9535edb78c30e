"""Named locks held across a few slow steps (creating a case channel): advisory on PostgreSQL; and
the one lock per case (`case_lock`), held for a transaction.

SQLite deployments run one process, so a process lock suffices there; PostgreSQL deployments run
several, so the lock is a session-level advisory lock on its own connection. Either way a process that
dies lets go of its locks (the operating system frees its memory; PostgreSQL ends its session), which
is what lets recovery tell a convening still in progress (its lock is held) from one whose process is gone.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

_process_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


def _key(name: str) -> int:
    # pg advisory locks take a signed 64-bit key.
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def _process_lock(engine: Engine, name: str) -> threading.Lock:
    with _guard:
        return _process_locks.setdefault(f"{engine.url}:{name}", threading.Lock())


@contextmanager
def named_lock(engine: Engine, name: str) -> Iterator[None]:
    """Hold the lock `name` (waiting for it) for the block."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _key(name)})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _key(name)})
                conn.commit()
        return
    with _process_lock(engine, name):
        yield


@contextmanager
def try_named_lock(engine: Engine, name: str) -> Iterator[bool]:
    """Take the lock `name` only if it is free: yields True (held for the block) or False (someone holds it)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _key(name)}).scalar())
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _key(name)})
                    conn.commit()
        return
    lock = _process_lock(engine, name)
    got = lock.acquire(blocking=False)
    try:
        yield got
    finally:
        if got:
            lock.release()


def case_lock(session: Session, case_id: int) -> None:
    """Hold case `case_id` for the rest of the caller's transaction: a second caller waits until it ends.

    One lock per case, taken by everything that must not interleave with a change of its schedule
    (an attendance answer, a reschedule, a cancel). PostgreSQL: the case's row, SELECT ... FOR UPDATE.
    SQLite: a no-op write to the row, which takes the database's one write lock (waiting for it up to
    the busy timeout); SQLite's driver starts the transaction at that first write, so call this before
    reading what the lock protects. Either way the lock goes with the commit or rollback, so the
    caller reads the case again after taking it (`populate_existing`), never from before.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT id FROM cases WHERE id = :id FOR UPDATE"), {"id": case_id})
    else:
        session.execute(text("UPDATE cases SET schedule_version = schedule_version WHERE id = :id"), {"id": case_id})
