"""The attendance matrix: a fictional year (tests/year_of_cases.py) against what its plans say happened.

Domain tests share one year built on SQLite (building it takes seconds); one test builds a shorter
year on both backends; the Slack tests send signed commands to the running bot.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bot.domain.terms import Terms, load_terms
from bot.records import attendance_matrix, report_files
from bot.records.attendance_matrix import AttendanceMatrix, Cell
from bot.sandbox.slack_api import FakeSlack
from storage.db import SessionFactory, make_engine, session_factory, upgrade
from tests.factories import LONDON, all_names
from tests.year_of_cases import (
    CHAIR,
    CLINDIR,
    GOVERN,
    GP_LEAD,
    NURSE_LEAD,
    PEOPLE,
    PLANS,
    REPORT_AT,
    YEAR,
    Built,
    build_year,
    free_text,
)

P, D, A, N = Cell.PRESENT, Cell.DEPUTY, Cell.APOLOGIES, Cell.NO_REPLY


@dataclass(frozen=True)
class Year:
    sessions: SessionFactory
    terms: Terms
    built: Built


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Year]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('year') / 'year.db'}")
    upgrade(engine)
    sessions, terms = session_factory(engine), load_terms()
    with FakeSlack() as fake:
        built = build_year(sessions, engine, terms, fake)
    yield Year(sessions, terms, built)
    engine.dispose()


def matrix_of(year: Year, terms: Terms | None = None, at: datetime = REPORT_AT, for_year: int = YEAR
              ) -> AttendanceMatrix:
    with year.sessions() as session:
        return attendance_matrix.build(session, terms or year.terms, for_year, LONDON, at)


def row(matrix: AttendanceMatrix, user: str) -> attendance_matrix.MemberRow:
    return next(r for r in matrix.members if r.user_id == user)


def test_the_meetings_are_the_calls_held_in_the_year_not_the_cancelled_case(year: Year) -> None:
    matrix = matrix_of(year)
    held = [year.built.references[p.number] for p in PLANS if not p.cancel]
    assert [m.reference for m in matrix.meetings] == held
    assert year.built.references[13] not in [m.reference for m in matrix.meetings]
    # Case 4's call had no roll-call (the bot was down): its cells come from the replies.
    sources = {m.reference: m.source for m in matrix.meetings}
    assert sources[year.built.references[4]] == "replies"
    assert {s for ref, s in sources.items() if ref != year.built.references[4]} == {"roll-call"}


def test_each_cell_says_present_deputy_apologies_or_no_reply_as_it_happened(year: Year) -> None:
    matrix = matrix_of(year)
    # The clinical director: apologies mostly, no reply four times, present at cases 6 and 9.
    assert row(matrix, CLINDIR).cells == (A, N, A, A, A, P, A, N, P, A, A, N)
    # The people team sent a deputy to cases 2, 5 and 9 (the deputy was marked present on the roll-call).
    assert row(matrix, PEOPLE).cells == (P, D, P, P, D, P, P, P, D, P, P, P)
    # Governance: no reply to case 4 (no roll-call) and 7; at case 5 replied "attending" but was not on
    # the roll-call, with no apologies: the record shows no reply.
    assert row(matrix, GOVERN).cells == (P, P, P, N, N, P, N, P, P, P, P, P)
    # Each professional lead is invited only to cases of their professions.
    assert row(matrix, NURSE_LEAD).cells == (P, P, None, P, None, None, P, None, P, None, None, None)
    assert row(matrix, GP_LEAD).cells == (None, None, P, None, A, P, None, P, None, P, P, P)


def test_rates_and_the_members_under_the_target_are_flagged(year: Year) -> None:
    matrix = matrix_of(year)
    assert matrix.target == 0.75
    chair, clindir, people = row(matrix, CHAIR), row(matrix, CLINDIR), row(matrix, PEOPLE)
    assert (chair.invited, chair.attended, chair.rate_text, chair.flagged) == (12, 12, "100%", False)
    assert (clindir.attended, clindir.rate_text, clindir.flagged) == (2, "17%", True)
    # The PMCCG's quorum does not count deputies, so neither does the rate: 9 of 12 is exactly 75%, not under.
    assert (people.attended, people.rate_text, people.flagged) == (9, "75%", False)
    assert [r.user_id for r in matrix.flagged] == [CLINDIR]


def test_a_group_whose_deputies_count_counts_a_deputy_sent_as_attended(year: Year) -> None:
    opg_like = replace(year.terms, quorum=replace(year.terms.quorum, deputies_count=True),
                       records=replace(year.terms.records, attendance_target=0.9))
    matrix = matrix_of(year, opg_like)
    assert (row(matrix, PEOPLE).attended, row(matrix, PEOPLE).rate_text) == (12, "100%")
    # A 90% target: governance (9 of 12) and the GP lead (6 of 7) are now under it too.
    assert sorted(r.user_id for r in matrix.flagged) == sorted([CLINDIR, GOVERN, GP_LEAD])


def test_the_year_is_the_organisations_calendar_year(year: Year) -> None:
    assert matrix_of(year, for_year=YEAR - 1).meetings == ()
    # Looking back from mid-May 2025, only the calls held by then are meetings.
    may = matrix_of(year, at=datetime(2025, 5, 15, 12, 0, tzinfo=UTC))
    assert [m.reference for m in may.meetings] == [year.built.references[n] for n in (1, 2, 3, 4, 5)]


def test_csv_has_a_row_per_member_and_a_column_per_meeting(year: Year) -> None:
    matrix = matrix_of(year)
    rows = list(csv.DictReader(io.StringIO(attendance_matrix.to_csv(matrix))))
    assert len(rows) == len(matrix.members) == 8
    clindir = next(r for r in rows if r["member"] == CLINDIR)
    first = f"{year.built.references[1]} 2025-01-16"
    assert clindir[first] == "Apologies"
    assert (clindir["attendance_rate"], clindir["under_target_75%"]) == ("0.17", "yes")
    assert next(r for r in rows if r["member"] == NURSE_LEAD)[f"{year.built.references[3]} 2025-03-14"] \
        == "not invited"


def assert_clean(text: str) -> None:
    """No staff, member or directory name, and none of the free text typed into the cases."""
    for name in all_names():
        assert name not in text
        assert name.split()[-1] not in text
    for typed in free_text():
        assert typed not in text
    assert "zebra" not in text


def test_the_documents_name_nobody_and_hold_no_free_text(year: Year) -> None:
    files = report_files.attendance_files(matrix_of(year))
    assert sorted(files) == ["pmccg-attendance-2025.csv", "pmccg-attendance-2025.html"]
    html = files["pmccg-attendance-2025.html"].decode()
    assert_clean(html)
    assert_clean(files["pmccg-attendance-2025.csv"].decode())
    assert CLINDIR in html and "Under target" in html and year.built.references[12] in html


def test_a_shorter_year_on_each_backend(engine: Engine, sessions: SessionFactory, terms: Terms,
                                        fake_slack: FakeSlack) -> None:
    built = build_year(sessions, engine, terms, fake_slack, PLANS[:5])
    with sessions() as session:
        matrix = attendance_matrix.build(session, terms, YEAR, LONDON, REPORT_AT)
    assert [m.reference for m in matrix.meetings] == [built.references[n] for n in (1, 2, 3, 4, 5)]
    assert row(matrix, CLINDIR).cells == (A, N, A, A, A)
    assert row(matrix, GOVERN).cells == (P, P, P, N, N)


# --- Slack: /pmccg attendance ------------------------------------------------------------------------


def _dm_files(slack: FakeSlack, user: str) -> list[dict[str, Any]]:
    return [f for f in slack.files.values() if f.get("channels") == [f"D{user}"]]


def test_governance_gets_the_matrix_in_a_direct_message_with_the_files(bot: Any, engine: Engine,
                                                                       sessions: SessionFactory,
                                                                       terms: Terms) -> None:
    built = build_year(sessions, engine, terms, bot.slack, PLANS[:5])
    bot.slack.clear()
    assert bot.command(GOVERN, f"attendance {YEAR}").status_code == 200
    (dm,) = bot.slack.wait_for("chat.postMessage", lambda c: c.params.get("channel") == GOVERN)
    text = str(dm.params["blocks"])
    assert f"<@{CLINDIR}>" in text and ":warning:" in text and "`ANAAA`" in text
    bot.slack.wait_for("files.completeUploadExternal", count=2)
    files = _dm_files(bot.slack, GOVERN)
    assert sorted(f["name"] for f in files) == ["pmccg-attendance-2025.csv", "pmccg-attendance-2025.html"]
    html = next(bot.slack.uploads[f["id"]] for f in files if f["name"].endswith(".html")).decode()
    assert built.references[5] in html
    assert_clean(html + text)
    # Nothing was posted anywhere but the requester's DM.
    assert all(c.params.get("channel") == GOVERN for c in bot.slack.calls_to("chat.postMessage"))


def test_someone_without_a_records_role_is_refused_privately(bot: Any) -> None:
    bot.command("U0MEMBER1", f"attendance {YEAR}")
    (reply,) = bot.slack.wait_for("response")
    assert reply.params["response_type"] == "ephemeral"
    assert "Only" in reply.params["text"] and "governance" in reply.params["text"]
    assert bot.slack.calls_to("files.completeUploadExternal") == []
    assert bot.slack.calls_to("chat.postMessage") == []


@pytest.mark.parametrize("typed, says", [
    pytest.param("20x5", "is not a year", id="not-a-year"),
    pytest.param("2999", "give a year from 2000", id="future"),
])
def test_a_bad_year_gets_a_clear_private_error(bot: Any, typed: str, says: str) -> None:
    bot.command(CHAIR, f"attendance {typed}")
    (reply,) = bot.slack.wait_for("response")
    assert reply.params["response_type"] == "ephemeral" and says in reply.params["text"]
    assert bot.slack.calls_to("files.completeUploadExternal") == []
