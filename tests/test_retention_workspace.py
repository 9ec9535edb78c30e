"""Retention that completes: a purged case's messages and files are deleted in Slack (as the stand-in
receives chat.delete / files.delete), what cannot be deleted is listed by `pmccg purge` and retried,
a case never closed is purged a terms-set time after its call, and the purged text is not left in
the database's files (SQLite's file and write-ahead log; PostgreSQL's table files).

Cases are driven through the real domain path (convening, the scheduler's ticks, the outcome,
closure) with every Web API call landing on the stand-in; both backends.
"""

from __future__ import annotations

import json
import time as wall
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from bot.clock import now as clock_now
from bot.domain import ledger
from bot.domain.action_points import NewAction
from bot.domain.fairness import PRINCIPLES
from bot.domain.outcomes import OutcomeForm, record_outcome
from bot.domain.terms import Terms, TermsError, load_terms
from bot.records import case_file, retention
from bot.sandbox.slack_api import Call, FakeSlack
from storage.db import SessionFactory, transaction
from storage.tables import (
    ActionPoint,
    ActionStatus,
    Case,
    CaseEvent,
    DeliveryRecord,
    DeliveryState,
    MessageState,
    ScheduledMessage,
)
from tests.factories import HERE, LONDON, all_names, load_roster
from tests.records_case import CLOSED_AT, DUE_REASON, HEARD_NOTE, UPDATE_1, Story, build_story
from tests.scheduling import convene_at, tick, workspace_for

# What was typed into the story's case: none of it may survive the purge, anywhere.
TYPED = ["Two medication errors on night shifts", "Patient safety on night shifts", "meet.example.org/pmccg",
         "Dial-in 0300 000 0000 PIN 1234", "supported plan is proportionate", "Second checker at night",
         "Fortnightly supervision", "Agree a supported improvement plan", HEARD_NOTE, UPDATE_1, DUE_REASON]


@pytest.fixture
def story(sessions: SessionFactory, engine: Engine, terms: Terms, directory: FakeSlack) -> Story:
    return build_story(sessions, engine, terms, directory)


def after_retention(terms: Terms) -> datetime:
    return CLOSED_AT + timedelta(days=terms.records.retention_days, hours=1)


def run(sessions: SessionFactory, engine: Engine, terms: Terms, fake: FakeSlack | None, at: datetime, *,
        dry_run: bool = False) -> retention.RetentionRun:
    workspace = workspace_for(fake) if fake is not None else None
    with freeze_time(at):
        return retention.run(sessions, engine, workspace, terms, LONDON, clock_now(), dry_run=dry_run)


def ledger_rows(sessions: SessionFactory, case_id: int) -> list[DeliveryRecord]:
    with sessions() as session:
        return ledger.for_case(session, case_id)


def deletions(fake: FakeSlack) -> tuple[set[tuple[str, str]], set[str]]:
    """(channel, ts) of every message and the id of every file the stand-in was asked to delete."""
    return ({(c.params["channel"], c.params["ts"]) for c in fake.calls_to("chat.delete")},
            {c.params["file"] for c in fake.calls_to("files.delete")})


def export(sessions: SessionFactory, terms: Terms, fake: FakeSlack, reference: str, at: datetime) -> None:
    """Governance exports the case file into the case channel (three files, recorded in the ledger)."""
    with transaction(sessions) as session:
        prepared = case_file.prepare_export(session, terms, reference, "U0GOVERN1", LONDON, at)
        case_file.share_export(session, workspace_for(fake), prepared, "U0GOVERN1", at)


# --- deleting in Slack ----------------------------------------------------------------------------


def test_the_purge_deletes_every_message_and_file_the_bot_sent_about_the_case(
        story: Story, sessions: SessionFactory, engine: Engine, terms: Terms, directory: FakeSlack) -> None:
    export(sessions, terms, directory, story.reference, CLOSED_AT + timedelta(days=1))
    with freeze_time(CLOSED_AT):  # a younger case, open: nothing of it is touched
        young = convene_at(sessions, engine, terms, directory, CLOSED_AT, CLOSED_AT + timedelta(days=3), key="y")
    sent = ledger_rows(sessions, story.case_id)
    messages = {(r.room, r.ref) for r in sent if not r.is_file}
    files = {r.ref for r in sent if r.is_file}
    # Header, board, six invitations, two chases, the quorum note, agenda, roll-call, the outcome summary,
    # three owners' actions and the recommendation; the calendar file and the three exported files.
    assert {r.kind for r in sent} == {"case_header", "attendance_board", "invitation", "reply_chase", "quorum_ok",
                                      "agenda", "roll_call", "outcome_summary", "outcome_owner_actions",
                                      "outcome_recommendation", "file"}
    assert (len(messages), len(files)) == (18, 4)
    assert all(ts in directory.messages for _, ts in messages) and all(f in directory.files for f in files)
    young_rows = ledger_rows(sessions, young.case_id)
    directory.clear()

    later = after_retention(terms)
    result = run(sessions, engine, terms, directory, later)

    assert [p.reference for p in result.purged] == [story.reference]
    assert deletions(directory) == (messages, files)
    assert all(c.ok for c in directory.calls_to("chat.delete") + directory.calls_to("files.delete"))
    assert not [ts for _, ts in messages if ts in directory.messages] and not files & set(directory.files)
    assert len(result.deleted) == 22 and result.not_deleted == ()
    assert all((r.state, r.deleted_at, r.error) == (DeliveryState.DELETED, later, None)
               for r in ledger_rows(sessions, story.case_id))
    assert all(r.state == DeliveryState.SENT and r.ref in directory.messages for r in young_rows if not r.is_file)
    with sessions() as session:
        (event,) = session.exec(select(CaseEvent).where(CaseEvent.case_id == story.case_id,
                                                        CaseEvent.kind == "messages_deleted"))
        assert json.loads(event.detail) == {"deleted": 22, "not_deleted": 0}
        data = case_file.build_case_file(session, terms, story.reference, LONDON, later)
    summaries = [e.summary for e in data.timeline]
    assert "The bot deleted 22 messages and files about the case in the chat workspace" in summaries
    assert "Purged text erased from the database's files" in summaries

    directory.clear()
    again = run(sessions, engine, terms, directory, later + timedelta(days=1))
    assert (again.purged, again.deleted, again.not_deleted, again.erased) == ((), (), (), None)
    assert directory.calls_to("chat.delete") == [] and directory.calls_to("files.delete") == []


def test_refused_deletions_are_listed_by_pmccg_purge_and_retried_and_gone_ones_count_as_deleted(
        story: Story, sessions: SessionFactory, engine: Engine, terms: Terms, directory: FakeSlack,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from bot import cli

    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_API_URL", directory.url)
    monkeypatch.delenv("PMCCG_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    sent = {r.kind: r for r in ledger_rows(sessions, story.case_id)}
    agenda, calendar, summary = sent["agenda"], sent["file"], sent["outcome_summary"]
    directory.messages.pop(summary.ref or "")  # already gone (deleted by a workspace admin): counts as deleted
    directory.refuse("chat.delete", "cant_delete_message", channel=agenda.room or "", ts=agenda.ref or "")
    directory.refuse("files.delete", "compliance_exports_prevent_deletion", file=calendar.ref or "")
    later = after_retention(terms)
    directory.clear()

    with freeze_time(later):
        assert cli.main(["purge", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"{story.reference}  closed 2026-11-27  would purge 14 free-text fields" in out
    assert "In Slack, would delete 19 of the bot's messages and files about purged cases:" in out
    assert (f"  {story.reference}  a file (1), the agenda (1), the attendance board (1), the case header (1), "
            "the invitation (6), the note that the call is expected to be quorate (1), the outcome summary (1), "
            "the recommendation (1), the reminder to say whether they will attend (2), the roll-call (1), "
            "their action points from the outcome (3)") in out
    assert "Database: the purged text would be erased from its files." in out
    assert directory.calls_to("chat.delete") == [] and directory.calls_to("files.delete") == []

    with freeze_time(later):
        assert cli.main(["purge"]) == 0
    out = capsys.readouterr().out
    assert f"{story.reference}  closed 2026-11-27  purged 14 free-text fields" in out
    assert "In Slack, deleted 17 of the bot's messages and files about purged cases:" in out
    assert ("Still in Slack, 2 of the bot's messages and files about purged cases were not deleted (tried again "
            "at the next purge):") in out
    assert (f"  {story.reference}  the agenda in {agenda.room}: Slack does not let the bot delete it "
            "(cant_delete_message)") in out
    assert (f"  {story.reference}  a file in {calendar.room}: the workspace's compliance exports prevent deleting "
            "it (compliance_exports_prevent_deletion)") in out
    assert "Database: the purged text was erased from its files." in out
    assert not [t for t in TYPED if t in out]
    with sessions() as session:
        kept = {r.id: r for r in ledger.for_case(session, story.case_id)}
    assert (kept[agenda.id].state, kept[agenda.id].error) == (DeliveryState.SENT, "cant_delete_message")
    assert (kept[calendar.id].state, kept[calendar.id].error) == (DeliveryState.SENT,
                                                                  "compliance_exports_prevent_deletion")
    assert kept[summary.id].state == DeliveryState.DELETED  # message_not_found: already gone

    directory.clear_refusals()
    directory.clear()
    with freeze_time(later + timedelta(days=1)):
        assert cli.main(["purge"]) == 0
    out = capsys.readouterr().out
    assert "No case is past its retention period with free text left." in out
    assert (f"In Slack, deleted 2 of the bot's messages and files about purged cases:\n  {story.reference}  "
            "a file (1), the agenda (1)\n") in out
    assert deletions(directory) == ({(agenda.room, agenda.ref)}, {calendar.ref})
    assert "Still in Slack" not in out
    with sessions() as session:
        assert {r.state for r in ledger.for_case(session, story.case_id)} == {DeliveryState.DELETED}


def test_without_a_slack_token_the_purge_lists_every_message_as_not_tried(
        story: Story, sessions: SessionFactory, engine: Engine, terms: Terms, directory: FakeSlack) -> None:
    directory.clear()
    result = run(sessions, engine, terms, None, after_retention(terms))
    assert len(result.purged) == 1 and result.deleted == ()
    assert len(result.not_deleted) == 19 and {r.error for r in result.not_deleted} == {retention.NO_WORKSPACE}
    assert directory.calls_to("chat.delete") == []
    # The scheduler, with its workspace, deletes them on its next run.
    assert len(run(sessions, engine, terms, directory, after_retention(terms) + timedelta(days=1)).deleted) == 19


# --- a case never closed, and the reminder digests that listed its action points -------------------


CALL_A = datetime(2026, 11, 5, 14, 0, tzinfo=UTC)
NURSE, MANAGER = "U0NURSELD", "U0MANAGER"


def nine(day: date) -> datetime:
    return datetime.combine(day, time(9, 0, 30), tzinfo=LONDON).astimezone(UTC)


def circulate(sessions: SessionFactory, engine: Engine, terms: Terms, fake: FakeSlack, call: datetime, key: str,
              actions: list[NewAction]) -> tuple[str, int]:
    """Convene, record the outcome with `actions` after the call, and tick once to circulate it."""
    with freeze_time(call - timedelta(days=3)):
        convened = convene_at(sessions, engine, terms, fake, call - timedelta(days=3), call, key=key)
    form = OutcomeForm(reference=convened.reference, actor="U0CHAIR01", process="informal",
                       rationale="A first concern with insight shown: support and supervision first.",
                       risk_level="moderate", risk_notes="", ml_policy_notify="no", legal_advice="no",
                       welfare_offered="yes", line_manager_support="",
                       fairness={p.key: ("yes", "") for p in PRINCIPLES}, actions=tuple(actions),
                       quorate_stated=True, quorum_statement="The chair confirmed each member at the start.")
    with transaction(sessions) as session:
        record_outcome(session, terms, form, call + timedelta(hours=2), LONDON, all_names(), HERE)
    tick(sessions, engine, terms, fake, call + timedelta(hours=2, minutes=1))
    return convened.reference, convened.case_id


def digest_calls(fake: FakeSlack) -> list[Call]:
    return [c for c in fake.delivered("chat.postMessage") if "Action point reminder" in str(c.params.get("text"))]


def test_a_case_never_closed_is_purged_after_its_call_with_the_digests_that_listed_its_action_points(
        sessions: SessionFactory, engine: Engine, terms: Terms, directory: FakeSlack) -> None:
    with sessions() as session:
        load_roster(session, terms)
    short = replace(terms, records=replace(terms.records, open_case_retention_days=30))
    old, old_id = circulate(sessions, engine, short, directory, CALL_A, "A",
                            [NewAction("Agree a supported improvement plan", NURSE, date(2026, 11, 26))])
    young, young_id = circulate(sessions, engine, short, directory, CALL_A + timedelta(days=14), "B",
                                [NewAction("Audit the October registers", NURSE, date(2026, 12, 17)),
                                 NewAction("Share the incident review", MANAGER, date(2026, 12, 17))])
    for n in range(1, 30):  # the owners' reminders, each morning, up to the day before the purge
        tick(sessions, engine, short, directory, nine(date(2026, 11, 5) + timedelta(days=n)))
    digests = digest_calls(directory)
    assert {c.params["channel"] for c in digests if old in c.params["text"]} == {NURSE}
    assert any(old in c.params["text"] and young in c.params["text"] for c in digests)  # one listed both cases
    assert any(c.params["channel"] == MANAGER for c in digests)  # and the manager's lists only the young one
    with sessions() as session:
        digest_rows = list(session.exec(select(DeliveryRecord).where(DeliveryRecord.kind == "action_digest")))
    # The digests that named the old case, as the stand-in holds them.
    listing_old = {(r.room, r.ref) for r in digest_rows if old in directory.messages[r.ref or ""]["text"]}
    assert len(listing_old) == len([c for c in digests if old in c.params["text"]]) > 1

    inside = CALL_A + timedelta(days=30) - timedelta(minutes=1)
    assert run(sessions, engine, short, directory, inside, dry_run=True).purged == ()
    directory.clear()
    purge_at = CALL_A + timedelta(days=30, hours=1)
    result = run(sessions, engine, short, directory, purge_at)

    (item,) = result.purged
    assert (item.reference, item.ended, item.ended_at) == (old, retention.NEVER_CLOSED, CALL_A)
    messages, _ = deletions(directory)
    old_messages = {(r.room, r.ref) for r in ledger_rows(sessions, old_id) if not r.is_file}
    assert messages == old_messages | listing_old
    assert all(c.ok for c in directory.calls_to("chat.delete"))
    assert all(r.state == DeliveryState.SENT for r in ledger_rows(sessions, young_id))
    with sessions() as session:
        case = session.get(Case, old_id)
        assert case is not None and case.status == "convened" and retention.is_purged(case.concern)
        (point,) = session.exec(select(ActionPoint).where(ActionPoint.case_id == old_id))
        assert point.status == ActionStatus.DROPPED and retention.is_purged(point.drop_reason)
        assert not list(session.exec(select(ScheduledMessage).where(
            col(ScheduledMessage.case_id) == old_id, col(ScheduledMessage.state) == MessageState.PENDING)))
        (event,) = session.exec(select(CaseEvent).where(CaseEvent.case_id == old_id, CaseEvent.kind == "purged"))
        assert json.loads(event.detail)["ended"] == "never closed"
        assert json.loads(event.detail)["retention_days"] == 30

    # Its chasing ended: the owner's reminders go on for the young case only.
    directory.clear()
    for n in range(1, 15):
        tick(sessions, engine, short, directory, nine(date(2026, 12, 5) + timedelta(days=n)))
    later = digest_calls(directory)
    assert later and not [c for c in later if old in c.params["text"]]
    assert any(c.params["channel"] == NURSE and young in c.params["text"] for c in later)


def test_the_terms_set_the_period_for_a_case_never_closed(tmp_path: Path) -> None:
    assert load_terms().records.open_case_retention_days == 2555
    assert load_terms("opg").records.open_case_retention_days == 2555
    preset = Path(__file__).parents[1] / "bot" / "domain" / "presets" / "pmccg.toml"
    for value, ok in (("90", True), ("0", False), ('"a year"', False)):
        path = tmp_path / f"terms-{value.strip(chr(34))}.toml"
        path.write_text(preset.read_text().replace("open_case_retention_days = 2555",
                                                   f"open_case_retention_days = {value}"))
        if ok:
            assert load_terms(path).records.open_case_retention_days == 90
        else:
            with pytest.raises(TermsError, match="open_case_retention_days"):
                load_terms(path)


# --- the database's files -------------------------------------------------------------------------


def _sqlite_bytes(engine: Engine) -> bytes:
    path = Path(str(engine.url.database))
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def _pg_files(engine: Engine) -> list[Path]:
    """The files of the tables that hold free text, and of their TOAST tables, as they are now."""
    tables = [t.__tablename__ for t in retention.FREE_TEXT]  # type: ignore[misc]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CHECKPOINT"))
        base = Path(conn.execute(text("SHOW data_directory")).scalar_one())
        rows = conn.execute(text(
            "SELECT pg_relation_filepath(c.oid) FROM pg_class c WHERE c.relname = ANY(:t) UNION "
            "SELECT pg_relation_filepath(c.reltoastrelid) FROM pg_class c WHERE c.relname = ANY(:t) "
            "AND c.reltoastrelid <> 0"), {"t": tables}).scalars().all()
    return [base / r for r in rows if r]


def _pg_bytes(files: list[Path]) -> bytes:
    try:
        return b"".join(f.read_bytes() if f.exists() else b"" for f in files)
    except PermissionError:
        pytest.skip("the PostgreSQL server's data files are not readable by this user")


LONG_HEAD = "the last register audit found the same gap on the ward again"


def test_purged_text_does_not_survive_in_the_database_files(
        story: Story, sessions: SessionFactory, engine: Engine, terms: Terms, directory: FakeSlack) -> None:
    # A second case, never closed, with a long concern: its row shrinks by far more than the others', so
    # most of the space the old row held is freed, not overwritten (SQLite writes the new row at its end).
    concern = " ".join([LONG_HEAD] + [f"errors on night shift {n} were reported by colleague {n * 7 % 31}"
                                      for n in range(20)])
    with freeze_time(CLOSED_AT):
        convene_at(sessions, engine, terms, directory, CLOSED_AT, CLOSED_AT + timedelta(days=3), key="long",
                   concern=concern)
    wanted = [t.encode() for t in [*TYPED, LONG_HEAD]]
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:  # the text is in the main file, not only in the write-ahead log
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1  # on every connection
        before = _sqlite_bytes(engine)
    else:
        files_before = _pg_files(engine)
        before = _pg_bytes(files_before)
    assert [t for t in wanted if t in before] == wanted  # the text is there, so the check below can fail

    result = run(sessions, engine, terms, directory, after_retention(terms) + timedelta(days=5))
    assert len(result.purged) == 2 and result.erased is True

    if engine.dialect.name == "sqlite":
        after = _sqlite_bytes(engine)
        wal = Path(str(engine.url.database) + "-wal")
        assert not wal.exists() or wal.stat().st_size < len(before)
    else:
        after = _pg_bytes(_pg_files(engine)) + _pg_bytes(files_before)  # the new files, and what is left of the old
    assert [t for t in wanted if t in after] == []
    assert b"[purged under the retention policy" in after
    with sessions() as session:
        assert session.get(Case, story.case_id).concern.startswith("[purged")  # type: ignore[union-attr]


def test_an_erase_that_cannot_finish_now_is_tried_again_on_the_next_run(
        sessions: SessionFactory, engine: Engine, terms: Terms, directory: FakeSlack,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from storage.db import EraseIncomplete

    with sessions() as session:
        load_roster(session, terms)
    short = replace(terms, records=replace(terms.records, open_case_retention_days=30))
    with freeze_time(CALL_A - timedelta(days=3)):
        convene_at(sessions, engine, short, directory, CALL_A - timedelta(days=3), CALL_A, key="E")
    erase = retention.erase_freed_space

    def busy(_engine: Engine, _tables: Any) -> None:
        raise EraseIncomplete("a reader kept the write-ahead log in use")

    monkeypatch.setattr(retention, "erase_freed_space", busy)
    first = run(sessions, engine, short, directory, CALL_A + timedelta(days=31))
    assert len(first.purged) == 1 and first.erased is False
    monkeypatch.setattr(retention, "erase_freed_space", erase)
    second = run(sessions, engine, short, directory, CALL_A + timedelta(days=32))
    assert second.purged == () and second.erased is True
    assert run(sessions, engine, short, directory, CALL_A + timedelta(days=33)).erased is None


# --- through the running bot ----------------------------------------------------------------------


def test_a_case_convened_and_exported_through_slack_leaves_none_of_the_bots_messages_after_its_purge(
        bot: Any, terms: Terms) -> None:
    from tests.factories import convene_state

    bot.submit("U0MANAGER", "convene", convene_state(datetime.now(UTC)))
    bot.slack.wait_for("views.update")
    with bot.services.sessions() as session:
        case = session.exec(select(Case)).one()
    bot.command("U0GOVERN1", f"export {case.reference}")
    bot.slack.wait_for("files.completeUploadExternal", lambda c: c.ok, count=3)
    deadline = datetime.now(UTC) + timedelta(seconds=5)
    while len([r for r in ledger_rows(bot.services.sessions, case.id or 0) if r.is_file]) < 3:
        assert datetime.now(UTC) < deadline, "the exported files were not recorded in the ledger"
        wall.sleep(0.01)
    posted = {ts: m["channel"] for ts, m in bot.slack.messages.items()}
    assert case.room_id in posted.values() and len([c for c in posted.values() if c.startswith("D")]) == 6
    shared = {f["id"] for f in bot.slack.files.values() if f.get("channels")}
    assert len(shared) == 3
    bot.slack.clear()

    purge_at = case.call_at + timedelta(days=terms.records.open_case_retention_days, hours=1)
    result = retention.run(bot.services.sessions, bot.services.engine, workspace_for(bot.slack), terms, LONDON,
                           purge_at, dry_run=False)

    assert [(p.reference, p.ended) for p in result.purged] == [(case.reference, retention.NEVER_CLOSED)]
    assert bot.slack.messages == {} and not shared & set(bot.slack.files)  # nothing of the bot's is left
    assert deletions(bot.slack) == ({(channel, ts) for ts, channel in posted.items()}, shared)
    assert result.not_deleted == ()
