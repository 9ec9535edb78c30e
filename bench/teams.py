"""Teams acknowledgement latency (issue 16 point 15): an Action.Execute invoke answered by `pmccg teams` against
a bare Teams SDK app with one trivial handler, both started as processes on 127.0.0.1 and both behind the
Teams stand-in's signed tokens (bot/sandbox/teams_api.py, in this process), measured in the same run.

The invoke is the attendance button of an invitation ("attendance_attending", the Slack button's value
"REF:version"): what `pmccg teams` does with it is whatever its listeners do, the bare app only answers. (While
no Teams listener claims that verb, `pmccg teams` answers it as the SDK does an unclaimed invoke: the figure is
then the door, its guard, token checks and routing, not the attendance listener.)

Each request is signed with a token minted once, so the signing is not measured; both servers check the
signature, issuer, audience, expiry and serviceurl claim of every request.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.servers import REPO, Server, free_port
from bench.stats import summary_ms

TEAMS_DEADLINE = 5.0  # Teams shows the user an error if an invoke is not answered in about this long
VERB = "attendance_attending"


def _env(port: int, workdir: Path, standin: Any) -> dict[str, str]:
    drop = ("SLACK_", "PMCCG_", "DATABASE_URL", "TEAMS_", "GRAPH_", "CLIENT_", "TENANT_ID", "SERVICE_URL", "CLOUD")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(standin.settings_env())
    env.update({"PORT": str(port), "DATABASE_URL": f"sqlite:///{workdir / 'pmccg.db'}", "PMCCG_PLATFORM": "teams",
                # The scheduler would post into the stand-in while the requests are measured: not what is measured.
                "PMCCG_RUN_SCHEDULER": "false", "PYTHONUNBUFFERED": "1",
                # bench.servers.Server reads it for Slack's response_url; neither Teams server uses it.
                "SLACK_API_URL": "http://127.0.0.1:9/api/",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))})
    return env


@contextlib.contextmanager
def servers(workdir: Path, standin: Any) -> Iterator[tuple[Server, Server]]:
    """`pmccg teams` and the bare app, stopped afterwards. (No roster: `pmccg roster import` checks people with
    Slack only, so far; the invoke names a case that does not exist, which `pmccg teams` answers as such.)"""
    (workdir / "teams").mkdir(exist_ok=True)
    (workdir / "teams-bare").mkdir(exist_ok=True)
    people = [standin.add_user(f"Bench Member {n}") for n in range(6)]
    env = _env(free_port(), workdir / "teams", standin)
    ours = Server("pmccg-teams", [sys.executable, "-m", "bot.cli", "teams", "--host", "127.0.0.1"], env,
                  workdir / "teams", "")
    try:
        bare = Server("bare-teams", [sys.executable, "-m", "bench.bare_teams_app"],
                      _env(free_port(), workdir / "teams-bare", standin), workdir / "teams-bare", "")
        try:
            ours.people = people  # type: ignore[attr-defined]
            yield ours, bare
        finally:
            bare.stop()
    finally:
        ours.stop()


def _timed(standin: Any, server: Server, people: list[Any], n: int, warmup: int) -> tuple[list[float], int]:
    """`n` invokes one after another (after `warmup` unmeasured); their latencies (s) and failures."""
    url = f"{server.url}/api/messages"
    token = standin.mint_inbound_token(service_url=standin.service_url)
    latencies: list[float] = []
    failures = 0
    for i in range(warmup + n):
        person = people[i % len(people)]
        activity = standin.card_action(person, {"action": VERB, "value": "PMCCG-2026-001:1"}, verb=VERB,
                                       reply_to_id="1700000000001")
        start = time.perf_counter()
        try:
            ok = standin.post_activity(url, activity, token=token).status_code == 200
        except Exception:  # noqa: BLE001  (a refused or timed-out request is a failure, counted)
            ok = False
        took = time.perf_counter() - start
        if i >= warmup:
            latencies.append(took)
            failures += not ok
    return latencies, failures


def _summary(latencies: list[float], failures: int) -> dict[str, Any]:
    return {**summary_ms(latencies), "failures": failures, "late": sum(x > TEAMS_DEADLINE for x in latencies)}


def ack_latency(workdir: Path, n: int, warmup: int, blocks: int = 4) -> dict[str, Any]:
    """p50/p95/p99 of the invoke's answer, ours and bare, and the p99 ratio (goal: at most 1.5). The two are
    measured in alternating blocks, so both see the same machine load over the run."""
    from bot.sandbox.teams_api import TeamsStandIn

    mine: tuple[list[float], int] = ([], 0)
    base: tuple[list[float], int] = ([], 0)
    with TeamsStandIn() as standin, servers(workdir, standin) as (ours, bare):
        people = ours.people  # type: ignore[attr-defined]
        for block in range(blocks):
            first = warmup if block == 0 else 0
            got = _timed(standin, ours, people, max(1, n // blocks), first)
            mine = (mine[0] + got[0], mine[1] + got[1])
            got = _timed(standin, bare, people, max(1, n // blocks), first)
            base = (base[0] + got[0], base[1] + got[1])
    ours_result, bare_result = _summary(*mine), _summary(*base)
    ratio = ours_result["p99_ms"] / bare_result["p99_ms"] if bare_result["p99_ms"] else None
    return {"invoke": {"ours": ours_result, "bare": bare_result,
                       "ratio_p99": round(ratio, 2) if ratio is not None else None}}
