"""Only a case's own people act on it, and everyone the bot accepts is a real person (issue 12, rules 1, 2, 4).

Each test sends what an edited client would send, as signed requests into the running app; the people
are checked against the local Slack stand-in (users.info), which knows an app, a deactivated account,
an outsider and the staff member besides the roster.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlmodel import select

from bot.clock import now
from bot.domain.history import events
from handlers.slack import ids
from storage.tables import Case, Invitee, Reply, RosterChange, RosterMember
from tests.factories import BOT_USER, DEACTIVATED, OUTSIDER, convene_state
from tests.slack_client import open_and_submit

MALFORMED = "U0X> <!channel> <https://evil.example|Re-authenticate>"


def _convened(bot: Any) -> Case:
    bot.submit("U0MANAGER", "convene", convene_state(now()))
    bot.slack.wait_for("views.update")
    with bot.services.sessions() as session:
        return session.exec(select(Case)).one()


def _seats(bot: Any, case: Case) -> dict[str, tuple[str, str | None]]:
    with bot.services.sessions() as session:
        rows = session.exec(select(Invitee).where(Invitee.case_id == case.id))
        return {r.seat: (r.reply, r.deputy_id) for r in rows}


def _kinds(bot: Any, case: Case) -> list[str]:
    with bot.services.sessions() as session:
        return [e.kind for e in events(session, case.id or 0)]


def _user(value: str | None) -> dict[str, Any]:
    return {"type": "users_select", "selected_user": value}


def _deputy(value: str | None) -> dict[str, Any]:
    return {"deputy": {"deputy": _user(value)}}


def _fill(seat: str, person: str | None) -> dict[str, Any]:
    return {"seat": {"seat": {"type": "static_select", "selected_option": {"value": seat}}}, **_deputy(person)}


def _in_room(bot: Any, case: Case, text: str) -> list[Any]:
    return [c for c in bot.slack.calls_to("chat.postMessage")
            if c.params["channel"] == case.room_id and text in json.dumps(c.params, ensure_ascii=False)]


# --- rule 4: everyone chosen on the convene form is a person of the workspace -----------------------------


@pytest.mark.parametrize(("field", "value", "message"), [
    pytest.param("seat_people_team", DEACTIVATED[0], "That person's account is deactivated.", id="deactivated"),
    pytest.param("seat_governance", BOT_USER, "Choose a person, not an app.", id="an app"),
    pytest.param("seat_service_lead", "U0NOBODY1", "That person is not a member of this workspace.",
                 id="nobody of this workspace"),
    pytest.param("seat_clinical_director", MALFORMED,
                 "That is not a person in this workspace. Choose someone from the list.", id="markup for a user id"),
    pytest.param("extra_members", [OUTSIDER, DEACTIVATED[0]], "One of the people chosen has a deactivated account.",
                 id="a deactivated extra member"),
])
def test_convene_refuses_anyone_who_is_not_an_active_person_at_the_field(bot: Any, field: str, value: Any,
                                                                         message: str) -> None:
    body = bot.submit("U0MANAGER", "convene", convene_state(now(), **{field: value})).json()
    assert body == {"response_action": "errors", "errors": {field: message}}
    with bot.services.sessions() as session:
        assert session.exec(select(Case)).all() == []
    assert bot.slack.calls_to("conversations.create") == []


# --- rule 2: "Sending a deputy" names someone on the roster ---------------------------------------------------


@pytest.mark.parametrize(("deputy", "message"), [
    pytest.param(OUTSIDER, "Choose someone on the PMCCG roster. Governance can add a person with /pmccg roster.",
                 id="an outsider"),
    pytest.param(DEACTIVATED[0], "That person's account is deactivated.", id="a deactivated account"),
    pytest.param(BOT_USER, "Choose a person, not an app.", id="an app"),
    pytest.param(MALFORMED, "That is not a person in this workspace. Choose someone from the list.",
                 id="markup for a user id"),
    pytest.param("U0MEMBER1", "A deputy for the chair must be a chair or deputy chair on the roster.",
                 id="a roster member without a chair role, for the chair"),
])
def test_a_deputy_who_is_not_fit_is_refused_at_the_field_and_nothing_changes(bot: Any, deputy: str,
                                                                             message: str) -> None:
    case = _convened(bot)
    body = bot.submit("U0CHAIR01", "deputy", _deputy(deputy), private_metadata=case.reference).json()
    assert body == {"response_action": "errors", "errors": {"deputy": message}}
    assert _seats(bot, case)["chair"] == (Reply.NO_REPLY, None)
    assert len(bot.slack.calls_to("conversations.invite")) == 1  # the members, at convening
    assert "attendance_reply" not in _kinds(bot, case)


def test_a_member_may_name_any_roster_person_as_deputy_for_a_seat_other_than_the_chair(bot: Any) -> None:
    case = _convened(bot)
    response = bot.submit("U0PEOPLE1", "deputy", _deputy("U0MEMBER1"), private_metadata=case.reference)
    assert response.status_code == 200 and response.text in ("", "{}")
    assert _seats(bot, case)["people_team"] == (Reply.DEPUTY, "U0MEMBER1")


def test_a_named_deputy_is_invited_announced_and_kept_in_the_history(bot: Any) -> None:
    case = _convened(bot)
    response = bot.submit("U0CHAIR01", "deputy", _deputy("U0DEPUTY1"), private_metadata=case.reference)
    assert response.status_code == 200 and response.text in ("", "{}")
    invites = bot.slack.wait_for("conversations.invite", count=2)
    assert (invites[-1].params["channel"], invites[-1].params["users"]) == (case.room_id, "U0DEPUTY1")
    bot.slack.wait_for("chat.postMessage", lambda c: c.params["channel"] == case.room_id
                       and "Someone was added" in str(c.params.get("text")))
    (announced,) = _in_room(bot, case, "is invited to stand in for")
    assert "<@U0DEPUTY1> is invited to stand in for <@U0CHAIR01> as *Chair*" in json.dumps(announced.params["blocks"])
    assert "named by <@U0CHAIR01>" in json.dumps(announced.params["blocks"])
    with bot.services.sessions() as session:
        replies = [json.loads(e.detail) for e in events(session, case.id or 0) if e.kind == "attendance_reply"]
    assert replies == [{"reply": "deputy", "deputy": "U0DEPUTY1"}]


def test_only_the_chair_seats_named_deputy_gains_the_chairs_powers(bot: Any) -> None:
    case = _convened(bot)
    # Not on the case: the roster's deputy chair may not record its outcome.
    bot.click("U0DEPUTY1", "case_record_outcome", case.reference, channel=case.room_id)
    (refused,) = bot.slack.wait_for("response")
    assert f"Only the chair of {case.reference} (or the deputy they named) or governance" in refused.params["text"]
    assert bot.slack.calls_to("views.open") == []
    # Named by the chair for the chair's seat: now they may.
    bot.submit("U0CHAIR01", "deputy", _deputy("U0DEPUTY1"), private_metadata=case.reference)
    bot.click("U0DEPUTY1", "case_record_outcome", case.reference, channel=case.room_id)
    (opened,) = bot.slack.wait_for("views.open")
    assert opened.params["view"]["callback_id"] == "outcome"


# --- rule 1: filling a seat from the quorum warning ----------------------------------------------------------


def test_a_roster_deputy_chair_not_on_the_case_cannot_fill_its_seat(bot: Any) -> None:
    case = _convened(bot)
    bot.click("U0DEPUTY1", "quorum_invite_deputy", case.reference, channel="DU0DEPUTY1")
    (reply,) = bot.slack.wait_for("response")
    assert reply.params["response_type"] == "ephemeral" and "Only the person who convened" in reply.params["text"]
    assert bot.slack.calls_to("views.open") == []
    # The form submitted anyway (an edited client), bringing in an outsider: refused, nothing written.
    body = bot.submit("U0DEPUTY1", "invite_deputy", _fill("chair", OUTSIDER), private_metadata=case.reference).json()
    assert body["response_action"] == "errors" and "Only the person who convened" in body["errors"]["deputy"]
    assert _seats(bot, case)["chair"] == (Reply.NO_REPLY, None)
    assert len(bot.slack.calls_to("conversations.invite")) == 1
    assert "deputy_invited" not in _kinds(bot, case)


@pytest.mark.parametrize(("seat", "person", "message"), [
    pytest.param("chair", "U0MEMBER1", "Choose someone on the roster as chair or deputy chair for this seat.",
                 id="a member for the chair's seat"),
    pytest.param("professional_lead", "U0GPLEAD1",
                 "Choose a professional lead for nursing from the roster (governance can add one with /pmccg roster).",
                 id="a lead for another profession"),
    pytest.param("people_team", "U0MEDDIR1", "Choose someone on the roster as member or people team for this seat.",
                 id="a roster role that does not fit the seat"),
    pytest.param("people_team", OUTSIDER, "Choose someone on the roster as member or people team for this seat.",
                 id="someone not on the roster"),
    pytest.param("people_team", DEACTIVATED[0], "That person's account is deactivated.", id="a deactivated account"),
    pytest.param("people_team", BOT_USER, "Choose a person, not an app.", id="an app"),
    pytest.param("people_team", MALFORMED, "That is not a person in this workspace. Choose someone from the list.",
                 id="markup for a user id"),
])
def test_a_seat_takes_only_someone_whose_roster_role_fits_it(bot: Any, seat: str, person: str, message: str) -> None:
    case = _convened(bot)
    body = bot.submit("U0MANAGER", "invite_deputy", _fill(seat, person), private_metadata=case.reference).json()
    assert body == {"response_action": "errors", "errors": {"deputy": message}}
    assert _seats(bot, case)[seat] == (Reply.NO_REPLY, None)
    assert len(bot.slack.calls_to("conversations.invite")) == 1


def test_a_seat_filled_from_the_quorum_warning_is_invited_announced_and_kept(bot: Any) -> None:
    case = _convened(bot)
    response = bot.submit("U0MANAGER", "invite_deputy", _fill("people_team", "U0MEMBER1"),
                          private_metadata=case.reference)
    assert response.status_code == 200 and response.text in ("", "{}")
    invites = bot.slack.wait_for("conversations.invite", count=2)
    assert (invites[-1].params["channel"], invites[-1].params["users"]) == (case.room_id, "U0MEMBER1")
    bot.slack.wait_for("chat.postMessage", lambda c: c.params["channel"] == case.room_id
                       and "Someone was added" in str(c.params.get("text")))
    (announced,) = _in_room(bot, case, "is invited to stand in for")
    assert "by <@U0MANAGER> from the quorum warning" in json.dumps(announced.params["blocks"])
    with bot.services.sessions() as session:
        (event,) = [e for e in events(session, case.id or 0) if e.kind == "deputy_invited"]
    assert event.actor_id == "U0MANAGER"
    assert json.loads(event.detail) == {"seat": "people_team", "deputy": "U0MEMBER1", "stands_in_for": "U0PEOPLE1"}


def test_the_chair_seats_named_deputy_may_fill_a_seat(bot: Any) -> None:
    case = _convened(bot)
    bot.submit("U0CHAIR01", "deputy", _deputy("U0DEPUTY1"), private_metadata=case.reference)
    response = bot.submit("U0DEPUTY1", "invite_deputy", _fill("people_team", "U0MEMBER1"),
                          private_metadata=case.reference)
    assert response.status_code == 200 and response.text in ("", "{}")
    assert _seats(bot, case)["people_team"] == (Reply.DEPUTY, "U0MEMBER1")


# --- rule 4: the people marked present, and the roster edited in Slack -------------------------------------


@pytest.mark.parametrize(("person", "message"), [
    pytest.param(DEACTIVATED[0], "That person's account is deactivated.", id="a deactivated account"),
    pytest.param(BOT_USER, "Choose a person, not an app.", id="an app"),
    pytest.param(MALFORMED, "That is not a person in this workspace. Choose someone from the list.",
                 id="markup for a user id"),
])
def test_the_chair_cannot_mark_present_someone_who_is_not_a_person_here(bot: Any, person: str,
                                                                        message: str) -> None:
    case = _convened(bot)
    values = {"person": {"person": _user(person)}}
    body = bot.submit("U0CHAIR01", "roll_call_mark", values, private_metadata=case.reference).json()
    assert body == {"response_action": "errors", "errors": {"person": message}}
    assert "roll_call_marked" not in _kinds(bot, case)


def _roster_edit(user: str | None, roles: list[str], professions: list[str] | None = None) -> dict[str, Any]:
    return {"user": {"user": _user(user)},
            "roles": {"roles": {"type": "multi_static_select", "selected_options": [{"value": r} for r in roles]}},
            "professions": {"professions": {"type": "multi_static_select",
                                            "selected_options": [{"value": p} for p in professions or []]}}}


@pytest.mark.parametrize(("person", "message"), [
    pytest.param(DEACTIVATED[0], "That person's account is deactivated.", id="a deactivated account"),
    pytest.param(BOT_USER, "Choose a person, not an app.", id="an app"),
    pytest.param("U0NOBODY1", "That person is not a member of this workspace.", id="nobody of this workspace"),
    pytest.param(MALFORMED, "That is not a person in this workspace. Choose someone from the list.",
                 id="markup for a user id"),
])
def test_the_roster_takes_only_active_people_of_the_workspace(bot: Any, person: str, message: str) -> None:
    body = open_and_submit(bot, "U0GOVERN1", ids.ROSTER_EDIT, _roster_edit(person, ["chair"])).json()
    assert body == {"response_action": "errors", "errors": {"user": message}}
    with bot.services.sessions() as session:
        assert session.get(RosterMember, person) is None
        assert session.exec(select(RosterChange).where(RosterChange.actor_id == "U0GOVERN1")).all() == []


def test_someone_who_has_left_can_still_be_taken_off_the_roster(bot: Any) -> None:
    open_and_submit(bot, "U0GOVERN1", ids.ROSTER_EDIT, _roster_edit("U0MEMBER1", ["member"]))  # unchanged
    bot.slack.users["U0MEMBER1"]["deleted"] = True
    bot.services.directory._standings.clear()  # noqa: SLF001  (as after the cache lapses)
    response = open_and_submit(bot, "U0GOVERN1", ids.ROSTER_EDIT, _roster_edit("U0MEMBER1", []))
    assert response.status_code == 200 and response.text in ("", "{}")
    note = bot.slack.wait_for("chat.postMessage", lambda c: c.params["channel"] == "U0GOVERN1")[-1]
    assert note.params["text"] == "<@U0MEMBER1> is removed from the roster."
    with bot.services.sessions() as session:
        assert session.get(RosterMember, "U0MEMBER1") is None
