"""The bot's forms count once and write only where the bot stored (issue 12, rules 3, 5 and 7).

Domain tests drive bot/domain/forms.py on both backends (claims racing in threads, a refused change rolling
its claim back, which requests name a form); HTTP tests send what an edited client would send for the
roster form, whose listener is another module's. The outcome, action point, close and case-admin forms
are tested beside their features (test_outcome_http.py, test_action_reminders.py, ...).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import Session, select

from bot.config import load_settings
from bot.domain import forms
from bot.domain.errors import InvalidInput
from bot.domain.forms import AlreadySubmitted, FormKind, FormRefused, Origin
from handlers.slack import ids
from handlers.slack.forms import reply_hosts
from storage.db import SessionFactory
from storage.tables import FormRecord, RosterMember
from tests.slack_client import opened_view, submit_view

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def _opened(sessions: SessionFactory, kind: FormKind = FormKind.ACTION_UPDATE, user: str = "U0MANAGER",
            view: str | None = "V0001") -> str:
    nonce = forms.open_form(sessions, kind=kind, user_id=user, subject="7", now=NOW, origin=Origin(delivery_id=3))
    if view:
        forms.record_view(sessions, nonce, view)
    return nonce


def _member(user: str) -> Any:
    def change(session: Session) -> str:
        session.add(RosterMember(user_id=user, roles="member", updated_at=NOW, updated_by="test"))
        return user
    return change


def _members(sessions: SessionFactory) -> list[str]:
    with sessions() as session:
        return [m.user_id for m in session.exec(select(RosterMember))]


# --- the domain, on both backends --------------------------------------------------------------------------


def test_a_form_claimed_by_eight_deliveries_at_once_takes_effect_once(sessions: SessionFactory) -> None:
    form = forms.find(sessions, _opened(sessions), "U0MANAGER", FormKind.ACTION_UPDATE, "V0001")
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def deliver(n: int) -> None:
        barrier.wait()
        try:
            forms.submit_once(sessions, form, NOW, _member(f"U0RACE{n:03d}"))
            outcomes.append("saved")
        except AlreadySubmitted:
            outcomes.append("already")

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["already"] * 7 + ["saved"]
    assert len(_members(sessions)) == 1
    with pytest.raises(AlreadySubmitted):
        forms.find(sessions, form.nonce, "U0MANAGER", FormKind.ACTION_UPDATE, "V0001")


def test_a_change_refused_at_a_field_leaves_the_form_open_to_correct_and_send_again(sessions: SessionFactory) -> None:
    form = forms.find(sessions, _opened(sessions), "U0MANAGER", FormKind.ACTION_UPDATE, "V0001")

    def refused(session: Session) -> None:
        _member("U0HALF0001")(session)
        raise InvalidInput({"update": "Write the update."})

    with pytest.raises(InvalidInput):
        forms.submit_once(sessions, form, NOW, refused)
    assert _members(sessions) == []  # nothing half-written, and the claim went with it
    again = forms.find(sessions, form.nonce, "U0MANAGER", FormKind.ACTION_UPDATE, "V0001")
    assert forms.submit_once(sessions, again, NOW, _member("U0FULL0001")) == "U0FULL0001"


@pytest.mark.parametrize(("user", "kind", "view", "reason"), [
    pytest.param("U0CHAIR01", FormKind.ACTION_UPDATE, "V0001", "other_user", id="opened for someone else"),
    pytest.param("U0MANAGER", FormKind.ACTION_DUE, "V0001", "wrong_kind", id="another kind of form"),
    pytest.param("U0MANAGER", FormKind.ACTION_UPDATE, "V0OTHER", "other_view", id="another view"),
    pytest.param("U0MANAGER", FormKind.ACTION_UPDATE, "", "other_view", id="no view"),
])
def test_a_form_is_found_only_for_its_person_kind_and_view(sessions: SessionFactory, user: str, kind: FormKind,
                                                           view: str, reason: str) -> None:
    nonce = _opened(sessions)
    with pytest.raises(FormRefused) as refused:
        forms.find(sessions, nonce, user, kind, view)
    assert refused.value.reason == reason
    found = forms.find(sessions, nonce, "U0MANAGER", FormKind.ACTION_UPDATE, "V0001")
    assert (found.subject, found.origin, found.view_id) == ("7", Origin(delivery_id=3), "V0001")


@pytest.mark.parametrize("nonce", [pytest.param("PMCCG-2026-001", id="a case reference"),
                                   pytest.param('{"action": 7, "channel": "C0OTHER"}', id="old metadata"),
                                   pytest.param("", id="empty"), pytest.param(None, id="not a string"),
                                   pytest.param("x" * 500, id="too long")])
def test_a_nonce_the_bot_never_gave_names_no_form(sessions: SessionFactory, nonce: Any) -> None:
    _opened(sessions)
    with pytest.raises(FormRefused) as refused:
        forms.find(sessions, nonce, "U0MANAGER", FormKind.ACTION_UPDATE, "V0001")
    assert refused.value.reason == "unknown"


def test_a_view_id_not_yet_known_is_taken_from_the_first_submission_and_kept(sessions: SessionFactory) -> None:
    nonce = _opened(sessions, view=None)
    form = forms.find(sessions, nonce, "U0MANAGER", FormKind.ACTION_UPDATE, "V0LATE")
    forms.submit_once(sessions, form, NOW, _member("U0LATE0001"))
    forms.record_view(sessions, nonce, "V0ANSWER")  # Slack's answer to views.open, arriving late
    with sessions() as session:
        row = session.exec(select(FormRecord).where(FormRecord.nonce == nonce)).one()
    assert row.view_id == "V0LATE" and row.claimed_at == NOW


def test_rows_are_added_once_per_click_up_to_the_limit(sessions: SessionFactory) -> None:
    nonce = _opened(sessions, FormKind.OUTCOME)
    form = forms.find(sessions, nonce, "U0MANAGER", FormKind.OUTCOME, "V0001")
    grown = forms.add_row(sessions, form, limit=3)
    assert grown is not None and grown.rows == 2
    assert forms.add_row(sessions, form, limit=3) is None  # a double click based on the same view: no row
    assert forms.add_row(sessions, grown, limit=2) is None  # at the limit
    forms.undo_row(sessions, grown)
    assert forms.find(sessions, nonce, "U0MANAGER", FormKind.OUTCOME, "V0001").rows == 1


# --- reply addresses -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("api_url", "url", "trusted"), [
    pytest.param("https://slack.com/api/", "https://hooks.slack.com/actions/T0/1/x", True, id="Slack's hooks"),
    pytest.param("https://slack.com/api/", "http://hooks.slack.com/actions/T0/1/x", False, id="not https"),
    pytest.param("https://slack.com/api/", "https://hooks.slack.com.evil.example/x", False, id="a look-alike"),
    pytest.param("https://slack.com/api/", "https://hooks.slack.com@evil.example/x", False, id="userinfo trick"),
    pytest.param("https://slack.com/api/", "https://evil.example/#https://hooks.slack.com/", False, id="fragment"),
    pytest.param("https://slack.com/api/", "https://evil.example/hooks/T0", False, id="evil.example"),
    pytest.param("https://slack.com/api/", "//hooks.slack.com/x", False, id="no scheme"),
    pytest.param("https://slack-gov.com/api/", "https://hooks.slack-gov.com/actions/x", True, id="GovSlack"),
    pytest.param("http://127.0.0.1:4567/api/", "http://127.0.0.1:4567/api/response?x=1", True, id="the stand-in"),
    pytest.param("http://127.0.0.1:4567/api/", "http://127.0.0.1:4568/api/response", False, id="another port"),
])
def test_only_response_urls_on_slacks_hosts_are_trusted(api_url: str, url: str, trusted: bool) -> None:
    settings = load_settings({"SLACK_BOT_TOKEN": "xoxb-t", "SLACK_API_URL": api_url}, dotenv=False)
    assert (forms.trusted_reply_url(url, reply_hosts(settings)) == url) is trusted


# --- the roster form over HTTP (the listener is handlers/slack/listeners/roster.py's) ---------------------------------


def _roster_values(user: str, *roles: str) -> dict[str, Any]:
    return {ids.ROSTER_USER: {ids.ROSTER_USER: {"type": "users_select", "selected_user": user}},
            ids.ROSTER_ROLES: {ids.ROSTER_ROLES: {"type": "multi_static_select",
                                                  "selected_options": [{"value": r} for r in roles]}},
            ids.ROSTER_PROFESSIONS: {ids.ROSTER_PROFESSIONS: {"type": "multi_static_select",
                                                              "selected_options": []}}}


def _notes(bot: Any) -> list[str]:
    return [c.params["text"] for c in bot.slack.calls_to("chat.postMessage") if c.params["channel"] == "U0GOVERN1"]


def test_a_roster_change_counts_once_per_form_and_only_for_whom_it_was_opened(bot: Any) -> None:
    bot.click("U0GOVERN1", ids.ROSTER_EDIT, "", channel="C0GENERAL")
    view = opened_view(bot.slack)
    assert view["callback_id"] == ids.ROSTER_VIEW and len(view["private_metadata"]) >= 32
    values = _roster_values("U0OUTSIDE", "member")
    # Sent by someone else (their signed id, governance's form): refused, nothing changed.
    body = submit_view(bot, "U0MEMBER1", view, values).json()
    assert body["view"]["title"]["text"] == "Not saved"
    assert submit_view(bot, "U0GOVERN1", view, values).status_code == 200
    bot.slack.wait_for("chat.postMessage", lambda c: c.params["channel"] == "U0GOVERN1")
    # The same form again, now removing the person: the first submission stands.
    again = submit_view(bot, "U0GOVERN1", view, _roster_values("U0OUTSIDE")).json()
    assert again["view"]["title"]["text"] == "Already saved"
    with bot.services.sessions() as session:
        row = session.get(RosterMember, "U0OUTSIDE")
        assert row is not None and row.roles == "member" and row.updated_by == "U0GOVERN1"
    assert _notes(bot) == ["<@U0OUTSIDE> is on the roster as Member."]
