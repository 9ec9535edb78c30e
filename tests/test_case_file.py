"""The case file: built from a case driven through the real path, checked against what happened.

Domain tests run on both backends; the export tests drive the running bot with signed requests and
check what reached the Slack stand-in (files, channel, private replies).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from freezegun import freeze_time
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.domain.terms import Terms
from bot.records.case_file import build_case_file, render_case_file
from bot.sandbox.slack_api import FakeSlack
from handlers.slack import ids
from storage.db import SessionFactory
from storage.tables import Case, CaseEvent
from tests.factories import HERE, LONDON, all_names, convene_state
from tests.records_case import (
    CALL,
    CLOSE_REASON,
    CLOSED_AT,
    CONVENED,
    DUE_REASON,
    HEARD_NOTE,
    PRESENT,
    REPLIES,
    UPDATE_1,
    Story,
    build_story,
    reply_time,
)
from tests.scheduling import convene_at

AFTER = CLOSED_AT + timedelta(hours=2)


@pytest.fixture
def story(sessions: SessionFactory, engine: Engine, terms: Terms, directory: FakeSlack) -> Story:
    return build_story(sessions, engine, terms, directory)


def case_file(sessions: SessionFactory, terms: Terms, reference: str) -> Any:
    with sessions() as session:
        return build_case_file(session, terms, reference, LONDON, AFTER)


def test_the_timeline_follows_the_history_in_order_with_local_times_and_ids(
        story: Story, sessions: SessionFactory, terms: Terms) -> None:
    data = case_file(sessions, terms, story.reference)
    kinds = [e.kind for e in data.timeline]
    # The milestones, in the order they happened.
    milestones = ["convened", "attendance_reply", "roll_call_marked", "quorum_recorded", "outcome_recorded",
                  "outcome_circulated", "action_update", "action_done", "fairness_answered", "action_due_changed",
                  "closed"]
    positions = [kinds.index(k) if k != "fairness_answered" else len(kinds) - 1 - kinds[::-1].index(k)
                 for k in milestones]
    assert positions == sorted(positions)
    assert kinds.count("attendance_reply") == len(REPLIES) and kinds.count("roll_call_marked") == len(PRESENT)
    assert kinds.count("action_done") == 2 and kinds.count("fairness_answered") == 2
    # Reminders sent before the call are in the record: a chase to the one member yet to reply, the agenda.
    sent = [e.summary for e in data.timeline if e.kind == "message_sent"]
    assert "Reminder to reply sent" in sent and "Agenda posted" in sent
    assert "Roll-call posted at the start of the call" in sent

    first = data.timeline[0]
    assert first.at.local == "Mon 19 Oct 2026, 09:00 BST" and first.at.utc == CONVENED.isoformat()
    assert first.summary == "Convened by @U0MANAGER for a call on Thu 22 Oct 2026, 14:00 BST; 7 members invited"
    replies = [e for e in data.timeline if e.kind == "attendance_reply"]
    assert [e.actor for e in replies] == [f"@{u}" for u, _, _ in REPLIES]
    assert [e.at.utc for e in replies] == [reply_time(n).isoformat() for n in range(len(REPLIES))]
    assert replies[2].summary == ("@U0SERVICE (Service lead / senior service representative) replied: "
                                  "Sending a deputy: @U0MEMBER1")
    marks = [e.summary for e in data.timeline if e.kind == "roll_call_marked"]
    assert marks[3] == "@U0MEMBER1 marked present as deputy for @U0SERVICE"
    quorum = next(e for e in data.timeline if e.kind == "quorum_recorded")
    assert quorum.summary.startswith("Quorum recorded: quorate") and "by @U0CHAIR01" in quorum.summary
    # After the clocks went back the times are GMT, and the free text of each step is kept with it.
    update = next(e for e in data.timeline if e.kind == "action_update")
    assert update.at.local == "Thu 29 Oct 2026, 10:00 GMT" and update.text == UPDATE_1
    moved = next(e for e in data.timeline if e.kind == "action_due_changed")
    assert moved.summary == "@U0NURSELD moved action 2's due date from Thu 12 Nov 2026 to Thu 19 Nov 2026"
    assert moved.text == DUE_REASON
    closed = data.timeline[-1]
    assert closed.kind == "closed" and closed.text == CLOSE_REASON
    assert closed.summary == "Case closed by @U0GOVERN1: 2 action points done, 0 dropped, 1 still open"


def test_roll_call_outcome_fairness_actions_and_timeliness_match_what_happened(
        story: Story, sessions: SessionFactory, terms: Terms) -> None:
    data = case_file(sessions, terms, story.reference)
    assert [(p.user, p.capacity) for p in data.present] == [
        ("@U0CHAIR01", "Member (Chair)"),
        ("@U0NURSELD", "Member (Professional lead for the staff member's profession)"),
        ("@U0GOVERN1", "Member (Governance team representative)"),
        ("@U0MEMBER1", "Deputy for @U0SERVICE (Service lead / senior service representative)"),
        ("@U0MANAGER", "Member (Line manager)")]
    assert data.quorate == "Quorate"
    members = {m.seat: m for m in data.members}
    assert members["Senior clinical team member (director level)"].reply == "No reply yet"
    assert members["People team representative"].reply == "Can't attend"

    assert data.outcome is not None and data.outcome.recommendation.endswith("Informal process")
    assert data.outcome.recorded.local == "Thu 22 Oct 2026, 15:05 BST"
    assert data.outcome.circulated is not None and data.outcome.circulated.local == "Thu 22 Oct 2026, 15:06 BST"

    # The "no" is kept as an earlier answer with its note; the revisit stands.
    heard_now = next(f for f in data.current_fairness if f.principle == "Ensuring the practitioner is heard")
    assert (heard_now.answer, heard_now.note, heard_now.needs_inquiry) == ("Yes", "Account given on 3 November.",
                                                                           False)
    (earlier,) = data.revisited_fairness
    assert (earlier.answer, earlier.note, earlier.needs_inquiry) == ("No", HEARD_NOTE, True)

    actions = {a.number: a for a in data.actions}
    assert actions[1].timeliness == "done on time" and actions[1].owner == "@U0MANAGER"
    assert [t.text for t in actions[1].trail] == [UPDATE_1, ""]
    assert (actions[2].first_due, actions[2].due) == ("Thu 12 Nov 2026", "Thu 19 Nov 2026")
    assert actions[2].timeliness == "done 3 days late"
    assert actions[3].source == "Fairness: further inquiry" and actions[3].owner == "@U0CHAIR01"
    assert actions[3].timeliness == "open, overdue by 22 days"  # due 5 November, the file made 27 November

    t = data.timeliness
    assert (t.convened_to_call_days, t.call_to_circulation_days, t.circulated_within_target) == (3, 0, True)
    assert (data.concern_raised, t.concern_to_call_days) == (None, 3)  # no date given: counted from convening
    assert (t.actions_total, t.actions_done_on_time, t.actions_done_late, t.actions_open_overdue,
            t.actions_open_not_due, t.actions_dropped, t.median_days_late) == (3, 1, 1, 1, 0, 0, 3.0)
    assert data.closed is not None and data.closed.local == "Fri 27 Nov 2026, 11:00 GMT"
    assert data.closed_by == "@U0GOVERN1" and data.zone == "Europe/London"


def test_the_three_files_name_nobody_and_hold_no_other_case_s_text(
        story: Story, sessions: SessionFactory, engine: Engine, terms: Terms, directory: FakeSlack) -> None:
    other_concern = "A quite different concern about rota swaps that belongs to another case."
    with freeze_time(CLOSED_AT):
        convene_at(sessions, engine, terms, directory, CLOSED_AT, CLOSED_AT + timedelta(days=3), key="other",
                   concern=other_concern)
    html, markdown, data_json = render_case_file(case_file(sessions, terms, story.reference))
    assert [f.filename for f in (html, markdown, data_json)] == [
        f"case-file-{story.reference}.html", f"case-file-{story.reference}.md", f"case-file-{story.reference}.json"]
    for f in (html, markdown, data_json):
        text = f.content.decode()
        assert story.reference in text and "U0MEMBER1" in text
        assert not [name for name in all_names() if name in text
                    or any(part in text for part in name.split() if len(part) > 3)], f.filename
        assert "rota swaps" not in text
    page = html.content.decode()
    assert page.startswith("<!DOCTYPE html>") and "@page { size: A4;" in page
    assert "<link" not in page and "<script" not in page and "src=" not in page  # self-contained
    assert "Europe/London" in page and "Account given on 3 November." in page
    loaded = json.loads(data_json.content)
    assert loaded["reference"] == story.reference and loaded["timeliness"]["actions_done_late"] == 1
    assert loaded["timeline"][0]["at"]["utc"] == CONVENED.isoformat()


def test_typed_text_is_shown_literally_in_the_html(sessions: SessionFactory, engine: Engine, terms: Terms,
                                                  directory: FakeSlack) -> None:
    from tests.factories import load_roster

    with sessions() as session:
        load_roster(session, terms)
    now = datetime(2026, 10, 19, 8, 0, tzinfo=UTC)
    with freeze_time(now):
        case = convene_at(sessions, engine, terms, directory, now, CALL, key="markup",
                          concern="Errors <script>alert(1)</script> & a <b>bold</b> claim.")
    html, markdown, _ = render_case_file(case_file(sessions, terms, case.reference))
    page = html.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; a &lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold" not in page
    # The Markdown source quotes it, escaped: it reads as typed and is not markup.
    assert "> Errors &lt;script&gt;alert(1)&lt;/script&gt; &amp; a &lt;b&gt;bold&lt;/b&gt; claim." in \
        markdown.content.decode()
    assert "The case is not closed." in page and "No outcome has been recorded." in page


MARKUP = ("Errors <script>alert(1)</script> then <img src=x onerror=alert(1)> see [click](https://evil.example)"
          " or <https://evil.example/login> and ![pixel](https://evil.example/p.png)\n# not a heading\n"
          "1. not a list\n---\n| not | a table |\n`code` *bold* _em_ ~~gone~~ &amp;")


def test_the_markdown_case_file_shows_typed_html_and_markdown_as_typed(
        sessions: SessionFactory, engine: Engine, terms: Terms, directory: FakeSlack) -> None:
    from markdown_it import MarkdownIt

    from bot.domain import action_points
    from bot.domain.action_points import NewAction
    from bot.domain.fairness import PRINCIPLES
    from bot.domain.outcomes import OutcomeForm, record_outcome
    from storage.db import transaction
    from tests.factories import load_roster

    with sessions() as session:
        load_roster(session, terms)
    with freeze_time(CONVENED):
        case = convene_at(sessions, engine, terms, directory, CONVENED, CALL, key="markdown", concern=MARKUP)
    form = OutcomeForm(reference=case.reference, actor="U0CHAIR01", process="informal",
                       rationale="Support first.", risk_level="moderate", risk_notes="", ml_policy_notify="no",
                       legal_advice="no", welfare_offered="yes", line_manager_support="",
                       fairness={p.key: ("yes", "") for p in PRINCIPLES},
                       actions=(NewAction("Agree a supported improvement plan", "U0MANAGER", date(2026, 11, 5)),),
                       quorate_stated=True, quorum_statement="Confirmed <b>at</b> the [start](https://evil.example)")
    with transaction(sessions) as session:
        recorded = record_outcome(session, terms, form, CALL + timedelta(hours=2), LONDON, all_names(), HERE)
        (action_id,) = recorded.action_ids
        action_points.add_update(session, action_id, "U0MANAGER", MARKUP, CALL + timedelta(hours=3), {"U0CHAIR01"})
    _, markdown, _ = render_case_file(case_file(sessions, terms, case.reference))
    source = markdown.content.decode()
    html = MarkdownIt("commonmark").render(source)  # raw HTML on, as CommonMark has it

    assert "<script" not in html and "<img" not in html and "<a " not in html and "<b>" not in html
    assert "<code>" not in html and "<em>" not in html and "<strong>bold" not in html
    # Every heading is the template's: "# not a heading" typed in the concern and the update is a line of text.
    headings = [line for line in html.splitlines() if line.startswith(("<h1", "<h2", "<h3", "<h4"))]
    assert headings[0] == f"<h1>Case file {case.reference}</h1>" and not [h for h in headings if "not a" in h]
    assert "<hr />" in html and html.count("<hr />") == 1  # the template's rule before the footer, no other
    assert "<table>" not in html and "<ol>" not in html
    # What was typed is shown, character for character, in the concern, the update and the timeline.
    shown = html.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    for line in MARKUP.splitlines():
        assert shown.count(line) >= 2, line
    assert "Confirmed <b>at</b> the [start](https://evil.example)" in shown


# --- export over HTTP -----------------------------------------------------------------------------


def _convened(bot: Any) -> Case:
    bot.submit("U0MANAGER", "convene", convene_state(datetime.now(UTC)))
    bot.slack.wait_for("views.update")
    with bot.services.sessions() as session:
        return session.exec(select(Case)).one()


def _shared(bot: Any, count: int = 3) -> list[dict[str, Any]]:
    bot.slack.wait_for("files.completeUploadExternal", lambda c: c.ok, count=count)
    return [f for f in bot.slack.files.values() if f.get("channels")]


def test_governance_exports_with_the_command_and_the_files_land_in_the_case_channel(bot: Any) -> None:
    case = _convened(bot)
    bot.command("U0GOVERN1", f"export {case.reference.lower()}", channel="C0GENERAL")
    files = _shared(bot)
    assert sorted(f["name"] for f in files) == sorted(
        f"case-file-{case.reference}.{ext}" for ext in ("html", "md", "json"))
    assert all(f["channels"] == [case.room_id] for f in files)
    (reply,) = bot.slack.wait_for("response", lambda c: "Case file for" in c.params.get("text", ""))
    assert reply.params["response_type"] == "ephemeral"
    assert f"*{case.reference}* shared in <#{case.room_id}>" in reply.params["text"]
    html = next(bot.slack.uploads[f["id"]] for f in files if f["name"].endswith(".html")).decode()
    assert case.reference in html and "Two medication errors" in html
    assert not [name for name in all_names() if name in html]
    with bot.services.sessions() as session:
        exported = session.exec(select(CaseEvent).where(CaseEvent.kind == "case_file_exported")).one()
    assert exported.actor_id == "U0GOVERN1"


def test_the_chair_exports_from_the_header_button(bot: Any) -> None:
    case = _convened(bot)
    header = next(c for c in bot.slack.calls_to("chat.postMessage") if c.params["channel"] == case.room_id)
    button = next(b["accessory"] for b in header.params["blocks"] if b.get("accessory", {}).get("action_id")
                  == ids.CASE_EXPORT)
    assert button["value"] == case.reference and button["text"]["text"] == "Export case file"
    bot.click("U0CHAIR01", ids.CASE_EXPORT, case.reference, channel=case.room_id, message_ts=case.header_ref)
    assert len(_shared(bot)) == 3
    (reply,) = bot.slack.wait_for("response", lambda c: "Case file for" in c.params.get("text", ""))
    assert reply.params["response_type"] == "ephemeral" and reply.params.get("replace_original") is False


def test_a_member_without_a_records_role_is_refused_privately_and_nothing_is_shared(bot: Any) -> None:
    case = _convened(bot)
    bot.click("U0NURSELD", ids.CASE_EXPORT, case.reference, channel=case.room_id, message_ts=case.header_ref)
    bot.command("U0MANAGER", f"export {case.reference}")
    replies = bot.slack.wait_for("response", lambda c: "Only " in c.params.get("text", ""), count=2)
    for reply in replies:
        assert reply.params["response_type"] == "ephemeral"
        assert "governance" in reply.params["text"] and "<@U0GOVERN1>" in reply.params["text"]
    bot.command("U0GOVERN1", "export PMCCG-1999-999")
    (unknown,) = bot.slack.wait_for("response", lambda c: "There is no case" in c.params.get("text", ""))
    assert unknown.params["response_type"] == "ephemeral"
    assert bot.slack.calls_to("files.getUploadURLExternal") == []


def test_the_days_from_the_concern_count_from_the_date_the_convener_gave(
        sessions: SessionFactory, engine: Engine, terms: Terms, directory: FakeSlack) -> None:
    from tests.factories import load_roster

    with sessions() as session:
        load_roster(session, terms)
        session.commit()
    convened_at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with freeze_time(convened_at):
        case = convene_at(sessions, engine, terms, directory, convened_at, convened_at + timedelta(days=3),
                          concern_raised=date(2026, 10, 26))
    with sessions() as session:
        data = build_case_file(session, terms, case.reference, LONDON, convened_at + timedelta(days=1))
    assert data.concern_raised == "Mon 26 Oct 2026"
    assert (data.timeliness.concern_to_call_days, data.timeliness.convened_to_call_days) == (10, 3)
    html, markdown, _ = (f.content.decode() for f in render_case_file(data))
    assert "<dt>Concern raised</dt><dd>Mon 26 Oct 2026</dd>" in html
    assert "- **Concern raised to call:** 10 days\n" in markdown


def test_the_circulation_target_the_case_file_reports_is_the_terms_not_a_constant(
        story: Story, sessions: SessionFactory, terms: Terms) -> None:
    from dataclasses import replace

    assert case_file(sessions, terms, story.reference).timeliness.circulation_target_days == 7  # one week
    ten = replace(terms, reminders=replace(terms.reminders, circulation_escalate_days=10))
    assert case_file(sessions, ten, story.reference).timeliness.circulation_target_days == 10
