"""The calendar invite: the right instant across clock changes, no names, updates in place, delivery."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Event
from slack_sdk import WebClient
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.domain import planning
from bot.domain.calendar import NOTE, build_ics, compose_calendar
from bot.domain.reminders import Delivery, Drop, Due, TickReport, claim, process
from bot.domain.terms import Terms, load_terms
from bot.sandbox.slack_api import FakeSlack
from handlers.slack.workspace import SlackWorkspace
from storage.db import SessionFactory, transaction
from storage.tables import Case, CaseStatus, MessageState, ScheduledMessage
from tests.factories import PEOPLE, STAFF_MEMBER

LONDON = ZoneInfo("Europe/London")
LINK = "https://meet.example.org/pmccg"
DETAILS = f"{LINK} Dial-in 0300 000 0000 PIN 1234"
CONCERN = "Two medication errors on night shifts in October; one patient harmed (moderate)."
RISKS = "Patient safety on night shifts; rota gap if restricted."
NAMES = [name for name, _, _ in PEOPLE.values()] + [STAFF_MEMBER[1]]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def add_case(sessions: SessionFactory, terms: Terms, call_at: datetime, seq: int = 7, **overrides: Any) -> Case:
    values: dict[str, Any] = dict(
        reference=f"{terms.reference_prefix}-2026-{seq:03d}", prefix=terms.reference_prefix, year=2026, seq=seq,
        profession="nursing", route="incident", concern=CONCERN, risks=RISKS, call_at=call_at,
        duration_minutes=60, call_details=DETAILS, convener_id="U0MANAGER", room_id=f"C0ROOM{seq:03d}",
        room_name=f"pmccg-2026-{seq:03d}", created_at=utc(2026, 1, 2, 9, 0), convene_key=f"V-CAL-{seq}")
    values.update(overrides)
    with transaction(sessions) as session:
        case = Case(**values)
        session.add(case)
    with sessions() as session:
        found = session.exec(select(Case).where(Case.reference == values["reference"])).one()
    return found


def reread(sessions: SessionFactory, case_id: int | None) -> Case:
    with sessions() as session:
        case = session.get(Case, case_id)
    assert case is not None
    return case


def parse(content: bytes) -> tuple[Calendar, Event]:
    calendar = Calendar.from_ical(content)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return calendar, events[0]


def through_vtimezone(calendar: Calendar, naive: datetime) -> datetime:
    """Place a wall time with the file's own VTIMEZONE only, as a client without tz data would."""
    (vtimezone,) = calendar.walk("VTIMEZONE")
    return naive.replace(tzinfo=vtimezone.to_tz(lookup_tzid=False)).astimezone(UTC)


NOW = utc(2026, 1, 5, 10, 0)


def test_summer_call_is_given_in_bst(sessions: SessionFactory) -> None:
    terms = load_terms()
    call_at = datetime(2026, 7, 15, 14, 0, tzinfo=LONDON).astimezone(UTC)
    assert call_at == utc(2026, 7, 15, 13, 0)
    case = add_case(sessions, terms, call_at)

    content = build_ics(case, terms, LONDON, NOW)
    calendar, event = parse(content)

    assert b"DTSTART;TZID=Europe/London:20260715T140000" in content
    assert b"DTEND;TZID=Europe/London:20260715T150000" in content
    start, end = event.decoded("dtstart"), event.decoded("dtend")
    assert start == call_at and start.astimezone(UTC) == utc(2026, 7, 15, 13, 0)
    assert start.utcoffset() == timedelta(hours=1)
    assert end - start == timedelta(minutes=60)
    assert through_vtimezone(calendar, datetime(2026, 7, 15, 14, 0)) == call_at
    assert calendar["VERSION"] == "2.0" and calendar["METHOD"] == "PUBLISH" and calendar["PRODID"]
    assert event.decoded("dtstamp") == NOW


def test_winter_call_is_given_in_gmt(sessions: SessionFactory) -> None:
    terms = load_terms()
    call_at = datetime(2026, 1, 14, 14, 0, tzinfo=LONDON).astimezone(UTC)
    assert call_at == utc(2026, 1, 14, 14, 0)
    case = add_case(sessions, terms, call_at)

    content = build_ics(case, terms, LONDON, NOW)
    calendar, event = parse(content)

    assert b"DTSTART;TZID=Europe/London:20260114T140000" in content
    start = event.decoded("dtstart")
    assert start == call_at and start.utcoffset() == timedelta(0)
    assert through_vtimezone(calendar, datetime(2026, 1, 14, 14, 0)) == call_at


def test_call_on_the_night_the_clocks_go_back_is_unambiguous(sessions: SessionFactory) -> None:
    terms = load_terms()
    # The convene form takes the first 01:30 (fold=0): BST, 00:30 UTC.
    call_at = datetime(2026, 10, 25, 1, 30, tzinfo=LONDON).astimezone(UTC)
    assert call_at == utc(2026, 10, 25, 0, 30)
    case = add_case(sessions, terms, call_at)

    content = build_ics(case, terms, LONDON, NOW)
    calendar, event = parse(content)

    # RFC 5545 reads an ambiguous wall time as its first occurrence, which is the one meant.
    assert b"DTSTART;TZID=Europe/London:20261025T013000" in content
    assert event.decoded("dtstart").astimezone(UTC) == utc(2026, 10, 25, 0, 30)
    assert through_vtimezone(calendar, datetime(2026, 10, 25, 1, 30)) == utc(2026, 10, 25, 0, 30)
    # The hour ends at the second 01:30 (GMT): a wall time alone would say 00:30 UTC, so it is in UTC.
    assert b"DTEND:20261025T013000Z" in content
    assert event.decoded("dtend").astimezone(UTC) == utc(2026, 10, 25, 1, 30)


def test_call_at_the_second_half_past_one_is_given_in_utc(sessions: SessionFactory) -> None:
    terms = load_terms()
    call_at = utc(2026, 10, 25, 1, 30)  # 01:30 GMT, after the clocks went back
    case = add_case(sessions, terms, call_at, duration_minutes=30)

    calendar, event = parse(build_ics(case, terms, LONDON, NOW))

    assert event.decoded("dtstart").astimezone(UTC) == call_at
    assert event.decoded("dtend").astimezone(UTC) == call_at + timedelta(minutes=30)


def test_summary_has_the_reference_and_no_name(sessions: SessionFactory) -> None:
    terms = load_terms()
    case = add_case(sessions, terms, utc(2026, 7, 15, 13, 0))

    content = build_ics(case, terms, LONDON, NOW)
    _, event = parse(content)

    summary = str(event["SUMMARY"])
    assert summary == f"{terms.short_name} {case.reference}"
    text = content.decode("utf-8")
    for name in NAMES:
        assert name not in summary
        assert name not in text
        assert name.split()[-1] not in text
    # Only the call details travel: not the concern or the risks.
    assert CONCERN[:30] not in text and RISKS[:30] not in text
    description = str(event["DESCRIPTION"])
    assert DETAILS in description and NOTE in description
    assert str(event["LOCATION"]) == LINK
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["UID"]) == f"{case.reference}@pmccg-bot"


def test_no_location_without_a_link(sessions: SessionFactory) -> None:
    terms = load_terms()
    case = add_case(sessions, terms, utc(2026, 7, 15, 13, 0), call_details="Dial-in 0300 000 0000 PIN 1234")

    _, event = parse(build_ics(case, terms, LONDON, NOW))

    assert "LOCATION" not in event
    assert "Dial-in 0300 000 0000 PIN 1234" in str(event["DESCRIPTION"])


def test_rescheduling_raises_the_sequence_and_keeps_the_uid(sessions: SessionFactory) -> None:
    terms = load_terms()
    case = add_case(sessions, terms, utc(2026, 7, 15, 13, 0))
    _, first = parse(build_ics(case, terms, LONDON, NOW))

    with transaction(sessions) as session:
        row = session.get(Case, case.id)
        assert row is not None
        row.call_at = utc(2026, 7, 16, 9, 0)
        row.schedule_version += 1
        session.add(row)
    moved = reread(sessions, case.id)
    _, second = parse(build_ics(moved, terms, LONDON, NOW + timedelta(hours=1)))

    assert first.decoded("sequence") == 0
    assert second.decoded("sequence") == 1
    assert str(second["UID"]) == str(first["UID"]) == f"{case.reference}@pmccg-bot"
    assert second.decoded("dtstart") == utc(2026, 7, 16, 9, 0)


def test_cancelled_case_is_marked_cancelled(sessions: SessionFactory) -> None:
    terms = load_terms()
    case = add_case(sessions, terms, utc(2026, 7, 15, 13, 0), status=CaseStatus.CANCELLED)

    _, event = parse(build_ics(case, terms, LONDON, NOW))

    assert str(event["STATUS"]) == "CANCELLED"


def _calendar_due(sessions: SessionFactory, terms: Terms, case: Case, now: datetime) -> Due:
    with transaction(sessions) as session:
        planning.schedule(session, case, [], terms, LONDON, now)
    session = sessions()
    row = session.exec(select(ScheduledMessage).where(ScheduledMessage.case_id == case.id,
                                                      ScheduledMessage.kind == planning.Kind.CALENDAR)).one()
    assert row.due_at == now and row.expires_at == case.call_at
    return Due(session, row, session.get(Case, case.id), terms, LONDON, now, False, json.loads(row.detail))


def test_compose_shares_an_ics_file_in_the_case_room(sessions: SessionFactory) -> None:
    terms = load_terms()
    case = add_case(sessions, terms, utc(2026, 7, 15, 13, 0))
    due = _calendar_due(sessions, terms, case, NOW)
    try:
        outcome = compose_calendar(due)
    finally:
        due.session.close()

    assert isinstance(outcome, list) and len(outcome) == 1
    (delivery,) = outcome
    assert isinstance(delivery, Delivery)
    assert delivery.room == case.room_id and delivery.user is None and delivery.message is None
    assert delivery.file is not None
    filename, content, title = delivery.file
    assert filename == f"{case.reference}.ics" and filename.endswith(".ics")
    assert title == f"{case.reference}: add the call to your calendar"
    _, event = parse(content)
    assert event.decoded("dtstart") == case.call_at


def test_cancelled_or_missing_case_composes_to_drop(sessions: SessionFactory) -> None:
    terms = load_terms()
    case = add_case(sessions, terms, utc(2026, 7, 15, 13, 0))
    due = _calendar_due(sessions, terms, case, NOW)
    try:
        assert due.case is not None
        due.case.status = CaseStatus.CANCELLED
        assert isinstance(compose_calendar(due), Drop)
        missing = Due(due.session, due.row, None, terms, LONDON, NOW, False, {})
        assert isinstance(compose_calendar(missing), Drop)
    finally:
        due.session.close()


def test_upload_file_goes_through_the_fake_slack(fake_slack: FakeSlack) -> None:
    workspace = SlackWorkspace(WebClient(token="xoxb-test", base_url=fake_slack.url))

    file_id = workspace.upload_file("C0ROOM001", "x.ics", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "title").ref

    assert [c.method for c in fake_slack.calls] == ["files.getUploadURLExternal", "files.completeUploadExternal"]
    assert all(c.ok for c in fake_slack.calls)
    assert fake_slack.uploads[file_id] == b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
    assert fake_slack.files[file_id]["name"] == "x.ics"
    assert fake_slack.files[file_id]["title"] == "title"
    assert fake_slack.files[file_id]["channels"] == ["C0ROOM001"]


def test_scheduler_uploads_the_invite_to_the_case_room(engine: Engine, sessions: SessionFactory,
                                                       fake_slack: FakeSlack) -> None:
    terms = load_terms()
    case = add_case(sessions, terms, utc(2026, 7, 15, 13, 0))
    with transaction(sessions) as session:
        planning.schedule(session, case, [], terms, LONDON, NOW)
    workspace = SlackWorkspace(WebClient(token="xoxb-test", base_url=fake_slack.url))
    report = TickReport()
    token = "test:calendar"

    # Only the invite is due at convene time; the rest of the plan is due later.
    (row_id,) = claim(sessions, engine, NOW, token, batch=10)
    process(sessions, row_id, token, workspace, terms, LONDON, NOW, report, {"calendar": compose_calendar})

    assert report.sent == 1 and not report.errors
    (file_id,) = fake_slack.uploads
    assert fake_slack.files[file_id]["name"] == f"{case.reference}.ics"
    assert fake_slack.files[file_id]["channels"] == [case.room_id]
    _, event = parse(fake_slack.uploads[file_id])
    assert event.decoded("dtstart") == case.call_at
    with sessions() as session:
        row = session.exec(select(ScheduledMessage).where(ScheduledMessage.kind == planning.Kind.CALENDAR)).one()
    assert row.state == MessageState.SENT


def test_without_vtimezone_support_times_are_given_in_utc(sessions: SessionFactory,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """icalendar 5 cannot build a VTIMEZONE: the file then states both times in UTC."""
    from icalendar import Timezone

    monkeypatch.delattr(Timezone, "from_tzinfo")
    terms = load_terms()
    case = add_case(sessions, terms, utc(2026, 7, 15, 13, 0))

    content = build_ics(case, terms, LONDON, NOW)
    calendar, event = parse(content)

    assert not calendar.walk("VTIMEZONE")
    assert b"DTSTART:20260715T130000Z" in content and b"DTEND:20260715T140000Z" in content
    assert event.decoded("dtstart") == case.call_at
