"""`pmccg roster import` on a Teams deployment (PMCCG_PLATFORM=teams): each person is checked with Microsoft Graph.

Run in-process against the Teams stand-in on loopback: a roster of Entra object ids of active members imports;
a guest (a person of another organisation), a disabled account, an id Graph does not know and a malformed id are
each refused at their line, in the words the Slack path uses, and nothing is imported. A missing TEAMS_* setting
is named, never printed; `roster list` and `history` need no platform setting at all.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import cli
from bot.sandbox.teams_api import TeamsStandIn, TeamsUser
from tests.factories import PEOPLE

HEADER = "user_id,roles,professions"
PLATFORM_VARIABLES = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL",
                      "TEAMS_CLIENT_ID", "TEAMS_CLIENT_SECRET", "TEAMS_TENANT_ID", "TEAMS_APP_ID",
                      "TEAMS_OPENID_METADATA_URL", "TEAMS_LOGIN_URL", "TEAMS_SERVICE_URL", "GRAPH_API_URL",
                      "CLIENT_ID", "CLIENT_SECRET", "TENANT_ID", "PMCCG_CONFIG", "PMCCG_TIMEZONE")


@pytest.fixture(scope="module")
def teams() -> Iterator[TeamsStandIn]:
    with TeamsStandIn() as standin:
        yield standin


@pytest.fixture(scope="module")
def members(teams: TeamsStandIn) -> dict[str, TeamsUser]:
    """The demo roster's people (tests/factories.py PEOPLE) as members of the stand-in's organisation."""
    return {uid: teams.add_user(name) for uid, (name, _, _) in PEOPLE.items()}


@pytest.fixture(scope="module")
def guest(teams: TeamsStandIn) -> TeamsUser:
    return teams.add_user("Gail Guest", user_type="Guest")


@pytest.fixture(scope="module")
def leaver(teams: TeamsStandIn) -> TeamsUser:
    user = teams.add_user("Len Leaver")
    teams.disable_user(user.id)
    return user


@pytest.fixture(autouse=True)
def workdir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A Teams deployment with a fresh SQLite file, no .env and no platform setting at all."""
    for name in PLATFORM_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    monkeypatch.setenv("PMCCG_PLATFORM", "teams")
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()  # `main` points the root logger at the (captured) stderr; put it back afterwards
    handlers, level = root.handlers[:], root.level
    yield tmp_path
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def tenant(monkeypatch: pytest.MonkeyPatch, teams: TeamsStandIn) -> TeamsStandIn:
    """Point the bot's Teams settings at the stand-in, as an administrator sets them for `pmccg teams`."""
    for name, value in teams.settings_env().items():
        if name != "TEAMS_APP_ID":  # importing the roster sends nothing: the catalogue id is not needed
            monkeypatch.setenv(name, value)
    return teams


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def roster_csv(members: dict[str, TeamsUser], *extra: str) -> str:
    lines = [HEADER, *(f"{members[uid].id},{roles},{profs}" for uid, (_, roles, profs) in PEOPLE.items()), *extra]
    return "\n".join(lines) + "\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def problems(err: str) -> list[str]:
    return [line.strip() for line in err.splitlines() if line.startswith("  line ")]


@pytest.mark.usefixtures("tenant")
def test_a_roster_of_entra_object_ids_of_members_imports_and_lists_back(
        capsys: pytest.CaptureFixture[str], workdir: Path, members: dict[str, TeamsUser],
        teams: TeamsStandIn) -> None:
    teams.clear()
    code, out, err = run(capsys, "roster", "import", str(write(workdir / "good.csv", roster_csv(members))))

    assert (code, out) == (0, f"Imported {len(PEOPLE)} people into the roster.\n"), err
    # Each person was asked of Graph (GET /users/{id}), with the bot's own token.
    lookups = teams.calls_to("GET /v1.0/users/{id}")
    assert {c.params["id"] for c in lookups} == {m.id for m in members.values()}
    assert {(c.status, c.client_id) for c in lookups} == {(200, teams.client_id)}
    code, listing, _ = run(capsys, "roster", "list")
    expected = sorted(f"{members[uid].id},{roles},{';'.join(sorted(p for p in profs.split(';') if p))}"
                      for uid, (_, roles, profs) in PEOPLE.items())
    assert (code, listing.splitlines()) == (0, [HEADER, *sorted(expected)])


@pytest.mark.usefixtures("tenant")
def test_a_guest_a_disabled_account_an_unknown_and_a_malformed_id_are_refused_at_their_lines(
        capsys: pytest.CaptureFixture[str], workdir: Path, members: dict[str, TeamsUser], guest: TeamsUser,
        leaver: TeamsUser) -> None:
    stranger = str(uuid.uuid4())  # a well-formed id that is no one in this organisation
    text = roster_csv(members, f"{guest.id},member,", f"{leaver.id},member,", f"{stranger},member,",
                      "U0SLACKID1,member,")
    first = len(PEOPLE) + 2  # the header is line 1

    code, out, err = run(capsys, "roster", "import", str(write(workdir / "bad.csv", text)))

    assert code == 1 and "Imported" not in out
    assert problems(err) == [
        f"line {first}: user: '{guest.id}' is not a member of this workspace",
        f"line {first + 1}: user: '{leaver.id}' has a deactivated account",
        f"line {first + 2}: user: '{stranger}' is not a member of this workspace",
        f"line {first + 3}: user: 'U0SLACKID1' is not a Microsoft Entra object ID "
        "(they look like 8f3c2a1e-5b6d-4e7f-9a0b-1c2d3e4f5a6b)"]
    assert run(capsys, "roster", "list")[1] == HEADER + "\n"  # all or nothing


def test_without_the_client_secret_the_command_names_the_setting_and_never_a_value(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, workdir: Path,
        members: dict[str, TeamsUser], tenant: TeamsStandIn) -> None:
    monkeypatch.delenv("TEAMS_CLIENT_SECRET")
    tenant.clear()

    code, out, err = run(capsys, "roster", "import", str(write(workdir / "good.csv", roster_csv(members))))

    assert code == 2 and "Imported" not in out
    assert "TEAMS_CLIENT_SECRET is not set" in err
    assert "SLACK_BOT_TOKEN" not in err  # a Teams deployment is not asked for Slack's token
    assert tenant.client_secret not in err + out and "Traceback" not in err
    assert tenant.calls == []  # nothing was asked of Microsoft without the identity
    assert run(capsys, "roster", "list")[1] == HEADER + "\n"


def test_roster_list_and_history_need_no_platform_setting(capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch, workdir: Path,
                                                          members: dict[str, TeamsUser],
                                                          teams: TeamsStandIn) -> None:
    # A roster imported with the settings, then read back by a shell holding none of them (Slack's or Teams').
    with monkeypatch.context() as m:
        for name, value in teams.settings_env().items():
            m.setenv(name, value)
        assert run(capsys, "roster", "import", str(write(workdir / "good.csv", roster_csv(members))))[0] == 0

    code, listing, err = run(capsys, "roster", "list")
    assert (code, len(listing.splitlines())) == (0, 1 + len(PEOPLE)), err
    code, history, err = run(capsys, "roster", "history")
    rows = history.splitlines()[1:]
    assert code == 0 and len(rows) == len(PEOPLE), err
    assert {r.split(",")[3] for r in rows} == {m.id for m in members.values()}


def test_a_wrong_client_secret_is_said_once_and_nothing_is_imported(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, workdir: Path,
        members: dict[str, TeamsUser], tenant: TeamsStandIn) -> None:
    wrong = "not-the-registration-secret-789"
    monkeypatch.setenv("TEAMS_CLIENT_SECRET", wrong)
    tenant.clear()

    code, out, err = run(capsys, "roster", "import", str(write(workdir / "good.csv", roster_csv(members))))

    assert code == 2 and "Imported" not in out
    assert "refused a token" in err and "TEAMS_CLIENT_SECRET" in err and problems(err) == []
    assert wrong not in err + out and "Traceback" not in err
    assert tenant.calls_to("GET /v1.0/users/{id}") == []  # no one was looked up without a token
    assert run(capsys, "roster", "list")[1] == HEADER + "\n"
