"""One fictional case driven through the real domain path under freezegun, for the case file and retention tests.

Convened on Monday 19 October 2026 (BST) for Thursday 22nd at 14:00; the clocks go back on the 25th, so
the later steps are in GMT. What happened is returned as `Story`, so tests check the file against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from freezegun import freeze_time
from sqlalchemy.engine import Engine

from bot.clock import now as clock_now
from bot.domain import action_points, attendance, closing, outcomes, roll_call
from bot.domain.action_points import NewAction
from bot.domain.fairness import PRINCIPLES
from bot.domain.outcomes import OutcomeForm
from bot.domain.terms import Terms
from bot.sandbox.slack_api import FakeSlack
from storage.db import SessionFactory, transaction
from storage.tables import Case, Reply
from tests.factories import HERE, LONDON, load_roster
from tests.scheduling import convene_at, tick

CONVENED = datetime(2026, 10, 19, 8, 0, tzinfo=UTC)  # Monday 09:00 BST
CALL = datetime(2026, 10, 22, 13, 0, tzinfo=UTC)  # Thursday 14:00 BST
OUTCOME_AT = CALL + timedelta(minutes=65)
CLOSED_AT = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)  # Friday 11:00 GMT
DUE_1, DUE_2 = date(2026, 11, 5), date(2026, 11, 12)
NEW_DUE_2 = date(2026, 11, 19)
HEARD_NOTE = "Account not yet given: on leave until early November."
UPDATE_1 = "Draft plan shared for comment."
DUE_REASON = "The audit needs the month-end register."
CLOSE_REASON = "Inquiry continues under the informal process."

# (user, reply, deputy) in the order they answer, a few minutes apart from 09:30 BST on the 19th. The
# convener (the manager) is attending from convening; the clinical director never replies.
REPLIES = [("U0CHAIR01", Reply.ATTENDING, None), ("U0NURSELD", Reply.ATTENDING, None),
           ("U0SERVICE", Reply.DEPUTY, "U0MEMBER1"), ("U0PEOPLE1", Reply.APOLOGIES, None),
           ("U0GOVERN1", Reply.ATTENDING, None)]
PRESENT = ["U0CHAIR01", "U0NURSELD", "U0GOVERN1", "U0MEMBER1", "U0MANAGER"]


@dataclass(frozen=True)
class Story:
    reference: str
    case_id: int
    room_id: str
    action_ids: dict[int, int]  # number -> id


def reply_time(n: int) -> datetime:
    return CONVENED + timedelta(minutes=30 + 7 * n)


def build_story(sessions: SessionFactory, engine: Engine, terms: Terms, fake: FakeSlack) -> Story:
    """Convene, replies, chases, roll-call, outcome with a "no" fairness answer, circulation, updates,
    a new due date, one item done on time and one late, a revisited answer, and closure with one open."""
    with sessions() as session:
        load_roster(session, terms)
    with freeze_time(CONVENED) as clock:
        convened = convene_at(sessions, engine, terms, fake, clock_now(), CALL, key="story")
        ref = convened.reference
        for n, (user, reply, deputy) in enumerate(REPLIES):
            clock.move_to(reply_time(n))
            with transaction(sessions) as session:
                attendance.record_reply(session, terms, ref, user, reply, clock_now(), LONDON, deputy_id=deputy,
                                        people=HERE)
        for when in (CALL - timedelta(hours=24), CALL - timedelta(hours=1), CALL):
            clock.move_to(when)
            tick(sessions, engine, terms, fake, clock_now())
        for minute, user in enumerate(PRESENT, start=1):
            clock.move_to(CALL + timedelta(minutes=minute))
            with transaction(sessions) as session:
                roll_call.mark_present(session, terms, ref, user, user, clock_now(), LONDON)
        clock.move_to(CALL + timedelta(minutes=6))
        with transaction(sessions) as session:
            roll_call.record_result(session, terms, ref, "U0CHAIR01", clock_now(), LONDON)

        clock.move_to(OUTCOME_AT)
        fairness = {p.key: ("yes", "") for p in PRINCIPLES}
        fairness["heard"] = ("no", HEARD_NOTE)
        with transaction(sessions) as session:
            recorded = outcomes.record_outcome(session, terms, OutcomeForm(
                reference=ref, actor="U0CHAIR01", process="informal",
                rationale="Errors without harm and insight shown: a supported plan is proportionate.",
                risk_level="moderate", risk_notes="Second checker at night meanwhile.", ml_policy_notify="no",
                legal_advice="no", welfare_offered="yes", line_manager_support="Fortnightly supervision.",
                fairness=fairness, actions=(NewAction("Agree a supported improvement plan", "U0MANAGER", DUE_1),
                                            NewAction("Audit the registers for October", "U0NURSELD", DUE_2))),
                clock_now(), LONDON, (), HERE)
        clock.move_to(OUTCOME_AT + timedelta(minutes=1))
        tick(sessions, engine, terms, fake, clock_now())
        ids = dict(zip((1, 2, 3), (*recorded.action_ids, *recorded.inquiry_ids), strict=True))
        with sessions() as session:
            chairs = outcomes.chair_ids(session, terms, session.get(Case, convened.case_id))

        clock.move_to(datetime(2026, 10, 29, 10, 0, tzinfo=UTC))  # after the clocks went back: GMT
        with transaction(sessions) as session:
            action_points.add_update(session, ids[1], "U0MANAGER", UPDATE_1, clock_now(), chairs)
        clock.move_to(datetime(2026, 11, 3, 15, 0, tzinfo=UTC))
        with transaction(sessions) as session:
            action_points.mark_done(session, ids[1], "U0MANAGER", clock_now(), chairs)
        clock.move_to(datetime(2026, 11, 4, 9, 30, tzinfo=UTC))
        with transaction(sessions) as session:
            outcomes.record_fairness(session, terms, session.get(Case, convened.case_id), "U0CHAIR01",
                                     {"heard": ("yes", "Account given on 3 November.")}, clock_now(),
                                     date(2026, 11, 4))
        clock.move_to(datetime(2026, 11, 10, 12, 0, tzinfo=UTC))
        with transaction(sessions) as session:
            action_points.change_due(session, ids[2], "U0NURSELD", NEW_DUE_2, DUE_REASON, clock_now(),
                                     date(2026, 11, 10), chairs)
        clock.move_to(datetime(2026, 11, 22, 16, 0, tzinfo=UTC))  # three days after the new due date
        with transaction(sessions) as session:
            action_points.mark_done(session, ids[2], "U0NURSELD", clock_now(), chairs)
        clock.move_to(CLOSED_AT)
        with transaction(sessions) as session:
            closing.close(session, terms, ref, "U0GOVERN1", CLOSE_REASON, clock_now(), LONDON)
    return Story(ref, convened.case_id, convened.room_id, ids)
