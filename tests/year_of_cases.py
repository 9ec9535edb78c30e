"""A fictional year of cases (2025), built through the domain functions under freezegun.

Every case is a plan (when it is convened, who replies how, who is on the roll-call, the outcome,
its action points and when each is done); the plans become dated steps, run in time order with the
clock frozen at each step, so the scheduler, circulation and reminders see the year as it happened.
What the plans say is the "truth" the report tests check the documents against. Every piece of
free text typed into a case is in FREE_TEXT, so tests can check none of it reaches a report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from freezegun import freeze_time
from sqlalchemy.engine import Engine

from bot import clock
from bot.domain import action_points, attendance, closing, convening, outcomes, rescheduling, roll_call, roster
from bot.domain.action_points import NewAction
from bot.domain.fairness import PRINCIPLES
from bot.domain.outcomes import OutcomeForm
from bot.domain.reminders import send_due
from bot.domain.terms import Terms
from bot.sandbox.slack_api import FakeSlack
from storage.db import SessionFactory, transaction
from storage.tables import Reply
from tests.factories import HERE, LONDON, form, load_roster
from tests.scheduling import workspace_for

YEAR = 2025
CHAIR, MANAGER, SERVICE, PEOPLE, GOVERN, CLINDIR = ("U0CHAIR01", "U0MANAGER", "U0SERVICE", "U0PEOPLE1", "U0GOVERN1",
                                                    "U0CLINDIR")
NURSE_LEAD, GP_LEAD, DEPUTY, MEMBER = "U0NURSELD", "U0GPLEAD1", "U0DEPUTY1", "U0MEMBER1"
LEAD_FOR = {"nursing": NURSE_LEAD, "doctor": GP_LEAD, "paramedic": GP_LEAD}

A, D, X, N = Reply.ATTENDING, Reply.DEPUTY, Reply.APOLOGIES, Reply.NO_REPLY


@dataclass(frozen=True)
class ActionPlan:
    owner: str
    due_days: int  # after the outcome
    done_days: int | None  # after the outcome; None: still open


@dataclass(frozen=True)
class CasePlan:
    number: int
    convene: datetime  # when the manager convenes (UTC)
    call_days: int  # the call is this many days later, at 14:00 London
    profession: str
    route: str
    # Replies of the seat holders other than the chair (who always attends); deputy is U0DEPUTY1.
    replies: dict[str, Reply]
    # Who is on the roll-call (None: the bot was down during the call, no roll-call was taken).
    present: tuple[str, ...] | None
    process: str | None = "informal"  # None: no outcome recorded
    outcome_days: int = 1  # after the call
    fairness: dict[str, str] = field(default_factory=dict)  # principle -> "no"/"unknown" (others "yes")
    actions: tuple[ActionPlan, ...] = ()
    cancel: bool = False
    close_days: int | None = None  # after the outcome

    @property
    def call_at(self) -> datetime:
        day = (self.convene.astimezone(LONDON) + timedelta(days=self.call_days)).date()
        return datetime.combine(day, time(14, 0), LONDON).astimezone(UTC)

    @property
    def lead(self) -> str:
        return LEAD_FOR[self.profession]

    def text(self, what: str) -> str:
        """The free text typed for this case: distinctive, so a leak is easy to find."""
        return f"{what} typed for fictional case number {self.number} zebra{self.number:02d}"


def _at(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(YEAR, month, day, hour, 0, tzinfo=LONDON).astimezone(UTC)


def _replies(service: Reply = A, people: Reply = A, govern: Reply = A, clindir: Reply = A, lead: Reply = A,
             manager: Reply = A) -> dict[str, Reply]:
    return {MANAGER: manager, SERVICE: service, PEOPLE: people, GOVERN: govern, CLINDIR: clindir, "lead": lead}


# The year. The clinical director often cannot come (flagged under 75%); the people team sends a
# deputy; the governance representative forgets to reply now and then. Case 13 is cancelled.
PLANS: tuple[CasePlan, ...] = (
    CasePlan(1, _at(1, 13), 3, "nursing", "incident", _replies(clindir=X),
             (CHAIR, MANAGER, SERVICE, PEOPLE, GOVERN, NURSE_LEAD), "informal",
             actions=(ActionPlan(MANAGER, 14, 10), ActionPlan(SERVICE, 21, 25)), close_days=40),
    CasePlan(2, _at(2, 3), 2, "nursing", "complaint", _replies(people=D, clindir=N),
             (CHAIR, MANAGER, SERVICE, DEPUTY, GOVERN, NURSE_LEAD), "formal", fairness={"heard": "no"},
             actions=(ActionPlan(MANAGER, 14, 7),), close_days=30),
    CasePlan(3, _at(3, 10), 4, "doctor", "incident", _replies(clindir=X),
             (CHAIR, MANAGER, SERVICE, PEOPLE, GOVERN, GP_LEAD), "informal", outcome_days=9,
             actions=(ActionPlan(GOVERN, 10, 9),)),
    CasePlan(4, _at(4, 7), 3, "nursing", "incident", _replies(govern=N, clindir=X),
             None, "no_further_action", actions=(ActionPlan(SERVICE, 7, None),)),
    CasePlan(5, _at(4, 28), 3, "doctor", "whistleblowing", _replies(people=D, clindir=X, lead=X),
             (CHAIR, MANAGER, SERVICE, DEPUTY), "formal", fairness={"understanding": "unknown", "heard": "no"}),
    CasePlan(6, _at(5, 19), 3, "paramedic", "complaint", _replies(clindir=A),
             (CHAIR, MANAGER, SERVICE, PEOPLE, GOVERN, CLINDIR, GP_LEAD), "informal",
             actions=(ActionPlan(MANAGER, 14, 20),), close_days=35),
    CasePlan(7, _at(6, 16), 3, "nursing", "internal_reporting", _replies(govern=N, clindir=X),
             (CHAIR, MANAGER, SERVICE, PEOPLE, NURSE_LEAD), "informal", fairness={"welfare": "unknown"},
             actions=(ActionPlan(PEOPLE, 14, 12),)),
    CasePlan(8, _at(7, 14), 3, "doctor", "incident", _replies(clindir=N),
             (CHAIR, MANAGER, SERVICE, PEOPLE, GOVERN, GP_LEAD), "formal", fairness={"heard": "unknown"},
             actions=(ActionPlan(SERVICE, 14, 13), ActionPlan(GOVERN, 14, None))),
    CasePlan(9, _at(9, 8), 3, "nursing", "complaint", _replies(people=D, clindir=A),
             (CHAIR, MANAGER, SERVICE, DEPUTY, GOVERN, CLINDIR, NURSE_LEAD), "informal",
             actions=(ActionPlan(MANAGER, 21, 30),)),
    CasePlan(10, _at(10, 6), 3, "doctor", "incident", _replies(clindir=X),
             (CHAIR, MANAGER, SERVICE, PEOPLE, GOVERN, GP_LEAD), "informal", fairness={"heard": "no"},
             actions=(ActionPlan(SERVICE, 7, 9),)),
    CasePlan(11, _at(10, 27), 3, "paramedic", "internal_reporting", _replies(clindir=X),
             (CHAIR, MANAGER, SERVICE, PEOPLE, GOVERN, GP_LEAD), "informal",
             actions=(ActionPlan(GOVERN, 14, 5),)),
    CasePlan(12, _at(11, 17), 3, "doctor", "complaint", _replies(clindir=N),
             (CHAIR, MANAGER, SERVICE, PEOPLE, GOVERN, GP_LEAD), "informal",
             actions=(ActionPlan(MANAGER, 10, 16),)),
    CasePlan(13, _at(12, 1), 4, "nursing", "incident", _replies(), None, None, cancel=True),
)
REPORT_AT = datetime(2026, 1, 12, 10, 0, tzinfo=UTC)  # when the tests look back at the year
# The convener gave the date the concern was raised (ten days before convening) for cases 1 to 8 only.
CONCERN_RAISED_DAYS_BEFORE = dict.fromkeys(range(1, 9), 10)


def free_text() -> list[str]:
    """Every piece of free text the builder types into a case."""
    kinds = ("Concern", "Risks", "Call details", "Rationale", "Risk notes", "Line manager support", "Fairness note",
             "Action", "Update", "Cancel reason", "Quorum statement", "Close reason")
    return [plan.text(kind) for plan in PLANS for kind in kinds]


@dataclass
class Built:
    references: dict[int, str] = field(default_factory=dict)  # plan number -> case reference
    action_ids: dict[int, list[int]] = field(default_factory=dict)


def _concern_raised(plan: CasePlan) -> date | None:
    days = CONCERN_RAISED_DAYS_BEFORE.get(plan.number)
    return None if days is None else plan.convene.astimezone(LONDON).date() - timedelta(days=days)


def _seats(plan: CasePlan) -> dict[str, str]:
    return {"chair": CHAIR, "line_manager": MANAGER, "service_lead": SERVICE, "people_team": PEOPLE,
            "governance": GOVERN, "clinical_director": CLINDIR, "professional_lead": plan.lead}


def build_year(sessions: SessionFactory, engine: Engine, terms: Terms, fake: FakeSlack,
               plans: tuple[CasePlan, ...] = PLANS) -> Built:
    """Run every plan's steps in time order, the clock frozen at each; return the references made."""
    with sessions() as session:
        load_roster(session, terms)
    built = Built()
    steps: list[tuple[datetime, int, Callable[[], None]]] = []
    for plan in plans:
        for order, (at, step) in enumerate(_steps(plan, sessions, engine, terms, fake, built)):
            steps.append((at, plan.number * 100 + order, step))
    for at, _, step in sorted(steps, key=lambda s: (s[0], s[1])):
        with freeze_time(at):
            step()
    return built


def _tick(sessions: SessionFactory, engine: Engine, terms: Terms, fake: FakeSlack) -> None:
    send_due(sessions, engine, workspace_for(fake), terms, LONDON, clock.now(), worker="year")


def _steps(plan: CasePlan, sessions: SessionFactory, engine: Engine, terms: Terms, fake: FakeSlack,
           built: Built) -> list[tuple[datetime, Callable[[], None]]]:
    call_end = plan.call_at + timedelta(minutes=60)
    decided = call_end + timedelta(days=plan.outcome_days - 1, hours=2)
    steps: list[tuple[datetime, Callable[[], None]]] = []

    def ref() -> str:
        return built.references[plan.number]

    def convene() -> None:
        local = plan.call_at.astimezone(LONDON)
        f = form(clock.now(), submission_key=f"year-{plan.number}", profession=plan.profession, route=plan.route,
                 concern=plan.text("Concern"), risks=plan.text("Risks"), call_details=plan.text("Call details"),
                 call_date=local.date(), call_time=time(local.hour, local.minute), seats=_seats(plan),
                 concern_raised=_concern_raised(plan))
        with sessions() as session:
            entries = roster.entries_for(session, [u for u in f.seats.values() if u])
        request = convening.validate(f, terms, entries, (), clock.now(), LONDON, people=HERE)
        built.references[plan.number] = convening.convene(sessions, engine, request, terms, workspace_for(fake),
                                                          clock.now(), LONDON).reference

    steps.append((plan.convene, convene))
    answers = [(CHAIR, A)] + [(plan.lead if who == "lead" else who, reply) for who, reply in plan.replies.items()]
    for index, (user, reply) in enumerate(a for a in answers if a[1] != N):
        def answer(user: str = user, reply: Reply = reply) -> None:
            with transaction(sessions) as session:
                attendance.record_reply(session, terms, ref(), user, reply, clock.now(), LONDON,
                                        deputy_id=DEPUTY if reply == D else None, people=HERE)
        steps.append((plan.convene + timedelta(hours=2, minutes=index), answer))

    if plan.cancel:
        def cancel() -> None:
            with transaction(sessions) as session:
                rescheduling.cancel(session, terms, ref(), MANAGER, plan.text("Cancel reason"), clock.now())
        steps.append((plan.call_at - timedelta(days=1), cancel))
        return steps

    if plan.present is not None:
        present = plan.present
        steps.append((plan.call_at, lambda: _tick(sessions, engine, terms, fake)))  # posts the roll-call

        def mark() -> None:
            with transaction(sessions) as session:
                for user in present:
                    roll_call.mark_present(session, terms, ref(), user, user, clock.now(), LONDON)
        steps.append((plan.call_at + timedelta(minutes=5), mark))
        steps.append((call_end, lambda: _tick(sessions, engine, terms, fake)))  # records the result

    if plan.process is None:
        return steps

    def record() -> None:
        answers = {p.key: (plan.fairness.get(p.key, "yes"), plan.text("Fairness note")) for p in PRINCIPLES}
        today = clock.now().astimezone(LONDON).date()
        new = tuple(NewAction(plan.text("Action"), a.owner, today + timedelta(days=a.due_days)) for a in plan.actions)
        f = OutcomeForm(reference=ref(), actor=CHAIR, process=plan.process, rationale=plan.text("Rationale"),
                        risk_level="moderate", risk_notes=plan.text("Risk notes"), ml_policy_notify="no",
                        legal_advice="no", welfare_offered="yes",
                        line_manager_support=plan.text("Line manager support"),
                        fairness=answers, actions=new, quorate_stated=True if plan.present is None else None,
                        quorum_statement=plan.text("Quorum statement") if plan.present is None else "")
        with transaction(sessions) as session:
            built.action_ids[plan.number] = list(outcomes.record_outcome(session, terms, f, clock.now(),
                                                                         LONDON, (), HERE).action_ids)
    steps.append((decided, record))
    steps.append((decided + timedelta(minutes=1), lambda: _tick(sessions, engine, terms, fake)))  # circulates

    for index, action in enumerate(plan.actions):
        if action.done_days is None:
            continue

        def done(index: int = index, owner: str = action.owner) -> None:
            action_id = built.action_ids[plan.number][index]
            with transaction(sessions) as session:
                action_points.add_update(session, action_id, owner, plan.text("Update"), clock.now(), set())
                action_points.mark_done(session, action_id, owner, clock.now(), set())
        steps.append((decided + timedelta(days=action.done_days, hours=1), done))

    if plan.close_days is not None:
        def close() -> None:
            with transaction(sessions) as session:
                closing.close(session, terms, ref(), CHAIR, plan.text("Close reason"), clock.now(), LONDON)
        steps.append((decided + timedelta(days=plan.close_days, hours=3), close))
    return steps

