"""Circulating the outcome within one week of the call: circulate, chase at five days, escalate at seven."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time
from sqlalchemy.engine import Engine

from bot import clock
from bot.domain.action_points import NewAction
from bot.domain.errors import PlatformFailure
from bot.domain.fairness import PRINCIPLES
from bot.domain.history import events
from bot.domain.notify import Message, Posted
from bot.domain.outcomes import OutcomeForm, outcome_of, record_outcome
from bot.domain.reminders import Reporting, send_due
from bot.domain.terms import Terms, load_terms
from bot.sandbox.slack_api import Call, FakeSlack
from bot.scheduler import Ticker
from storage.db import SessionFactory, transaction
from storage.tables import MessageState
from tests.factories import HERE, LONDON, PEOPLE, STAFF_MEMBER, all_names, load_roster
from tests.scheduling import case, convene_at, dms, rows, tick, workspace_for

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday, GMT
CALL = datetime(2026, 11, 5, 14, 0, tzinfo=UTC)  # Thursday 14:00 GMT; the call lasts an hour
AFTER = CALL + timedelta(hours=2)  # everything owed before and at the call is over by then
CHASE = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)  # call end + 5 days
ESCALATE = datetime(2026, 11, 12, 15, 0, tzinfo=UTC)  # call end + 7 days

CHAIR, MANAGER, PEOPLE_TEAM, GOVERNANCE, DIRECTOR = "U0CHAIR01", "U0MANAGER", "U0PEOPLE1", "U0GOVERN1", "U0MEDDIR1"
RATIONALE = "Repeated errors despite informal support: a structured formal process protects patients."
RISK_NOTES = "Night shifts carry most of the exposure until supervision is in place."
SUPPORT = "Fortnightly check-ins with the service lead while the process runs."
QUORUM = "Five members joined by phone; the chair confirmed each at the start."
ROUNDS = NewAction("Arrange supervised medication rounds for four weeks.", MANAGER, date(2026, 11, 20))
REVIEW = NewAction("Share the incident review with the ward team.", MANAGER, date(2026, 11, 6))
REFERRAL = NewAction("Offer an occupational health referral.", PEOPLE_TEAM, date(2026, 12, 4))
# "heard" is answered "unknown": a further-inquiry action point owned by the chair.
INQUIRY = "Further inquiry (Ensuring the practitioner is heard"
NO_REPORTING = Reporting()
NAMES = [name for name, _, _ in PEOPLE.values()] + [STAFF_MEMBER[1]]
WEEK_TEXT = "action points were not circulated within one week of the call on Thursday 5 November 2026"


@pytest.fixture(autouse=True)
def roster_loaded(sessions: SessionFactory, terms: Terms) -> None:
    with sessions() as session:
        load_roster(session, terms)


# --- helpers --------------------------------------------------------------------------------------


def convene(sessions: SessionFactory, engine: Engine, terms: Terms, fake: FakeSlack) -> str:
    """Convene a case and let everything owed up to the end of the call go by (the roll-call unused)."""
    reference = convene_at(sessions, engine, terms, fake, NOW, CALL).reference
    tick(sessions, engine, terms, fake, AFTER)
    fake.clear()
    return reference


def record(sessions: SessionFactory, terms: Terms, reference: str, at: datetime, *, risk: str = "moderate") -> None:
    fairness = {p.key: ("yes", "") for p in PRINCIPLES} | {"heard": ("unknown", "Account not yet given.")}
    form = OutcomeForm(reference=reference, actor=CHAIR, process="formal", rationale=RATIONALE, risk_level=risk,
                       risk_notes=RISK_NOTES, ml_policy_notify="no", legal_advice="yes", welfare_offered="yes",
                       line_manager_support=SUPPORT, fairness=fairness, actions=(ROUNDS, REVIEW, REFERRAL),
                       quorate_stated=True, quorum_statement=QUORUM)
    with transaction(sessions) as session:
        record_outcome(session, terms, form, at, LONDON, all_names(), HERE)


def circulate(sessions: SessionFactory, engine: Engine, terms: Terms, fake: FakeSlack, *, risk: str = "moderate",
              reporting: Reporting = NO_REPORTING) -> str:
    """Convene, record the outcome after the call, and run the tick that circulates it."""
    reference = convene(sessions, engine, terms, fake)
    record(sessions, terms, reference, AFTER + timedelta(minutes=1), risk=risk)
    send_due(sessions, engine, workspace_for(fake), terms, LONDON, AFTER + timedelta(minutes=2),
             reporting=reporting)
    return reference


def posts_to(fake: FakeSlack, channel: str) -> list[Call]:
    return [c for c in fake.delivered("chat.postMessage") if c.params["channel"] == channel]


def rich_texts(call: Call) -> list[str]:
    """What rich_text "text" elements say (where typed text goes), in order."""
    return [e.get("text", "") for b in call.params["blocks"] if b["type"] == "rich_text"
            for section in b["elements"] for e in section["elements"]]


def everything(call: Call) -> str:
    return json.dumps({"text": call.params.get("text"), "blocks": call.params.get("blocks")}, ensure_ascii=False)


def assert_no_names(fake: FakeSlack) -> None:
    for call in fake.delivered("chat.postMessage") + fake.delivered("chat.update"):
        for name in NAMES:
            assert name not in everything(call), (name, call.params.get("text"))


def ticker(sessions: SessionFactory, engine: Engine, terms: Terms, fake: FakeSlack,
           reporting: Reporting = NO_REPORTING) -> Ticker:
    return Ticker(sessions, engine, workspace_for(fake), terms, LONDON, clock.now, reporting=reporting)


# --- circulating --------------------------------------------------------------------------------


def test_the_summary_in_the_case_channel_is_a_recommendation_to_the_medical_director(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    reference = circulate(sessions, engine, terms, fake_slack)
    [summary] = posts_to(fake_slack, case(sessions, reference).room_id)
    recommendation = "The group recommends to the Medical Director: Formal process"
    assert recommendation in summary.params["text"]
    assert any(recommendation in b.get("text", {}).get("text", "") for b in summary.params["blocks"])
    shown = everything(summary)
    for label in ("Risk level", "Moderate", "Medical-liability policy to be notified", "Legal advice needed",
                  "Welfare support offered", "Ensuring the practitioner is heard: *Unknown*",
                  "Quorate*\\nYes (stated: no roll-call was taken)"):
        assert label in shown, label
    # Typed text is shown literally, in rich_text only.
    typed = "".join(rich_texts(summary))
    for text in (RATIONALE, RISK_NOTES, SUPPORT, QUORUM, "Account not yet given.", ROUNDS.description,
                 REVIEW.description, REFERRAL.description, INQUIRY):
        assert text in typed, text
    assert RATIONALE not in summary.params["text"]
    # Each action point: its owner mentioned, its due date as a date token, its RAG status.
    elements = [e for b in summary.params["blocks"] if b["type"] == "rich_text"
                for s in b["elements"] for e in s["elements"]]
    assert {e["user_id"] for e in elements if e["type"] == "user"} == {MANAGER, PEOPLE_TEAM, CHAIR}
    dates = [e for e in elements if e["type"] == "date"]
    assert [d["fallback"] for d in dates] == ["Friday 20 November 2026", "Friday 6 November 2026",
                                              "Friday 4 December 2026", "Thursday 19 November 2026"]
    assert "Amber: due soon" in typed and "Green" in typed  # the review is due tomorrow: amber
    assert_no_names(fake_slack)


def test_circulating_marks_the_outcome_circulated_and_plans_the_owners_reminders(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    reference = circulate(sessions, engine, terms, fake_slack)
    with sessions() as session:
        found = case(sessions, reference)
        outcome = outcome_of(session, found.id or 0)
        assert outcome is not None and outcome.circulated_at == AFTER + timedelta(minutes=2)
        assert "outcome_circulated" in [e.kind for e in events(session, found.id or 0)]
    assert [r.state for r in rows(sessions, "circulation")] == [MessageState.SENT]
    # Each owner's reminders are planned from the circulation on.
    assert {r.recipient for r in rows(sessions, "action_digest")} == {MANAGER, PEOPLE_TEAM, CHAIR}


def test_each_owner_gets_one_direct_message_with_only_their_items(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    circulate(sessions, engine, terms, fake_slack)
    owed = {c.params["channel"]: "".join(rich_texts(c)) for c in dms(fake_slack, "Your action points")}
    assert Counter(c.params["channel"] for c in dms(fake_slack, "Your action points")) == {
        MANAGER: 1, PEOPLE_TEAM: 1, CHAIR: 1}
    assert ROUNDS.description in owed[MANAGER] and REVIEW.description in owed[MANAGER]
    assert REFERRAL.description not in owed[MANAGER] and INQUIRY not in owed[MANAGER]
    assert REFERRAL.description in owed[PEOPLE_TEAM] and ROUNDS.description not in owed[PEOPLE_TEAM]
    assert INQUIRY in owed[CHAIR] and REFERRAL.description not in owed[CHAIR]
    assert_no_names(fake_slack)


def test_the_medical_director_gets_the_anonymised_recommendation(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    reference = circulate(sessions, engine, terms, fake_slack)
    [sent] = dms(fake_slack, f"PMCCG {reference}: The group recommends")
    assert sent.params["channel"] == DIRECTOR
    shown = everything(sent)
    for text in (reference, "Nursing", "Formal process", "Moderate"):
        assert text in shown
    assert RATIONALE in rich_texts(sent)
    assert "<@" not in shown and ROUNDS.description not in shown  # nobody named, no action points
    assert_no_names(fake_slack)


@pytest.mark.parametrize(("risk", "room", "reported"), [
    pytest.param("high", "C0QUALITY", True, id="high risk with a Quality Board channel: reported"),
    pytest.param("moderate", "C0QUALITY", False, id="moderate risk: not reported"),
    pytest.param("high", "", False, id="no Quality Board channel configured: not reported"),
])
def test_only_a_high_risk_outcome_is_reported_to_the_quality_board_without_its_rationale(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack, risk: str, room: str,
        reported: bool) -> None:
    reference = circulate(sessions, engine, terms, fake_slack, risk=risk,
                          reporting=Reporting(quality_board_room=room))
    board = posts_to(fake_slack, "C0QUALITY")
    assert len(board) == (1 if reported else 0)
    if reported:
        shown = everything(board[0])
        for text in (reference, "Formal process", "High"):
            assert text in shown
        # The PMCCG's terms name no professional group to the Quality Board.
        for text in (RATIONALE, RISK_NOTES, SUPPORT, ROUNDS.description, "<@", "Nursing", "Professional group"):
            assert text not in shown
        assert "their professional group is not named" in shown
    assert_no_names(fake_slack)


@pytest.mark.parametrize(("named", "shown_group"), [
    pytest.param("nursing", True, id="nursing named by the terms: the post names it"),
    pytest.param("doctor", False, id="only doctors named: a nursing case's post names no group"),
])
def test_the_quality_board_post_names_the_professional_group_only_where_the_terms_allow_it(
        sessions: SessionFactory, engine: Engine, fake_slack: FakeSlack, tmp_path: Path, named: str,
        shown_group: bool) -> None:
    text = resources.files("bot.domain.presets").joinpath("pmccg.toml").read_text(encoding="utf-8")
    label = {"nursing": 'label = "Nursing"\n', "doctor": 'label = "Doctor (GP)"\n'}[named]
    assert label in text
    (tmp_path / "terms.toml").write_text(text.replace(label, label + "named_to_quality_board = true\n"),
                                         encoding="utf-8")
    terms = load_terms(tmp_path / "terms.toml")

    reference = circulate(sessions, engine, terms, fake_slack, risk="high",
                          reporting=Reporting(quality_board_room="C0QUALITY"))

    (post,) = posts_to(fake_slack, "C0QUALITY")
    fields = [f["text"] for b in post.params["blocks"] if b["type"] == "section" for f in b.get("fields", [])]
    assert f"*Case*\n{reference}" in fields and "*Risk level*\nHigh" in fields
    assert ("*Professional group*\nNursing" in fields) is shown_group
    assert ("Nursing" in post.params["text"]) is shown_group
    if not shown_group:
        assert not any("Professional group" in f for f in fields)


def test_a_retry_after_a_failed_direct_message_sends_only_what_was_not_delivered(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    class DownForOneMessage:
        """Slack is unreachable for the first direct message, then back."""

        def __init__(self) -> None:
            self.inner, self.failed = workspace_for(fake_slack), False

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def send_direct(self, user: str, message: Message) -> Posted:
            if not self.failed:
                self.failed = True
                raise PlatformFailure("sending a message", "Slack could not be reached", permanent=False)
            return self.inner.send_direct(user, message)

    reference = convene(sessions, engine, terms, fake_slack)
    record(sessions, terms, reference, AFTER + timedelta(minutes=1))
    flaky = DownForOneMessage()
    assert send_due(sessions, engine, flaky, terms, LONDON, AFTER + timedelta(minutes=2)).retried == 1  # type: ignore[arg-type]
    send_due(sessions, engine, flaky, terms, LONDON, AFTER + timedelta(minutes=4))  # type: ignore[arg-type]
    assert len(posts_to(fake_slack, case(sessions, reference).room_id)) == 1  # the summary, once
    assert Counter(c.params["channel"] for c in dms(fake_slack, "Your action points")) == {
        MANAGER: 1, PEOPLE_TEAM: 1, CHAIR: 1}
    assert len(dms(fake_slack, "The group recommends")) == 1
    assert [r.state for r in rows(sessions, "circulation")] == [MessageState.SENT]


# --- the five-day chase and the seven-day escalation ----------------------------------------------


def test_five_days_after_the_call_the_chair_and_governance_are_reminded_to_circulate(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    reference = convene(sessions, engine, terms, fake_slack)
    with freeze_time(CHASE - timedelta(seconds=30)):
        ticker(sessions, engine, terms, fake_slack).tick()
    assert dms(fake_slack, "must be circulated") == []  # not before it is due
    with freeze_time(CHASE + timedelta(seconds=20)):
        ticker(sessions, engine, terms, fake_slack).tick()
    chases = dms(fake_slack, "must be circulated within one week of the call")
    assert Counter(c.params["channel"] for c in chases) == {CHAIR: 1, GOVERNANCE: 1}
    first = chases[0]
    assert "by Thursday 12 November 2026 at 15:00 GMT" in first.params["text"]  # call end + 7 days
    assert "<!date^" in everything(first)
    buttons = [e for b in first.params["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [(b["action_id"], b["value"], b["text"]["text"]) for b in buttons] == [
        ("case_record_outcome", reference, "Record outcome")]
    assert_no_names(fake_slack)


@pytest.mark.parametrize(("kind", "at"), [
    pytest.param("circulation_chase", CHASE, id="five-day chase"),
    pytest.param("circulation_escalate", ESCALATE, id="seven-day escalation"),
])
def test_nothing_is_chased_or_escalated_once_the_outcome_is_circulated(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack, kind: str,
        at: datetime) -> None:
    circulate(sessions, engine, terms, fake_slack, reporting=Reporting(governance_room="C0GOVERN"))
    fake_slack.clear()
    send_due(sessions, engine, workspace_for(fake_slack), terms, LONDON, at + timedelta(seconds=20),
             reporting=Reporting(governance_room="C0GOVERN"))
    assert dms(fake_slack, "must be circulated") == [] and posts_to(fake_slack, "C0GOVERN") == []
    assert [r.state for r in rows(sessions, kind)] == [MessageState.DROPPED]


def test_seven_days_after_the_call_governance_channel_is_told_by_case_reference_only(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    reference = convene(sessions, engine, terms, fake_slack)
    reporting = Reporting(governance_room="C0GOVERN")
    with freeze_time(CHASE + timedelta(seconds=20)):
        ticker(sessions, engine, terms, fake_slack, reporting).tick()
    assert posts_to(fake_slack, "C0GOVERN") == []  # the chase goes to people, not the channel
    with freeze_time(ESCALATE + timedelta(seconds=20)):
        ticker(sessions, engine, terms, fake_slack, reporting).tick()
    [escalation] = posts_to(fake_slack, "C0GOVERN")
    assert escalation.params["text"] == f"{reference}: {WEEK_TEXT}"
    shown = everything(escalation)
    assert "<!date^" in shown
    for text in ("<@", "Nursing", "medication", "Formal"):
        assert text not in shown
    assert_no_names(fake_slack)


def test_without_a_governance_channel_the_escalation_goes_to_governance_by_direct_message(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack) -> None:
    reference = convene(sessions, engine, terms, fake_slack)
    tick(sessions, engine, terms, fake_slack, CHASE + timedelta(seconds=20))
    tick(sessions, engine, terms, fake_slack, ESCALATE + timedelta(seconds=20))
    escalations = dms(fake_slack, WEEK_TEXT)
    assert [(c.params["channel"], c.params["text"]) for c in escalations] == [
        (GOVERNANCE, f"{reference}: {WEEK_TEXT}")]
    assert_no_names(fake_slack)
