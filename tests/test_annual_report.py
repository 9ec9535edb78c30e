"""The annual summary report: a fictional year (tests/year_of_cases.py) against what its plans say happened,
with small numbers hidden so that no count under the threshold can be read or worked out from a total."""

from __future__ import annotations

import itertools
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, update

from bot import cli
from bot.domain.terms import Terms, load_terms
from bot.records import annual_report, report_files
from bot.records.annual_report import AnnualReport, Breakdown
from bot.sandbox.slack_api import FakeSlack
from storage.db import SessionFactory, make_engine, session_factory, transaction, upgrade
from storage.tables import Case, Outcome
from tests.factories import LONDON
from tests.test_attendance_matrix import _dm_files, assert_clean
from tests.year_of_cases import GOVERN, PLANS, REPORT_AT, YEAR, Built, build_year


@dataclass(frozen=True)
class Year:
    sessions: SessionFactory
    terms: Terms
    built: Built
    url: str


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Year]:
    url = f"sqlite:///{tmp_path_factory.mktemp('annual') / 'year.db'}"
    engine = make_engine(url)
    upgrade(engine)
    sessions, terms = session_factory(engine), load_terms()
    with FakeSlack() as fake:
        built = build_year(sessions, engine, terms, fake)
    yield Year(sessions, terms, built, url)
    engine.dispose()


@pytest.fixture(scope="module")
def report(year: Year) -> AnnualReport:
    with year.sessions() as session:
        return annual_report.build(session, year.terms, YEAR, LONDON, REPORT_AT)


def shown(b: Breakdown) -> dict[str, str]:
    return {r.key: r.count.shown for r in b.rows}


# --- the year's figures ----------------------------------------------------------------------------------


def test_cases_are_counted_by_the_call_with_the_cancelled_case_apart(report: AnnualReport) -> None:
    assert [(f.key, f.shown) for f in report.cases] == [("held", "12"), ("cancelled", "<5"), ("awaiting", "0")]


def test_breakdowns_by_profession_route_process_and_quorum(report: AnnualReport) -> None:
    # 5 doctor, 5 nursing, 2 paramedic: the 2 is hidden, and (a tie) the doctors' 5 with it; the
    # smallest goes first, so doctors would be at most the nurses' 5, so exactly 5: nursing goes too.
    assert shown(report.by_profession) == {"doctor": "*", "nursing": "*", "paramedic": "<5", "pharmacy": "0",
                                           "acp": "0", "call_handling": "0", "operational": "0"}
    # 4 complaints, 5 incidents, 1 whistleblowing, 2 internal reporting.
    assert shown(report.by_route) == {"complaint": "<5", "incident": "5", "whistleblowing": "<5",
                                      "internal_reporting": "<5", "other": "0"}
    assert shown(report.by_process) == {"informal": "8", "formal": "<5", "no_further_action": "<5", "other": "0",
                                        "no_outcome": "0"}
    # Case 5 was inquorate (three counted, no professional lead): one call, hidden; so is the rest.
    assert shown(report.quorum) == {"quorate": "*", "inquorate": "<5", "unknown": "0"}
    assert report.by_profession.total.shown == "12"


def readings(breakdown: Breakdown, threshold: int) -> list[tuple[int, ...]]:
    """Every table a reader could take the published one for, from what it shows alone: "<5" is 1 to 4,
    "*" 5 or more and no more than a count still shown (less than one in an earlier row), and the rows
    add up to the total (1 to 4 when that is "<5")."""
    rows = [r.count for r in breakdown.rows]
    top = breakdown.total.value if breakdown.total.value is not None else threshold - 1
    totals = {top} if breakdown.total.value is not None else set(range(1, threshold))
    shown = [(i, c.value) for i, c in enumerate(rows) if c.value is not None and c.value >= threshold]
    options = []
    for i, c in enumerate(rows):
        if c.value is not None:
            options.append([c.value])
        elif c.shown == "*":
            below = min([top] + [v - (j < i) for j, v in shown])
            options.append(list(range(threshold, below + 1)))
        else:
            options.append(list(range(1, threshold)))
    return [values for values in itertools.product(*options) if sum(values) in totals]


def test_no_hidden_count_can_be_worked_out_from_what_the_report_shows(report: AnnualReport) -> None:
    for breakdown in report.breakdowns:
        if breakdown.withheld:
            continue
        possible = readings(breakdown, report.threshold)
        assert possible, breakdown.title  # the published table is one a reader can arrive at
        for i, row in enumerate(breakdown.rows):
            if row.count.is_hidden:
                assert len({values[i] for values in possible}) >= 2, (breakdown.title, row.label)


def test_timeliness_and_action_points_done_on_time(report: AnnualReport) -> None:
    figures = {f.key: f.shown for f in report.timeliness}
    assert figures["convened_to_call"] == "3 days"  # 2, 4 and ten of 3
    # Cases 1 to 8 gave a date ten days before convening (12, 13 or 14 days to the call), 9 to 12 none (3).
    assert figures["concern_to_call"] == "13 days"
    assert figures["call_to_circulation"] == "0 days"  # circulated the day of the outcome; case 3 nine days on
    assert figures["circulated_within_limit"] == "at least 8 of 12"  # 11 of 12: the late one stays hidden
    assert shown(report.actions) == {"on_time": "6", "late": "5", "overdue": "8", "not_due": "0", "dropped": "0"}
    assert report.actions_on_time.shown == "32% (6 of 19)"


def test_fairness_answers_needing_further_inquiry_by_principle(report: AnnualReport) -> None:
    # "heard" was answered no/unknown in cases 2, 5, 8 and 10; "welfare" in 7; "understanding" in 5.
    assert shown(report.fairness) == {"welfare": "<5", "understanding": "<5", "heard": "<5", "process": "0",
                                      "equity": "0"}


def test_the_documents_hold_no_names_no_free_text_and_no_hidden_value(report: AnnualReport) -> None:
    files = report_files.annual_files(report)
    assert sorted(files) == ["pmccg-annual-report-2025.html", "pmccg-annual-report-2025.json",
                             "pmccg-annual-report-2025.md"]
    html, md = files["pmccg-annual-report-2025.html"].decode(), files["pmccg-annual-report-2025.md"].decode()
    source = json.loads(files["pmccg-annual-report-2025.json"])
    assert html.count('src="data:image/png;base64,') == 5
    for text in (re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html), md, json.dumps(source)):
        assert_clean(text)
        assert "U0" not in text and "PMCCG-2025-" not in text  # no member and no case either
    assert "| Nursing | * |" in md and "| Paramedic | <5 |" in md
    paramedic = next(r for r in source["by_profession"]["rows"] if r["key"] == "paramedic")
    assert paramedic == {"key": "paramedic", "label": "Paramedic", "value": None, "shown": "<5",
                         "suppressed": "primary"}


# --- suppression in the report itself --------------------------------------------------------------


def made_up_year(sessions: SessionFactory, calls: list[tuple[str, str | None, bool]]) -> AnnualReport:
    """Calls held in 2025, straight into the tables: (profession, process or None, circulated)."""
    with transaction(sessions) as session:
        for number, (profession, process, circulated) in enumerate(calls, start=1):
            held_at = datetime(YEAR, 3, 1, 14, tzinfo=UTC) + timedelta(days=number)
            case = Case(reference=f"T-{YEAR}-{number:03d}", prefix="T", year=YEAR, seq=number, profession=profession,
                        route="incident", concern="", risks="", call_at=held_at, duration_minutes=60,
                        call_details="", convener_id="U0MANAGER", room_id=f"C0{number:03d}", room_name=f"t-{number}",
                        created_at=held_at - timedelta(days=7), convene_key=f"made-up-{number}")
            session.add(case)
            session.flush()
            if process is not None:
                session.add(Outcome(case_id=case.id or 0, process=process, rationale="", risk_level="low",
                                    ml_policy_notify="no", legal_advice="no", welfare_offered="yes", quorate=True,
                                    recorded_by="U0CHAIR01", recorded_at=held_at + timedelta(hours=2),
                                    circulated_at=held_at + timedelta(hours=3) if circulated else None))
    with sessions() as session:
        return annual_report.build(session, load_terms(), YEAR, LONDON, REPORT_AT)


def test_the_issues_example_doctor_12_nursing_1_paramedic_1_gives_neither_hidden_cell_back(
        sessions: SessionFactory) -> None:
    report = made_up_year(sessions, [("doctor", "informal", True)] * 12 + [("nursing", "informal", True),
                                                                            ("paramedic", "informal", True)])
    # Before: "12", "<5", "<5" of 14, so both were 1. Now the doctors are hidden too: each small one is 1 to 4.
    assert shown(report.by_profession) == {"doctor": "*", "nursing": "<5", "paramedic": "<5", "pharmacy": "0",
                                           "acp": "0", "call_handling": "0", "operational": "0"}
    md = report_files.annual_files(report)["pmccg-annual-report-2025.md"].decode()
    assert "| Doctor (GP) | * |" in md and "| **Total (calls held)** | **14** |" in md


def test_a_breakdown_no_further_hiding_can_protect_is_withheld_with_a_note(sessions: SessionFactory) -> None:
    # Four doctors and four nurses: "<5" and "<5" of 8 could only be 4 and 4.
    report = made_up_year(sessions, [("doctor", "informal", True)] * 4 + [("nursing", "informal", True)] * 4)
    assert set(shown(report.by_profession).values()) == {"–"} and report.by_profession.chart is None
    files = report_files.annual_files(report)
    md, html = files["pmccg-annual-report-2025.md"].decode(), files["pmccg-annual-report-2025.html"].decode()
    source = json.loads(files["pmccg-annual-report-2025.json"])
    note = "Not broken down: with so few calls held, any breakdown would let a hidden count be worked out"
    assert "| Nursing | – |" in md and note in md and note in html
    assert html.count('src="data:image/png;base64,') == 4  # no chart for the withheld table
    assert {(r["value"], r["suppressed"]) for r in source["by_profession"]["rows"]} == {(None, "withheld")}
    assert shown(report.by_process) == {"informal": "8", "formal": "0", "no_further_action": "0", "other": "0",
                                        "no_outcome": "0"}


def test_outcomes_circulated_bound_the_calls_without_an_outcome(sessions: SessionFactory) -> None:
    # 14 calls: 7 informal, 6 formal, all 13 circulated, 1 without an outcome. "7, *, <5" would do on
    # its own, but "13 circulated" says at most one call has no outcome: "<5" there is exactly 1.
    report = made_up_year(sessions, [("doctor", "informal", True)] * 7 + [("nursing", "formal", True)] * 6
                          + [("nursing", None, False)])
    figures = {f.key: f.shown for f in report.timeliness}
    assert figures["circulated_within_limit"] == "100% (13 of 13)"
    assert set(shown(report.by_process).values()) == {"–"}
    # With only 12 of them circulated, "no outcome" could be 1 or 2: the table is shown.
    with transaction(sessions) as session:
        session.exec(update(Outcome).where(col(Outcome.process) == "formal").values(circulated_at=None)
                     .execution_options(synchronize_session=False))  # type: ignore[call-overload]
    with sessions() as session:
        shown_now = shown(annual_report.build(session, load_terms(), YEAR, LONDON, REPORT_AT).by_process)
    assert shown_now == {"informal": "7", "formal": "*", "no_further_action": "0", "other": "0", "no_outcome": "<5"}


# --- the command line and Slack --------------------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, year: Year) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", year.url)
    for name in ("PMCCG_CONFIG", "PMCCG_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_cli_writes_the_annual_report_and_the_attendance_matrix(cli_env: None, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["report", "annual", "--year", str(YEAR), "--out", str(tmp_path / "out")]) == 0
    assert cli.main(["report", "attendance", "--year", str(YEAR), "--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "pmccg-annual-report-2025.html", "pmccg-annual-report-2025.json", "pmccg-annual-report-2025.md",
        "pmccg-attendance-2025.csv", "pmccg-attendance-2025.html"]
    assert str(tmp_path / "out" / "pmccg-attendance-2025.csv") in capsys.readouterr().out


def test_cli_refuses_a_bad_year_and_writes_nothing(cli_env: None, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["report", "annual", "--year", "25", "--out", str(tmp_path / "out")]) == 2
    assert "--year: '25' is not a year" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_medical_director_gets_the_report_privately(bot: Any, engine: Engine, sessions: SessionFactory,
                                                         terms: Terms) -> None:
    build_year(sessions, engine, terms, bot.slack, PLANS[:3])
    bot.slack.clear()
    bot.command("U0MEDDIR1", f"report {YEAR}")
    (dm,) = bot.slack.wait_for("chat.postMessage", lambda c: c.params.get("channel") == "U0MEDDIR1")
    bot.slack.wait_for("files.completeUploadExternal", count=3)
    files = _dm_files(bot.slack, "U0MEDDIR1")
    assert sorted(f["name"] for f in files) == ["pmccg-annual-report-2025.html", "pmccg-annual-report-2025.json",
                                                "pmccg-annual-report-2025.md"]
    contents = "".join(bot.slack.uploads[f["id"]].decode() for f in files) + str(dm.params)
    assert_clean(contents)
    # Three calls held: under the threshold, so the count itself is hidden (escaped for Slack's mrkdwn).
    blocks = dm.params["blocks"] if isinstance(dm.params["blocks"], list) else json.loads(dm.params["blocks"])
    fields = [f["text"] for b in blocks for f in b.get("fields", [])]
    assert "*Calls held*\n&lt;5" in fields
    (ack,) = bot.slack.wait_for("response")
    assert ack.params["response_type"] == "ephemeral" and "direct messages" in ack.params["text"]


def test_a_member_without_a_records_role_is_refused_the_report(bot: Any) -> None:
    bot.command("U0NURSELD", f"report {YEAR}")
    (reply,) = bot.slack.wait_for("response")
    assert reply.params["response_type"] == "ephemeral" and "Only" in reply.params["text"]
    assert f"<@{GOVERN}>" in reply.params["text"]  # who to ask
    assert bot.slack.calls_to("files.getUploadURLExternal") == []
