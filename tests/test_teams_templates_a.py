"""What people read on Teams, part A (issue 16 point 10): each kind's card from the same view model as Slack's.

Every card is rendered through handlers/teams/render.py from a model built with the domain's own builders
and dataclasses, checked as Teams would (handlers/teams/cards.check_card), and read the way a person would:
the case reference, typed text exactly as typed, people as mentions with the directory's display names,
times as DATE()/TIME() of the right UTC instant, and the buttons that act on the case.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from jinja2 import DictLoader

from bot.domain import attendance
from bot.domain.action_lines import action_line, day_view
from bot.domain.action_points import Rag
from bot.domain.action_reminders import DigestView, ItemView
from bot.domain.agenda import Agenda, AgendaItem
from bot.domain.case_views import CaseHeader, SeatView, local_time_text
from bot.domain.circulation import CirculationChase, CirculationEscalation, period_text
from bot.domain.closing import ClosingSummary
from bot.domain.convene_recovery import Abandoned, Finished
from bot.domain.fairness import ANSWER_LABELS, PRINCIPLE_BY_KEY, Answer
from bot.domain.home import RAG_LABELS, HomeCase, HomeItem, HomeView, due_date_text
from bot.domain.notify import Message, MessageKind
from bot.domain.rescheduling import CancelledPost, CancelNotice, RescheduledPost
from bot.domain.terms import load_terms
from bot.domain.undelivered import DeliveryFailedReport, UndeliveredLine
from handlers.teams import render
from handlers.teams.cards import CARD_CONTENT_TYPE, CardRefused, check_card, escape_text
from handlers.teams.render import render_activity, render_card
from storage.tables import ActionPoint, Case, Invitee, Reply

TERMS = load_terms()
ZONE = ZoneInfo("Europe/London")
REF = "PMCCG-2026-007"
ROOM = "19:a1b2c3d4e5f60718293a4b5c6d7e8f90@thread.v2"
CALL = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
MOVED_FROM = datetime(2026, 11, 30, 14, 30, tzinfo=UTC)
# Entra object ids, as the domain holds Teams people.
CHAIR = "0b6f8a52-3c1d-4e7f-9a21-5d4c3b2a1f00"
MANAGER = "1c7a9b63-4d2e-4f80-8b32-6e5d4c3b2a11"
GOVERNANCE = "2d8bac74-5e3f-4091-9c43-7f6e5d4c3b22"
DEPUTY = "3e9cbd85-6f40-41a2-8d54-807f6e5d4c33"
STRANGER = "4fadce96-7051-42b3-9e65-918070f6e544"  # not in the directory
NAMES = {CHAIR: "Dr Amara Okafor", MANAGER: "Priya Natarajan", GOVERNANCE: "Tom Becker", DEPUTY: "Sian Hughes",
         # The staff member under discussion is in the directory too; no model carries them, no card may name them.
         "5a0bdfa7-8162-43c4-8f76-a29181a7f655": "Dr Stan Staffmember"}
STAFF_NAME = "Stan Staffmember"
# Typed text that would be a mention, bold, a date function and a link if Teams read it as card Markdown.
TYPED = "<at>x</at> **b** {{DATE(x)}} [l](http://e)"


def names(user_id: str) -> str | None:
    return NAMES.get(user_id)


def _invitee(seat: str, user_id: str, position: int, reply: Reply = Reply.NO_REPLY, deputy: str | None = None,
             replied_at: datetime | None = None) -> Invitee:
    label = next(s.label for s in TERMS.seats if s.key == seat)
    return Invitee(case_id=1, user_id=user_id, seat=seat, seat_label=label, position=position, reply=reply,
                   deputy_id=deputy, replied_at=replied_at)


INVITEES = [_invitee("chair", CHAIR, 0, Reply.ATTENDING, replied_at=datetime(2026, 11, 25, 9, tzinfo=UTC)),
            _invitee("line_manager", MANAGER, 1, Reply.DEPUTY, DEPUTY),
            _invitee("governance", GOVERNANCE, 2)]
SEATS = tuple(SeatView(i.seat_label, i.user_id) for i in INVITEES)


def _case(**changes: Any) -> Case:
    fields: dict[str, Any] = dict(
        id=1, reference=REF, prefix="PMCCG", year=2026, seq=7, profession="nursing", route="incident", concern=TYPED,
        risks=TYPED, call_at=CALL, duration_minutes=60, call_details=TYPED, convener_id=CHAIR, room_id=ROOM,
        room_name=REF, created_at=datetime(2026, 11, 20, 9, tzinfo=UTC), convene_key="k7", schedule_version=2)
    fields.update(changes)
    return Case(**fields)


def _action(number: int, owner: str, due_on: date, description: str = TYPED) -> ActionPoint:
    return ActionPoint(id=40 + number, case_id=1, number=number, description=description, owner_id=owner, due_on=due_on,
                       source="outcome", created_by=CHAIR, created_at=CALL)


TODAY = date(2026, 12, 9)
WINDOW = TERMS.reminders.action_reminder_days


def _digest() -> DigestView:
    overdue = action_line(_action(1, MANAGER, date(2026, 12, 4)), TODAY, WINDOW, ZONE)
    later = action_line(_action(2, MANAGER, date(2027, 1, 20), "Share the training plan"), TODAY, WINDOW, ZONE)
    items = (ItemView(41, REF, overdue, True, "Latest update", (TYPED,)),
             ItemView(42, REF, later, True, "", ()))
    return DigestView(owner_id=MANAGER, reminder=True, late=True, count=2, summary=f"2 action points on {REF}",
                      items=items, more=3)


def _home() -> HomeView:
    item = HomeItem(reference=REF, number=1, description=TYPED, due_at=day_view(date(2026, 12, 4), ZONE).at,
                    due_local=due_date_text(date(2026, 12, 4)), rag=str(Rag.RED), rag_label=RAG_LABELS[Rag.RED])
    case = HomeCase(reference=REF, status="convened", status_label="Convened", seats=("Line manager",),
                    deputy_for=((CHAIR, "Chair"),), convener=False, next_step="Call", next_step_at=CALL,
                    next_step_at_local=local_time_text(CALL, ZONE))
    return HomeView(user_id=MANAGER, group_name=TERMS.name, group_short_name=TERMS.short_name, items=(item,),
                    more_items=4, cases=(case,), more_cases=0)


def _header() -> CaseHeader:
    return CaseHeader(reference=REF, group_name=TERMS.name, group_short_name=TERMS.short_name, profession="Nursing",
                      route="Incident", concern=TYPED, risks=TYPED, call_at=CALL,
                      call_at_local=local_time_text(CALL, ZONE), duration_minutes=60, call_details=TYPED,
                      short_notice=True, convener_id=CHAIR, seats=SEATS, decision_maker=TERMS.decision_maker)


def _agenda() -> Agenda:
    items = (AgendaItem(1, "Describe performance management issue", "Convener", TYPED, False),
             AgendaItem(4, "Brief overview of the potential performance management issue", "Convener", None, True,
                        ("Chronology", "Impact against values, including on patients / staff")))
    return Agenda(reference=REF, group_name=TERMS.name, group_short_name=TERMS.short_name,
                  decision_maker=TERMS.decision_maker, profession="Nursing", route="Incident", call_at=CALL,
                  call_at_local=local_time_text(CALL, ZONE), seats=SEATS, items=items, late=True)


def _assigned() -> dict[str, Any]:
    # The model handlers/slack/listeners/outcome.py builds for an action point added after the outcome.
    return {"reference": REF, "room_id": ROOM, "actor_id": CHAIR, "number": 3, "description": TYPED,
            "due_text": due_date_text(date(2026, 12, 16)), "reminded": True}


def _fairness() -> dict[str, Any]:
    # The model handlers/slack/listeners/outcome.py builds when the fairness answers are revisited.
    return {"reference": REF, "actor_id": CHAIR, "inquiries": 1, "owners": [CHAIR],
            "revisit_action": "case_revisit_fairness",
            "answers": [{"title": PRINCIPLE_BY_KEY[k].title, "answer": ANSWER_LABELS[a]}
                        for k, a in (("welfare", Answer.YES), ("heard", Answer.UNKNOWN))]}


@dataclass(frozen=True)
class Expect:
    """What a reader of one card notices."""

    kind: MessageKind
    model: Any
    typed: bool = False  # TYPED is shown, as typed
    mentioned: frozenset[str] = frozenset()  # people shown as mentions
    times: tuple[datetime, ...] = ()  # instants shown as DATE()
    # (action type, verb or dialog id, value) of every button, in order
    buttons: tuple[tuple[str, str, str], ...] = ()
    reference: str = REF
    delivery_id: int | None = None
    words: tuple[str, ...] = field(default=())


EXECUTE, DIALOG = "Action.Execute", "Action.Submit"
BOARD_VALUE = attendance.answer_value(REF, 2, board=True)
DM_VALUE = attendance.answer_value(REF, 2)

CASES = [
    Expect(MessageKind.ACTION_ASSIGNED, _assigned(), typed=True, mentioned=frozenset({CHAIR}),
           words=("action point 3", "Wednesday 16 December 2026", "reminded before it is due")),
    Expect(MessageKind.ACTION_DIGEST, _digest(), typed=True, delivery_id=912,
           times=(datetime(2026, 12, 4, 12, tzinfo=UTC), datetime(2027, 1, 20, 12, tzinfo=UTC)),
           buttons=((EXECUTE, "action_point_done", "41:912"), (DIALOG, "action_point_update", "41:912"),
                    (DIALOG, "action_point_new_due", "41:912"), (EXECUTE, "action_point_done", "42:912"),
                    (DIALOG, "action_point_update", "42:912"), (DIALOG, "action_point_new_due", "42:912")),
           words=("Reminder", "Red: overdue", "Latest update", "This reminder is late", "and 3 more")),
    Expect(MessageKind.AGENDA, _agenda(), typed=True, mentioned=frozenset({CHAIR, MANAGER, GOVERNANCE}), times=(CALL,),
           words=("Agenda: " + REF, "To cover at the call", "Chronology", "This agenda is late")),
    Expect(MessageKind.ANSWER_DM, attendance.answer_dm(TERMS, _case(), INVITEES[1:2], 2, ZONE),
           mentioned=frozenset({DEPUTY}), times=(CALL,),
           buttons=((EXECUTE, "attendance_attending", DM_VALUE), (DIALOG, "attendance_deputy", DM_VALUE),
                    (EXECUTE, "attendance_apologies", DM_VALUE)),
           words=("Your answer: **Sending a deputy**", "Send a different deputy", "60 minutes")),
    Expect(MessageKind.ATTENDANCE_BOARD,
           attendance.build_board(TERMS, REF, "nursing", CALL, ZONE, INVITEES, {}, schedule_version=2),
           mentioned=frozenset({CHAIR, MANAGER, GOVERNANCE, DEPUTY}), times=(CALL,),
           buttons=((EXECUTE, "attendance_attending", BOARD_VALUE), (DIALOG, "attendance_deputy", BOARD_VALUE),
                    (EXECUTE, "attendance_apologies", BOARD_VALUE)),
           words=("Attendance", "No reply yet", "Projected: ")),
    Expect(MessageKind.CANCELLED_NOTICE, CancelNotice(REF, TERMS.short_name, ROOM, CHAIR, TYPED, "Chair", MANAGER, CALL,
                                                      local_time_text(CALL, ZONE)),
           typed=True, mentioned=frozenset({CHAIR, MANAGER}), times=(CALL,),
           words=("**cancelled**", "as deputy for", "Reason")),
    Expect(MessageKind.CASE_CANCELLED, CancelledPost(REF, TERMS.short_name, CHAIR, TYPED, CALL,
                                                     local_time_text(CALL, ZONE), (GOVERNANCE,)),
           typed=True, mentioned=frozenset({CHAIR, GOVERNANCE}), times=(CALL,),
           words=("No more reminders will be sent", "by direct message")),
    Expect(MessageKind.CASE_CLOSED, ClosingSummary(REF, TERMS.short_name, TERMS.decision_maker, CHAIR, "Formal process",
                                                   True, 2, 1, 1, CALL, local_time_text(CALL, ZONE), 9, 7, TYPED, True),
           typed=True, mentioned=frozenset({CHAIR}), times=(CALL,),
           words=("is closed", "Formal process", "2 done, 1 dropped, 1 open", "later than 7 days", "retired")),
    Expect(MessageKind.CASE_HEADER, _header(), typed=True, mentioned=frozenset({CHAIR, MANAGER, GOVERNANCE}),
           times=(CALL,),
           buttons=((EXECUTE, "case_export", REF), (DIALOG, "case_record_outcome", REF),
                    (DIALOG, "case_reschedule", REF), (DIALOG, "case_cancel", REF), (DIALOG, "case_close", REF)),
           words=("Short notice: serious incident", "Concern", "Immediate risks", "Conference call", "Members")),
    Expect(MessageKind.CASE_RESCHEDULED,
           RescheduledPost(REF, TERMS.short_name, CHAIR, CALL, local_time_text(CALL, ZONE), MOVED_FROM,
                           local_time_text(MOVED_FROM, ZONE), 45, ()),
           mentioned=frozenset({CHAIR}), times=(CALL, MOVED_FROM), words=("Rescheduled", "45 minutes", "answer again")),
    Expect(MessageKind.CIRCULATION_CHASE, CirculationChase(REF, TERMS.short_name, period_text(7),
                                                           day_view(date(2026, 12, 9), ZONE), False),
           times=(datetime(2026, 12, 9, 12, tzinfo=UTC),), buttons=((DIALOG, "case_record_outcome", REF),),
           words=("within one week", "not been circulated yet")),
    Expect(MessageKind.CIRCULATION_ESCALATE,
           CirculationEscalation(REF, period_text(7), day_view(date(2026, 12, 2), ZONE), (MANAGER, ROOM)),
           mentioned=frozenset({MANAGER}), times=(datetime(2026, 12, 2, 12, tzinfo=UTC),),
           words=("were not circulated within one week", "Not delivered to:", "a group chat")),
    Expect(MessageKind.CONVENING_ABANDONED, Abandoned(TERMS.short_name, "09:14 GMT on 2 December"),
           reference=TERMS.short_name, words=("did not complete", "Nothing was kept", "convene")),
    Expect(MessageKind.CONVENING_FINISHED, Finished(TERMS.short_name, REF, ROOM, 2),
           words=("is convened", "2 invitation(s) could not be sent")),
    Expect(MessageKind.DELIVERY_FAILED, DeliveryFailedReport(REF, (
        UndeliveredLine("the invitation", GOVERNANCE, False, "the account no longer exists (user_not_found)"),
        UndeliveredLine("the outcome summary", ROOM, True, "refused")), False),
           mentioned=frozenset({GOVERNANCE}), words=("will not be retried", "the invitation", "user\\_not\\_found")),
    Expect(MessageKind.FAIRNESS_REVISITED, _fairness(), mentioned=frozenset({CHAIR}),
           buttons=((DIALOG, "case_revisit_fairness", REF),),
           words=("Ensuring welfare and support", "**Unknown**", "1 new action point(s) for further inquiry")),
    Expect(MessageKind.HOME, _home(), typed=True, mentioned=frozenset({CHAIR}),
           times=(datetime(2026, 12, 4, 12, tzinfo=UTC), CALL), buttons=((EXECUTE, "home_refresh", ""),),
           words=("My action points", "Overdue", "My cases", "deputy for", "and 4 more")),
]


def _texts(node: Any) -> Iterator[str]:
    """Every TextBlock text and Fact title/value: what a reader reads on the card."""
    if isinstance(node, dict):
        if node.get("type") == "TextBlock":
            yield node["text"]
        if node.get("type") == "FactSet":
            for fact in node["facts"]:
                yield fact["title"]
                yield fact["value"]
        for key, value in node.items():
            if key != "msteams":
                yield from _texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _texts(value)


def _buttons(card: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Every button a reader can press: in the body (ActionSets), then the card's own actions."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "ActionSet":
                found.extend(node["actions"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card["body"])
    found.extend(card.get("actions", []))
    return [(a["type"], a["verb"] if a["type"] == EXECUTE else a["data"]["dialog_id"], a["data"]["value"])
            for a in found]


def _instant(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("case", CASES, ids=[c.kind.value for c in CASES])
def test_each_card_reads_as_the_slack_message_does(case: Expect) -> None:
    activity = render_activity(Message(case.kind, case.model, delivery_id=case.delivery_id), names=names)
    assert activity["type"] == "message"
    (attachment,) = activity["attachments"]
    assert attachment["contentType"] == CARD_CONTENT_TYPE
    card = attachment["content"]
    check_card(card)
    assert card["version"] == "1.5"
    texts = list(_texts(card))
    shown = "\n".join(texts)
    everything = json.dumps(activity, ensure_ascii=False)

    assert case.reference in shown
    assert case.reference in activity["summary"] or case.kind is MessageKind.HOME  # the home is about many cases
    assert STAFF_NAME not in everything
    titles = [a["title"] for a in _all_actions(card) if "title" in a]
    for word in case.words:
        assert word in shown or word in titles, word

    # Typed text shows as typed: escaped once, never live (no mention, date function or link made of it).
    if case.typed:
        assert any(escape_text(TYPED) in t for t in texts)
    for live in ("<at>x</at>", "{{DATE(x)}}", "](http://e)", "**b**"):
        assert not any(live in t for t in texts)
    assert TYPED not in activity["summary"] and "<at>" not in activity["summary"]

    # People: a mention per person, named from the directory at render time, each shown in the text.
    entities = card["msteams"].get("entities", [])
    assert {e["mentioned"]["id"] for e in entities} == case.mentioned
    for entity in entities:
        name = NAMES[entity["mentioned"]["id"]]
        assert entity["text"] == f"<at>{name}</at>" and entity["mentioned"]["name"] == name
        assert any(entity["text"] in t for t in texts)

    # Times: DATE() of the UTC instant, so each reader sees their own zone; no zone's wording baked in.
    for when in case.times:
        assert f"{{{{DATE({_instant(when)}," in shown
    assert "GMT" not in shown or case.kind is MessageKind.CONVENING_ABANDONED  # its model has only the wording

    assert _buttons(card) == list(case.buttons)
    for action in [a for a in _all_actions(card) if a["type"] == DIALOG]:
        assert action["data"]["msteams"] == {"type": "task/fetch"}


def _all_actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if str(node.get("type", "")).startswith("Action."):
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return found


def test_every_kind_of_part_a_is_covered() -> None:
    part_a = {"action_assigned", "action_digest", "agenda", "answer_dm", "attendance_board", "cancelled_notice",
              "case_cancelled", "case_closed", "case_header", "case_rescheduled", "circulation_chase",
              "circulation_escalate", "convening_abandoned", "convening_finished", "delivery_failed",
              "fairness_revisited", "home"}
    assert {c.kind.value for c in CASES} == part_a


def test_a_time_is_a_date_and_time_function_of_the_utc_instant() -> None:
    summer = datetime(2026, 7, 1, 11, 0, tzinfo=ZONE)  # 11:00 BST is 10:00 UTC
    assert render.card_when(summer) == "{{DATE(2026-07-01T10:00:00Z,SHORT)}} at {{TIME(2026-07-01T10:00:00Z)}}"
    assert render.card_date(summer, "LONG") == "{{DATE(2026-07-01T10:00:00Z,LONG)}}"
    with pytest.raises(ValueError):
        render.card_when(datetime(2026, 7, 1, 11, 0))  # a time without its zone is a bug, not a guess


def test_someone_the_directory_does_not_know_reads_as_a_member_with_no_mention() -> None:
    post = CancelledPost(REF, TERMS.short_name, STRANGER, "Room unavailable", CALL, local_time_text(CALL, ZONE), ())
    card = render_activity(Message(MessageKind.CASE_CANCELLED, post), names=names)["attachments"][0]["content"]
    assert "**Cancelled** by a member:" in "\n".join(_texts(card))
    assert "entities" not in card["msteams"] and STRANGER not in json.dumps(card)


def test_a_display_name_cannot_break_out_of_its_mention() -> None:
    odd = {CHAIR: "Dr <b>Okafor</b> {{x}} *star*"}
    card = render_activity(Message(MessageKind.CASE_CANCELLED, CancelledPost(
        REF, TERMS.short_name, CHAIR, "r", CALL, "x", ())), names=odd.get)["attachments"][0]["content"]
    (entity,) = card["msteams"]["entities"]
    assert entity["text"] == "<at>Dr bOkafor/b x star</at>"
    check_card(card)


def test_the_home_card_refreshes_for_its_owner_when_opened() -> None:
    card = render_activity(Message(MessageKind.HOME, _home()), names=names)["attachments"][0]["content"]
    assert card["refresh"]["userIds"] == [MANAGER]
    assert card["refresh"]["action"]["type"] == EXECUTE and card["refresh"]["action"]["verb"] == "home_refresh"


def test_red_amber_green_is_a_colour_and_the_words() -> None:
    card = render_activity(Message(MessageKind.ACTION_DIGEST, _digest()), names=names)["attachments"][0]["content"]
    blocks = [b for item in card["body"] if item["type"] == "Container" for b in item["items"]
              if b.get("type") == "TextBlock" and b["text"].startswith("**Action ")]
    assert [(b["color"], "overdue" in b["text"]) for b in blocks] == [("attention", True), ("good", False)]
    assert "Green" in blocks[1]["text"]


def test_an_empty_home_and_a_private_list_have_no_buttons_to_misroute() -> None:
    empty = HomeView(user_id=MANAGER, group_name=TERMS.name, group_short_name=TERMS.short_name, items=(),
                     more_items=0, cases=(), more_cases=0)
    card = render_activity(Message(MessageKind.HOME, empty), names=names)["attachments"][0]["content"]
    assert "You have no open action points." in "\n".join(_texts(card))
    listed = render_activity(Message(MessageKind.ACTION_DIGEST, _digest()), names=names)["attachments"][0]["content"]
    assert {v for _, _, v in _buttons(listed)} == {"41", "42"}  # no ledger row: the item's id alone, as on Slack


@pytest.mark.parametrize("status, closing", [("cancelled", "This call is cancelled."),
                                             ("closed", "This case is closed.")])
def test_a_header_after_the_call_offers_no_case_actions(status: str, closing: str) -> None:
    header = CaseHeader(**{**_header().__dict__, "status": status})
    card = render_activity(Message(MessageKind.CASE_HEADER, header), names=names)["attachments"][0]["content"]
    assert closing in "\n".join(_texts(card))
    assert _buttons(card) == [(EXECUTE, "case_export", REF)]


def test_a_broken_template_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    env = render.environment().overlay(loader=DictLoader({
        "teams/bad.json.j2": '{"text": "x", "body": [{"type": "Carousel"}]}',
        "teams/notjson.json.j2": '{"text": "x", "body": [}'}))
    monkeypatch.setattr(render, "environment", lambda: env)
    with pytest.raises(CardRefused):
        render_card("bad")
    with pytest.raises(ValueError, match="invalid JSON"):
        render_card("notjson")
