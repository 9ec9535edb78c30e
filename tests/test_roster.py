"""The roster: CSV import all or nothing with line-numbered problems; stored and read back on both
backends; who holds a role; only governance may manage it in chat."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlmodel import select

from bot.domain import roster
from bot.domain.errors import NotAllowed
from bot.domain.people import People
from bot.domain.roles import Role
from bot.domain.roster import RosterEntry, RosterImportError, parse_csv
from bot.domain.terms import Terms, load_terms
from bot.sandbox.slack_api import FakeSlack
from handlers.slack import ids
from handlers.slack.directory import Directory
from storage.db import SessionFactory
from storage.tables import RosterMember
from tests.factories import BOT_USER, DEACTIVATED, HERE, OUTSIDER, PEOPLE, roster_csv
from tests.slack_client import open_and_submit

HEADER = "user_id,roles,professions\n"
NOW = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
ROLE_LIST = ", ".join(r.value for r in Role)
PROFESSION_LIST = "acp, call_handling, doctor, nursing, operational, paramedic, pharmacy"


def problems(text: str, terms: Terms, people: People = HERE) -> list[str]:
    with pytest.raises(RosterImportError) as caught:
        roster.read_csv(text, terms, people)
    return caught.value.problems


@pytest.fixture
def slack_people(directory: FakeSlack) -> Directory:
    """The Slack implementation of People, asking the fake workspace (users.list, users.info)."""
    return Directory(WebClient(token="xoxb-test-token", base_url=directory.url))


def entry(user_id: str, roles: str, professions: str = "") -> RosterEntry:
    return RosterEntry(user_id, frozenset(Role(r) for r in roles.split(";") if r),
                       frozenset(p for p in professions.split(";") if p))


# --- parse_csv: good files ------------------------------------------------------------------------


def test_the_example_roster_parses_into_one_entry_per_person(terms: Terms) -> None:
    entries = parse_csv(roster_csv(), terms)

    assert [e.user_id for e in entries] == list(PEOPLE)
    by_id = {e.user_id: e for e in entries}
    assert by_id["U0GPLEAD1"] == entry("U0GPLEAD1", "professional_lead", "doctor;paramedic")
    assert by_id["U0CHAIR01"] == entry("U0CHAIR01", "chair")


def test_several_roles_and_professions_are_separated_by_semicolons(terms: Terms) -> None:
    entries = parse_csv(HEADER + "U0CHAIRLD, chair ; professional_lead ,nursing; pharmacy\n", terms)

    assert entries == [entry("U0CHAIRLD", "chair;professional_lead", "nursing;pharmacy")]


def test_role_and_profession_names_are_read_case_insensitively(terms: Terms) -> None:
    entries = parse_csv(HEADER + "U0NURSELD,Professional_Lead,Nursing\n", terms)

    assert entries == [entry("U0NURSELD", "professional_lead", "nursing")]


def test_blank_lines_are_skipped(terms: Terms) -> None:
    text = HEADER + "\nU0CHAIR01,chair,\n\n,,\n   ,  ,  \nU0MANAGER,manager,\n\n"

    entries = parse_csv(text, terms)

    assert [e.user_id for e in entries] == ["U0CHAIR01", "U0MANAGER"]


def test_byte_order_mark_from_excel_is_tolerated(terms: Terms) -> None:
    entries = parse_csv("\ufeff" + HEADER + "U0CHAIR01,chair,\n", terms)

    assert entries == [entry("U0CHAIR01", "chair")]


def test_windows_line_endings_are_tolerated(terms: Terms) -> None:
    entries = parse_csv(HEADER.replace("\n", "\r\n") + "U0CHAIR01,chair,\r\nU0NURSELD,professional_lead,nursing\r\n",
                        terms)

    assert entries == [entry("U0CHAIR01", "chair"), entry("U0NURSELD", "professional_lead", "nursing")]


def test_professions_are_checked_against_the_groups_own_terms() -> None:
    opg = load_terms("opg")

    assert parse_csv(HEADER + "U0NURSELD,professional_lead,clinical\n", opg) == [
        entry("U0NURSELD", "professional_lead", "clinical")]
    assert problems(HEADER + "U0NURSELD,professional_lead,nursing\n", opg) == [
        "line 2: professions: unknown profession 'nursing'; professions are clinical, operational"]


# --- parse_csv: bad files, every problem with its line --------------------------------------------

BAD_LINES = [
    pytest.param("U0CHAIR01,boss,\n",
                 [f"line 2: roles: unknown role 'boss'; roles are {ROLE_LIST}"], id="unknown role"),
    pytest.param("U0CHAIR01,,\n", ["line 2: roles: at least one role is needed"], id="no role"),
    pytest.param("Imogen,chair,\n",
                 ["line 2: user: 'Imogen' is not a Slack user ID (they look like U012AB3CD)"], id="a name, not an ID"),
    pytest.param("u0chair01,chair,\n",
                 ["line 2: user: 'u0chair01' is not a Slack user ID (they look like U012AB3CD)"],
                 id="lower-case user ID"),
    pytest.param("C0CHANNEL,chair,\n",
                 ["line 2: user: 'C0CHANNEL' is not a Slack user ID (they look like U012AB3CD)"],
                 id="channel ID, not a user ID"),
    pytest.param(",chair,\n", ["line 2: user: a user ID is needed"], id="missing user ID"),
    pytest.param("U0X> <!channel>,chair,\n", ["line 2: user: 'U0X> <!channel>' is not a user ID"],
                 id="markup where the ID should be"),
    pytest.param(f"{DEACTIVATED[0]},chair,\n", [f"line 2: user: '{DEACTIVATED[0]}' has a deactivated account"],
                 id="a deactivated account"),
    pytest.param(f"{BOT_USER},chair,\n", [f"line 2: user: '{BOT_USER}' is an app, not a person"], id="an app"),
    pytest.param("U0NOBODY1,chair,\n", ["line 2: user: 'U0NOBODY1' is not a member of this workspace"],
                 id="nobody of this workspace"),
    pytest.param("U0CHAIR01,chair,\nU0MANAGER,manager,\nU0CHAIR01,governance,\n",
                 ["line 4: U0CHAIR01 is a duplicate of line 2"], id="duplicate user names both lines"),
    pytest.param("U0MANAGER,manager,nursing\n",
                 ["line 2: professions: professions are only for professional leads"],
                 id="professions for someone who is not a lead"),
    pytest.param("U0NURSELD,professional_lead,\n",
                 ["line 2: professions: a professional lead needs the professions they lead"],
                 id="professional lead without professions"),
    pytest.param("U0NURSELD,professional_lead,dentistry\n",
                 [f"line 2: professions: unknown profession 'dentistry'; professions are {PROFESSION_LIST}"],
                 id="unknown profession"),
    pytest.param("Imogen,boss,\n",
                 ["line 2: user: 'Imogen' is not a Slack user ID (they look like U012AB3CD)",
                  f"line 2: roles: unknown role 'boss'; roles are {ROLE_LIST}"],
                 id="two problems on one line are both reported"),
    pytest.param("U0CHAIR01,chair,\nU0MANAGER,boss,\nU0GOVERN1,governance,\nbad,manager,\n",
                 [f"line 3: roles: unknown role 'boss'; roles are {ROLE_LIST}",
                  "line 5: user: 'bad' is not a Slack user ID (they look like U012AB3CD)"],
                 id="every bad line is reported, good lines are not"),
    pytest.param("U0CHAIR01,chair,,Imogen Smith\nU0MANAGER,manager,\n",
                 ["line 2: 4 columns, but the header has 3; put double quotes around a value that contains a comma"],
                 id="a row with more columns than the header"),
    pytest.param("U0CHAIR01,chair,\nU0NURSELD,professional_lead,nursing,paramedic\n",
                 ["line 3: 4 columns, but the header has 3; put double quotes around a value that contains a comma"],
                 id="professions split by a comma instead of a semicolon"),
]


@pytest.mark.parametrize(("body", "expected"), BAD_LINES)
def test_bad_lines_are_reported_with_their_line_numbers(terms: Terms, slack_people: Directory, body: str,
                                                        expected: list[str]) -> None:
    # Through the Slack implementation of People: Slack's id form, then the fake workspace's users.
    assert problems(HEADER + body, terms, slack_people) == expected


def test_the_file_alone_checks_no_one_with_the_workspace(terms: Terms) -> None:
    # parse_csv is the file's own check (the sandbox's fictional roster); importing uses read_csv.
    assert parse_csv(HEADER + "U0NOBODY1,chair,\n", terms) == [entry("U0NOBODY1", "chair")]
    assert problems(HEADER + "U0NOBODY1,chair,\n", terms) == [
        "line 2: user: 'U0NOBODY1' is not a member of this workspace"]


def test_the_content_of_extra_columns_is_not_repeated_in_the_error(terms: Terms) -> None:
    found = problems(HEADER + "U0CHAIR01,chair,,Imogen Smith\n", terms)
    assert found and all("Imogen" not in p for p in found)


def test_one_bad_line_imports_nothing(terms: Terms) -> None:
    with pytest.raises(RosterImportError) as caught:
        roster.read_csv(roster_csv() + f"{OUTSIDER},treasurer,\n", terms, HERE)

    assert str(caught.value) == f"line {len(PEOPLE) + 2}: roles: unknown role 'treasurer'; roles are {ROLE_LIST}"


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("user,role,profession\nU0CHAIR01,chair,\n",
                 "line 1: the header must be user_id,roles,professions, not user,role,profession", id="wrong names"),
    pytest.param("roles,user_id,professions\nchair,U0CHAIR01,\n",
                 "line 1: the header must be user_id,roles,professions, not roles,user_id,professions",
                 id="wrong order"),
    pytest.param("U0CHAIR01,chair,\n",
                 "line 1: the header must be user_id,roles,professions, not U0CHAIR01,chair,", id="no header"),
    pytest.param("", "line 1: the header must be user_id,roles,professions, not empty", id="empty file"),
    pytest.param("user_id,roles,professions,name\nU0CHAIR01,chair,,Imogen\n",
                 "line 1: the header must be user_id,roles,professions, not user_id,roles,professions,name",
                 id="a column the bot would not read"),
])
def test_wrong_header_is_refused(terms: Terms, text: str, expected: str) -> None:
    assert problems(text, terms) == [expected]


def test_a_file_listing_nobody_is_refused(terms: Terms) -> None:
    assert problems(HEADER + "\n,,\n", terms) == ["the file lists nobody"]


def test_line_numbers_count_blank_lines(terms: Terms) -> None:
    text = HEADER + "U0CHAIR01,chair,\n\nU0MANAGER,boss,\n"

    assert problems(text, terms) == [f"line 4: roles: unknown role 'boss'; roles are {ROLE_LIST}"]


def test_header_with_spaces_after_commas_is_read(terms: Terms) -> None:
    entries = parse_csv("user_id, roles, professions\nU0NURSELD, professional_lead, nursing\n", terms)

    assert entries == [entry("U0NURSELD", "professional_lead", "nursing")]


# --- stored roster, on SQLite and PostgreSQL ------------------------------------------------------


def test_replace_roster_then_all_entries_round_trips(sessions: SessionFactory, terms: Terms) -> None:
    entries = parse_csv(roster_csv(), terms)
    with sessions() as session:
        assert roster.replace_roster(session, entries, "U0GOVERN1", NOW) == len(PEOPLE)
        session.commit()

    with sessions() as session:
        stored = roster.all_entries(session)
        rows = session.exec(select(RosterMember)).all()

    assert stored == sorted(entries, key=lambda e: e.user_id)
    assert {r.updated_by for r in rows} == {"U0GOVERN1"}
    assert {r.updated_at for r in rows} == {NOW}


def test_replace_roster_removes_people_not_in_the_new_file(sessions: SessionFactory, terms: Terms) -> None:
    with sessions() as session:
        roster.replace_roster(session, parse_csv(roster_csv(), terms), "cli", NOW)
        session.commit()
    with sessions() as session:
        roster.replace_roster(session, [entry("U0NEWCHAIR", "chair"), entry("U0MANAGER", "manager;governance")],
                              "cli", NOW)
        session.commit()

    with sessions() as session:
        assert roster.all_entries(session) == [entry("U0MANAGER", "governance;manager"), entry("U0NEWCHAIR", "chair")]


def test_replace_roster_is_undone_with_its_transaction(sessions: SessionFactory, terms: Terms) -> None:
    with sessions() as session:
        roster.replace_roster(session, parse_csv(roster_csv(), terms), "cli", NOW)
        session.commit()
    with sessions() as session:
        roster.replace_roster(session, [entry("U0NEWCHAIR", "chair")], "cli", NOW)
        session.rollback()

    with sessions() as session:
        assert len(roster.all_entries(session)) == len(PEOPLE)


@pytest.fixture
def loaded(sessions: SessionFactory, terms: Terms) -> SessionFactory:
    with sessions() as session:
        roster.replace_roster(session, parse_csv(roster_csv(), terms), "test", NOW)
        session.commit()
    return sessions


@pytest.mark.parametrize(("role", "profession", "expected"), [
    pytest.param(Role.CHAIR, None, ["U0CHAIR01"], id="the chair"),
    pytest.param(Role.PROFESSIONAL_LEAD, None, ["U0GPLEAD1", "U0NURSELD"], id="every professional lead, by id"),
    pytest.param(Role.PROFESSIONAL_LEAD, "nursing", ["U0NURSELD"], id="the lead for nursing"),
    pytest.param(Role.PROFESSIONAL_LEAD, "paramedic", ["U0GPLEAD1"], id="a lead of several professions"),
    pytest.param(Role.PROFESSIONAL_LEAD, "pharmacy", [], id="nobody leads pharmacy"),
    pytest.param(Role.MANAGER, "nursing", [], id="a profession narrows to those who lead it"),
    pytest.param(Role.PEOPLE_TEAM, None, ["U0PEOPLE1"], id="the people team"),
])
def test_holders_of_a_role(loaded: SessionFactory, role: Role, profession: str | None, expected: list[str]) -> None:
    with loaded() as session:
        assert [e.user_id for e in roster.holders(session, role, profession)] == expected


def test_entry_and_entries_for_read_stored_people(loaded: SessionFactory) -> None:
    with loaded() as session:
        assert roster.entry(session, "U0GPLEAD1") == entry("U0GPLEAD1", "professional_lead", "doctor;paramedic")
        assert roster.entry(session, "U0OUTSIDE") is None
        found = roster.entries_for(session, ["U0CHAIR01", "U0OUTSIDE", "U0NURSELD"])
        assert sorted(found) == ["U0CHAIR01", "U0NURSELD"]
        assert roster.entries_for(session, []) == {}


def test_set_member_adds_and_changes_one_person(loaded: SessionFactory) -> None:
    with loaded() as session:
        roster.set_member(session, entry("U0NEWLEAD", "professional_lead", "pharmacy"), "U0GOVERN1", NOW)
        roster.set_member(session, entry("U0MANAGER", "manager;service_lead"), "U0GOVERN1", NOW)
        session.commit()

    with loaded() as session:
        assert [e.user_id for e in roster.holders(session, Role.PROFESSIONAL_LEAD, "pharmacy")] == ["U0NEWLEAD"]
        assert roster.entry(session, "U0MANAGER") == entry("U0MANAGER", "manager;service_lead")
        assert len(roster.all_entries(session)) == len(PEOPLE) + 1


def test_remove_member_removes_only_that_person(loaded: SessionFactory) -> None:
    with loaded() as session:
        assert roster.remove_member(session, "U0MEMBER1") is True
        assert roster.remove_member(session, "U0OUTSIDE") is False
        session.commit()

    with loaded() as session:
        assert roster.entry(session, "U0MEMBER1") is None
        assert len(roster.all_entries(session)) == len(PEOPLE) - 1


def test_governance_may_manage_the_roster(loaded: SessionFactory) -> None:
    with loaded() as session:
        assert roster.require_governance(session, "U0GOVERN1") == entry("U0GOVERN1", "governance")


@pytest.mark.parametrize("user_id", [
    pytest.param("U0CHAIR01", id="the chair"),
    pytest.param("U0MEDDIR1", id="the medical director"),
    pytest.param("U0OUTSIDE", id="someone not on the roster"),
])
def test_others_may_not_manage_the_roster(loaded: SessionFactory, user_id: str) -> None:
    with loaded() as session, pytest.raises(NotAllowed) as refused:
        roster.require_governance(session, user_id)

    assert refused.value.message == ("Only the governance team can view or change the roster. "
                                     "Ask your governance representative.")


# --- the roster history (issue 12, rule 10): append-only, on SQLite and PostgreSQL ----------------------


def _history(sessions: SessionFactory) -> list[tuple[str, str, str, str, str, str, str]]:
    with sessions() as session:
        return [(c.actor_id, c.source, c.user_id, c.roles_added, c.roles_removed, c.professions_added,
                 c.professions_removed) for c in reversed(roster.history(session))]


def test_every_roster_change_is_kept_with_who_when_and_which_roles(loaded: SessionFactory) -> None:
    later = datetime(2025, 3, 5, 10, 0, tzinfo=UTC)
    imported = _history(loaded)
    assert len(imported) == len(PEOPLE)
    assert ("test", "import", "U0GPLEAD1", "professional_lead", "", "doctor;paramedic", "") in imported

    with loaded() as session:
        # Granted, then removed: both stay in the history.
        roster.set_member(session, entry("U0MEMBER1", "member;deputy_chair"), "U0GOVERN1", later)
        session.commit()
        roster.set_member(session, entry("U0MEMBER1", "member"), "U0GOVERN1", later)
        roster.set_member(session, entry("U0GPLEAD1", "professional_lead", "doctor;nursing"), "U0GOVERN1", later)
        roster.set_member(session, entry("U0CHAIR01", "chair"), "U0GOVERN1", later)  # no change: no row
        roster.remove_member(session, "U0MEDDIR1", "U0GOVERN1", later)
        session.commit()

    assert _history(loaded)[len(PEOPLE):] == [
        ("U0GOVERN1", "chat", "U0MEMBER1", "deputy_chair", "", "", ""),
        ("U0GOVERN1", "chat", "U0MEMBER1", "", "deputy_chair", "", ""),
        ("U0GOVERN1", "chat", "U0GPLEAD1", "", "", "nursing", "paramedic"),
        ("U0GOVERN1", "chat", "U0MEDDIR1", "", "medical_director", "", ""),
    ]
    with loaded() as session:
        assert roster.history(session, 1)[0].at == later and roster.history(session, 1)[0].user_id == "U0MEDDIR1"


def test_an_import_records_who_was_added_changed_and_removed(loaded: SessionFactory) -> None:
    with loaded() as session:
        roster.replace_roster(session, [entry("U0CHAIR01", "chair;governance"), entry("U0NEWCHAIR", "chair")],
                              "cli", NOW)
        session.commit()
    changes = _history(loaded)[len(PEOPLE):]
    assert ("cli", "import", "U0CHAIR01", "governance", "", "", "") in changes
    assert ("cli", "import", "U0NEWCHAIR", "chair", "", "", "") in changes
    assert ("cli", "import", "U0NURSELD", "", "professional_lead", "", "nursing") in changes
    assert len(changes) == len(PEOPLE) + 1  # one changed, one added, ten removed


def test_a_refused_edit_leaves_no_trace(loaded: SessionFactory, terms: Terms) -> None:
    from bot.domain.errors import InvalidInput

    with pytest.raises(InvalidInput):
        roster.edit(loaded, terms, "U0GOVERN1", DEACTIVATED[0], ["chair"], [], NOW, HERE)
    with pytest.raises(NotAllowed):
        roster.edit(loaded, terms, "U0CHAIR01", OUTSIDER, ["chair"], [], NOW, HERE)
    assert len(_history(loaded)) == len(PEOPLE)


# --- /pmccg roster: governance reads the recent changes ---------------------------------------------------


def test_governance_sees_the_recent_roster_changes_in_slack(bot: Any) -> None:
    edit = {"user": {"user": {"type": "users_select", "selected_user": "U0MEMBER1"}},
            "roles": {"roles": {"type": "multi_static_select",
                                "selected_options": [{"value": "member"}, {"value": "deputy_chair"}]}},
            "professions": {"professions": {"type": "multi_static_select", "selected_options": []}}}
    assert open_and_submit(bot, "U0GOVERN1", ids.ROSTER_EDIT, edit).status_code == 200
    edit["roles"]["roles"]["selected_options"] = [{"value": "member"}]
    assert open_and_submit(bot, "U0GOVERN1", ids.ROSTER_EDIT, edit).status_code == 200

    bot.command("U0GOVERN1", "roster")
    (reply,) = bot.slack.wait_for("response")
    text = "\n".join(b["text"]["text"] for b in reply.params["blocks"] if b["type"] == "section")
    changes = text.split("*Recent changes*", 1)[1].splitlines()
    # Most recent first: the removal, then the grant, each with who made it and how.
    assert changes[1].endswith("<@U0GOVERN1> (/pmccg roster): <@U0MEMBER1> −Deputy chair")
    assert changes[2].endswith("<@U0GOVERN1> (/pmccg roster): <@U0MEMBER1> +Deputy chair")
    assert changes[1].startswith("• <!date^")
    assert "test (CSV import): <@" in text  # the import the roster came from

    bot.command("U0CHAIR01", "roster")
    refused = bot.slack.wait_for("response", count=2)[-1]
    assert "Only the governance team" in refused.params["text"] and "Recent changes" not in refused.params["text"]
