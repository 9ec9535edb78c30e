"""Teams acknowledgement latency (issue 16 point 15): an Action.Execute invoke answered by `pmccg teams` against
a bare Teams SDK app with one trivial handler, both started as processes on 127.0.0.1 and both behind the
Teams stand-in's signed tokens (bot/sandbox/teams_api.py, in this process), measured in the same run.

The invoke is what a member's click costs: before `pmccg teams` starts, its SQLite database is prepared in this
process (migrated, a roster of the stand-in's people loaded through the domain, and one case convened through
the domain with a TeamsWorkspace pointed at the stand-in, so the case chat, its board and the invitations exist
in the stand-in and the delivery ledger). Each member then presses the attendance buttons of their own
invitation (the activity id the ledger holds as replyToId, in their 1:1 chat), attending and apologies in
turn, so every click changes an answer and the board is redrawn. The bare app gets the same activities.

Each request is signed with a token minted once, so the signing is not measured; both servers check the
signature, issuer, audience, expiry and serviceurl claim of every request.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from typing import Any

from bench.people import CONVENER, PEOPLE, SEATS
from bench.servers import REPO, Server, free_port
from bench.stats import summary_ms

TEAMS_DEADLINE = 5.0  # Teams shows the user an error if an invoke is not answered in about this long
CARD_ANSWER = "application/vnd.microsoft.card.adaptive"  # an invoke answered with a card (the card replaced)
VERBS = ("attendance_attending", "attendance_apologies")  # pressed in turn: every click changes the answer


@dataclass(frozen=True)
class Invitation:
    """A member's invitation as the bot sent it: who, their 1:1 chat, the card's activity id, its button value."""

    person: Any  # the stand-in's TeamsUser
    chat: str
    activity_id: str
    value: str


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


def _form(convener: str, seats: dict[str, str], now: datetime, zone: Any) -> Any:
    from bot.domain.convening import ConveneForm

    call = (now + timedelta(days=3)).astimezone(zone)
    return ConveneForm(convener_id=convener, submission_key="BENCH-TEAMS-1", profession="nursing", route="incident",
                       concern="Bench case: a fictional concern.", risks="Bench case: fictional risks.",
                       call_date=call.date(), call_time=dt_time(14, 0), duration_minutes=60,
                       call_details="https://meet.example.org/bench", seats=seats)


def prepare(env: dict[str, str], standin: Any) -> list[Invitation]:
    """The database `pmccg teams` will serve from (env's DATABASE_URL), made ready before it starts: migrated, the
    bench roster (bench/people.py) under stand-in people's Entra ids, and one case convened through the domain
    with a TeamsWorkspace on the stand-in. Returns each invited member's invitation, from the delivery ledger."""
    from bot.clock import now as clock_now
    from bot.config import load_settings
    from bot.domain import attendance, convening, ledger, roster
    from bot.domain.cases import find_case
    from bot.domain.people import FixedPeople
    from bot.domain.terms import load_terms
    from bot.platforms import workspace_for
    from storage.db import make_engine, session_factory, upgrade

    settings = load_settings(env, dotenv=False)
    terms, zone, now = load_terms(), settings.zone, clock_now()
    users = {uid: standin.add_user(name) for uid, (name, _, _) in PEOPLE.items()}
    engine = make_engine(env["DATABASE_URL"])
    try:
        upgrade(engine)
        sessions = session_factory(engine)
        lines = ["user_id,roles,professions"] + [f"{users[uid].id},{roles},{profs}"
                                                 for uid, (_, roles, profs) in PEOPLE.items()]
        with sessions() as session:
            roster.replace_roster(session, roster.parse_csv("\n".join(lines) + "\n", terms), "bench", now)
            session.commit()
        seats = {seat: users[uid].id for seat, uid in SEATS.items()}
        form = _form(users[CONVENER].id, seats, now, zone)
        with sessions() as session:
            entries = roster.entries_for(session, list(seats.values()))
        request = convening.validate(form, terms, entries, (), now, zone,
                                     people=FixedPeople(active=frozenset(u.id for u in users.values())))
        workspace = workspace_for(settings, sessions)
        try:
            convened = convening.convene(sessions, engine, request, terms, workspace, now, zone)
        finally:
            workspace.close()
            thread = getattr(workspace, "loop_thread", None)
            if thread is not None:
                thread.stop()
        invitations = []
        with sessions() as session:
            case = find_case(session, convened.reference)
            for person in users.values():
                for row in ledger.messages_to(session, case.id or 0, person.id, attendance.ANSWER_KINDS)[:1]:
                    version = ledger.detail_of(row).get("answer_version", case.schedule_version)
                    invitations.append(Invitation(person, str(row.room), str(row.ref),
                                                  attendance.answer_value(case.reference, int(version))))
    finally:
        engine.dispose()
    if not invitations:
        raise RuntimeError("the bench case was convened but no invitation is in the ledger")
    return invitations


@contextlib.contextmanager
def servers(workdir: Path, standin: Any) -> Iterator[tuple[Server, Server, list[Invitation]]]:
    """`pmccg teams` (its database prepared first: `prepare`) and the bare app, stopped afterwards."""
    (workdir / "teams").mkdir(exist_ok=True)
    (workdir / "teams-bare").mkdir(exist_ok=True)
    env = _env(free_port(), workdir / "teams", standin)
    invitations = prepare(env, standin)
    ours = Server("pmccg-teams", [sys.executable, "-m", "bot.cli", "teams", "--host", "127.0.0.1"], env,
                  workdir / "teams", "")
    try:
        bare = Server("bare-teams", [sys.executable, "-m", "bench.bare_teams_app"],
                      _env(free_port(), workdir / "teams-bare", standin), workdir / "teams-bare", "")
        try:
            yield ours, bare, invitations
        finally:
            bare.stop()
    finally:
        ours.stop()


def click(standin: Any, invitation: Invitation, verb: str) -> dict[str, Any]:
    """The member presses `verb` on their own invitation card, in their 1:1 chat."""
    return standin.card_action(invitation.person, {"action": verb, "value": invitation.value}, verb=verb,
                               reply_to_id=invitation.activity_id, conversation_id=invitation.chat)


def _answered(response: Any, card: bool) -> bool:
    """200, and (for `pmccg teams`) the member's invitation as it reads now, not a refusal in words."""
    if response.status_code != 200:
        return False
    return not card or response.json().get("type") == CARD_ANSWER


def _timed(standin: Any, server: Server, invitations: list[Invitation], first: int, n: int,
           warmup: int, *, card: bool) -> tuple[list[float], int]:
    """Clicks `first`, `first + 1`, ... one after another (`warmup` of them unmeasured): click i is member
    i mod members, attending or apologies in turn. Their latencies (s) and failures (not 200, or an answer that
    is not the member's card)."""
    url = f"{server.url}/api/messages"
    token = standin.mint_inbound_token(service_url=standin.service_url)
    latencies: list[float] = []
    failures = 0
    members = len(invitations)
    for i in range(first, first + warmup + n):
        activity = click(standin, invitations[i % members], VERBS[(i // members) % 2])
        start = time.perf_counter()
        try:
            response = standin.post_activity(url, activity, token=token)
        except Exception:  # noqa: BLE001  (a refused or timed-out request is a failure, counted)
            response = None
        took = time.perf_counter() - start
        ok = response is not None and _answered(response, card)
        if i >= first + warmup:
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
    size = max(1, n // blocks)
    load_before = os.getloadavg()[0]
    with TeamsStandIn() as standin, servers(workdir, standin) as (ours, bare, invitations):
        done = 0
        for block in range(blocks):
            extra = warmup if block == 0 else 0
            got = _timed(standin, ours, invitations, done, size, extra, card=True)
            mine = (mine[0] + got[0], mine[1] + got[1])
            got = _timed(standin, bare, invitations, done, size, extra, card=False)
            base = (base[0] + got[0], base[1] + got[1])
            done += size + extra
    ours_result, bare_result = _summary(*mine), _summary(*base)
    ratio = ours_result["p99_ms"] / bare_result["p99_ms"] if bare_result["p99_ms"] else None
    # The machine is shared: its 1-minute load average before and after says how quiet the run was.
    return {"invoke": {"ours": ours_result, "bare": bare_result,
                       "ratio_p99": round(ratio, 2) if ratio is not None else None, "members": len(invitations),
                       "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)]}}
