"""What people read on Teams (issue 16 point 10), part B: the invitation and attendance, quorum, roll-call,
outcome and report cards, rendered from the view models the domain builds, as a reader would see them.

Each card is validated as Teams would take it (handlers.teams.cards.check_card) and read the way a reader
reads it: its TextBlock and Fact texts through a CommonMark renderer (the sandbox's markdown-it), mentions
as the names the directory gave at render time, DATE()/TIME() functions as the UTC instant they show in
each reader's zone, and the buttons as the verbs and data the bot will be sent back.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt
from sqlmodel import Session

from bot.domain import attendance
from bot.domain.action_lines import action_line
from bot.domain.action_reminders import OverdueView
from bot.domain.agenda import split_text
from bot.domain.attendance import PersonAdded
from bot.domain.case_views import Invitation, local_time_text
from bot.domain.chasing import PreCallCheck, ReplyChase
from bot.domain.circulation import FairnessLine, OutcomeSummary, OwnerActions, QualityBoardReport, Recommendation
from bot.domain.fairness import ANSWER_LABELS, PRINCIPLES, Answer
from bot.domain.notify import Message, MessageKind
from bot.domain.outcomes import PROCESS_LABELS, RISK_LABELS, Process, RiskLevel
from bot.domain.quorum import Attendee, QuorumResult, assess_quorum
from bot.domain.rescheduling import RescheduleNotice
from bot.domain.roles import Role
from bot.domain.roll_call import DEPUTY, GUEST, MEMBER, Corrected, PresentRow, RollCallView
from bot.domain.terms import load_terms
from bot.records import annual_report, attendance_matrix
from bot.records.annual_report import AnnualReport
from bot.records.attendance_matrix import AttendanceMatrix
from handlers.teams.cards import check_card
from handlers.teams.render import render_activity
from storage.db import make_engine, session_factory, transaction, upgrade
from storage.tables import ActionPoint, ActionStatus, Case, CaseStatus, Invitee, Reply
from tests.factories import LONDON

TERMS = load_terms()
REF = "PMCCG-2026-014"
ROOM = "19:3f1c2e0a9b8d4c7e8f6a5b4c3d2e1f00@thread.v2"
# Teams user ids in the domain are Entra object ids; the directory's names are resolved at render time.
CHAIR, MANAGER, NURSE_LEAD, DEPUTY_CHAIR, MEMBER_1, DEPUTY_1, GUEST_1, MED_DIR, GOVERN = (
    "6f1e8a52-0c1d-4b7e-9a63-2d5f7c8e9b01", "0a7d3c44-5e2b-4f18-8c9d-7e6f5a4b3c02",
    "b2c4d6e8-1a3b-4c5d-8e7f-9a0b1c2d3e03", "c3d5e7f9-2b4c-4d6e-9f80-a1b2c3d4e504",
    "d4e6f8a0-3c5d-4e7f-a091-b2c3d4e5f605", "e5f7a9b1-4d6e-4f80-b1a2-c3d4e5f60706",
    "f6a8b0c2-5e7f-4091-82b3-d4e5f6071807", "07b9c1d3-6f80-41a2-93c4-e5f607182908",
    "18c0d2e4-7091-42b3-a4d5-f60718293a09")
NAMES = {CHAIR: "Imogen Thistlewood", MANAGER: "Rosalind Fairweather", NURSE_LEAD: "Marisol Pennington",
         DEPUTY_CHAIR: "Barnaby Quill", MEMBER_1: "Oswald Finchley", DEPUTY_1: "Desmond Okonkwo-Hale",
         GUEST_1: "Priya Venkataraman", MED_DIR: "Henrietta Lowe", GOVERN: "Gwendolyn Ashcombe"}
# The staff member under discussion is in the organisation's directory too: no card may name them.
STAFF_ID, STAFF_NAME = "29c1e3f5-8102-43c4-b5e6-07182939a4b0", "Cordelia Marchbanks"
DIRECTORY = {**NAMES, STAFF_ID: STAFF_NAME}
# Typed text that would be a mention, bold, a date function and a link if it were not escaped.
TYPED = "<at>x</at> **b** {{DATE(x)}} [l](http://e)"

CALL_AT = datetime(2026, 12, 9, 14, 0, tzinfo=UTC)
WAS_AT = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)
NOW = datetime(2026, 12, 2, 9, 15, tzinfo=UTC)
ANSWER_VALUE = attendance.answer_value(REF, 2)  # what Slack's attendance buttons carry: "PMCCG-2026-014:2"

MARKDOWN = MarkdownIt("js-default", {"linkify": True}).enable("linkify")
_FUNCTION = re.compile(r"\{\{(DATE|TIME)\(([^,)]+)(?:,(\w+))?\)\}\}")


# --- reading a card as a reader does -----------------------------------------------------------------


@dataclass(frozen=True)
class Read:
    """One rendered activity, read: what shows, who is mentioned, which instants, which buttons."""

    activity: dict[str, Any]
    card: dict[str, Any]
    shown: str  # every TextBlock and Fact as a reader sees it, one per line
    raw: str  # the same texts as sent (Markdown, tags, functions)
    mentioned: dict[str, str]  # user id -> the name Teams shows and notifies
    instants: set[datetime]  # what every DATE()/TIME() function shows, in UTC
    buttons: list[tuple[str, str, dict[str, Any]]]  # (title, "verb" or "dialog:<id>", data)


def _texts(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == "TextBlock":
            yield node["text"]
        if node.get("type") == "FactSet":
            for fact in node["facts"]:
                yield f"{fact['title']}: {fact['value']}"
        for key, value in node.items():
            if key not in ("msteams", "data"):
                yield from _texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _texts(value)


def _actions(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if str(node.get("type", "")).startswith("Action."):
            yield node
        for value in node.values():
            yield from _actions(value)
    elif isinstance(node, list):
        for value in node:
            yield from _actions(value)


def _seen(text: str, tags: dict[str, str]) -> str:
    """A TextBlock's text as shown: mention tags as @Name, date functions as their instant, Markdown rendered."""
    for tag, name in tags.items():
        text = text.replace(tag, f"@{name}")
    text = _FUNCTION.sub(lambda f: f"[{f[1]} {f[2]}]", text)
    rendered = re.sub(r"</?(strong|em)>", "", MARKDOWN.render(text))  # emphasis shows as the words
    paragraphs = re.split(r"</p>|<br\s*/?>", rendered)  # each paragraph on its own line, as it shows
    lines = (" ".join(html.unescape(re.sub(r"<[^>]+>", " ", p)).split()) for p in paragraphs)
    return "\n".join(line for line in lines if line)


def read(kind: MessageKind, model: Any, names: Callable[[str], str | None] = DIRECTORY.get) -> Read:
    activity = render_activity(Message(kind, model), names=names)
    (attachment,) = activity["attachments"]
    card = attachment["content"]
    check_card(card)  # as Teams takes it: the 1.5 schema, its limits, every mention with its entity
    entities = card.get("msteams", {}).get("entities", [])
    tags = {e["text"]: e["mentioned"]["name"] for e in entities}
    texts = list(_texts(card["body"]))
    raw = "\n".join(texts)
    instants = {datetime.strptime(f[2], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) for f in _FUNCTION.finditer(raw)}
    buttons = []
    for action in _actions(card):
        data = action.get("data", {})
        if action["type"] == "Action.Execute":
            buttons.append((action["title"], action["verb"], data))
        else:
            assert action["type"] == "Action.Submit" and data["msteams"] == {"type": "task/fetch"}, action
            buttons.append((action["title"], f"dialog:{data['dialog_id']}", data))
    return Read(activity, card, "\n".join(_seen(t, tags) for t in texts), raw,
                {e["mentioned"]["id"]: e["mentioned"]["name"] for e in entities}, instants, buttons)


def values(r: Read) -> list[tuple[str, str, str]]:
    """The buttons as (title, verb or dialog, the value string they carry)."""
    return [(title, verb, data["value"]) for title, verb, data in r.buttons]


ATTENDANCE_BUTTONS = [("Attending", "attendance_attending", ANSWER_VALUE),
                      ("Sending a deputy", "dialog:attendance_deputy", ANSWER_VALUE),
                      ("Can't attend", "attendance_apologies", ANSWER_VALUE)]


# --- view models, as the domain builds them ---------------------------------------------------------


def _reason(result: QuorumResult) -> tuple[str, str]:
    # The reason and, as bot/domain/roll_call.py keeps it, the reason without its headline.
    return result.reason, result.reason.split(": ", 1)[1]


def projected(present: list[Attendee], awaiting: list[Attendee]) -> QuorumResult:
    return assess_quorum(TERMS.quorum, "nursing", "Nursing", present, awaiting)


def actual(present: list[Attendee]) -> QuorumResult:
    return assess_quorum(TERMS.quorum, "nursing", "Nursing", present, projected=False)


CHAIR_A = Attendee(CHAIR, frozenset({Role.CHAIR}))
LEAD_A = Attendee(NURSE_LEAD, frozenset({Role.PROFESSIONAL_LEAD}), frozenset({"nursing"}))
MANAGER_A = Attendee(MANAGER, frozenset({Role.MANAGER}))
MEMBER_A = Attendee(MEMBER_1, frozenset({Role.MEMBER}))
GOVERN_A = Attendee(GOVERN, frozenset({Role.GOVERNANCE}))


def invitation(**changes: Any) -> Invitation:
    model = Invitation(reference=REF, group_name=TERMS.name, group_short_name=TERMS.short_name, room_id=ROOM,
                       seat_label="Professional lead: " + TYPED, call_at=CALL_AT,
                       call_at_local=local_time_text(CALL_AT, LONDON), duration_minutes=45, short_notice=False,
                       answer_value=ANSWER_VALUE)
    return replace(model, **changes)


def reply_chase() -> ReplyChase:
    return ReplyChase(reference=REF, group_short_name=TERMS.short_name, seat_label="Chair " + TYPED,
                      call_at_local=local_time_text(CALL_AT, LONDON), call_at=CALL_AT, late=True,
                      answer_value=ANSWER_VALUE)


def reschedule(deputy_for: str | None = None) -> RescheduleNotice:
    return RescheduleNotice(reference=REF, group_name=TERMS.name, group_short_name=TERMS.short_name, room_id=ROOM,
                            seat_label="Chair " + TYPED, deputy_for=deputy_for, call_at=CALL_AT,
                            call_at_local=local_time_text(CALL_AT, LONDON), previous_call_at=WAS_AT,
                            previous_call_at_local=local_time_text(WAS_AT, LONDON), duration_minutes=60,
                            short_notice=True, answer_value=ANSWER_VALUE)


def pre_call(quorate: bool) -> PreCallCheck:
    result = (projected([CHAIR_A, LEAD_A, MANAGER_A, MEMBER_A], []) if quorate
              else projected([MANAGER_A, MEMBER_A], [LEAD_A]))
    assert result.quorate is quorate
    return PreCallCheck(reference=REF, group_short_name=TERMS.short_name, call_at=CALL_AT,
                        call_at_local=local_time_text(CALL_AT, LONDON), quorate=result.quorate, reason=result.reason,
                        missing=tuple(m.reason for m in result.missing),
                        deputy_candidates=() if quorate else (DEPUTY_CHAIR,), late=not quorate)


PRESENT = (
    PresentRow(CHAIR, MEMBER, "Chair", None, None, True),
    PresentRow(DEPUTY_1, DEPUTY, "", MEMBER_1, CHAIR, False),  # deputies do not count under these terms
    PresentRow(GUEST_1, GUEST, "", None, None, False),
    PresentRow(NURSE_LEAD, MEMBER, "Professional lead " + TYPED, None, None, True),
)


def roll_call(*, open_: bool, recorded: bool) -> RollCallView:
    now = actual([CHAIR_A, LEAD_A])  # two counted of four: not quorate
    reason, detail = _reason(now)
    return RollCallView(
        case_id=14, room_id=ROOM, reference=REF, group_short_name=TERMS.short_name, call_at=CALL_AT,
        call_at_local=local_time_text(CALL_AT, LONDON), present=PRESENT, quorate=now.quorate, quorum_reason=reason,
        detail=detail, recorded_quorate=now.quorate if recorded else None, recorded_reason=reason if recorded else None,
        recorded_detail=detail if recorded else None, recorded_by="bot" if recorded else None, open=open_,
        marking_closes_at=CALL_AT + timedelta(minutes=75) if open_ else None,
        marking_closes_local=local_time_text(CALL_AT + timedelta(minutes=75), LONDON) if open_ else "")


def roll_call_result(quorate: bool) -> RollCallView:
    result = actual([CHAIR_A, LEAD_A, MANAGER_A, MEMBER_A] if quorate else [CHAIR_A, LEAD_A])
    reason, detail = _reason(result)
    present = PRESENT if not quorate else (*PRESENT, PresentRow(MANAGER, MEMBER, "Manager", None, None, True))
    return replace(roll_call(open_=False, recorded=True), present=present, quorate=result.quorate,
                   quorum_reason=reason, detail=detail, recorded_quorate=result.quorate, recorded_reason=reason,
                   recorded_detail=detail, recorded_by=None if not quorate else GOVERN)


def corrected() -> Corrected:
    return Corrected(view=roll_call(open_=False, recorded=True), actor_id=CHAIR, user_id=MEMBER_1, present=False,
                     revised=True)


def actions() -> tuple:
    today = NOW.astimezone(LONDON).date()
    items = [
        ActionPoint(case_id=14, number=1, description="Arrange supervision " + TYPED, owner_id=NURSE_LEAD,
                    due_on=today + timedelta(days=21), source="outcome", created_by=CHAIR, created_at=NOW),
        ActionPoint(case_id=14, number=2, description="Review rota", owner_id=MANAGER, due_on=today - timedelta(days=1),
                    source="outcome", created_by=CHAIR, created_at=NOW),
        ActionPoint(case_id=14, number=3, description="Offer occupational health", owner_id=NURSE_LEAD,
                    due_on=today - timedelta(days=3), status=ActionStatus.DONE, source="outcome", created_by=CHAIR,
                    created_at=NOW),
    ]
    return tuple(action_line(a, today, TERMS.reminders.action_reminder_days, LONDON) for a in items)


def summary(**changes: Any) -> OutcomeSummary:
    # The first principle answered "No", with a typed note; the others "Yes".
    fairness = tuple(FairnessLine(p.title, ANSWER_LABELS[Answer.YES if i else Answer.NO],
                                  split_text("Needs more " + TYPED) if i == 0 else ())
                     for i, p in enumerate(PRINCIPLES))
    model = OutcomeSummary(
        reference=REF, group_short_name=TERMS.short_name, decision_maker=TERMS.decision_maker,
        recommendation=f"The group recommends to the {TERMS.decision_maker}: {PROCESS_LABELS[Process.INFORMAL]}",
        rationale_chunks=split_text("Rationale " + TYPED), risk_label=RISK_LABELS[RiskLevel.HIGH],
        risk_notes_chunks=split_text("Risk " + TYPED), ml_policy_label="No", legal_advice_label="Unknown",
        welfare_label="Yes", line_manager_support_chunks=(), quorate_label="Yes", quorum_statement_chunks=(),
        fairness=fairness, actions=actions(), recorded_by=CHAIR, directors=(MED_DIR,), quality_board=True, late=False)
    return replace(model, **changes)


def recommendation() -> Recommendation:
    return Recommendation(reference=REF, group_short_name=TERMS.short_name, decision_maker=TERMS.decision_maker,
                          recommendation=f"The group recommends to the {TERMS.decision_maker}: Formal process",
                          process_label=PROCESS_LABELS[Process.FORMAL], profession="Nursing",
                          risk_label=RISK_LABELS[RiskLevel.HIGH], rationale_chunks=split_text("Because " + TYPED))


def overdue() -> OverdueView:
    line = actions()[1]
    return OverdueView(reference=REF, number=line.number, owner_id=line.owner_id,
                       description_chunks=split_text("Review rota " + TYPED), due=line.due, late=False)


# The two reports come from a small record: six calls held in 2026, one cancelled, one still to come.
REPORT_AT = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Reports:
    annual: AnnualReport
    matrix: AttendanceMatrix
    empty: AttendanceMatrix


def _case(session: Session, n: int, call_at: datetime, status: str = CaseStatus.CONVENED) -> Case:
    case = Case(reference=f"PMCCG-2026-{n:03d}", prefix="PMCCG", year=2026, seq=n, profession="nursing",
                route="incident", concern="concern " + STAFF_NAME, risks="risks", call_at=call_at,
                duration_minutes=45, call_details="https://call.example/x", convener_id=MANAGER,
                room_id=f"19:case{n}@thread.v2", room_name=f"pmccg-2026-{n:03d}", status=status,
                created_at=call_at - timedelta(days=7), convene_key=f"key-{n}")
    session.add(case)
    session.flush()
    return case


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reports]:
    engine = make_engine(f"sqlite:///{Path(tmp_path_factory.mktemp('teams_b')) / 'record.db'}")
    upgrade(engine)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        for n in range(1, 7):
            case = _case(session, n, datetime(2026, n, 10, 14, 0, tzinfo=UTC))
            # The chair attends every call; the member sends apologies to four of six: under the 75% target.
            session.add(Invitee(case_id=case.id, user_id=CHAIR, seat="chair", seat_label="Chair",
                                reply=Reply.ATTENDING))
            session.add(Invitee(case_id=case.id, user_id=MEMBER_1, seat="member", seat_label="Member", position=1,
                                reply=Reply.APOLOGIES if n <= 4 else Reply.ATTENDING))
        _case(session, 7, datetime(2026, 8, 10, 14, 0, tzinfo=UTC), CaseStatus.CANCELLED)
        _case(session, 8, datetime(2026, 12, 20, 14, 0, tzinfo=UTC))
    with sessions() as session:
        found = Reports(annual_report.build(session, TERMS, 2026, LONDON, REPORT_AT),
                        attendance_matrix.build(session, TERMS, 2026, LONDON, REPORT_AT),
                        attendance_matrix.build(session, TERMS, 2025, LONDON, REPORT_AT))
    yield found
    engine.dispose()


# --- every kind: one parametrised test ----------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """What a reader must notice on a card (and, by `typed`, that a person's text shows as typed)."""

    model: Any
    reference: str | None = REF
    reference_in_card: bool = True  # False: posted in the case chat, whose topic is the reference, as on Slack
    mentions: frozenset[str] = frozenset()
    instants: frozenset[datetime] = frozenset()
    buttons: list[tuple[str, str, str]] = field(default_factory=list)
    typed: bool = True
    words: tuple[str, ...] = ()


def day(d: Any) -> datetime:
    return d.at.astimezone(UTC)


def samples(reports: Reports) -> dict[MessageKind, Expect]:
    lines = actions()
    dues = frozenset(day(a.due) for a in lines)
    return {
        MessageKind.INVITATION: Expect(invitation(), instants=frozenset({CALL_AT}), buttons=ATTENDANCE_BUTTONS,
                                       words=("You are invited to the Performance Management Conference Call Group",
                                              "Duration: 45 minutes", f"in the case chat, {REF}")),
        MessageKind.REPLY_CHASE: Expect(reply_chase(), instants=frozenset({CALL_AT}), buttons=ATTENDANCE_BUTTONS,
                                        words=("Reminder: please say whether you will attend",
                                               "This reminder is late")),
        MessageKind.RESCHEDULED_NOTICE: Expect(reschedule(), instants=frozenset({CALL_AT, WAS_AT}),
                                               buttons=ATTENDANCE_BUTTONS,
                                               words=("Short notice (serious incident).", "has moved",
                                                      "Every answer was cleared")),
        MessageKind.UNDELIVERED_INVITATIONS: Expect({"users": [MEMBER_1, NURSE_LEAD]}, reference=None,
                                                    mentions=frozenset({MEMBER_1, NURSE_LEAD}), typed=False,
                                                    words=("They are in this chat",)),
        MessageKind.PERSON_ADDED: Expect(PersonAdded(14, REF, ROOM, DEPUTY_1, "Member " + TYPED, MEMBER_1, MEMBER_1,
                                                     from_quorum_warning=False),
                                         mentions=frozenset({DEPUTY_1, MEMBER_1}),
                                         words=(f"is invited to stand in for @{NAMES[MEMBER_1]}",)),
        MessageKind.PROCEED_NOTED: Expect({"reference": REF, "user_id": CHAIR}, mentions=frozenset({CHAIR}),
                                          typed=False, words=("although it may be inquorate",)),
        MessageKind.QUORUM_OK: Expect(pre_call(True), reference_in_card=False, instants=frozenset({CALL_AT}),
                                      typed=False, words=("is expected to be quorate (quorate: 4 of 4 expected)",)),
        MessageKind.QUORUM_WARNING: Expect(
            pre_call(False), instants=frozenset({CALL_AT}), mentions=frozenset({DEPUTY_CHAIR}), typed=False,
            buttons=[("Invite a deputy", "dialog:quorum_invite_deputy", REF),
                     ("Reschedule", "dialog:case_reschedule", REF),
                     ("Proceed: may be inquorate", "quorum_proceed", REF)],
            words=("may not be quorate for the call", "What is missing")),
        MessageKind.ROLL_CALL: Expect(
            roll_call(open_=True, recorded=False), reference_in_card=False,
            instants=frozenset({CALL_AT, CALL_AT + timedelta(minutes=75)}),
            mentions=frozenset({CHAIR, DEPUTY_1, MEMBER_1, GUEST_1, NURSE_LEAD}),
            buttons=[("I'm on the call", "roll_call_present", REF),
                     ("Mark someone present", "dialog:roll_call_mark_other", REF),
                     ("Record the quorum result", "roll_call_record", REF),
                     ("Correct the roll-call", "dialog:roll_call_correct", REF)],
            words=("Roll-call for the call", "Who is on the call?", "Marking present closes")),
        MessageKind.ROLL_CALL_CORRECTED: Expect(corrected(), mentions=frozenset({CHAIR, MEMBER_1}), typed=False,
                                                words=(f"@{NAMES[MEMBER_1]} was not on the call",
                                                       "The reason is kept in the case's record.")),
        MessageKind.ROLL_CALL_RESULT: Expect(
            roll_call_result(False), instants=frozenset({CALL_AT}),
            mentions=frozenset({CHAIR, DEPUTY_1, MEMBER_1, GUEST_1, NURSE_LEAD}),
            words=("Not quorate", "Flagged: the call was not quorate", "Recorded.")),
        MessageKind.OUTCOME_SUMMARY: Expect(
            summary(), instants=dues, mentions=frozenset({CHAIR, MED_DIR, NURSE_LEAD, MANAGER}),
            words=("The group recommends to the Medical Director: Informal process", "Risk level: High",
                   "Fairness and proportionality", "reported, anonymised, to the Quality Board")),
        MessageKind.OUTCOME_OWNER_ACTIONS: Expect(
            OwnerActions(REF, TERMS.short_name, (lines[0], lines[2])), instants=frozenset({day(lines[0].due),
                                                                                            day(lines[2].due)}),
            words=("You own these action points", "You will be reminded until each is done.")),
        MessageKind.OUTCOME_RECOMMENDATION: Expect(recommendation(), words=(f"Recommendation: {REF}",
                                                                            "Professional group: Nursing")),
        MessageKind.OUTCOME_QUALITY_BOARD: Expect(
            QualityBoardReport(REF, TERMS.short_name, None, PROCESS_LABELS[Process.FORMAL],
                               RISK_LABELS[RiskLevel.HIGH]),
            typed=False, words=("High-risk outcome", "their professional group is not named")),
        MessageKind.OVERDUE_ESCALATION: Expect(overdue(), mentions=frozenset({MANAGER}),
                                               instants=frozenset({day(lines[1].due)}),
                                               words=("The owner is reminded until it is done.",)),
        MessageKind.REPORT_ANNUAL: Expect(reports.annual, reference=None, typed=False,
                                          words=("PMCCG annual summary report 2026", "counts under 5 are not shown")),
        MessageKind.REPORT_ATTENDANCE: Expect(reports.matrix, reference=None, typed=False,
                                              mentions=frozenset({CHAIR, MEMBER_1}),
                                              words=("PMCCG attendance matrix 2026", "6 meetings held in 2026")),
    }


PART_B = [MessageKind.INVITATION, MessageKind.OUTCOME_OWNER_ACTIONS, MessageKind.OUTCOME_QUALITY_BOARD,
          MessageKind.OUTCOME_RECOMMENDATION, MessageKind.OUTCOME_SUMMARY, MessageKind.OVERDUE_ESCALATION,
          MessageKind.PERSON_ADDED, MessageKind.PROCEED_NOTED, MessageKind.QUORUM_OK, MessageKind.QUORUM_WARNING,
          MessageKind.REPLY_CHASE, MessageKind.REPORT_ANNUAL, MessageKind.REPORT_ATTENDANCE,
          MessageKind.RESCHEDULED_NOTICE, MessageKind.ROLL_CALL, MessageKind.ROLL_CALL_CORRECTED,
          MessageKind.ROLL_CALL_RESULT, MessageKind.UNDELIVERED_INVITATIONS]


@pytest.mark.parametrize("kind", PART_B, ids=str)
def test_each_card_reads_as_the_slack_message_does(kind: MessageKind, reports: Reports) -> None:
    expect = samples(reports)[kind]
    r = read(kind, expect.model)
    if expect.reference:
        assert expect.reference in r.activity["summary"]
        assert (expect.reference in r.shown) is expect.reference_in_card
    # Nobody's name but the people mentioned; never the staff member's, never a raw user id.
    assert STAFF_NAME not in str(r.activity)
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", r.shown + r.activity["summary"])
    assert set(r.mentioned) == expect.mentions
    for user in expect.mentions:
        assert r.mentioned[user] == NAMES[user] and f"@{NAMES[user]}" in r.shown
    # Times as DATE()/TIME() of the right instant, so each reader sees their own zone.
    assert r.instants == expect.instants
    if expect.typed:  # typed text shows exactly as typed: no mention, bold, date function or link
        assert TYPED in r.shown
        assert "<at>x</at>" not in r.raw and "{{DATE(x)}}" not in r.raw and "](http://e)" not in r.raw
    assert values(r) == expect.buttons
    for words in expect.words:
        assert words in r.shown, (words, r.shown)
    # The plain fallback (notifications, previews) names people plainly, never as a mention tag.
    assert r.activity["summary"] and "text" not in r.activity  # no second message above the card
    assert not any(f"<at>{name}" in r.activity["summary"] for name in NAMES.values())


# --- specific cards -----------------------------------------------------------------------------------


def test_a_times_functions_are_in_utc_for_a_call_on_london_summer_time() -> None:
    summer = datetime(2026, 7, 1, 13, 0, tzinfo=UTC)  # 14:00 in London
    r = read(MessageKind.INVITATION, invitation(call_at=summer, short_notice=True))
    assert "{{DATE(2026-07-01T13:00:00Z,SHORT)}} at {{TIME(2026-07-01T13:00:00Z)}}" in r.raw
    assert r.shown.startswith("Short notice (serious incident).")


def test_the_roll_call_says_who_counts_and_what_the_actual_quorum_is() -> None:
    r = read(MessageKind.ROLL_CALL, roll_call(open_=True, recorded=False))
    lines = [line for line in r.shown.splitlines()]
    chair, deputy, guest = NAMES[CHAIR], NAMES[DEPUTY_1], NAMES[GUEST_1]
    assert f"✅ @{chair} — Chair" in r.shown and f"✅ @{chair} — Chair (not counted)" not in r.shown
    # A deputy from outside the roster does not count under these terms; someone else marked them.
    assert f"✅ @{deputy} — Deputy for @{NAMES[MEMBER_1]} (not counted) (marked by @{chair})" in r.shown
    assert f"✅ @{guest} — Guest (not counted)" in r.shown
    # The actual quorum in the domain's words: two counted of four, and what is missing.
    assert "Actual: not quorate: 2 of 4 present; 2 more members needed" in lines
    red = next(b for b in r.card["body"] if b.get("text", "").startswith("**Actual:"))
    assert red["color"] == "attention"


def test_a_closed_roll_call_has_no_buttons_and_says_how_it_was_recorded() -> None:
    r = read(MessageKind.ROLL_CALL, roll_call(open_=False, recorded=True))
    assert r.buttons == [] and "Marking present closes" not in r.shown
    assert ("Recorded automatically at the end of the call: not quorate: 2 of 4 present; 2 more members needed"
            " — flagged") in r.shown


def test_a_quorate_result_is_green_and_names_who_recorded_it() -> None:
    r = read(MessageKind.ROLL_CALL_RESULT, roll_call_result(True))
    assert r.shown.splitlines()[0] == "Quorate (4 of 4 present)"
    assert r.card["body"][0]["color"] == "good"
    assert "Flagged" not in r.shown and f"Recorded by @{NAMES[GOVERN]}." in r.shown
    assert f"• @{NAMES[MANAGER]} — Manager" in r.shown


def test_the_quorum_warning_lists_what_is_missing_and_who_could_stand_in() -> None:
    model = pre_call(False)
    r = read(MessageKind.QUORUM_WARNING, model)
    for missing in model.missing:  # the domain's reasons, each on its own line
        assert f"• {missing}" in r.shown.splitlines()
    assert "the chair or their appointed deputy is not expected" in r.shown
    assert f"From the roster, who could stand in: @{NAMES[DEPUTY_CHAIR]}" in r.shown
    assert "This check is late" in r.shown


def test_a_deputy_told_of_the_move_has_no_buttons_and_is_pointed_to_the_member() -> None:
    r = read(MessageKind.RESCHEDULED_NOTICE, reschedule(deputy_for=MEMBER_1))
    assert r.buttons == [] and "Every answer was cleared" not in r.shown
    assert f"You were named as deputy for @{NAMES[MEMBER_1]} at the old time." in r.shown
    assert r.activity["summary"].endswith("Your deputy arrangement was cleared.")


def test_without_a_medical_director_the_summary_says_the_recommendation_was_not_sent() -> None:
    r = read(MessageKind.OUTCOME_SUMMARY, summary(directors=(), actions=(), quality_board=False))
    assert "Nobody holds the Medical Director role on the roster, so the recommendation was not sent" in r.shown
    assert "Action points None recorded." in r.shown.replace("\n", " ")
    assert "Action owners have their items" not in r.shown and "Quality Board" not in r.shown


def test_action_points_show_their_status_in_words_and_colour_with_the_owner() -> None:
    r = read(MessageKind.OUTCOME_SUMMARY, summary())
    lines = actions()
    for line, colour in zip(lines, ("good", "attention", "good"), strict=True):
        iso = day(line.due).strftime("%Y-%m-%dT%H:%M:%SZ")
        status = f"{line.rag_label} · due {{{{DATE({iso},LONG)}}}} · owner <at>{NAMES[line.owner_id]}</at>"
        block = next(b for b in _blocks(r.card) if b.get("text") == status)
        assert block["color"] == colour
    assert [line.rag_label for line in lines] == ["Green", "Red: overdue", "Done"]


def _blocks(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("type") == "TextBlock":
            yield node
        for value in node.values():
            yield from _blocks(value)
    elif isinstance(node, list):
        for value in node:
            yield from _blocks(value)


def test_the_annual_report_shows_only_what_slack_shows_and_hidden_counts_stay_hidden(reports: Reports) -> None:
    r = read(MessageKind.REPORT_ANNUAL, reports.annual)
    (facts,) = [b for b in r.card["body"] if b["type"] == "FactSet"]
    shown = [(f.label, f.shown) for f in reports.annual.cases]
    assert shown == [("Calls held", "6"), ("Cancelled before the call", "<5"), ("Convened, call still to come", "<5")]
    assert [(f["title"], f["value"]) for f in facts["facts"]] == [(label, value.replace("<", "\\<"))
                                                                  for label, value in shown]
    # No number the Slack message does not show: no total convened, no share; the hidden ones stay "<5".
    numbers = set(re.findall(r"\d+", r.shown))
    assert numbers <= {"2026", "5", "4", "6"}, numbers  # the year, the threshold, A4, the calls held
    assert "Cancelled before the call: <5" in r.shown and "8" not in numbers and "1" not in numbers


def test_the_attendance_matrix_flags_members_under_the_target(reports: Reports) -> None:
    matrix = reports.matrix
    r = read(MessageKind.REPORT_ATTENDANCE, matrix)
    member = next(row for row in matrix.members if row.user_id == MEMBER_1)
    assert member.flagged and member.rate_text == "33%"
    assert f"⚠️ @{NAMES[MEMBER_1]}: 33% (2 of 6) AAAAPP" in r.shown
    assert f"@{NAMES[CHAIR]}: 100% (6 of 6) PPPPPP" in r.shown
    assert f"Under the 75% target: @{NAMES[MEMBER_1]} (33%)" in r.shown
    assert r.activity["summary"] == "PMCCG attendance matrix 2026: 2 members, 6 meetings, 1 under the 75% target."


def test_an_empty_year_says_no_call_took_place(reports: Reports) -> None:
    r = read(MessageKind.REPORT_ATTENDANCE, reports.empty)
    assert "No call took place in 2025." in r.shown and "target:" not in r.shown.lower().replace("target: 75", "")
    assert r.mentioned == {}


def test_a_person_the_directory_does_not_know_is_a_member_not_an_id() -> None:
    r = read(MessageKind.PERSON_ADDED, PersonAdded(14, REF, ROOM, DEPUTY_1, "Member", MEMBER_1, CHAIR,
                                                   from_quorum_warning=True), names=NAMES.get)
    assert set(r.mentioned) == {DEPUTY_1, MEMBER_1, CHAIR}
    r = read(MessageKind.PERSON_ADDED, PersonAdded(14, REF, ROOM, "unknown-id", "Member", MEMBER_1, CHAIR,
                                                   from_quorum_warning=True), names=NAMES.get)
    assert r.shown.startswith("a member is invited to stand in for") and "unknown-id" not in r.shown
    assert f"by @{NAMES[CHAIR]} from the quorum warning" in r.shown


def test_the_buttons_carry_only_the_value_slack_buttons_carry() -> None:
    r = read(MessageKind.QUORUM_WARNING, pre_call(False))
    for _title, verb, data in r.buttons:
        # The SDK routes an Action.Execute by data["action"] (its verb, repeated); nothing else but the value.
        keys = {"msteams", "dialog_id", "value"} if verb.startswith("dialog:") else {"action", "value"}
        assert set(data) == keys and data["value"] == REF
        assert verb.startswith("dialog:") or data["action"] == verb


def test_a_large_roster_over_a_busy_year_still_fits_one_card(reports: Reports) -> None:
    # 60 members over 52 meetings: every member a mention, the card within Teams' recommended 80 KB.
    cells = tuple(attendance_matrix.Cell.PRESENT if i % 3 else attendance_matrix.Cell.APOLOGIES for i in range(52))
    people = {f"{n:08x}-0000-4000-8000-{n:012x}": f"Member {n:02d} Example" for n in range(60)}
    rows = tuple(attendance_matrix.MemberRow(user_id=user, roles="Member", cells=cells, invited=52, present=34,
                                             deputy=0, apologies=18, no_reply=0, attended=34, rate=34 / 52,
                                             flagged=True) for user in people)
    matrix = replace(reports.matrix, meetings=reports.matrix.meetings * 9, members=rows)
    r = read(MessageKind.REPORT_ATTENDANCE, matrix, names=people.get)  # check_card holds it to 80 KB
    assert len(r.mentioned) == 60 and "@Member 59 Example (Member): 65% (34 of 52)" in r.shown


def test_the_quality_board_names_the_profession_only_where_the_terms_do() -> None:
    named = read(MessageKind.OUTCOME_QUALITY_BOARD, QualityBoardReport(REF, TERMS.short_name, "Nursing",
                                                                       PROCESS_LABELS[Process.FORMAL], "High"))
    assert "Professional group: Nursing" in named.shown and "not named" not in named.shown
    assert named.activity["summary"] == f"High-risk outcome: PMCCG {REF}, Nursing: Formal process"
    unnamed = read(MessageKind.OUTCOME_QUALITY_BOARD, QualityBoardReport(REF, TERMS.short_name, None,
                                                                         PROCESS_LABELS[Process.FORMAL], "High"))
    assert "Professional group" not in unnamed.shown and "Nursing" not in str(unnamed.activity)
