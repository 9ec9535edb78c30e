"""Named locks held across a few slow steps (creating a case channel): advisory on PostgreSQL.

SQLite deployments run one process, so a process lock suffices there; PostgreSQL deployments run
several, so the lock is a session-level advisory lock on its own connection.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Engine

_process_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


def _key(name: str) -> int:
    # pg advisory locks take a signed 64-bit key.
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def named_lock(engine: Engine, name: str) -> Iterator[None]:
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
    with _guard:
        lock = _process_locks.setdefault(f"{engine.url}:{name}", threading.Lock())
    with lock:
        yield
