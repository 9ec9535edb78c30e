"""Delivery you can prove, on Teams (issue 13's rules, issue 16 point 14): the Teams twins of test_delivery.

Each recipient on its own: a member Teams will not let the bot reach (blocked the bot; removed the app and it
cannot be installed for them; gone from the tenant) stops nobody else's message, and the chair and governance
are told who missed what, in the same words as for an undelivered Slack DM (the delivery_failed card). A 429
or 503 from the Bot Connector is a transient failure: that one message is tried again later, alone; the others
are delivered once. A message Teams refuses as too large (413) is permanent and reported. Asserted on what the
Bot Connector stand-in accepted; SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.reminders import Reporting
from bot.records.case_file import build_case_file, render_case_file
from storage.tables import MessageState
from tests import teams_scheduling
from tests.factories import LONDON
from tests.teams_scheduling import MEMBERS_BUT_CONVENER, POST, Scheduled, Sent, after_the_call, outcome_recorded

scheduled, worker_workspace = teams_scheduling.scheduled, teams_scheduling.worker_workspace

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CALL = datetime(2026, 11, 5, 14, 0, tzinfo=UTC)
CHASE_DUE = CALL - timedelta(hours=48) + timedelta(seconds=5)
CHAIR, GOVERNANCE, NURSE, SERVICE, PEOPLE_TEAM = "U0CHAIR01", "U0GOVERN1", "U0NURSELD", "U0SERVICE", "U0PEOPLE1"
CHASE_TEXT = "Reminder: please say whether you will attend"
NOT_DELIVERED = "could not be delivered and will not be retried"
INSTALL_FOR_USER = "POST /v1.0/users/{id}/teamwork/installedApps"


def mentions(sent: Sent) -> dict[str, str]:
    """The card's mentions: Entra id -> the name shown."""
    found = {}
    for attachment in sent.activity.get("attachments") or []:
        for entity in ((attachment.get("content") or {}).get("msteams") or {}).get("entities") or []:
            found[entity["mentioned"]["id"]] = entity["mentioned"]["name"]
    return found


def chased_once(s: Scheduled) -> dict[str, int]:
    return {uid: len(v) for uid, v in s.dms(CHASE_TEXT).items()}


def _unreachable(s: Scheduled) -> None:
    """Three members Teams will not let the bot reach, each its own way."""
    s.teams.block_bot(s.id(NURSE))  # blocked the bot: 403 ConversationBlockedByUser
    # Removed the app, and the tenant does not let the bot install it for them again.
    s.teams.uninstall_app_for(s.id(SERVICE))
    s.teams.refuse(INSTALL_FOR_USER, 403, "Forbidden", user=s.id(SERVICE))
    # Gone from the tenant: their 1:1 chat is gone, and none can be made.
    people_chat = s.dm_chat(PEOPLE_TEAM)
    assert people_chat is not None
    s.teams.refuse(POST, 404, "ConversationNotFound", id=people_chat)
    s.teams.refuse("POST /v3/conversations", 404, "NotFound", user=s.id(PEOPLE_TEAM))


# --- each recipient on its own ----------------------------------------------------------------------


def test_members_the_bot_cannot_reach_stop_nobody_else_and_are_reported_to_the_chair_and_governance(
        scheduled: Scheduled) -> None:
    s = scheduled
    convened = s.convene_at(NOW, CALL)
    s.tick(NOW + timedelta(minutes=1))
    _unreachable(s)
    s.teams.clear()
    report = s.tick(CHASE_DUE)
    s.tick(CHASE_DUE + timedelta(minutes=1), worker="w2")

    # Everyone else was chased, once.
    assert report.failed == 3
    assert chased_once(s) == {uid: 1 for uid in MEMBERS_BUT_CONVENER - {NURSE, SERVICE, PEOPLE_TEAM}}
    # The chair and governance are each told once, by mention, with the reason in the words of an undelivered
    # Slack DM; the case is named by its reference only.
    told = s.dms(NOT_DELIVERED)
    assert {uid: len(v) for uid, v in told.items()} == {CHAIR: 1, GOVERNANCE: 1}
    [notice] = told[CHAIR]
    assert f"for **{convened.reference}**" in notice.text
    unreachable = {s.id(u): s.h.person(u).display_name for u in (NURSE, SERVICE, PEOPLE_TEAM)}
    assert mentions(notice) == unreachable
    # (Markdown-escaped on the card, as typed text is: the reader sees "blocked_bot".)
    lines = {line.replace("\\_", "_") for line in notice.text.splitlines() if line.startswith("- ")}
    reminder = "the reminder to say whether they will attend"
    assert lines == {
        f"- {reminder} to <at>{unreachable[s.id(NURSE)]}</at>: the person has blocked the bot (blocked_bot)",
        f"- {reminder} to <at>{unreachable[s.id(SERVICE)]}</at>: the bot is not installed for that person "
        "(not_installed)",
        f"- {reminder} to <at>{unreachable[s.id(PEOPLE_TEAM)]}</at>: the account no longer exists (user_not_found)",
    }
    # The failed rows are done with (not retried), and the case file shows what did not arrive.
    failed = [r for r in s.rows("reply_chase") if r.recipient in unreachable and r.due_at <= CHASE_DUE]
    assert failed and {r.state for r in failed} == {MessageState.FAILED}
    with s.sessions() as session:
        data = build_case_file(session, s.terms, convened.reference, LONDON, CHASE_DUE + timedelta(minutes=2))
    assert sorted(u.what for u in data.undelivered) == [reminder] * 3
    html = render_case_file(data)[0].content.decode()
    assert "Messages that did not arrive" in html and "blocked_bot" in html


def test_with_the_chair_and_governance_unreachable_the_case_chat_is_told_once(scheduled: Scheduled) -> None:
    s = scheduled
    convened = s.convene_at(NOW, CALL)
    s.tick(NOW + timedelta(minutes=1))
    for uid in (NURSE, CHAIR, GOVERNANCE):
        s.teams.block_bot(s.id(uid))
    s.teams.clear()
    s.tick(CHASE_DUE)
    s.tick(CHASE_DUE + timedelta(minutes=1))
    reports = s.rows("delivery_failed")
    assert len(reports) == 1 and reports[0].state == MessageState.SENT
    [notice] = s.posts_to(convened.room_id, NOT_DELIVERED)
    assert set(mentions(notice)) == {s.id(u) for u in (NURSE, CHAIR, GOVERNANCE)}


def test_an_invitation_that_cannot_be_delivered_is_said_in_the_case_chat_by_mention(scheduled: Scheduled) -> None:
    s = scheduled
    s.teams.block_bot(s.id(NURSE))
    convened = s.convene_at(NOW, CALL)
    assert set(convened.undelivered) == {s.id(NURSE)}
    [notice] = s.posts_to(convened.room_id, "I could not send the invitation")
    assert set(mentions(notice)) == {s.id(NURSE)}
    assert set(s.dms("You are invited to")) == MEMBERS_BUT_CONVENER - {NURSE}


def test_a_governance_chat_configured_is_told_too(scheduled: Scheduled) -> None:
    s = scheduled
    convened = s.convene_at(NOW, CALL)
    # The governance team's own chat with the app in it, configured by its id as a Slack channel would be.
    governance_chat = s.teams.add_group_chat([s.id(GOVERNANCE), s.id(CHAIR), s.id("U0DEPUTY1")], "Governance")
    s.tick(NOW + timedelta(minutes=1))
    s.teams.block_bot(s.id(NURSE))
    s.teams.clear()
    s.tick(CHASE_DUE, reporting=Reporting(governance_room=governance_chat))
    assert {uid: len(v) for uid, v in s.dms(NOT_DELIVERED).items()} == {CHAIR: 1, GOVERNANCE: 1}
    [notice] = s.posts_to(governance_chat, NOT_DELIVERED)
    assert convened.reference in notice.text and set(mentions(notice)) == {s.id(NURSE)}


# --- transient failures: retried alone, later -----------------------------------------------------------


@pytest.mark.parametrize("fault", ["429", "503"])
def test_a_chase_the_bot_connector_turns_away_for_now_is_sent_alone_later_and_the_rest_once(
        scheduled: Scheduled, fault: str) -> None:
    s = scheduled
    s.convene_at(NOW, CALL)
    s.tick(NOW + timedelta(minutes=1))
    s.teams.clear()
    if fault == "429":
        # Longer than the workspace waits within one call (max_retry_after): left to the outbox's retry.
        s.teams.rate_limit_next(POST, retry_after=120)
    else:
        s.teams.server_error_next(POST, status=503)  # a POST is not repeated blindly: it may have been done
    report = s.tick(CHASE_DUE)
    assert (report.sent, report.retried, report.failed) == (len(MEMBERS_BUT_CONVENER) - 1, 1, 0)
    first = chased_once(s)
    assert sum(first.values()) == len(MEMBERS_BUT_CONVENER) - 1 and set(first.values()) == {1}
    [waiting] = [r for r in s.rows("reply_chase") if r.state == MessageState.PENDING and r.attempts]
    missed = s.uid(waiting.recipient)
    assert missed not in first and s.dms(NOT_DELIVERED) == {}

    s.teams.clear()
    assert s.tick(CHASE_DUE + timedelta(seconds=10)).claimed == 0  # not before its retry time
    report = s.tick(CHASE_DUE + timedelta(minutes=1), worker="w2")
    assert (report.claimed, report.sent) == (1, 1)
    assert chased_once(s) == {missed: 1}  # only the one that was turned away


def test_a_short_rate_limit_is_waited_out_within_the_tick(scheduled: Scheduled) -> None:
    s = scheduled
    s.convene_at(NOW, CALL)
    s.tick(NOW + timedelta(minutes=1))
    s.teams.clear()
    s.teams.rate_limit_next(POST, retry_after=1)
    report = s.tick(CHASE_DUE)
    assert (report.sent, report.retried) == (len(MEMBERS_BUT_CONVENER), 0)
    assert chased_once(s) == {uid: 1 for uid in MEMBERS_BUT_CONVENER}
    assert len([c for c in s.teams.calls_to(POST) if c.status == 429]) == 1


# --- too large: permanent, reported ---------------------------------------------------------------------


def test_a_message_teams_refuses_as_too_large_is_not_retried_and_is_reported(scheduled: Scheduled) -> None:
    s = scheduled
    convened = s.convene_at(NOW, CALL)
    s.tick(CALL - timedelta(hours=25))  # the chases before the agenda's day have gone
    s.teams.clear()
    # The agenda is the largest card of the day before (the concern, the risks, every member); the limit is
    # set between the reminders' size and its own, as a long concern would meet Teams' real one.
    limit = s.teams.message_size_limit
    s.teams.message_size_limit = 4_000
    try:
        s.tick(CALL - timedelta(hours=24) + timedelta(seconds=5))
    finally:
        s.teams.message_size_limit = limit
    refused = [c for c in s.teams.calls_to(POST) if c.status == 413]
    assert len(refused) == 1 and refused[0].params["id"] == convened.room_id
    assert "Agenda:" in json.dumps(refused[0].body)
    [agenda] = s.rows("agenda")
    assert agenda.state == MessageState.FAILED
    told = s.dms(NOT_DELIVERED)
    assert {uid: len(v) for uid, v in told.items()} == {CHAIR: 1, GOVERNANCE: 1}
    assert "- the agenda to a group chat: 413" in told[CHAIR][0].text
    # Nothing more is tried for it.
    s.teams.clear()
    s.tick(CALL - timedelta(hours=23))
    assert s.sent("Agenda:") == []


def test_a_leaver_whose_account_is_disabled_is_reported_not_messaged(scheduled: Scheduled) -> None:
    # Teams would still take a message into a disabled account's 1:1 chat, where nobody will read it; the
    # directory says the account is disabled, so it is reported as a Slack DM to a deactivated account is.
    s = scheduled
    convened = s.convene_at(NOW, CALL)
    s.tick(NOW + timedelta(minutes=1))
    s.teams.disable_user(s.id(NURSE))
    try:
        # The directory keeps each standing two minutes (real time): an administrator's change is seen then.
        s.worker.directory.forget_standings()  # type: ignore[attr-defined]
        s.teams.clear()
        report = s.tick(CHASE_DUE)
    finally:
        s.teams.enable_user(s.id(NURSE))
    assert report.failed == 1
    assert chased_once(s) == {uid: 1 for uid in MEMBERS_BUT_CONVENER - {NURSE}}
    told = s.dms(NOT_DELIVERED)
    assert {uid: len(v) for uid, v in told.items()} == {CHAIR: 1, GOVERNANCE: 1}
    [line] = [x.replace("\\_", "_") for x in told[CHAIR][0].text.splitlines() if x.startswith("- ")]
    assert line.endswith(": the account is deactivated (account_inactive)")
    assert convened.reference in told[CHAIR][0].text


# --- after Teams accepted; one recipient of many retried ---------------------------------------------------


def test_a_message_whose_sent_record_fails_once_is_not_sent_again(scheduled: Scheduled,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    from bot.domain import ledger

    s = scheduled
    s.convene_at(NOW, CALL)
    s.tick(NOW + timedelta(minutes=1))
    s.teams.clear()
    real, failures = ledger.mark_sent, {"left": 1}

    def flaky(*args: object, **kwargs: object) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise OperationalError("UPDATE deliveries", {}, Exception("database is locked"))
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ledger, "mark_sent", flaky)
    s.tick(CHASE_DUE)
    s.tick(CHASE_DUE + timedelta(minutes=10), worker="w2")  # the lease long gone: nothing is due again
    assert failures["left"] == 0
    assert chased_once(s) == {uid: 1 for uid in MEMBERS_BUT_CONVENER}


def test_a_circulation_retried_after_one_owner_was_turned_away_sends_only_what_did_not_arrive(
        scheduled: Scheduled) -> None:
    s = scheduled
    reference = after_the_call(s)
    room = s.case(reference).room_id
    outcome_recorded(s, reference, CALL + timedelta(hours=2, minutes=1))
    # The Bot Connector turns away one owner's direct message for now (503); the rest of the circulation goes.
    owner_chat = s.dm_chat(PEOPLE_TEAM)
    assert owner_chat is not None
    s.teams.refuse(POST, 503, "ServiceError", id=owner_chat)
    s.teams.clear()
    s.tick(CALL + timedelta(hours=2, minutes=2))
    [row] = s.rows("circulation")
    assert row.state == MessageState.PENDING  # one of its deliveries is owed
    assert PEOPLE_TEAM not in s.dms("You own this action point") and len(s.posts_to(room, "Outcome:")) == 1
    s.teams.clear_refusals()
    s.tick(CALL + timedelta(hours=2, minutes=4), worker="w2")
    assert len(s.posts_to(room, "Outcome:")) == 1  # the summary, once
    owners = {uid: len(v) for uid, v in s.dms("You own this action point").items()}
    assert owners == {"U0MANAGER": 1, "U0PEOPLE1": 1, CHAIR: 1}
    assert len(s.dms("Recommendation:").get("U0MEDDIR1", [])) == 1
    assert [r.state for r in s.rows("circulation")] == [MessageState.SENT]
