"""The annual summary report: a fictional year (tests/year_of_cases.py) against what its plans say happened,
with small numbers hidden so that no count under the threshold can be read or worked out from a total."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bot import cli
from bot.records import annual_report, report_files, suppression
from bot.records.annual_report import AnnualReport, Breakdown
from bot.sandbox.slack_api import FakeSlack
from bot.terms import Terms, load_terms
from storage.db import SessionFactory, make_engine, session_factory, upgrade
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


# --- suppression ---------------------------------------------------------------------------------------


def test_a_small_count_is_hidden_and_so_is_the_next_smallest_when_a_total_would_give_it_back() -> None:
    counts = suppression.table({"a": 6, "b": 1, "c": 0, "d": 9}, 5)
    assert {k: c.shown for k, c in counts.items()} == {"a": "*", "b": "<5", "c": "0", "d": "9"}
    assert counts["a"].value is None and counts["b"].value is None  # the value is gone, not just masked
    # Two small counts hide each other: nothing more to hide.
    assert {k: c.shown for k, c in suppression.table({"a": 6, "b": 1, "c": 2}, 5).items()} == \
        {"a": "6", "b": "<5", "c": "<5"}
    # A hidden total: the cells would add up to it, so none is shown.
    assert {k: c.shown for k, c in suppression.table({"a": 6, "b": 0}, 5, total_hidden=True).items()} == \
        {"a": "*", "b": "0"}


def test_a_share_is_no_more_precise_than_its_counts() -> None:
    assert suppression.share(6, 19, 5) == "32% (6 of 19)"
    assert suppression.share(11, 12, 5) == "at least 8 of 12"
    assert suppression.share(2, 12, 5) == "fewer than 5 of 12"
    assert suppression.share(3, 4, 5) == "not shown (fewer than 5)"


# --- the year's figures ----------------------------------------------------------------------------------


def test_cases_are_counted_by_the_call_with_the_cancelled_case_apart(report: AnnualReport) -> None:
    assert [(f.key, f.shown) for f in report.cases] == [("held", "12"), ("cancelled", "<5"), ("awaiting", "0")]


def test_breakdowns_by_profession_route_process_and_quorum(report: AnnualReport) -> None:
    # 5 doctor, 5 nursing, 2 paramedic: the 2 is hidden, and (a tie) the doctors' 5 with it.
    assert shown(report.by_profession) == {"doctor": "*", "nursing": "5", "paramedic": "<5", "pharmacy": "0",
                                           "acp": "0", "call_handling": "0", "operational": "0"}
    # 4 complaints, 5 incidents, 1 whistleblowing, 2 internal reporting.
    assert shown(report.by_route) == {"complaint": "<5", "incident": "5", "whistleblowing": "<5",
                                      "internal_reporting": "<5", "other": "0"}
    assert shown(report.by_process) == {"informal": "8", "formal": "<5", "no_further_action": "<5", "other": "0",
                                        "no_outcome": "0"}
    # Case 5 was inquorate (three counted, no professional lead): one call, hidden; so is the rest.
    assert shown(report.quorum) == {"quorate": "*", "inquorate": "<5", "unknown": "0"}
    assert report.by_profession.total.shown == "12"


def test_no_hidden_count_can_be_worked_out_from_a_total(report: AnnualReport) -> None:
    for breakdown in report.breakdowns:
        hidden = [r for r in breakdown.rows if r.count.is_hidden]
        assert len(hidden) != 1, breakdown.title
        if hidden and not breakdown.total.is_hidden:
            visible = sum(r.count.value or 0 for r in breakdown.rows)
            # What is left for the hidden cells is shared by at least two of them.
            assert (breakdown.total.value or 0) - visible > 0 and len(hidden) >= 2


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
    assert "| Nursing | 5 |" in md and "| Paramedic | <5 |" in md
    paramedic = next(r for r in source["by_profession"]["rows"] if r["key"] == "paramedic")
    assert paramedic == {"key": "paramedic", "label": "Paramedic", "value": None, "shown": "<5",
                         "suppressed": "primary"}


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
