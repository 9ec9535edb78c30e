"""The agenda pro-forma of seed 000: filled from the case, split to Slack's limits, posted before the call.

The golden file is written with UPDATE_GOLDEN=1 and compared exactly otherwise.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from bot.domain.agenda import Agenda, build_agenda, compose_agenda, split_text
from bot.domain.reminders import Delivery, Drop, Due
from bot.domain.terms import Terms, load_terms
from handlers.slack.render import render_json
from handlers.slack.workspace import SLACK_BUDGET
from storage.db import SessionFactory
from storage.tables import Case, CaseStatus, Invitee, ScheduledMessage
from tests.factories import LONDON, all_names

GOLDEN = Path(__file__).parent / "golden" / "agenda.json"
CALL_AT = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
CREATED_AT = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
TERMS: Terms = load_terms()

TITLES = [
    "Describe performance management issue",
    "Staff member's initials, professional group",
    "Who, how, when was the issue identified",
    "Brief overview of the potential performance management issue",
    "Other staff / services / organisation involvement",
    "Any immediate risks identified?",
    "Performance management process to be enacted: informal or formal",
    "Rationale for agreed approach",
    "Legal liaison",
    "Risk assessment",
    "Next steps / actions",
]

# (user id, seat, label, position): inserted out of order, listed by position.
SEATS = [
    ("U0GOVERN1", "governance", "Governance team representative", 4),
    ("U0CHAIR01", "chair", "Chair", 0),
    ("U0NURSELD", "professional_lead", "Professional lead for the staff member's profession", 6),
    ("U0MANAGER", "line_manager", "Line manager", 1),
    ("U0CLINDIR", "clinical_director", "Senior clinical team member (director level)", 5),
    ("U0SERVICE", "service_lead", "Service lead / senior service representative", 2),
    ("U0PEOPLE1", "people_team", "People team representative", 3),
    ("U0MEMBER1", "extra_1", "Member", 7),
]


def add_case(session: Session, *, seq: int = 7, concern: str | None = None, risks: str | None = None,
             status: str = CaseStatus.CONVENED) -> Case:
    reference = f"PMCCG-2026-{seq:03d}"
    case = Case(
        reference=reference, prefix="PMCCG", year=2026, seq=seq, profession="nursing", route="incident",
        concern=concern if concern is not None else (
            "Two medication errors on night shifts in October; one patient harmed (moderate).\n\n"
            "A second incident report followed in November."),
        risks=risks if risks is not None else "Patient safety on night shifts; rota gap if restricted.",
        call_at=CALL_AT, duration_minutes=60,
        call_details="https://meet.example.org/pmccg Dial-in 0300 000 0000 PIN 1234", short_notice=False,
        convener_id="U0MANAGER", room_id=f"C0ROOM{seq:03d}", room_name=reference.lower(), status=status,
        created_at=CREATED_AT, convene_key=f"V-AGENDA-{seq}")
    session.add(case)
    session.flush()
    assert case.id is not None
    for user_id, seat, label, position in SEATS:
        session.add(Invitee(case_id=case.id, user_id=user_id, seat=seat, seat_label=label, position=position))
    session.commit()
    return case


@pytest.fixture
def session(sessions: SessionFactory) -> Iterator[Session]:
    with sessions() as s:
        yield s


def rendered(session: Session, case: Case, *, late: bool = False) -> dict[str, Any]:
    model = build_agenda(session, case, TERMS, LONDON, late=late, blocks=SLACK_BUDGET.blocks_per_message)
    return render_json("slack/agenda.json.j2", m=model)


def text_elements(message: dict[str, Any]) -> list[str]:
    """Every rich_text "text" element's text, in order."""
    return [e["text"] for b in message["blocks"] if b["type"] == "rich_text"
            for section in b["elements"] for e in section["elements"] if e["type"] == "text"]


def strings_outside_rich_text(message: dict[str, Any]) -> list[str]:
    found: list[str] = [message["text"]]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "rich_text":
                return
            found.extend(v for v in node.values() if isinstance(v, str))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(message["blocks"])
    return found


def item_sections(message: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in message["blocks"]
            if b["type"] == "section" and not b["text"]["text"].startswith("*Members*")]


def filled_texts(message: dict[str, Any], number: int) -> list[str]:
    """The rich_text element texts shown under item `number`."""
    out: list[str] = []
    current = None
    for b in message["blocks"]:
        if b["type"] == "section" and not b["text"]["text"].startswith("*Members*"):
            current = int(b["text"]["text"].lstrip("*").split(".", 1)[0])
        elif b["type"] == "rich_text" and current == number:
            out += [e["text"] for s in b["elements"] for e in s["elements"]]
    return out


def assert_within_limits(message: dict[str, Any]) -> None:
    assert len(message["blocks"]) <= 50
    for b in message["blocks"]:
        if b["type"] == "section":
            assert len(b["text"]["text"]) <= 3000
        if b["type"] == "header":
            assert len(b["text"]["text"]) <= 150
    assert all(len(t) <= 3000 for t in text_elements(message))


# (a) golden file ---------------------------------------------------------------------------------

def test_agenda_matches_the_golden_file(session: Session) -> None:
    message = rendered(session, add_case(session))
    text = json.dumps(message, indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert GOLDEN.exists(), "run with UPDATE_GOLDEN=1 once to write tests/golden/agenda.json"
    assert text == GOLDEN.read_text(encoding="utf-8")
    assert not any(name in text for name in all_names())


def test_the_model_is_filled_from_the_case(session: Session) -> None:
    case = add_case(session)
    model = build_agenda(session, case, TERMS, LONDON, blocks=SLACK_BUDGET.blocks_per_message)
    assert model.call_at == CALL_AT
    assert model.call_at_local == "Tuesday 1 December 2026 at 14:00 GMT"
    assert (model.profession, model.route) == ("Nursing", "Incident")
    assert [s.user_id for s in model.seats] == [u for u, _, _, _ in sorted(SEATS, key=lambda s: s[3])]
    items = {i.number: i for i in model.items}
    assert items[1].filled_text == case.concern and not items[1].to_cover_at_call
    assert items[6].filled_text == case.risks and not items[6].to_cover_at_call
    assert "Nursing" in (items[2].filled_text or "") and "initials: given at the call" in (
        items[2].filled_text or "").lower()
    assert "Incident" in (items[3].filled_text or "")
    assert items[3].prompts == ("Complaint", "Incident", "Whistleblowing", "Internal staff reporting")
    assert all(items[n].to_cover_at_call and items[n].filled_text is None for n in (4, 5, 7, 8, 9, 10, 11))
    assert {i.presenter for i in model.items} == {"Chair"}


# (b) long text is split, never lost -------------------------------------------------------------

def long_text(length: int) -> str:
    words = ("The clinician did not escalate a deteriorating patient during the night shift and the "
             "record keeping was incomplete for several consultations that week ").split()
    out, i = "", 0
    while len(out) < length:
        out += words[i % len(words)] + " "
        i += 1
    return out[: length - 1] + "."


def test_a_long_concern_without_newlines_is_split_across_blocks(session: Session) -> None:
    concern = long_text(2000)
    assert len(concern) == 2000 and "\n" not in concern
    case = add_case(session, concern=concern)
    model = build_agenda(session, case, TERMS, LONDON, blocks=SLACK_BUDGET.blocks_per_message)
    chunks = model.items[0].filled_chunks
    assert len(chunks) >= 2
    assert "".join(chunks) == concern
    # Breaks fall between words: every piece but the last ends in a space.
    assert all(c.endswith(" ") for c in chunks[:-1])
    message = render_json("slack/agenda.json.j2", m=model)
    shown = filled_texts(message, 1)
    assert len(shown) >= 2 and "".join(shown) == concern
    assert sum(1 for b in message["blocks"] if b["type"] == "rich_text"
               and any(e["text"] in chunks for s in b["elements"] for e in s["elements"])) >= 2
    assert_within_limits(message)


def test_even_enormous_text_keeps_to_fifty_blocks_and_loses_nothing(session: Session) -> None:
    concern, risks = long_text(90_000), "\n\n".join(long_text(700) for _ in range(40))
    message = rendered(session, add_case(session, concern=concern, risks=risks))
    assert_within_limits(message)
    assert "".join(filled_texts(message, 1)) == concern
    assert "".join(filled_texts(message, 6)) == risks


@pytest.mark.parametrize("text", [
    "", "short", "x" * 1500, "x" * 1501, "y" * 4000, "a\n\nb" * 900, "Sentence one. " * 300, "e\u0301" * 1000,
    "x" + "e\u0301" * 1000,
])
def test_split_text_joins_back_exactly(text: str) -> None:
    pieces = split_text(text)
    assert "".join(pieces) == text
    assert all(len(p) <= 1500 for p in pieces)
    assert all(p for p in pieces) or pieces == ("",)
    # A combining accent is never separated from its letter.
    assert not any(p and p[0] == "\u0301" for p in pieces)


def test_split_text_prefers_paragraphs_then_sentences() -> None:
    first, second = "A" * 1000 + ".", "B" * 800
    assert split_text(first + "\n\n" + second) == (first + "\n\n", second)
    sentence = "Word " * 150 + "end. "
    assert split_text(sentence + "more " * 200)[0] == sentence


# (c) typed text is shown literally --------------------------------------------------------------

def test_mentions_and_formatting_appear_only_in_rich_text(session: Session) -> None:
    concern = "Raised at handover. <!channel> *bold* <@U0CHAIR01> & <https://evil.example|click>"
    risks = "Risk <!here> and *bold* again"
    message = rendered(session, add_case(session, concern=concern, risks=risks), late=True)
    for value in strings_outside_rich_text(message):
        for needle in ("<!channel>", "<!here>", "*bold*", "evil.example", "Raised at handover"):
            assert needle not in value
    assert concern in text_elements(message) and risks in text_elements(message)


# (d) the 11 items, in order ---------------------------------------------------------------------

def test_all_eleven_items_appear_in_order(session: Session) -> None:
    sections = item_sections(rendered(session, add_case(session)))
    assert len(sections) == 11
    for number, (title, section) in enumerate(zip(TITLES, sections, strict=True), start=1):
        assert section.startswith(f"*{number}. {title}*"), section
        assert "Presenter: Chair" in section
    to_cover = [n for n, s in enumerate(sections, start=1) if "*To cover at the call*" in s]
    assert to_cover == [4, 5, 7, 8, 9, 10, 11]


# (e) composing ----------------------------------------------------------------------------------

def due(session: Session, case: Case | None, *, late: bool = False) -> Due:
    row = ScheduledMessage(case_id=case.id if case else None, kind="agenda", recipient="room",
                           due_at=CALL_AT - timedelta(hours=24), expires_at=CALL_AT + timedelta(hours=1),
                           idempotency_key="agenda-test")
    now = row.due_at + (timedelta(hours=2) if late else timedelta(0))
    return Due(session, row, case, TERMS, LONDON, now, late, {"version": 1}, budget=SLACK_BUDGET)


def test_compose_drops_a_cancelled_or_missing_case(session: Session) -> None:
    cancelled = add_case(session, status=CaseStatus.CANCELLED)
    assert isinstance(compose_agenda(due(session, cancelled)), Drop)
    assert isinstance(compose_agenda(due(session, None)), Drop)


def test_compose_posts_one_agenda_to_the_case_room(session: Session) -> None:
    case = add_case(session)
    outcome = compose_agenda(due(session, case))
    assert isinstance(outcome, list) and len(outcome) == 1
    delivery = outcome[0]
    assert isinstance(delivery, Delivery)
    assert (delivery.room, delivery.user) == (case.room_id, None)
    assert delivery.message is not None and delivery.message.template == "agenda"
    assert isinstance(delivery.message.model, Agenda) and delivery.message.model.reference == case.reference
    assert not delivery.message.model.late
    assert "This agenda is late" not in json.dumps(render_json("slack/agenda.json.j2", m=delivery.message.model))


def test_a_late_agenda_says_so(session: Session) -> None:
    case = add_case(session)
    outcome = compose_agenda(due(session, case, late=True))
    assert isinstance(outcome, list) and outcome[0].message is not None
    message = render_json("slack/agenda.json.j2", m=outcome[0].message.model)
    assert any("This agenda is late" in s for s in strings_outside_rich_text(message))
    assert_within_limits(message)
