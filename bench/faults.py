"""Faults: acknowledgements while Slack fails, reminders while Slack outlasts the lease (two workers, PostgreSQL).

Acknowledgements: `pmccg serve` and the bare Bolt app side by side (a fresh pair and stand-in, in its own
process, for each fault), first at full speed (a case convened, the directory loaded), then with a fault:
every response_url connection reset as soon as the request is in (Slack unreachable), or every Web API call
and response_url answered after 5 s. `/pmccg help`s and attendance clicks are sent back to back, convene
submissions as in the ack part one convening at a time (except with Slack at 5 s, where a convening takes
minutes: back to back), ours and bare in turn so both see the same machine; the p99 ratio is taken in that
same run. Requests the bot turned away as busy are counted from its log (`after_ack_dropped`).

Reminders: `reminders` action digests due at once on a fresh PostgreSQL database, delivered by two workers,
each with its own engine and its own ticks, while the stand-in answers every chat.postMessage only after a
latency above the claim lease (scaled down, lease and latency alike, so the run takes a minute or two).
Each owner's direct messages are counted: delivered once, twice (a double) or not at all (a drop).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from bench.ack import KINDS, SLACK_DEADLINE, Requests, cases_in, wait_for_cases, wait_until_convened
from bench.scale import Seeder, _now, _workspace, database
from bench.servers import Server, start_bare, start_pmccg
from bench.standin import StandIn
from bench.stats import summary_ms
from bot.domain.reminders import send_due
from bot.domain.terms import load_terms
from bot.sandbox.slack_api import FakeSlack
from storage.db import make_engine, session_factory
from storage.tables import MessageState, ScheduledMessage

LONDON = _now().tzinfo
SCENARIOS: dict[str, str] = {
    "response_url_down": "every response_url connection reset (Slack unreachable)",
    "slack_slow": "every Web API call and response_url answered after {latency:g} s",
}
DROPPED = re.compile(r"after_ack_dropped.*request=([a-z_]+)")


def _timed_pair(ours: Any, bare: Any, n: int, settle: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """`n` calls of each, ours then bare in turn; latencies, failures and late acknowledgements of each.
    `settle(i)` runs unmeasured after the i-th pair."""
    samples: dict[str, list[float]] = {"ours": [], "bare": []}
    failures = {"ours": 0, "bare": 0}
    for i in range(n):
        for side, call in (("ours", ours), ("bare", bare)):
            start = time.perf_counter()
            try:
                ok = call()
            except Exception:  # noqa: BLE001  (a refused or timed-out request is a failure, not a crash)
                ok = False
            samples[side].append(time.perf_counter() - start)
            failures[side] += not ok
        if settle is not None:
            settle(i + 1)
    out = []
    for side in ("ours", "bare"):
        out.append({**summary_ms(samples[side]), "failures": failures[side],
                    "late": sum(x > SLACK_DEADLINE for x in samples[side])})
    return out[0], out[1]


def _dropped(server: Server) -> Counter[str]:
    """Requests `pmccg serve` turned away because its after-acknowledgement pool was full, by kind."""
    return Counter(m.group(1) for m in DROPPED.finditer(server.log()))


def _scenario(name: str, workdir: Path, n: int, warmup: int, latency: float, drain: float) -> dict[str, Any]:
    (workdir / "ours").mkdir(parents=True)
    (workdir / "bare").mkdir(parents=True)
    with StandIn() as standin, start_pmccg(workdir / "ours", standin.url) as ours, \
            start_bare(workdir / "bare", standin.url) as bare:
        try:
            db = workdir / "ours" / "pmccg.db"
            mine, base = Requests(ours, ours=True, command="help"), Requests(bare, ours=False, command="help")
            # At full speed first: a case to click on, the directory loaded, every path warm.
            mine.submission()
            wait_for_cases(db, 1, 60)
            mine.references = cases_in(db)
            for i in range(warmup):
                for kind in KINDS:
                    getattr(mine, kind)()
                    getattr(base, kind)()
                wait_until_convened(standin.url, 2 + i, 10.0)
            before = len(cases_in(db))
            if name == "response_url_down":
                standin.fault("reset response on")
            else:
                standin.fault(f"latency * {latency:g}")
            out: dict[str, Any] = {"fault": SCENARIOS[name].format(latency=latency), "kinds": {}}
            done = 1 + warmup  # convenings finished so far (each ends by telling the convener: views.update)

            def one_at_a_time(i: int) -> None:
                # As in the ack part: the next form once the previous case is convened (a form takes minutes
                # to fill in). With Slack answering after 5 s a convening takes minutes itself: there the
                # forms go back to back and their work queues.
                if name == "response_url_down":
                    wait_until_convened(standin.url, done + i, 5.0)

            for kind in KINDS:
                o, b = _timed_pair(getattr(mine, kind), getattr(base, kind), n,
                                   one_at_a_time if kind == "submission" else None)
                ratio = (o["p99_ms"] / b["p99_ms"]) if b["p99_ms"] else None
                out["kinds"][kind] = {"ours": o, "bare": b, "ratio_p99": round(ratio, 2) if ratio is not None else None}
            # The work after the acknowledgements: convenings finish (Slack answers, slowly or not at all
            # for the response_url), unless they were turned away as busy.
            found, took = wait_for_cases(db, before + n, drain)
            dropped = _dropped(ours)
            out["submitted"], out["convened"], out["drain_s"] = n, found - before, took
            out["turned_away"] = {kind: dropped.get(k, 0) for kind, k in
                                  (("command", "command"), ("click", "block_actions"),
                                   ("submission", "view_submission"))}
            return out
        finally:
            # What is still queued behind a slow Slack is of no interest: stop at once.
            ours.kill()


def ack_faults(workdir: Path, n: int, warmup: int, latency: float, drain: float) -> dict[str, Any]:
    """For each scenario: p50/p95/p99 of each kind, ours and bare, the p99 ratio, and the convenings done."""
    return {name: _scenario(name, workdir / f"faults-{name}", n, warmup, latency, drain) for name in SCENARIOS}


class _Count(logging.Handler):
    """Counts our log events by name (the reminders' own record of claims lost)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.events: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.events[str(getattr(record, "event", record.getMessage()))] += 1


def _due_digests(engine: Any, now: Any) -> list[int]:
    with engine.connect() as conn:
        return [int(i) for i in conn.execute(select(col(ScheduledMessage.id)).where(
            col(ScheduledMessage.kind) == "action_digest", col(ScheduledMessage.due_at) <= now)).scalars()]


def _unfinished(engine: Any, ids: list[int]) -> int:
    """How many of the rows `ids` are still to be sent (waiting, or claimed by a worker)."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ScheduledMessage).where(
            col(ScheduledMessage.id).in_(ids),
            col(ScheduledMessage.state).in_((MessageState.PENDING, MessageState.CLAIMED)))).scalar_one())


def lease_faults(workdir: str, reminders: int, lease_s: float, latency_s: float, timeout: float = 600.0,
                 workers: int = 2) -> dict[str, Any]:
    """`reminders` digests due at once, two workers ticking on PostgreSQL, every post slower than the lease."""
    terms = load_terms(None)
    now = _now()
    counter = _Count()
    watched = logging.getLogger("bot.reminders")
    watched.addHandler(counter)
    try:
        with database("postgresql", workdir) as engine, FakeSlack() as fake:
            owners = Seeder(engine, now).add_due(reminders)
            due = _due_digests(engine, now)
            fake.set_latency("chat.postMessage", latency_s)
            url = engine.url.render_as_string(hide_password=False)
            engines = [make_engine(url) for _ in range(workers)]
            ticks = Counter[str]()
            errors: list[str] = []
            deadline = time.monotonic() + timeout

            def work(index: int) -> None:
                sessions, workspace = session_factory(engines[index]), _workspace(fake)
                while time.monotonic() < deadline:
                    report = send_due(sessions, engines[index], workspace, terms, LONDON, now,  # type: ignore[arg-type]
                                      worker=f"bench{index}", lease=timedelta(seconds=lease_s))
                    ticks[f"bench{index}"] += 1
                    errors.extend(report.errors)
                    if not report.claimed:
                        if not _unfinished(engines[index], due):
                            return
                        time.sleep(lease_s / 2)  # the other worker's rows are in flight: see whether one lapses

            start = time.perf_counter()
            threads = [threading.Thread(target=work, args=(i,), name=f"bench-worker-{i}") for i in range(workers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - start
            unfinished = _unfinished(engine, due)
            for extra in engines:
                extra.dispose()
            posts = fake.calls_to("chat.postMessage")
            delivered = Counter(str(c.params.get("channel")) for c in posts if c.ok)
    finally:
        watched.removeHandler(counter)
    reached = sum(1 for o in owners if delivered.get(o))
    return {"due": reminders, "workers": workers, "lease_s": lease_s, "latency_s": latency_s,
            "delivered_once": sum(1 for o in owners if delivered.get(o) == 1),
            "doubles": sum(n - 1 for n in delivered.values() if n > 1), "drops": reminders - reached,
            "unfinished": unfinished, "claims_lost": counter.events.get("claim_lost", 0),
            "ticks": dict(ticks), "errors": len(errors), "seconds": round(elapsed, 1)}
