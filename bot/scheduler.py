"""APScheduler drives a short tick; what is due lives in the database (bot/domain/reminders.py).

APScheduler's own job store is not safe with several schedulers on one database, so it holds only
the tick itself, and the daily retention purge. The first tick runs at start, which is how overdue
messages are caught up, and how a convening left open by a process that died is finished or rolled
back (bot/domain/convene_recovery.py): at start and on every tick.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Engine

from bot.domain import convene_recovery, convening, reminders
from bot.domain.notify import Workspace
from bot.domain.reminders import Reporting, TickReport
from bot.domain.terms import Terms
from bot.records import retention
from storage.db import SessionFactory

log = logging.getLogger(__name__)


@dataclass
class Ticker:
    """One tick's collaborators; `tick()` is what the scheduler runs, and what tests call."""

    sessions: SessionFactory
    engine: Engine
    workspace: Workspace
    terms: Terms
    zone: ZoneInfo
    clock: Callable[[], datetime]
    worker: str = f"{socket.gethostname()}:{os.getpid()}"
    reporting: Reporting = Reporting()
    # How long a convening must have stood still before the tick finishes or rolls it back.
    orphan_after: timedelta = convene_recovery.ORPHAN_AFTER

    def tick(self) -> TickReport:
        self.recover_convenings()
        try:
            report = reminders.send_due(self.sessions, self.engine, self.workspace, self.terms, self.zone,
                                        self.clock(), worker=self.worker, reporting=self.reporting)
        except Exception:  # noqa: BLE001  (a database blip must not stop the scheduler)
            log.exception("tick_failed", extra={"event": "tick_failed"})
            return TickReport()
        if report.claimed:
            log.info("tick", extra={"event": "tick", "claimed": report.claimed, "sent": report.sent,
                                    "dropped": report.dropped, "retried": report.retried, "failed": report.failed})
        return report

    def recover_convenings(self) -> convene_recovery.RecoveryReport:
        """Finish or roll back convenings left open by a process that died (never one still in progress)."""
        try:
            report = convening.recover(self.sessions, self.engine, self.workspace, self.terms, self.zone, self.clock(),
                                       older_than=self.orphan_after)
        except Exception:  # noqa: BLE001  (a database blip must not stop the scheduler; tried next tick)
            log.exception("convening_recovery_failed", extra={"event": "convening_recovery_failed"})
            return convene_recovery.RecoveryReport()
        if report:
            log.info("convenings_recovered", extra={
                "event": "convenings_recovered", "rolled_back": report.rolled_back, "finished": report.finished,
                "busy": report.busy, "retry": report.retry})
        return report

    def purge_expired(self) -> retention.RetentionRun:
        """The retention run (daily; the same as `pmccg purge`): purge the free text of cases past their
        period, delete the bot's messages about purged cases in the workspace, erase the text from the
        database's files. One run at a time on a database (a named lock inside the run)."""
        try:
            run = retention.run(self.sessions, self.engine, self.workspace, self.terms, self.zone, self.clock(),
                                dry_run=False)
        except Exception:  # noqa: BLE001  (tried again tomorrow; the reminders must go on)
            log.exception("purge_failed", extra={"event": "purge_failed"})
            return retention.RetentionRun((), (), (), None)
        if run.purged or run.deleted or run.not_deleted or run.erased is not None:
            log.info("purged", extra={"event": "purged", "cases": len(run.purged),
                                      "case_refs": [p.reference for p in run.purged], "deleted": len(run.deleted),
                                      "not_deleted": len(run.not_deleted), "erased": run.erased})
        return run


class Leadership:
    """Only one scheduler per `pmccg serve`, however many gunicorn workers it forks.

    Every worker starts a scheduler, but only the one holding an exclusive lock on a file named after
    the gunicorn master ticks; the others stand by and try again each tick, so when the leader's
    process dies (the operating system drops its lock) another worker takes over within a tick.
    """

    def __init__(self, name: str) -> None:
        self.path = os.path.join(tempfile.gettempdir(), f"pmccg-scheduler-{name}.lock")
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        log.info("scheduler_leader", extra={"event": "scheduler_leader", "pid": os.getpid()})
        return True


@dataclass
class LedTicker:
    """A Ticker that runs only while it holds the leadership (one per `pmccg serve`)."""

    ticker: Ticker
    leadership: Leadership

    def tick(self) -> TickReport:
        if not self.leadership.acquire():
            return TickReport()
        return self.ticker.tick()

    def purge_expired(self) -> retention.RetentionRun:
        if not self.leadership.acquire():
            return retention.RetentionRun((), (), (), None)
        return self.ticker.purge_expired()


# Retention runs at night in the organisation's zone, and once soon after start so a process that
# is never up at night still purges.
PURGE_AT = {"hour": 2, "minute": 30}
PURGE_AFTER_START = timedelta(minutes=2)


def build(ticker: Ticker | LedTicker, tick_seconds: float, *, blocking: bool) -> BaseScheduler:
    scheduler: BaseScheduler = BlockingScheduler(timezone=UTC) if blocking else BackgroundScheduler(timezone=UTC)
    # max_instances=1 and coalesce: a slow tick is never overlapped or replayed; the next one
    # picks up whatever is due, because "due" is a query on stored times, not the tick count.
    scheduler.add_job(ticker.tick, IntervalTrigger(seconds=tick_seconds), id="tick", max_instances=1,
                      coalesce=True, misfire_grace_time=None, next_run_time=datetime.now(UTC))
    zone = ticker.ticker.zone if isinstance(ticker, LedTicker) else ticker.zone
    scheduler.add_job(ticker.purge_expired, CronTrigger(**PURGE_AT, timezone=zone), id="retention",
                      max_instances=1, coalesce=True, misfire_grace_time=None,
                      next_run_time=datetime.now(UTC) + PURGE_AFTER_START)
    return scheduler
