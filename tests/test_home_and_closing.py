"""Where people look (App Home, the case header) and closing a case; and no name anywhere, end to end.

Domain tests run on both backends with the fake Slack behind the domain's Workspace; HTTP tests drive
the running bot as Slack would (signed events, clicks and submissions) and assert what Slack received.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import now as real_now
from bot.domain import action_points, attendance, case_header, closing, home, outcomes, rescheduling
from bot.domain.action_points import NewAction
from bot.domain.errors import InvalidInput, NotAllowed
from bot.domain.fairness import PRINCIPLES
from bot.domain.notify import Budget, Message, MessageKind
from bot.domain.outcomes import OutcomeForm
from bot.domain.reminders import Reporting
from bot.domain.terms import Terms
from bot.sandbox.slack_api import FakeSlack
from handlers.slack import ids
from handlers.slack.workspace import SLACK_BUDGET, rendered
from storage.db import SessionFactory, transaction
from storage.tables import Case, CaseEvent, CaseStatus, Invitee, MessageState, Outcome, Reply, ScheduledMessage
from tests.conftest import SIGNING_SECRET
from tests.factories import HERE, LONDON, OUTSIDER_NAME, PEOPLE, STAFF_MEMBER, convene_state, load_roster
from tests.scheduling import convene_at, tick, workspace_for
from tests.slack_client import opened_view, submit_view

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday, GMT
CALL = datetime(2026, 11, 5, 14, 0, tzinfo=UTC)  # Thursday 14:00 GMT
CALL_END = CALL + timedelta(minutes=60)


# --- helpers --------------------------------------------------------------------------------------


class Clock:
    """A clock the test moves: what the running bot reads as "now"."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def roster_loaded(sessions: SessionFactory, terms: Terms) -> None:
    with sessions() as session:
        load_roster(session, terms)


@pytest.fixture
def bot_with(engine: Engine, sessions: SessionFactory, terms: Terms, directory: FakeSlack
             ) -> Iterator[Callable[..., Any]]:
    """Like the `bot` fixture, with a chosen clock and the archive-on-close setting."""
    from bot.config import load_settings
    from bot.web import create_web_app
    from handlers.slack.app import create_app
    from tests.slack_client import RunningBot

    started: list[Any] = []

    def build(*, archive: bool = False, clock: Callable[[], datetime] = real_now) -> Any:
        settings = load_settings({"SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                                  "SLACK_API_URL": directory.url, "DATABASE_URL": str(engine.url),
                                  "PMCCG_ARCHIVE_ON_CLOSE": "true" if archive else "false"}, dotenv=False)
        with sessions() as session:
            load_roster(session, terms)
        built = create_app(settings, terms=terms, engine=engine, now=clock)
        running = RunningBot(create_web_app(built, engine), SIGNING_SECRET, directory.url + "response")
        running.services = built.services  # type: ignore[attr-defined]
        running.app = built.app  # type: ignore[attr-defined]
        running.slack = directory  # type: ignore[attr-defined]
        started.append(running)
        return running

    yield build
    for running in started:
        running.stop()


def outcome_form(reference: str, actions: tuple[NewAction, ...] = (), actor: str = "U0CHAIR01",
                 fairness: str = "yes") -> OutcomeForm:
    return OutcomeForm(
        reference=reference, actor=actor, process="informal",
        rationale="Two errors in a month; a supported improvement plan is proportionate.", risk_level="moderate",
        risk_notes="Night shifts covered by a second checker meanwhile.", ml_policy_notify="no", legal_advice="no",
        welfare_offered="yes", line_manager_support="Weekly check-ins with the service lead.",
        fairness={p.key: (fairness if p.key == "heard" else "yes", "") for p in PRINCIPLES}, actions=actions,
        quorate_stated=True, quorum_statement="Chair, nursing lead and two members were on the call.")


def record(sessions: SessionFactory, terms: Terms, reference: str, at: datetime,
           actions: tuple[NewAction, ...] = (), fairness: str = "yes") -> outcomes.Recorded:
    with transaction(sessions) as session:
        return outcomes.record_outcome(session, terms, outcome_form(reference, actions, fairness=fairness), at,
                                       LONDON, (), HERE)


def load_case(sessions: SessionFactory, reference: str) -> Case:
    with sessions() as session:
        return session.exec(select(Case).where(Case.reference == reference)).one()


def case_messages(sessions: SessionFactory, case_id: int) -> list[ScheduledMessage]:
    with sessions() as session:
        return list(session.exec(select(ScheduledMessage).where(ScheduledMessage.case_id == case_id)))


def events_of(sessions: SessionFactory, case_id: int, kind: str) -> list[CaseEvent]:
    with sessions() as session:
        return list(session.exec(select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == kind)))


def blocks_text(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def actions_of(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def rich_texts(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["text"] for b in blocks if b["type"] == "rich_text" for s in b["elements"] for e in s["elements"]
            if e["type"] == "text"]


def sections(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b]


def open_home(bot: Any, user: str, tab: str = "home") -> Any:
    payload = {"token": "legacy", "team_id": "T0001", "api_app_id": "A0001", "type": "event_callback",
               "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}", "event_time": int(time.time()),
               "event": {"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": tab,
                         "event_ts": f"{time.time():.6f}"}}
    return bot.post(json.dumps(payload), headers={"Content-Type": "application/json"})


def convened_over_http(bot: Any, at: datetime) -> Case:
    before = len(bot.slack.calls_to("views.update"))
    bot.submit("U0MANAGER", "convene", convene_state(at))
    bot.slack.wait_for("views.update", count=before + 1)
    with bot.services.sessions() as session:
        return session.exec(select(Case).order_by(Case.id.desc())).first()  # type: ignore[union-attr]


def close_reason(text: str) -> dict[str, Any]:
    return {"reason": {"reason": {"type": "plain_text_input", "value": text}}}


# --- App Home -------------------------------------------------------------------------------------


def test_app_home_shows_my_action_points_with_rag_and_my_cases_with_their_next_step(bot: Any) -> None:
    first = convened_over_http(bot, real_now())
    second = convened_over_http(bot, real_now())
    today = real_now().astimezone(LONDON).date()
    # Recorded as if ten days ago, so one item can already be overdue today.
    record(bot.services.sessions, bot.services.terms, first.reference, real_now() - timedelta(days=10), (
        NewAction("Arrange a supervised medication round", "U0NURSELD", today + timedelta(days=30)),
        NewAction("Send the rota review to governance", "U0NURSELD", today - timedelta(days=3)),
        NewAction("Book the reflective practice session", "U0NURSELD", today + timedelta(days=2)),
    ))

    open_home(bot, "U0NURSELD", tab="messages")  # the Messages tab: nothing to publish
    response = open_home(bot, "U0NURSELD")
    assert response.status_code == 200
    (published,) = bot.slack.wait_for("views.publish", lambda c: c.params["user_id"] == "U0NURSELD")
    view = published.params["view"]
    assert view["type"] == "home" and bot.slack.home_views["U0NURSELD"]["type"] == "home"
    blocks = view["blocks"]
    text = sections(blocks)

    # My action points: soonest due first, each with its case, a date token and its RAG status.
    items = [t for t in text if ", action " in t]
    assert [t.split(" ", 1)[0] for t in items] == [":red_circle:", ":large_orange_circle:", ":large_green_circle:"]
    assert all(f"*{first.reference}*" in t and "due <!date^" in t for t in items)
    assert items[0].endswith("Overdue") and items[1].endswith("Due soon") and items[2].endswith("On track")
    # Typed descriptions are shown literally, only in rich_text.
    assert rich_texts(blocks) == ["Send the rota review to governance", "Book the reflective practice session",
                                  "Arrange a supervised medication round"]
    assert all("rota review" not in t for t in text)

    # My cases: the outcome is recorded but not yet circulated; the second case waits for my reply.
    cases = {t.split("*")[1]: t for t in text if "*Next:*" in t}
    assert "*Next:* Circulation pending" in cases[first.reference]
    assert "*Next:* Tell the group whether you will attend" in cases[second.reference]
    assert "you: Professional lead" in cases[second.reference]
    assert len(bot.slack.calls_to("views.publish")) == 1

    # The convener (attending their own call) is shown the call itself, as a date token.
    open_home(bot, "U0MANAGER")
    (mine,) = bot.slack.wait_for("views.publish", lambda c: c.params["user_id"] == "U0MANAGER")
    step = next(t for t in sections(mine.params["view"]["blocks"]) if t.startswith(f"*{second.reference}*"))
    assert f"*Next:* Call <!date^{int(second.call_at.timestamp())}^" in step
    assert "You have no open action points." in sections(mine.params["view"]["blocks"])


def test_pmccg_home_brings_that_persons_home_tab_up_to_date_and_says_so_privately(bot: Any) -> None:
    case = convened_over_http(bot, real_now())
    bot.slack.clear()
    bot.command("U0NURSELD", "home")
    (published,) = bot.slack.wait_for("views.publish", lambda c: c.params["user_id"] == "U0NURSELD")
    assert any(t.startswith(f"*{case.reference}*") for t in sections(published.params["view"]["blocks"]))
    (said,) = bot.slack.wait_for("response", lambda c: "Home" in c.params["text"])
    assert said.params["response_type"] == "ephemeral"
    assert len(bot.slack.calls_to("views.publish")) == 1  # only the person who asked


def test_my_cases_next_step_follows_the_case_from_invitation_to_closing(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack, roster_loaded: None) -> None:
    convened = convene_at(sessions, engine, terms, fake_slack, NOW, CALL)
    ref = convened.reference

    def step(user: str, at: datetime) -> tuple[str, datetime | None]:
        with sessions() as session:
            view = home.home_view(session, terms, user, LONDON, at)
        return next(((c.next_step, c.next_step_at) for c in view.cases if c.reference == ref), ("(not listed)", None))

    assert step("U0NURSELD", NOW) == ("Tell the group whether you will attend", None)
    assert step("U0MANAGER", NOW) == ("Call", CALL)
    assert step("U0OUTSIDE", NOW) == ("(not listed)", None)
    with transaction(sessions) as session:
        attendance.record_reply(session, terms, ref, "U0NURSELD", Reply.ATTENDING, NOW, LONDON)
    assert step("U0NURSELD", NOW) == ("Call", CALL)

    after_call = CALL_END + timedelta(minutes=5)
    assert step("U0CHAIR01", after_call) == ("Record the outcome", None)
    assert step("U0GOVERN1", after_call) == ("Record the outcome", None)  # governance may record it too
    assert step("U0NURSELD", after_call) == ("Waiting for the chair to record the outcome", None)

    recorded = record(sessions, terms, ref, after_call, (
        NewAction("Arrange a supervised medication round", "U0NURSELD", date(2026, 11, 20)),
        NewAction("Review the night rota", "U0SERVICE", date(2026, 11, 27))))
    assert step("U0NURSELD", after_call) == ("Circulation pending", None)
    with transaction(sessions) as session:
        outcome = session.exec(select(Outcome)).one()
        outcome.circulated_at = after_call + timedelta(minutes=1)
        session.add(outcome)
    assert step("U0CHAIR01", after_call) == ("2 action points open", None)

    with transaction(sessions) as session:
        for action_id in recorded.action_ids:
            action_points.mark_done(session, action_id, "U0CHAIR01", after_call, {"U0CHAIR01"})
    assert step("U0CHAIR01", after_call) == ("Every action point is done or dropped: the case can be closed", None)

    with transaction(sessions) as session:
        closing.close(session, terms, ref, "U0CHAIR01", "", after_call, LONDON)
    assert step("U0CHAIR01", after_call) == ("(not listed)", None)  # closed cases drop off


def test_a_cancelled_case_is_listed_last_as_cancelled_and_a_closed_cases_items_drop_off(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack, roster_loaded: None) -> None:
    cancelled = convene_at(sessions, engine, terms, fake_slack, NOW, CALL, key="V1")
    kept = convene_at(sessions, engine, terms, fake_slack, NOW, CALL + timedelta(days=1), key="V2")
    closed = convene_at(sessions, engine, terms, fake_slack, NOW, CALL + timedelta(days=2), key="V3")
    with transaction(sessions) as session:
        rescheduling.cancel(session, terms, cancelled.reference, "U0MANAGER", "Resolved informally.", NOW)
    record(sessions, terms, closed.reference, NOW, (NewAction("Review the rota", "U0NURSELD", date(2026, 11, 20)),))
    with transaction(sessions) as session:
        closing.close(session, terms, closed.reference, "U0CHAIR01", "Superseded by a formal process.", NOW, LONDON)

    with sessions() as session:
        view = home.home_view(session, terms, "U0NURSELD", LONDON, NOW)
    assert [(c.reference, c.status_label, c.next_step) for c in view.cases] == [
        (kept.reference, "Convened", "Tell the group whether you will attend"),
        (cancelled.reference, "Cancelled", "Cancelled"),
    ]
    assert view.items == ()


def _insert_case(session: Any, seq: int, user: str) -> Case:
    case = Case(reference=f"PMCCG-2026-{seq:03d}", prefix="PMCCG", year=2026, seq=seq, profession="nursing",
                route="incident", concern="Medication errors.", risks="Patient safety.",
                call_at=CALL + timedelta(days=seq), duration_minutes=60, call_details="https://meet.example.org/pmccg",
                convener_id="U0MANAGER", room_id=f"C0ROOM{seq:03d}", room_name=f"pmccg-2026-{seq:03d}",
                created_at=NOW, convene_key=f"K{seq}")
    session.add(case)
    session.flush()
    session.add(Invitee(case_id=case.id or 0, user_id=user, seat="professional_lead", seat_label="Professional lead"))
    return case


def test_app_home_lists_at_most_twenty_items_and_twenty_cases_then_says_how_many_more(
        sessions: SessionFactory, terms: Terms, roster_loaded: None) -> None:
    with transaction(sessions) as session:
        cases = [_insert_case(session, seq, "U0NURSELD") for seq in range(1, 24)]
        for n in range(25):
            action_points.add(session, cases[0], NewAction(f"Review rota block {n + 1}", "U0NURSELD",
                                                           date(2026, 11, 10) + timedelta(days=n)),
                              "U0CHAIR01", NOW, "channel")
    with sessions() as session:
        view = home.home_view(session, terms, "U0NURSELD", LONDON, NOW, SLACK_BUDGET)
        # The budget is the platform's: another platform's (or none) lists another number.
        smaller = home.home_view(session, terms, "U0NURSELD", LONDON, NOW, Budget(items_on_home=3, cases_on_home=2))
        unbounded = home.home_view(session, terms, "U0NURSELD", LONDON, NOW)
    assert (len(view.items), view.more_items, len(view.cases), view.more_cases) == (20, 5, 20, 3)
    assert (len(smaller.items), smaller.more_items, len(smaller.cases), smaller.more_cases) == (3, 22, 2, 21)
    assert (len(unbounded.items), unbounded.more_items, len(unbounded.cases), unbounded.more_cases) == (25, 0, 23, 0)

    blocks = rendered(Message(MessageKind.HOME, view))["blocks"]
    assert len(blocks) <= 100
    context = [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]
    assert any(t.startswith("and 5 more") for t in context) and "and 3 more." in context


# --- the case header ------------------------------------------------------------------------------


def test_the_header_shows_open_and_overdue_counts_once_an_outcome_is_recorded(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack, roster_loaded: None) -> None:
    convened = convene_at(sessions, engine, terms, fake_slack, NOW, CALL)
    case = load_case(sessions, convened.reference)
    posted = fake_slack.messages[case.header_ref or ""]["blocks"]
    assert actions_of(posted) == [ids.CASE_RECORD_OUTCOME, ids.CASE_RESCHEDULE, ids.CASE_CANCEL, ids.CASE_CLOSE]
    assert all(e["value"] == case.reference for b in posted if b["type"] == "actions" for e in b["elements"])
    assert "Action points" not in blocks_text(posted)

    record(sessions, terms, case.reference, CALL_END, (
        NewAction("Arrange a supervised medication round", "U0NURSELD", date(2026, 11, 10)),
        NewAction("Review the night rota", "U0SERVICE", date(2026, 11, 27))), fairness="unknown")
    case_header.refresh_header(sessions, terms, case.id or 0, workspace_for(fake_slack), LONDON, date(2026, 11, 12))

    header = fake_slack.messages[case.header_ref or ""]["blocks"]
    # Two from the outcome and the further inquiry the "unknown" fairness answer created (due in 14 days).
    assert "*Action points:* 3 open, 1 overdue" in sections(header)[-1]
    # The call has taken place: closing is all that is left to do from the header.
    assert actions_of(header) == [ids.CASE_CLOSE]


def test_a_closed_header_has_no_buttons(sessions: SessionFactory, engine: Engine, terms: Terms,
                                        fake_slack: FakeSlack, roster_loaded: None) -> None:
    convened = convene_at(sessions, engine, terms, fake_slack, NOW, CALL)
    record(sessions, terms, convened.reference, CALL_END)
    with transaction(sessions) as session:
        result = closing.close(session, terms, convened.reference, "U0CHAIR01", "", CALL_END, LONDON)
    closing.announce_closed(sessions, terms, workspace_for(fake_slack), LONDON, result, Reporting())
    header = fake_slack.messages[load_case(sessions, convened.reference).header_ref or ""]
    assert actions_of(header["blocks"]) == [] and "This case is closed" in blocks_text(header["blocks"])
    assert "closed" in header["text"]


# --- closing (domain) -----------------------------------------------------------------------------


@pytest.mark.parametrize(("actor", "allowed"), [
    pytest.param("U0CHAIR01", True, id="the chair on the case"),
    pytest.param("U0DEPUTY1", False, id="a deputy chair on the roster who is not on the case: refused"),
    pytest.param("U0GOVERN1", True, id="governance"),
    pytest.param("U0MANAGER", False, id="the convener who is not the chair: refused"),
    pytest.param("U0NURSELD", False, id="a member: refused"),
])
def test_only_the_chair_or_governance_may_close(sessions: SessionFactory, engine: Engine, terms: Terms,
                                               fake_slack: FakeSlack, roster_loaded: None, actor: str,
                                               allowed: bool) -> None:
    convened = convene_at(sessions, engine, terms, fake_slack, NOW, CALL)
    record(sessions, terms, convened.reference, CALL_END)
    with transaction(sessions) as session:
        if allowed:
            closing.close(session, terms, convened.reference, actor, "", CALL_END, LONDON)
        else:
            with pytest.raises(NotAllowed) as refused:
                closing.close(session, terms, convened.reference, actor, "", CALL_END, LONDON)
            assert "U0CHAIR01" in refused.value.contacts and "U0GOVERN1" in refused.value.contacts
    assert load_case(sessions, convened.reference).status == (CaseStatus.CLOSED if allowed else CaseStatus.CONVENED)


def test_the_deputy_the_chair_named_may_close_that_case(sessions: SessionFactory, engine: Engine, terms: Terms,
                                                        fake_slack: FakeSlack, roster_loaded: None) -> None:
    convened = convene_at(sessions, engine, terms, fake_slack, NOW, CALL)
    with transaction(sessions) as session:
        attendance.record_reply(session, terms, convened.reference, "U0CHAIR01", Reply.DEPUTY, NOW, LONDON,
                                "U0DEPUTY1", people=HERE)
    record(sessions, terms, convened.reference, CALL_END)
    with transaction(sessions) as session:
        closing.close(session, terms, convened.reference, "U0DEPUTY1", "", CALL_END, LONDON)
    assert load_case(sessions, convened.reference).status == CaseStatus.CLOSED


@pytest.mark.parametrize(("reason", "message"), [
    pytest.param("", "2 action points are still open", id="no reason while items are open"),
    pytest.param("   ", "2 action points are still open", id="only spaces"),
    pytest.param("Agreed with Imogen Thistlewood to stop here.", "name", id="a name in the reason"),
    pytest.param("x" * 1001, "under 1000 characters", id="too long"),
])
def test_closing_with_open_items_needs_a_reason_given_at_its_field(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack, roster_loaded: None,
        reason: str, message: str) -> None:
    convened = convene_at(sessions, engine, terms, fake_slack, NOW, CALL)
    record(sessions, terms, convened.reference, CALL_END, (
        NewAction("Arrange a supervised medication round", "U0NURSELD", date(2026, 11, 20)),
        NewAction("Review the night rota", "U0SERVICE", date(2026, 11, 27))))
    with transaction(sessions) as session, pytest.raises(InvalidInput) as refused:
        closing.close(session, terms, convened.reference, "U0CHAIR01", reason, CALL_END, LONDON)
    assert list(refused.value.fields) == ["reason"] and message in refused.value.fields["reason"]
    assert load_case(sessions, convened.reference).status == CaseStatus.CONVENED
    assert events_of(sessions, convened.case_id, "closed") == []


def test_a_closed_or_cancelled_case_cannot_be_closed(sessions: SessionFactory, engine: Engine, terms: Terms,
                                                     fake_slack: FakeSlack, roster_loaded: None) -> None:
    closed = convene_at(sessions, engine, terms, fake_slack, NOW, CALL, key="V1")
    cancelled = convene_at(sessions, engine, terms, fake_slack, NOW, CALL, key="V2")
    record(sessions, terms, closed.reference, CALL_END)
    with transaction(sessions) as session:
        closing.close(session, terms, closed.reference, "U0CHAIR01", "", CALL_END, LONDON)
        rescheduling.cancel(session, terms, cancelled.reference, "U0MANAGER", "Resolved informally.", NOW)
    for reference, said in ((closed.reference, "already closed"), (cancelled.reference, "cancelled")):
        with transaction(sessions) as session, pytest.raises(NotAllowed, match=said):
            closing.close(session, terms, reference, "U0GOVERN1", "Tidying up.", CALL_END, LONDON)


def test_closing_without_an_outcome_needs_a_reason(sessions: SessionFactory, engine: Engine, terms: Terms,
                                                   fake_slack: FakeSlack, roster_loaded: None) -> None:
    convened = convene_at(sessions, engine, terms, fake_slack, NOW, CALL)
    with transaction(sessions) as session, pytest.raises(InvalidInput, match="No outcome is recorded"):
        closing.close(session, terms, convened.reference, "U0CHAIR01", "", NOW, LONDON)


@pytest.mark.parametrize(("circulated_after", "expected"), [
    pytest.param(timedelta(days=3), "3 days after the call (within 7 days)", id="circulated within the week"),
    pytest.param(timedelta(days=9), "9 days after the call :warning: (later than 7 days)", id="circulated late"),
    pytest.param(None, "Not circulated", id="never circulated"),
])
def test_the_closing_summary_counts_items_and_days_to_circulation(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack, roster_loaded: None,
        circulated_after: timedelta | None, expected: str) -> None:
    convened = convene_at(sessions, engine, terms, fake_slack, NOW, CALL)
    recorded = record(sessions, terms, convened.reference, CALL_END, (
        NewAction("Arrange a supervised medication round", "U0NURSELD", date(2026, 11, 20)),
        NewAction("Review the night rota", "U0SERVICE", date(2026, 11, 27)),
        NewAction("Share the learning", "U0GOVERN1", date(2026, 11, 27))))
    with transaction(sessions) as session:
        if circulated_after is not None:
            outcome = session.exec(select(Outcome)).one()
            outcome.circulated_at = CALL + circulated_after
            session.add(outcome)
        action_points.mark_done(session, recorded.action_ids[0], "U0NURSELD", CALL_END, set())
        action_points.drop(session, recorded.action_ids[1], "U0CHAIR01", "Rota already changed.", CALL_END,
                           {"U0CHAIR01"})
    fake_slack.clear()
    with transaction(sessions) as session:
        result = closing.close(session, terms, convened.reference, "U0CHAIR01", "The last item moves to appraisal.",
                               CALL_END + timedelta(days=10), LONDON)
    closing.announce_closed(sessions, terms, workspace_for(fake_slack), LONDON, result, Reporting())
    (post,) = [c for c in fake_slack.delivered("chat.postMessage") if c.params["channel"] == convened.room_id]
    fields = [f["text"] for b in post.params["blocks"] if b["type"] == "section" for f in b.get("fields", [])]
    assert fields == ["*Recommendation to the Medical Director*\nInformal process", "*Quorate*\nYes",
                      "*Action points*\n1 done, 1 dropped, 1 open", f"*Action points circulated*\n{expected}"]
    assert rich_texts(post.params["blocks"]) == ["Reason for closing\n", "The last item moves to appraisal."]
    assert fake_slack.calls_to("conversations.archive") == []


# --- closing over HTTP ----------------------------------------------------------------------------


def test_closing_with_open_items_is_refused_without_a_reason_then_closes_with_one(bot: Any) -> None:
    case = convened_over_http(bot, real_now())
    today = real_now().astimezone(LONDON).date()
    record(bot.services.sessions, bot.services.terms, case.reference, real_now(), (
        NewAction("Arrange a supervised medication round", "U0NURSELD", today + timedelta(days=9)),
        NewAction("Review the night rota", "U0SERVICE", today + timedelta(days=20))))
    assert any(m.state == MessageState.PENDING for m in case_messages(bot.services.sessions, case.id or 0))

    bot.click("U0CHAIR01", ids.CASE_CLOSE, case.reference, channel=case.room_id, message_ts=case.header_ref)
    view = opened_view(bot.slack)
    # The form carries only its nonce; the case it closes is kept by the bot.
    assert view["callback_id"] == ids.CLOSE_VIEW and case.reference not in view["private_metadata"]
    assert "2 action points are still open" in blocks_text(view["blocks"])
    (field,) = [b for b in view["blocks"] if b["type"] == "input"]
    assert field["block_id"] == ids.CLOSE_REASON_FIELD and field["optional"] is False

    response = submit_view(bot, "U0CHAIR01", view, close_reason(""))
    body = response.json()
    assert body["response_action"] == "errors" and "2 action points are still open" in body["errors"]["reason"]
    assert load_case(bot.services.sessions, case.reference).status == CaseStatus.CONVENED

    bot.slack.clear()
    reason = "Referred to the formal process; the items move to its plan. <!channel>"
    response = submit_view(bot, "U0CHAIR01", view, close_reason(reason))
    assert response.json()["response_action"] == "update"

    post = bot.slack.wait_for("chat.postMessage", lambda c: c.params["channel"] == case.room_id)[-1]
    assert f"{case.reference} is closed* by <@U0CHAIR01>" in blocks_text(post.params["blocks"])
    assert "0 done, 0 dropped, 2 open" in blocks_text(post.params["blocks"])
    assert reason in rich_texts(post.params["blocks"]) and reason not in json.dumps(sections(post.params["blocks"]))
    header = bot.slack.wait_for("chat.update", lambda c: c.params["ts"] == case.header_ref)[-1]
    assert actions_of(header.params["blocks"]) == [] and "*Action points:* 2 open, 0 overdue" in \
        blocks_text(header.params["blocks"])
    bot.slack.wait_for("views.update", lambda c: c.params["view"]["title"]["text"] == "Closed")
    assert bot.slack.calls_to("conversations.archive") == []  # archiving is off by default

    after = load_case(bot.services.sessions, case.reference)
    assert after.status == CaseStatus.CLOSED and after.close_reason == reason and after.closed_at is not None
    messages = case_messages(bot.services.sessions, case.id or 0)
    assert not [m for m in messages if m.state == MessageState.PENDING]
    (event,) = events_of(bot.services.sessions, case.id or 0, "closed")
    assert event.actor_id == "U0CHAIR01" and json.loads(event.detail)["open_items"] == 2
    assert "formal process" not in event.detail  # the reason's text stays on the case

    # The same form delivered again (a replay, a double submit): answered quietly, nothing posted again.
    again = submit_view(bot, "U0CHAIR01", view, close_reason(reason)).json()
    assert again["view"]["title"]["text"] == "Already saved"
    assert len(events_of(bot.services.sessions, case.id or 0, "closed")) == 1
    assert len([c for c in bot.slack.calls_to("chat.postMessage") if c.params["channel"] == case.room_id
                and "is closed" in c.params["text"]]) == 1


def test_closing_when_every_item_is_done_needs_no_reason_and_archives_when_set(bot_with: Any) -> None:
    bot = bot_with(archive=True)
    case = convened_over_http(bot, real_now())
    today = real_now().astimezone(LONDON).date()
    recorded = record(bot.services.sessions, bot.services.terms, case.reference, real_now(), (
        NewAction("Arrange a supervised medication round", "U0NURSELD", today + timedelta(days=9)),))
    with transaction(bot.services.sessions) as session:
        action_points.mark_done(session, recorded.action_ids[0], "U0NURSELD", real_now(), set())

    bot.command("U0GOVERN1", f"close {case.reference.lower()}")
    view = opened_view(bot.slack)
    assert "A closing note is optional" in blocks_text(view["blocks"])
    response = submit_view(bot, "U0GOVERN1", view, {})
    assert response.json()["response_action"] == "update"

    (archived,) = bot.slack.wait_for("conversations.archive")
    assert archived.params["channel"] == case.room_id
    post = next(c for c in bot.slack.calls_to("chat.postMessage") if c.params["channel"] == case.room_id
                and "is closed" in c.params["text"])
    assert post.at <= archived.at and "1 done, 0 dropped, 0 open" in blocks_text(post.params["blocks"])
    assert "This channel is now archived." in blocks_text(post.params["blocks"])
    assert load_case(bot.services.sessions, case.reference).close_reason is None


def test_a_member_who_is_not_the_chair_is_refused_privately(bot: Any) -> None:
    case = convened_over_http(bot, real_now())
    bot.slack.clear()
    bot.click("U0NURSELD", ids.CASE_CLOSE, case.reference, channel=case.room_id, message_ts=case.header_ref)
    bot.command("U0NURSELD", f"close {case.reference}")
    replies = bot.slack.wait_for("response", count=2)
    assert all("Only the chair of" in r.params["text"] and r.params["response_type"] == "ephemeral"
               for r in replies)
    assert "<@U0CHAIR01>" in replies[0].params["text"]
    assert bot.slack.calls_to("views.open") == []
    assert not [c for c in bot.slack.calls_to("chat.postMessage") if c.params["channel"] == case.room_id]

    bot.command("U0CHAIR01", "close")
    (usage,) = bot.slack.wait_for("response", lambda c: "Which case?" in c.params["text"])
    assert usage.params["response_type"] == "ephemeral"
    assert load_case(bot.services.sessions, case.reference).status == CaseStatus.CONVENED


# --- no name anywhere, end to end -------------------------------------------------------------------


def _names() -> list[str]:
    names = [OUTSIDER_NAME, STAFF_MEMBER[1]]
    for name, _, _ in PEOPLE.values():
        names += [name, name.split()[0].lower()]  # the real name and the display name the directory holds
    return names


def test_a_whole_case_never_shows_a_name_to_slack_or_the_log(bot_with: Any, sessions: SessionFactory,
                                                             engine: Engine, terms: Terms,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    clock = Clock(NOW)
    bot = bot_with(clock=clock, archive=True)
    fake: FakeSlack = bot.slack

    def ticks(start: datetime, end: datetime, every: timedelta) -> None:
        at = start
        while at <= end:
            report = tick(sessions, engine, terms, fake, at)
            assert report.errors == [], (at, report.errors)
            at += every

    # Convene, answer, and the call itself (roll-call), through the app and the scheduler.
    case = convened_over_http(bot, NOW)
    ref, room = case.reference, case.room_id
    for member in ("U0CHAIR01", "U0NURSELD", "U0GOVERN1", "U0SERVICE", "U0CLINDIR"):
        bot.click(member, ids.ATTENDING, ref, channel=room, message_ts=case.board_ref)
    bot.click("U0PEOPLE1", ids.APOLOGIES, ref, channel=room, message_ts=case.board_ref)
    fake.wait_for("response", count=6)
    ticks(NOW, CALL, timedelta(hours=6))
    ticks(CALL, CALL, timedelta(hours=1))  # the roll-call
    clock.at = CALL + timedelta(minutes=2)
    for member in ("U0CHAIR01", "U0NURSELD", "U0GOVERN1", "U0MANAGER"):
        bot.click(member, ids.ROLL_CALL_PRESENT, ref, channel=room)
    fake.wait_for("response", count=10)
    ticks(CALL_END, CALL_END, timedelta(hours=1))

    # The outcome with action points (one fairness answer unknown: an inquiry for the chair), circulated.
    recorded_at = CALL_END + timedelta(hours=1)
    recorded = record(sessions, terms, ref, recorded_at, (
        NewAction("Arrange a supervised medication round", "U0NURSELD", date(2026, 11, 10)),
        NewAction("Review the night rota", "U0SERVICE", date(2026, 11, 20))), fairness="unknown")
    case_header.refresh_header(sessions, terms, case.id or 0, workspace_for(fake), LONDON, recorded_at.date())
    ticks(recorded_at, recorded_at + timedelta(minutes=5), timedelta(minutes=5))

    # A week and a bit of reminders; one owner marks theirs done from the reminder.
    ticks(recorded_at + timedelta(hours=2), recorded_at + timedelta(days=8), timedelta(hours=2))
    clock.at = recorded_at + timedelta(days=8)
    reminder = next(ts for ts, m in fake.messages.items() if m["channel"] == "DU0NURSELD"
                    and f'"{ids.ACTION_DONE}"' in json.dumps(m.get("blocks", [])))
    done = next(e["value"] for b in fake.messages[reminder]["blocks"] if b["type"] == "actions"
                for e in b["elements"] if e["action_id"] == ids.ACTION_DONE
                and e["value"].split(":")[0] == str(recorded.action_ids[0]))
    bot.click("U0NURSELD", ids.ACTION_DONE, done, channel="DU0NURSELD", message_ts=reminder)
    fake.wait_for("chat.update", lambda c: c.params["ts"] == reminder)  # the reminder, updated in place
    for user in ("U0NURSELD", "U0CHAIR01", "U0STAFF01", "U0OUTSIDE"):
        open_home(bot, user)
    fake.wait_for("views.publish", count=4)

    # Close with the items still open, then look again.
    opens = len(fake.calls_to("views.open")) + 1
    bot.click("U0CHAIR01", ids.CASE_CLOSE, ref, channel=room, message_ts=case.header_ref)
    submit_view(bot, "U0CHAIR01", opened_view(fake, opens),
                close_reason("The remaining items move to the formal plan."))
    fake.wait_for("conversations.archive")
    fake.wait_for("views.update", lambda c: c.params["view"]["title"]["text"] == "Closed")
    ticks(clock.at, clock.at + timedelta(days=2), timedelta(hours=6))
    open_home(bot, "U0CHAIR01")
    fake.wait_for("views.publish", count=5)
    assert load_case(sessions, ref).status == CaseStatus.CLOSED

    # Everything Slack was sent, by any method, and everything logged.
    sent = [json.dumps({"method": c.method, "params": c.params}, ensure_ascii=False, default=str)
            for c in fake.calls]
    sent += [content.decode("utf-8", "replace") for content in fake.uploads.values()]
    logged = [f"{r.getMessage()} {vars(r)}" for r in caplog.records]
    methods = {c.method for c in fake.calls}
    assert {"chat.postMessage", "chat.update", "views.open", "views.update", "views.publish", "response",
            "files.completeUploadExternal", "conversations.archive"} <= methods and logged
    for name in _names():
        leaks = [s[:200] for s in sent if name.lower() in s.lower()]
        assert leaks == [], f"{name!r} was sent to Slack"
        assert [line for line in logged if name.lower() in line.lower()] == [], f"{name!r} was logged"
