"""Scheduler scale (one tick against 500 .. 50,000 open action points) and bulk reminder delivery with 429s.

Data is bulk-inserted with SQL: cases with a circulated outcome, open action points and the scheduled
rows they owe (an overdue escalation each, a digest per owner), all far in the future except `due` owners
whose digest is due now and whose one item is due tomorrow (so each digest really is sent).
"""

from __future__ import annotations

import contextlib
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, text
from sqlalchemy.engine import Engine

from bot.config import load_settings
from bot.domain.reminders import send_due
from bot.domain.terms import load_terms
from bot.sandbox.slack_api import FakeSlack
from handlers.slack.app import make_client
from handlers.slack.workspace import SlackWorkspace
from storage.db import make_engine, session_factory, upgrade
from storage.tables import ActionPoint, Case, Outcome, ScheduledMessage

LONDON = ZoneInfo("Europe/London")
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
ITEMS_PER_CASE = 10
ITEMS_PER_OWNER = 5


class Seeder:
    """Bulk-inserts cases, outcomes, action points and scheduled messages; numbering carries on between calls."""

    def __init__(self, engine: Engine, now: datetime) -> None:
        self.engine, self.now = engine, now
        self.today = now.astimezone(LONDON).date()
        self.cases = self.items = 0

    def _case_rows(self, count: int) -> list[dict[str, Any]]:
        rows = []
        for _ in range(count):
            self.cases += 1
            n = self.cases
            rows.append(dict(id=n, reference=f"BENCH-{n:06d}", prefix="BENCH", year=2000, seq=n,
                             profession="nursing", route="incident", concern="Benchmark case.", risks="None.",
                             call_at=self.now - timedelta(days=10), duration_minutes=60, call_details="-",
                             short_notice=False, convener_id="U0BMANAGER", room_id=f"CB{n:08d}",
                             room_name=f"bench-{n}", status="convened", created_at=self.now - timedelta(days=20),
                             schedule_version=1, convene_key=f"bench-{n}"))
        return rows

    def add(self, items: int, owners: list[str], due_on: date, digest_due: datetime) -> None:
        """`items` open action points spread over `owners`, each owner with one digest due at `digest_due`."""
        cases = self._case_rows(max(1, -(-items // ITEMS_PER_CASE)))
        first_case = cases[0]["id"]
        outcomes = [dict(case_id=c["id"], process="informal", rationale="-", risk_level="low", risk_notes="",
                         ml_policy_notify="no", legal_advice="no", welfare_offered="yes", line_manager_support="",
                         recorded_by="U0BCHAIR01", recorded_at=self.now - timedelta(days=3),
                         circulated_at=self.now - timedelta(days=3)) for c in cases]
        points, messages = [], []
        for i in range(items):
            self.items += 1
            case_id = first_case + i // ITEMS_PER_CASE
            points.append(dict(id=self.items, case_id=case_id, number=i % ITEMS_PER_CASE + 1,
                               description="Benchmark action.", owner_id=owners[i % len(owners)], due_on=due_on,
                               status="open", source="outcome", created_by="U0BCHAIR01",
                               created_at=self.now - timedelta(days=3)))
            messages.append(dict(case_id=case_id, kind="overdue_escalation", recipient="room",
                                 due_at=datetime.combine(due_on + timedelta(days=1), datetime.min.time(), UTC),
                                 idempotency_key=f"overdue:{self.items}:{due_on.isoformat()}", state="pending",
                                 attempts=0, detail=f'{{"action_id": {self.items}, "due_on": "{due_on}"}}'))
        day = digest_due.astimezone(LONDON).date().isoformat()
        messages += [dict(case_id=None, kind="action_digest", recipient=o, due_at=digest_due,
                          idempotency_key=f"digest:{o}:{day}", collapse_key=f"digest:{o}", state="pending",
                          attempts=0, detail=f'{{"day": "{day}"}}') for o in owners]
        with self.engine.begin() as conn:
            conn.execute(insert(Case.__table__), cases)  # type: ignore[attr-defined]
            conn.execute(insert(Outcome.__table__), outcomes)  # type: ignore[attr-defined]
            conn.execute(insert(ActionPoint.__table__), points)  # type: ignore[attr-defined]
            conn.execute(insert(ScheduledMessage.__table__), messages)  # type: ignore[attr-defined]

    def add_background(self, items: int) -> None:
        """Open items that owe nothing now: due in two months, their owners' digests next week."""
        owners = [f"U0BG{uuid.uuid4().hex[:8].upper()}" for _ in range(max(1, items // ITEMS_PER_OWNER))]
        self.add(items, owners, self.today + timedelta(days=60), self.now + timedelta(days=7))

    def add_due(self, owners: int) -> list[str]:
        """`owners` people with one item due tomorrow each: their digest is due now."""
        ids = [f"U0DU{uuid.uuid4().hex[:8].upper()}" for _ in range(owners)]
        self.add(owners, ids, self.today + timedelta(days=1), self.now - timedelta(minutes=1))
        return ids


@contextlib.contextmanager
def database(backend: str, workdir: str) -> Iterator[Engine]:
    """A fresh, migrated database: a SQLite file, or a throwaway PostgreSQL database dropped afterwards."""
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{workdir}/scale-{uuid.uuid4().hex[:6]}.db")
        upgrade(engine)
        try:
            yield engine
        finally:
            engine.dispose()
        return
    name = f"pmccg_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def postgres_available() -> bool:
    try:
        engine = make_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001  (any failure means: no PostgreSQL here)
        return False


def _workspace(fake: FakeSlack) -> SlackWorkspace:
    settings = load_settings({"SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_API_URL": fake.url}, dotenv=False)
    return SlackWorkspace(make_client(settings))


def _now() -> datetime:
    """10:00 today in London, as UTC: after the 09:00 send time, whatever the hour the bench runs."""
    today = datetime.now(LONDON).date()
    return datetime(today.year, today.month, today.day, 10, 0, tzinfo=LONDON).astimezone(UTC)


def tick_scale(backend: str, workdir: str, sizes: list[int], due: int, repeats: int) -> dict[str, Any]:
    """Median time of one tick at each size (fresh `due` digests each repeat), and the largest/smallest ratio."""
    terms = load_terms(None)
    now = _now()
    out: dict[str, Any] = {"due_per_tick": due, "repeats": repeats, "sizes": {}}
    with database(backend, workdir) as engine, FakeSlack() as fake:
        sessions, workspace, seeder = session_factory(engine), _workspace(fake), Seeder(engine, now)
        for size in sizes:
            seeder.add_background(size - seeder.items)
            times, sent = [], 0
            for _ in range(repeats):
                seeder.add_due(due)
                start = time.perf_counter()
                report = send_due(sessions, engine, workspace, terms, LONDON, now, worker="bench")
                times.append(time.perf_counter() - start)
                sent += report.sent
            out["sizes"][str(size)] = {"open_action_points": seeder.items, "tick_ms": round(
                statistics.median(times) * 1000, 1), "sent": sent, "expected": due * repeats}
    first, last = out["sizes"][str(sizes[0])]["tick_ms"], out["sizes"][str(sizes[-1])]["tick_ms"]
    out["ratio_largest_smallest"] = round(last / first, 2) if first else None
    return out


def delivery(workdir: str, reminders: int, rate_limits: int, retry_after: int = 1) -> dict[str, Any]:
    """`reminders` digests due at once, delivered by ticks through the stand-in with 429s injected."""
    terms = load_terms(None)
    now = _now()
    with database("sqlite", workdir) as engine, FakeSlack() as fake:
        sessions, workspace, seeder = session_factory(engine), _workspace(fake), Seeder(engine, now)
        owners = seeder.add_due(reminders)
        stop = threading.Event()

        def inject() -> None:
            # One 429 after every `every` posts: spread over the run, each answered before the next is queued.
            every = max(1, reminders // (rate_limits + 1))
            for n in range(1, rate_limits + 1):
                while len(fake.calls_to("chat.postMessage")) < n * every:
                    if stop.wait(0.02):
                        return
                fake.rate_limit_next("chat.postMessage", retry_after=retry_after)

        injector = threading.Thread(target=inject, daemon=True)
        start = time.perf_counter()
        injector.start()
        ticks = 0
        while True:
            ticks += 1
            report = send_due(sessions, engine, workspace, terms, LONDON, now, worker="bench")
            if not report.claimed:
                break
        elapsed = time.perf_counter() - start
        stop.set()
        injector.join(timeout=5)
        posts = fake.calls_to("chat.postMessage")
        delivered = Counter(str(c.params.get("channel")) for c in posts if c.ok)
        reached = sum(1 for o in owners if delivered.get(o))
    return {"due": reminders, "delivered": reached, "duplicates": sum(n - 1 for n in delivered.values() if n > 1),
            "rate_limited": sum(1 for c in posts if c.answered_with == "429"), "ticks": ticks - 1,
            "seconds": round(elapsed, 1), "per_second": round(reminders / elapsed, 1)}

