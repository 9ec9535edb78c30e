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


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            # Freed space (a row rewritten or deleted) is overwritten with zeros, so purged text is not
            # left behind in the file (bot/records/retention.py).
            cursor.execute("PRAGMA secure_delete=ON")
            # WAL lets the board be read while a reply is written; foreign keys are off by default.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=15000")
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
