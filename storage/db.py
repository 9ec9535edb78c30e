"""Engine and session factory: SQLite by default, PostgreSQL when DATABASE_URL says so."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, exc, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

SessionFactory = Callable[[], Session]


def normalise_url(url: str) -> str:
    """Accept the postgres:// and postgresql:// URLs platforms hand out; use the psycopg 3 driver."""
    for scheme in ("postgres://", "postgresql://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme):]
    return url


# How long a write waits for SQLite's one write lock before giving up ("database is locked").
SQLITE_BUSY_SECONDS = 15.0
# How long /healthz waits for the write lock (or a PostgreSQL row lock) before saying "not writable".
PROBE_LOCK_SECONDS = 2.0


def make_engine(url: str, *, busy_seconds: float = SQLITE_BUSY_SECONDS, **kwargs: Any) -> Engine:
    """An engine for `url`. SQL parameters are never put into exception messages or logs
    (`hide_parameters`): a failed INSERT must not write the concern or the dial-in into the log."""
    url = normalise_url(url)
    kwargs["hide_parameters"] = True
    if url.startswith("sqlite"):
        busy_ms = int(busy_seconds * 1000)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": busy_seconds}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            # Freed space (a row rewritten or deleted) is overwritten with zeros, so purged text is not
            # left behind in the file (bot/records/retention.py).
            cursor.execute("PRAGMA secure_delete=ON")
            # WAL lets the board be read while a reply is written; foreign keys are off by default.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, **kwargs)


def session_factory(engine: Engine) -> SessionFactory:
    return sessionmaker(engine, class_=Session, expire_on_commit=False)


@contextmanager
def transaction(sessions: SessionFactory) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error, always close."""
    session = sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def is_reachable(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def is_writable(engine: Engine) -> bool:
    """Whether a write would succeed now: a real UPDATE (of alembic's one row, to itself), rolled back.

    It needs what every answer and form needs: SQLite's write lock (not held by another process, the
    file not read-only), a PostgreSQL session that is not read-only (a replica after a failover,
    `default_transaction_read_only`) and the UPDATE privilege. Waits at most PROBE_LOCK_SECONDS for a lock.
    """
    try:
        with engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            wait_ms = int(PROBE_LOCK_SECONDS * 1000)
            usual = None
            if sqlite:
                usual = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
                conn.exec_driver_sql(f"PRAGMA busy_timeout={wait_ms}")
            else:
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = {wait_ms}")
                conn.exec_driver_sql(f"SET LOCAL statement_timeout = {2 * wait_ms}")
            try:
                conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
            finally:
                conn.rollback()  # the probe changes nothing, and releases the lock at once
                if sqlite:
                    conn.exec_driver_sql(f"PRAGMA busy_timeout={int(usual or 0)}")
        return True
    except Exception:
        return False


# The database could not be used just now (down, locked, read-only, connection lost): the person is
# told their answer was not recorded and to try again. Errors in what was written are not among them.
_UNAVAILABLE = (exc.OperationalError, exc.InterfaceError, exc.InternalError, exc.TimeoutError,
                exc.DisconnectionError, exc.PendingRollbackError)


def is_unavailable(error: BaseException) -> bool:
    """Whether `error` (or what caused it) means the database could not be reached or written."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, _UNAVAILABLE):
            return True
        if isinstance(current, exc.DBAPIError) and current.connection_invalidated:
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def migrations_path() -> Path:
    return Path(__file__).resolve().parent / "migrations"


def upgrade(engine: Engine) -> None:
    """Apply every alembic migration to the database behind `engine`."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_path()))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class EraseIncomplete(Exception):
    """The database could not rewrite its files now (a reader or a lock held them); try again later."""


def erase_freed_space(engine: Engine, tables: Sequence[str], *, lock_timeout_seconds: float = 10.0) -> None:
    """Make overwritten values unrecoverable from the database's own files, after a purge.

    SQLite: `secure_delete` (set on every connection) zeroes the space a rewritten row frees; VACUUM
    then rebuilds the file from the live rows only (dropping free pages, and anything freed before
    secure_delete was on), and a TRUNCATE checkpoint copies the result into the main file and empties
    the write-ahead log, which held the old page images. PostgreSQL: a plain VACUUM only marks dead
    row versions reusable and leaves their bytes in the page, so each of `tables` is rewritten into a
    new file (VACUUM FULL, which holds the table's exclusive lock while it copies; it waits at most
    `lock_timeout_seconds` for that lock). Both run outside a transaction. Raises EraseIncomplete when
    the work could not finish now, and the driver's error otherwise.

    Out of reach: PostgreSQL's write-ahead log segments, backups and replicas keep old values until
    they are recycled or expire (the database administrator's retention).
    """
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("VACUUM")
            busy, _frames, _copied = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
            if busy:
                raise EraseIncomplete("a reader kept the write-ahead log in use")
            return
        if conn.dialect.name != "postgresql":
            raise EraseIncomplete(f"not supported on {conn.dialect.name}")
        conn.exec_driver_sql(f"SET lock_timeout = {int(lock_timeout_seconds * 1000)}")
        names = ", ".join(conn.dialect.identifier_preparer.quote(t) for t in tables)
        try:
            conn.exec_driver_sql(f"VACUUM FULL {names}")
        except exc.OperationalError as error:
            if getattr(error.orig, "sqlstate", None) == "55P03":  # lock_not_available
                raise EraseIncomplete("a table was in use") from error
            raise
        finally:
            conn.exec_driver_sql("RESET lock_timeout")
