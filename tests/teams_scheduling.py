"""Scheduled messages on Teams: the Teams twin of tests/scheduling.py.

A case is convened through the domain with the Teams bot's own workspace (handlers/teams/app.py's, on the
serving loop), so its room is a real group chat in the stand-in, made through Graph; the scheduler then ticks
through the Workspace `pmccg worker` builds for PMCCG_PLATFORM=teams (bot/platforms.py workspace_for: a
TeamsWorkspace on a loop thread of its own), with the tests' clock. What is asserted is what the stand-in
received: each activity the Bot Connector accepted, in which chat, and the text a reader sees on its card.

The people of tests/factories.py (U0CHAIR01, ...) are the harness's stand-in users; the domain knows them by
their Entra object ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.domain import convening, roster
from bot.domain.action_points import NewAction
from bot.domain.convening import Convened
from bot.domain.fairness import PRINCIPLES
from bot.domain.notify import Workspace
from bot.domain.outcomes import OutcomeForm, record_outcome
from bot.domain.people import FixedPeople
from bot.domain.reminders import Reporting, TickReport, send_due
from bot.platforms import workspace_for
from bot.sandbox.teams_api import TeamsStandIn, visible_text
from bot.scheduler import Ticker
from storage.db import session_factory, transaction
from storage.tables import Case, ScheduledMessage
from tests.factories import DEACTIVATED, LONDON, OUTSIDER, PEOPLE, STAFF_MEMBER, form, seat_choices
from tests.teams_bot import TeamsBotHarness

POST = "POST /v3/conversations/{id}/activities"
PUT = "PUT /v3/conversations/{id}/activities/{activityId}"
CONVENER = MANAGER = "U0MANAGER"
CHAIR, PEOPLE_TEAM = "U0CHAIR01", "U0PEOPLE1"
CALL = datetime(2026, 11, 5, 14, 0, tzinfo=UTC)  # Thursday 14:00 GMT; the call lasts an hour
# Every seat of tests/factories.py's convene form but the convener's: the people invited (and chased).
MEMBERS_BUT_CONVENER = frozenset(u for u in seat_choices().values() if u != CONVENER)


@dataclass(frozen=True)
class Sent:
    """One activity the Bot Connector accepted: where, its id, and what a reader sees."""

    chat: str
    activity_id: str
    text: str
    activity: dict[str, Any]


class Scheduled:
    """The Teams bot harness with the worker's workspace: convene, tick, and read what landed where."""

    def __init__(self, harness: TeamsBotHarness, worker: Workspace) -> None:
        self.h = harness
        self.worker = worker
        self.teams: TeamsStandIn = harness.teams
        self.sessions = harness.services.sessions
        self.engine: Engine = harness.engine
        self.terms = harness.terms

    # ----------------------------------------------------------------------------- who

    def id(self, uid: str) -> str:
        """The Entra object id of a tests/factories.py person."""
        return self.h.person(uid).id

    def uid(self, entra_id: str) -> str:
        return next(u for u, p in self.h.users.items() if p.id == entra_id)

    def people(self) -> FixedPeople:
        """tests/factories.py's HERE under Entra ids (the domain's People for validation without Graph)."""
        active = [*PEOPLE, OUTSIDER, STAFF_MEMBER[0]]
        return FixedPeople(active=frozenset(self.id(u) for u in active),
                           deactivated=frozenset({self.id(DEACTIVATED[0])}))

    def names(self) -> list[str]:
        """Every fictional person's display name (none may appear where only references belong)."""
        return [p.display_name for p in self.h.users.values()]

    # ----------------------------------------------------------------------------- doing

    def convene_at(self, now: datetime, call: datetime, *, key: str = "V1", **overrides: Any) -> Convened:
        """Convene at `now` for a call at `call` (aware), through the domain and the Teams bot's workspace."""
        local = call.astimezone(LONDON)
        seats = {seat: self.id(user) for seat, user in seat_choices().items()}
        f = form(now, submission_key=key, call_date=local.date(), call_time=time(local.hour, local.minute),
                 convener_id=self.id(CONVENER), seats=seats, **overrides)
        with self.sessions() as session:
            entries = roster.entries_for(session, [u for u in f.seats.values() if u])
        request = convening.validate(f, self.terms, entries, (), now, LONDON, people=self.people())
        return convening.convene(self.sessions, self.engine, request, self.terms, self.h.bot.workspace(), now,
                                 LONDON)

    def tick(self, now: datetime, *, worker: str = "w1", engine: Engine | None = None,
             reporting: Reporting | None = None, **kwargs: Any) -> TickReport:
        """One send_due at `now`, as `pmccg worker`'s tick runs it (optionally on another engine)."""
        engine = engine or self.engine
        sessions = self.sessions if engine is self.engine else session_factory(engine)
        return send_due(sessions, engine, self.worker, self.terms, LONDON, now, worker=worker,
                        reporting=reporting or Reporting(), **kwargs)

    def ticker(self, clock: Any, *, worker: str = "w1", reporting: Reporting | None = None) -> Ticker:
        return Ticker(self.sessions, self.engine, self.worker, self.terms, LONDON, clock, worker=worker,
                      reporting=reporting or Reporting())

    # ----------------------------------------------------------------------------- reading

    def sent(self, contains: str = "") -> list[Sent]:
        """Activities the Bot Connector accepted since the log was last cleared (oldest first)."""
        found = []
        for call in self.teams.delivered(POST):
            if not isinstance(call.body, dict) or call.body.get("type") != "message":
                continue
            text = visible_text(call.body)
            if contains in text:
                found.append(Sent(call.params["id"], str((call.answer or {}).get("id", "")), text, call.body))
        return found

    def dm_chat(self, uid: str) -> str | None:
        return self.teams.personal_conversation_id(self.id(uid))

    def dms(self, contains: str = "") -> dict[str, list[Sent]]:
        """What each person (tests/factories.py id) received in their 1:1 chat since the log was cleared."""
        by_chat = {self.teams.personal_conversation_id(p.id): uid for uid, p in self.h.users.items()}
        found: dict[str, list[Sent]] = {}
        for sent in self.sent(contains):
            if sent.chat in by_chat:
                found.setdefault(by_chat[sent.chat], []).append(sent)
        return found

    def posts_to(self, chat: str, contains: str = "") -> list[Sent]:
        return [s for s in self.sent(contains) if s.chat == chat]

    def rows(self, kind: str | None = None) -> list[ScheduledMessage]:
        with self.sessions() as session:
            query = select(ScheduledMessage).order_by(ScheduledMessage.due_at, ScheduledMessage.id)
            if kind:
                query = query.where(ScheduledMessage.kind == kind)
            return list(session.exec(query))

    def case(self, reference: str) -> Case:
        with self.sessions() as session:
            return session.exec(select(Case).where(Case.reference == reference)).one()


# ----------------------------------------------------------------------------- outcomes


ROUNDS = ("Arrange supervised medication rounds for four weeks.", MANAGER, date(2026, 11, 20))
REFERRAL = ("Offer an occupational health referral.", PEOPLE_TEAM, date(2026, 12, 4))


def outcome_recorded(s: Scheduled, reference: str, at: datetime, *,
                     actions: tuple[tuple[str, str, date], ...] = (ROUNDS, REFERRAL),
                     heard: str = "unknown") -> tuple[int, ...]:
    """The chair's outcome with these action points (every fairness answer "yes" but "heard", unless told)."""
    fairness = {p.key: ("yes", "") for p in PRINCIPLES}
    if heard == "unknown":
        fairness["heard"] = ("unknown", "Account not yet given.")
    form = OutcomeForm(reference=reference, actor=s.id(CHAIR), process="formal",
                       rationale="Repeated errors despite informal support: a structured formal process.",
                       risk_level="moderate", risk_notes="Night shifts carry most of the exposure.",
                       ml_policy_notify="no", legal_advice="yes", welfare_offered="yes",
                       line_manager_support="Fortnightly check-ins.", fairness=fairness,
                       actions=tuple(NewAction(text, s.id(owner), due) for text, owner, due in actions),
                       quorate_stated=True, quorum_statement="The chair confirmed each member at the start.")
    with transaction(s.sessions) as session:
        return record_outcome(session, s.terms, form, at, LONDON, s.names(), s.people()).action_ids


def after_the_call(s: Scheduled, call: datetime = CALL, key: str = "V1") -> str:
    """Convene three days ahead and let everything owed up to the end of the call go by."""
    reference = s.convene_at(call - timedelta(days=3), call, key=key).reference
    s.tick(call + timedelta(hours=2))
    s.teams.clear()
    return reference


def card_date(when: datetime) -> str:
    """How a card writes an instant's date and time (DATE()/TIME() of UTC: each reader sees their own zone)."""
    iso = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{{{{DATE({iso},SHORT)}}}} at {{{{TIME({iso})}}}}"


def card_day(when: datetime, style: str = "LONG") -> str:
    iso = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{{{{DATE({iso},{style})}}}}"


CARD_FUNCTION = re.compile(r"\{\{(DATE|TIME)\(([^)]*)\)\}\}")


def shown_instants(text: str) -> set[str]:
    """The ISO instants a card's DATE()/TIME() functions show."""
    return {m.group(2).split(",")[0] for m in CARD_FUNCTION.finditer(text)}


@pytest.fixture(scope="module")
def worker_workspace(teams_bot: TeamsBotHarness) -> Iterator[Workspace]:
    """The Workspace `pmccg worker` sends through on Teams (bot/platforms.py), on a loop thread of its own."""
    workspace = workspace_for(teams_bot.settings, teams_bot.services.sessions)
    yield workspace
    workspace.close()  # type: ignore[attr-defined]
    thread = getattr(workspace, "loop_thread", None)
    if thread is not None:
        thread.stop()


@pytest.fixture
def scheduled(teams_bot: TeamsBotHarness, worker_workspace: Workspace) -> Iterator[Scheduled]:
    """An empty case history, the roster loaded, the stand-in's log and faults cleared."""
    teams_bot.reset()
    teams_bot.teams.clear_refusals()
    yield Scheduled(teams_bot, worker_workspace)
    # What a test did to people (blocked the bot, removed the app, disabled) is undone for the module's next test.
    teams_bot.teams.clear_refusals()
    for directory in (getattr(worker_workspace, "directory", None), teams_bot.bot.directory):
        if directory is not None:
            directory.forget_standings()  # a standing is kept two minutes: a test's leaver is not the next's
    for uid, person in teams_bot.users.items():
        teams_bot.teams.unblock_bot(person.id)
        if uid != DEACTIVATED[0]:
            teams_bot.teams.enable_user(person.id)
            teams_bot.teams.install_app_for(person.id)
