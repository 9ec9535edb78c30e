"""A crash mid-convene: the time from SIGKILL of `pmccg serve` to the orphan being cleaned up after a restart.

The stand-in (in this process, so its answers can be held back) answers the header's post at once and holds
the attendance board's post; `pmccg serve` (SQLite) is killed with that post in flight, started again, and the
clock runs until the orphan convening is rolled back: the header deleted, the room renamed and archived, the
number released. The split: the restart (until /healthz answers), then the wait for the scheduler.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import statistics
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.ack import LONDON, convene_values
from bench.people import CONVENER, seed_directory
from bench.servers import Server, start_pmccg
from bot.sandbox.slack_api import FakeSlack

TIMEOUT = 180.0


def _state(db: Path) -> str | None:
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        row = conn.execute("SELECT state FROM convenings ORDER BY id DESC LIMIT 1").fetchone()
    return None if row is None else str(row[0])


def _wait(what: str, predicate: Any, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise RuntimeError(f"orphan benchmark: {what} did not happen within {timeout} s")


def once(workdir: Path, orphan_seconds: float, tick_seconds: float) -> dict[str, float]:
    """One crash and restart; seconds from the kill to healthy again, and to the orphan rolled back."""
    workdir.mkdir(parents=True)
    db = workdir / "pmccg.db"
    env = {"PMCCG_CONVENE_ORPHAN_SECONDS": f"{orphan_seconds:g}", "PMCCG_TICK_SECONDS": f"{tick_seconds:g}"}
    day = (datetime.now(LONDON) + timedelta(days=10)).date()
    values = convene_values(datetime(day.year, day.month, day.day, 14, 0, tzinfo=LONDON))
    with FakeSlack() as fake:
        seed_directory(fake)
        fake.delay_next("chat.postMessage", 0)  # the header: at once
        fake.delay_next("chat.postMessage", TIMEOUT)  # the board: held until well after the test
        first: Server = start_pmccg(workdir, fake.url, env)
        try:
            first.submit(CONVENER, "convene", values, f"VO{uuid.uuid4().hex[:10].upper()}")
            _wait("the board's post reaching Slack", lambda: fake.in_flight("chat.postMessage"), 30)
            os.killpg(first.proc.pid, signal.SIGKILL)
            killed = time.monotonic()
            first.proc.wait(timeout=10)
        finally:
            first.stop()
        if _state(db) != "pending":
            raise RuntimeError("orphan benchmark: the kill did not leave a pending convening")
        second = start_pmccg(workdir, fake.url, env)
        try:
            healthy = time.monotonic() - killed
            _wait("the orphan rolled back", lambda: _state(db) == "rolled_back")
            cleaned = time.monotonic() - killed
            archived = fake.delivered("conversations.archive")
            deleted = fake.delivered("chat.delete")
        finally:
            second.stop()
    if len(archived) != 1 or len(deleted) != 1:
        raise RuntimeError("orphan benchmark: the orphan's room was not archived with its header deleted")
    return {"restart_s": round(healthy, 2), "cleaned_s": round(cleaned, 2)}


def crash_to_cleanup(workdir: str, settings: list[tuple[float, float, int]]) -> dict[str, Any]:
    """For each (orphan time, tick, repeats) setting: the median of kill -> healthy again -> orphan cleaned."""
    out: dict[str, Any] = {"settings": []}
    for orphan_seconds, tick_seconds, repeats in settings:
        runs = [once(Path(workdir) / f"orphan-{orphan_seconds:g}-{tick_seconds:g}-{i}", orphan_seconds, tick_seconds)
                for i in range(repeats)]
        out["settings"].append({
            "orphan_seconds": orphan_seconds, "tick_seconds": tick_seconds, "repeats": repeats, "runs": runs,
            "restart_s": round(statistics.median(r["restart_s"] for r in runs), 2),
            "cleaned_s": round(statistics.median(r["cleaned_s"] for r in runs), 2),
            "max_cleaned_s": max(r["cleaned_s"] for r in runs)})
    return out
