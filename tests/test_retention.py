"""Retention: after the configured period a closed case keeps its figures and loses its free text."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import now as clock_now
from bot.domain.terms import Terms
from bot.records import retention
from bot.records.case_file import build_case_file, render_case_file
from bot.sandbox.slack_api import FakeSlack
from storage.db import SessionFactory, transaction
from storage.tables import ActionPoint, ActionUpdate, Case, CaseEvent, FairnessAnswer, Outcome
from tests.factories import LONDON
from tests.records_case import CLOSE_REASON, CLOSED_AT, DUE_REASON, HEARD_NOTE, UPDATE_1, Story, build_story
from tests.scheduling import convene_at

TYPED = [CLOSE_REASON, DUE_REASON, HEARD_NOTE, UPDATE_1, "Two medication errors", "Patient safety on night",
         "meet.example.org", "supported plan is proportionate", "Second checker", "Fortnightly supervision",
         "Agree a supported improvement plan", "Audit the registers"]


@pytest.fixture
def story(sessions: SessionFactory, engine: Engine, terms: Terms, directory: FakeSlack) -> Story:
    return build_story(sessions, engine, terms, directory)


def snapshot(sessions: SessionFactory, case_id: int) -> dict[str, Any]:
    """Everything stored about the case, as plain values."""
    with sessions() as session:
        items = list(session.exec(select(ActionPoint).where(ActionPoint.case_id == case_id)))
        rows: list[Any] = [session.get(Case, case_id), *items,
                           *session.exec(select(Outcome).where(Outcome.case_id == case_id)),
                           *session.exec(select(FairnessAnswer).where(FairnessAnswer.case_id == case_id)),
                           *session.exec(select(ActionUpdate).where(
                               ActionUpdate.action_id.in_([i.id for i in items]))),  # type: ignore[union-attr]
                           *session.exec(select(CaseEvent).where(CaseEvent.case_id == case_id))]
        return {f"{type(r).__name__}:{r.id}": r.model_dump(mode="json") for r in rows}


def purge(sessions: SessionFactory, terms: Terms, at: datetime, *, dry_run: bool) -> list[retention.PurgeItem]:
    with freeze_time(at), transaction(sessions) as session:
        return retention.purge(session, terms, clock_now(), LONDON, dry_run=dry_run)


def test_inside_the_retention_period_nothing_is_listed_or_touched(story: Story, sessions: SessionFactory,
                                                                  terms: Terms) -> None:
    before = snapshot(sessions, story.case_id)
    last_day = CLOSED_AT + timedelta(days=terms.records.retention_days) - timedelta(minutes=1)
    assert purge(sessions, terms, last_day, dry_run=True) == []
    assert purge(sessions, terms, last_day, dry_run=False) == []
    assert snapshot(sessions, story.case_id) == before


def test_the_dry_run_lists_the_case_and_changes_nothing(story: Story, sessions: SessionFactory,
                                                         terms: Terms) -> None:
    before = snapshot(sessions, story.case_id)
    later = CLOSED_AT + timedelta(days=terms.records.retention_days, hours=1)
    (item,) = purge(sessions, terms, later, dry_run=True)
    # concern, risks, call details, close reason; rationale, risk notes, line manager support; the two notes
    # of the "heard" answers; three descriptions; the update and the due-date reason.
    assert (item.reference, item.ended, item.ended_at, item.fields) == (story.reference, "closed", CLOSED_AT, 14)
    assert snapshot(sessions, story.case_id) == before


def test_the_purge_keeps_the_figures_and_no_free_text_and_is_idempotent(
        story: Story, sessions: SessionFactory, engine: Engine, terms: Terms, directory: FakeSlack) -> None:
    later = CLOSED_AT + timedelta(days=terms.records.retention_days, hours=1)
    # A case convened later, still open: inside any retention period, untouched.
    with freeze_time(CLOSED_AT):
        young = convene_at(sessions, engine, terms, directory, CLOSED_AT, CLOSED_AT + timedelta(days=3), key="y")
    young_before = snapshot(sessions, young.case_id)
    with sessions() as session:
        figures_before = build_case_file(session, terms, story.reference, LONDON, later)

    (item,) = purge(sessions, terms, later, dry_run=False)
    assert item.fields == 14
    marker = f"[purged under the retention policy on {later.astimezone(LONDON).date().isoformat()}]"
    with sessions() as session:
        case = session.get(Case, story.case_id)
        assert case is not None and (case.concern, case.risks, case.call_details, case.close_reason) == (marker,) * 4
        # Dates, choices and categories stay: what the annual report counts.
        assert (case.profession, case.route, case.status, case.quorate) == ("nursing", "incident", "closed", True)
        outcome = session.exec(select(Outcome).where(Outcome.case_id == story.case_id)).one()
        assert (outcome.process, outcome.risk_level, outcome.rationale) == ("informal", "moderate", marker)
        answers = list(session.exec(select(FairnessAnswer).where(FairnessAnswer.case_id == story.case_id)))
        assert sorted(a.answer for a in answers if a.principle == "heard") == ["no", "yes"]
        assert all(a.note in ("", marker) for a in answers)
        (event,) = session.exec(select(CaseEvent).where(CaseEvent.case_id == story.case_id,
                                                        CaseEvent.kind == "purged"))
        assert json.loads(event.detail)["fields"] == 14 and event.at == later
        data = build_case_file(session, terms, story.reference, LONDON, later)
    assert data.timeliness == figures_before.timeliness
    assert [a.timeliness for a in data.actions] == [a.timeliness for a in figures_before.actions]
    assert data.timeline[-1].summary.startswith("Free text purged under the retention policy (14 fields")
    for f in render_case_file(data):
        text = f.content.decode()
        assert not [typed for typed in TYPED if typed in text], f.filename

    after = snapshot(sessions, story.case_id)
    assert purge(sessions, terms, later + timedelta(days=1), dry_run=False) == []  # nothing left to purge
    assert snapshot(sessions, story.case_id) == after
    assert snapshot(sessions, young.case_id) == young_before


def test_the_cli_dry_run_prints_and_the_purge_does_it(story: Story, engine: Engine, sessions: SessionFactory,
                                                       terms: Terms, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from bot import cli

    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.delenv("PMCCG_CONFIG", raising=False)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    later = CLOSED_AT + timedelta(days=terms.records.retention_days, hours=1)
    with freeze_time(later):
        assert cli.main(["purge", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"{story.reference}  closed 2026-11-27  would purge 14 free-text fields" in out
    assert "Dry run: nothing was changed." in out
    with sessions() as session:
        assert session.get(Case, story.case_id).concern.startswith("Two medication errors")  # type: ignore[union-attr]

    with freeze_time(later):
        assert cli.main(["purge"]) == 0
    out = capsys.readouterr().out
    assert f"{story.reference}  closed 2026-11-27  purged 14 free-text fields" in out
    # Without a Slack token nothing is deleted there: each message is listed, for the next run with one.
    assert ("Still in Slack, 19 of the bot's messages and files about purged cases were not deleted (tried again "
            "at the next purge):") in out
    assert f"  {story.reference}  the case header in {story.room_id}: not tried: no Slack token" in out
    assert f"  {story.reference}  the invitation to U0CHAIR01: not tried: no Slack token" in out
    with sessions() as session:
        assert session.get(Case, story.case_id).concern.startswith("[purged")  # type: ignore[union-attr]

    out_dir = tmp_path / "exports"
    out_dir.mkdir()
    with freeze_time(datetime(2026, 12, 1, tzinfo=UTC)):
        assert cli.main(["export", story.reference, "--out", str(out_dir)]) == 0
    assert sorted(p.name for p in out_dir.iterdir()) == [
        f"case-file-{story.reference}.{ext}" for ext in ("html", "json", "md")]
    assert "[purged under the retention policy" in (out_dir / f"case-file-{story.reference}.md").read_text()
    assert cli.main(["export", "PMCCG-1999-001"]) == 2
    assert "There is no case PMCCG-1999-001" in capsys.readouterr().err


def test_the_scheduler_purges_by_itself_once_and_logs_references_only(
        story: Story, sessions: SessionFactory, engine: Engine, terms: Terms, directory: FakeSlack,
        caplog: pytest.LogCaptureFixture) -> None:
    from bot.scheduler import Ticker
    from tests.scheduling import workspace_for

    ticker = Ticker(sessions=sessions, engine=engine, workspace=workspace_for(directory), terms=terms, zone=LONDON,
                    clock=clock_now)
    later = CLOSED_AT + timedelta(days=terms.records.retention_days, hours=1)
    with freeze_time(CLOSED_AT + timedelta(days=30)):
        assert ticker.purge_expired().purged == ()  # inside the period: nothing goes
    directory.clear()
    with freeze_time(later), caplog.at_level("INFO", logger="bot.scheduler"):
        run = ticker.purge_expired()
        (item,) = run.purged
        assert ticker.purge_expired().purged == ()  # the next night finds nothing left
    assert (item.reference, item.fields) == (story.reference, 14)
    # Its messages and files went from Slack with it: each deletion as the stand-in received it.
    assert len(run.deleted) == 19 and run.not_deleted == () and run.erased is True
    assert len(directory.delivered("chat.delete")) == 18 and len(directory.delivered("files.delete")) == 1
    with sessions() as session:
        assert session.get(Case, story.case_id).concern.startswith("[purged")  # type: ignore[union-attr]
        events = session.exec(select(CaseEvent).where(CaseEvent.case_id == story.case_id, CaseEvent.kind == "purged"))
        assert len(list(events)) == 1
    logged = [r for r in caplog.records if getattr(r, "event", None) == "purged"]
    assert [(r.case_refs, r.deleted, r.not_deleted) for r in logged] == [  # type: ignore[attr-defined]
        ([story.reference], 19, 0)]
    assert not [typed for typed in TYPED for r in caplog.records if typed in r.getMessage()]


def test_the_nightly_purge_runs_at_half_past_two_on_the_organisations_clock(
        sessions: SessionFactory, engine: Engine, terms: Terms, directory: FakeSlack) -> None:
    from bot.scheduler import Ticker, build
    from tests.scheduling import workspace_for

    ticker = Ticker(sessions=sessions, engine=engine, workspace=workspace_for(directory), terms=terms, zone=LONDON,
                    clock=clock_now)
    job = build(ticker, 20, blocking=False).get_job("retention")
    assert job is not None and job.func == ticker.purge_expired
    # 02:30 in London: 01:30 UTC in summer time, 02:30 UTC in winter.
    summer = job.trigger.get_next_fire_time(None, datetime(2026, 7, 1, 3, 0, tzinfo=UTC))
    winter = job.trigger.get_next_fire_time(None, datetime(2026, 12, 1, 3, 0, tzinfo=UTC))
    assert summer.astimezone(UTC) == datetime(2026, 7, 2, 1, 30, tzinfo=UTC)
    assert winter.astimezone(UTC) == datetime(2026, 12, 2, 2, 30, tzinfo=UTC)
