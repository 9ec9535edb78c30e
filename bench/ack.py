"""Acknowledgement latency (ours against bare Bolt) and attendance-click throughput, over real HTTP."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests

from bench.people import CONVENER, SEATS
from bench.servers import Server
from bench.stats import summary_ms

LONDON = ZoneInfo("Europe/London")
SLACK_DEADLINE = 3.0  # Slack shows the user an error if the acknowledgement takes longer
ATTENDING, APOLOGIES = "attendance_attending", "attendance_apologies"
KINDS = ("command", "click", "submission")


def convene_values(call: datetime) -> dict[str, Any]:
    """view.state.values of a valid convene form for a call at `call` (as Slack sends them)."""
    local = call.astimezone(LONDON)
    fields: dict[str, Any] = {
        "profession": {"type": "static_select", "selected_option": {"value": "nursing"}},
        "route": {"type": "static_select", "selected_option": {"value": "incident"}},
        "concern": {"type": "plain_text_input", "value": "Benchmark case: two medication errors on night shifts."},
        "risks": {"type": "plain_text_input", "value": "Patient safety on night shifts."},
        "call_date": {"type": "datepicker", "selected_date": local.date().isoformat()},
        "call_time": {"type": "timepicker", "selected_time": f"{local:%H:%M}"},
        "duration": {"type": "static_select", "selected_option": {"value": "60"}},
        "call_details": {"type": "plain_text_input", "value": "https://meet.example.org/bench"},
        "extra_members": {"type": "multi_users_select", "selected_users": []},
        "short_notice": {"type": "checkboxes", "selected_options": []},
    }
    for seat, user in SEATS.items():
        fields[f"seat_{seat}"] = {"type": "users_select", "selected_user": user}
    return {field: {field: element} for field, element in fields.items()}


def _call_time() -> datetime:
    day = (datetime.now(LONDON) + timedelta(days=10)).date()
    return datetime(day.year, day.month, day.day, 14, 0, tzinfo=LONDON)


class Requests:
    """The three measured requests against one server; `ours` says whether to check our answers. `command` is
    what follows /pmccg (`convene` opens the modal; `help` answers through the response_url)."""

    def __init__(self, server: Server, ours: bool, command: str = "convene") -> None:
        self.server, self.ours, self.command_text = server, ours, command
        self.values = convene_values(_call_time())
        self.references: list[str] = []
        self._clicks = 0
        self._lock = threading.Lock()

    def command(self) -> bool:
        response = self.server.command(CONVENER, self.command_text)
        return response.status_code == 200

    def click(self) -> bool:
        with self._lock:
            n = self._clicks
            self._clicks += 1
        users = list(SEATS.values())
        reference = self.references[n % len(self.references)] if self.references else "PMCCG-0000-000"
        user = users[(n // max(1, len(self.references))) % len(users)]
        # Alternate the answer so each click changes something and the board is redrawn.
        action = ATTENDING if (n // (len(users) * max(1, len(self.references)))) % 2 == 0 else APOLOGIES
        return self.server.click(user, action, reference).status_code == 200

    def submission(self) -> bool:
        response = self.server.submit(CONVENER, "convene", self.values, f"VB{uuid.uuid4().hex[:10].upper()}")
        if response.status_code != 200:
            return False
        # Ours answers with the "creating the case" modal; a validation error would be a broken benchmark.
        return not self.ours or response.json().get("response_action") == "update"


def timed(call: Callable[[], bool], n: int, warmup: int,
          settle: Callable[[int], object] = lambda done: None) -> dict[str, Any]:
    """Run `call` n times one after another (after `warmup` unmeasured runs); latencies and failures.

    `settle(i)` runs unmeasured after the i-th call (e.g. waits for the work begun after the ack).
    """
    for i in range(warmup):
        call()
        settle(i + 1)
    latencies, failures = [], 0
    for i in range(n):
        start = time.perf_counter()
        try:
            ok = call()
        except requests.RequestException:
            ok = False
        latencies.append(time.perf_counter() - start)
        failures += not ok
        settle(warmup + i + 1)
    return {**summary_ms(latencies), "failures": failures, "late": sum(x > SLACK_DEADLINE for x in latencies)}


def cases_in(db: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        return [r for (r,) in conn.execute("SELECT reference FROM cases WHERE board_ref IS NOT NULL ORDER BY id")]


def wait_for_cases(db: Path, count: int, timeout: float, poll: float = 0.25) -> tuple[int, float]:
    """Wait until `count` cases are convened (channel, board posted) after the acknowledgements; (found, s)."""
    start = time.monotonic()
    found = 0
    while time.monotonic() - start < timeout:
        found = len(cases_in(db))
        if found >= count:
            break
        time.sleep(poll)
    return found, round(time.monotonic() - start, 2)


def answered(standin_url: str, method: str) -> int:
    """How many `method` calls the stand-in (in its own process) has answered ok."""
    counts = requests.get(standin_url.split("/api/")[0] + "/_standin/answered", timeout=5).json()
    return int(counts.get(method, 0))


def wait_until_convened(standin_url: str, count: int, timeout: float) -> None:
    """Wait until `count` convenings have finished: the last step tells the convener (views.update)."""
    start = time.monotonic()
    while answered(standin_url, "views.update") < count and time.monotonic() - start < timeout:
        time.sleep(0.005)


def latency(ours: Server, bare: Server, db: Path, n: int, warmup: int, drain_timeout: float,
            standin_url: str) -> dict[str, Any]:
    """p50/p95/p99 of each kind of request, ours and bare, and the p99 ratio."""
    mine, base = Requests(ours, ours=True), Requests(bare, ours=False)
    # One case convened up front (unmeasured) so the first clicks have somewhere to go.
    mine.submission()
    wait_for_cases(db, 1, drain_timeout)
    mine.references = cases_in(db)
    results: dict[str, Any] = {}
    def convened(done: int) -> None:
        # One convener at a time: each case is convened (channel, board, invitations, the convener told)
        # before the next form arrives, as a form takes minutes to fill in. Clicks, which do come in
        # bursts, are sent back to back instead.
        wait_until_convened(standin_url, 1 + done, 5.0)

    for kind in KINDS:
        ours_result = timed(getattr(mine, kind), n, warmup, convened if kind == "submission" else lambda d: None)
        bare_result = timed(getattr(base, kind), n, warmup)
        if kind == "submission":
            # The convening itself runs after the acknowledgement: let it finish before anything else.
            found, took = wait_for_cases(db, 1 + warmup + n, drain_timeout)
            ours_result["cases_convened"], ours_result["convene_backlog_s"] = found, took
        ratio = (ours_result["p99_ms"] / bare_result["p99_ms"]) if bare_result["p99_ms"] else None
        results[kind] = {"ours": ours_result, "bare": bare_result,
                         "ratio_p99": round(ratio, 2) if ratio is not None else None}
    return results


def throughput(server: Server, references: list[str], clients: int, seconds: float) -> dict[str, Any]:
    """Attendance clicks per second with `clients` concurrent clients for `seconds`, spread over `references`."""
    mine = Requests(server, ours=bool(references))
    mine.references = references
    deadline = time.perf_counter() + seconds
    lock = threading.Lock()
    latencies: list[float] = []
    failures = 0

    def client() -> None:
        nonlocal failures
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                ok = mine.click()
            except requests.RequestException:
                ok = False
            took = time.perf_counter() - start
            with lock:
                latencies.append(took)
                failures += not ok

    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for _ in range(clients):
            pool.submit(client)
    elapsed = time.perf_counter() - began
    late = sum(x > SLACK_DEADLINE for x in latencies)
    return {"clients": clients, "seconds": round(elapsed, 2), "requests": len(latencies),
            "per_second": round((len(latencies) - failures - late) / elapsed, 1), "failures": failures,
            "late": late, "latency": summary_ms(latencies), "cases": len(mine.references)}
