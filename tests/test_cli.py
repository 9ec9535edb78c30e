"""The `pmccg` command line, run in-process: roster import/list, db upgrade, and the refusals a person
installing the bot meets (missing secrets, a bad terms file) — explained, never with a secret's value."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import cli
from bot.sandbox.slack_api import FakeSlack
from tests.factories import DEACTIVATED, PEOPLE, roster_csv

HEADER = "user_id,roles,professions"
FAKE_BOT_TOKEN = "xoxb-not-a-real-secret-123"
FAKE_SIGNING_SECRET = "not-a-real-signing-secret-456"
SETTINGS_VARIABLES = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL", "PMCCG_CONFIG",
                      "PMCCG_TIMEZONE", "PORT", "PMCCG_TICK_SECONDS", "PMCCG_RUN_SCHEDULER")


@pytest.fixture(autouse=True)
def workdir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A clean environment: a fresh SQLite file, no .env, no Slack secrets, no terms file."""
    for name in SETTINGS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    monkeypatch.chdir(tmp_path)
    # `main` points the root logger at the (captured) stderr; put it back afterwards.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield tmp_path
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def slack_workspace(monkeypatch: pytest.MonkeyPatch, directory: FakeSlack) -> FakeSlack:
    """`pmccg roster import` asks Slack about each person: point it at the fake workspace."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", FAKE_BOT_TOKEN)
    monkeypatch.setenv("SLACK_API_URL", directory.url)
    return directory


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Should `serve` get as far as starting gunicorn, fail instead of blocking the test run."""
    from gunicorn.app.base import BaseApplication

    def refuse(self: object) -> None:
        raise AssertionError("the server started")

    monkeypatch.setattr(BaseApplication, "run", refuse)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def expected_listing() -> str:
    lines = sorted(f"{uid},{roles},{';'.join(sorted(p for p in profs.split(';') if p))}"
                   for uid, (_, roles, profs) in PEOPLE.items())
    return "\n".join([HEADER, *lines]) + "\n"


# --- roster import / list -------------------------------------------------------------------------


@pytest.mark.usefixtures("slack_workspace")
def test_roster_import_then_list_prints_the_roster_back(capsys: pytest.CaptureFixture[str], workdir: Path) -> None:
    good = write(workdir / "good.csv", roster_csv())

    code, out, err = run(capsys, "roster", "import", str(good))
    assert (code, out) == (0, f"Imported {len(PEOPLE)} people into the roster.\n")

    code, out, _ = run(capsys, "roster", "list")
    assert code == 0
    assert out == expected_listing()


@pytest.mark.usefixtures("slack_workspace")
def test_roster_list_output_can_be_imported_again(capsys: pytest.CaptureFixture[str], workdir: Path) -> None:
    run(capsys, "roster", "import", str(write(workdir / "good.csv", roster_csv())))
    _, listing, _ = run(capsys, "roster", "list")

    code, _, _ = run(capsys, "roster", "import", str(write(workdir / "again.csv", listing)))
    _, again, _ = run(capsys, "roster", "list")

    assert code == 0
    assert again == listing


def test_roster_list_of_an_empty_roster_prints_only_the_header(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "roster", "list")[:2] == (0, HEADER + "\n")


BAD_CSV = f"{HEADER}\nU0CHAIR01,chair,\nImogen,boss,\nU0MANAGER,manager,nursing\nU0CHAIR01,governance,\n"
BAD_CSV_PROBLEMS = [
    "  line 3: user: 'Imogen' is not a Slack user ID (they look like U012AB3CD)",
    "  line 3: roles: unknown role 'boss'; roles are chair, deputy_chair, manager, service_lead, people_team, "
    "governance, clinical_director, professional_lead, medical_director, member",
    "  line 4: professions: professions are only for professional leads",
    "  line 5: U0CHAIR01 is a duplicate of line 2",
]


@pytest.mark.usefixtures("slack_workspace")
def test_bad_roster_file_exits_1_listing_every_problem_and_imports_nothing(
        capsys: pytest.CaptureFixture[str], workdir: Path) -> None:
    bad = write(workdir / "bad.csv", BAD_CSV)

    code, out, err = run(capsys, "roster", "import", str(bad))

    assert code == 1
    assert "Imported" not in out
    lines = err.splitlines()
    assert f"{bad}: nothing was imported:" in lines
    assert [line for line in lines if line.startswith("  line ")] == BAD_CSV_PROBLEMS
    assert run(capsys, "roster", "list")[1] == HEADER + "\n"


@pytest.mark.usefixtures("slack_workspace")
def test_a_roster_row_with_more_columns_than_the_header_is_refused_with_its_line(
        capsys: pytest.CaptureFixture[str], workdir: Path) -> None:
    bad = write(workdir / "names.csv", f"{HEADER}\nU0CHAIR01,chair,\nU0MANAGER,manager,,Imogen Smith\n")

    code, out, err = run(capsys, "roster", "import", str(bad))

    assert (code, out) == (1, "")
    assert "  line 3: 4 columns, but the header has 3; put double quotes around a value that contains a comma" in err
    assert "Imogen" not in err
    assert run(capsys, "roster", "list")[1] == HEADER + "\n"  # nothing imported


@pytest.mark.usefixtures("slack_workspace")
def test_bad_roster_file_leaves_the_existing_roster_alone(capsys: pytest.CaptureFixture[str], workdir: Path) -> None:
    run(capsys, "roster", "import", str(write(workdir / "good.csv", roster_csv())))

    code, _, _ = run(capsys, "roster", "import", str(write(workdir / "bad.csv", BAD_CSV)))

    assert code == 1
    assert run(capsys, "roster", "list")[1] == expected_listing()


@pytest.mark.usefixtures("slack_workspace")
def test_a_deactivated_account_is_refused_at_its_line_and_nothing_is_imported(
        capsys: pytest.CaptureFixture[str], workdir: Path) -> None:
    text = roster_csv() + f"{DEACTIVATED[0]},member,\nU0NOBODY1,member,\n"
    bad = write(workdir / "left.csv", text)

    code, out, err = run(capsys, "roster", "import", str(bad))

    assert code == 1 and "Imported" not in out
    assert [line for line in err.splitlines() if line.startswith("  line ")] == [
        f"  line {len(PEOPLE) + 2}: user: '{DEACTIVATED[0]}' has a deactivated account",
        f"  line {len(PEOPLE) + 3}: user: 'U0NOBODY1' is not a member of this workspace"]
    assert run(capsys, "roster", "list")[1] == HEADER + "\n"


def test_roster_import_needs_the_bot_token_to_check_people_with_slack(capsys: pytest.CaptureFixture[str],
                                                                      workdir: Path) -> None:
    code, out, err = run(capsys, "roster", "import", str(write(workdir / "good.csv", roster_csv())))

    assert code == 2 and "Imported" not in out
    assert "SLACK_BOT_TOKEN is not set" in err
    assert run(capsys, "roster", "list")[1] == HEADER + "\n"


@pytest.mark.usefixtures("slack_workspace")
def test_roster_history_prints_every_change_with_who_and_when(capsys: pytest.CaptureFixture[str],
                                                              workdir: Path) -> None:
    run(capsys, "roster", "import", str(write(workdir / "good.csv", roster_csv())))
    # The deputy chair becomes chair and governance; the member leaves.
    changed = roster_csv().replace("U0DEPUTY1,deputy_chair,", "U0DEPUTY1,chair;governance,")
    changed = "\n".join(line for line in changed.splitlines() if not line.startswith("U0MEMBER1")) + "\n"
    run(capsys, "roster", "import", str(write(workdir / "changed.csv", changed)))
    run(capsys, "roster", "import", str(write(workdir / "again.csv", roster_csv())))  # and back

    code, out, _ = run(capsys, "roster", "history")

    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "at,by,source,user_id,roles_added,roles_removed,professions_added,professions_removed"
    rows = [line.split(",") for line in lines[1:]]
    assert len(rows) == len(PEOPLE) + 2 + 2  # everyone added, then two changes, then both undone
    assert all(r[1:3] == ["cli", "import"] and r[0].endswith(("+00:00", "+01:00")) for r in rows)
    deputy = [r[3:] for r in rows if r[3] == "U0DEPUTY1"]
    assert deputy == [["U0DEPUTY1", "deputy_chair", "", "", ""],
                      ["U0DEPUTY1", "chair;governance", "deputy_chair", "", ""],
                      ["U0DEPUTY1", "deputy_chair", "chair;governance", "", ""]]
    assert [r[3:6] for r in rows if r[3] == "U0MEMBER1"] == [["U0MEMBER1", "member", ""], ["U0MEMBER1", "", "member"],
                                                           ["U0MEMBER1", "member", ""]]


def test_roster_import_of_a_missing_file_exits_2_naming_it(capsys: pytest.CaptureFixture[str], workdir: Path) -> None:
    code, out, err = run(capsys, "roster", "import", "missing.csv")

    assert code == 2
    assert "pmccg: missing.csv: cannot be read (No such file or directory)." in err
    assert "Traceback" not in err


def test_roster_import_of_a_file_not_in_utf8_exits_2_naming_it(capsys: pytest.CaptureFixture[str],
                                                               workdir: Path) -> None:
    path = workdir / "excel.csv"
    path.write_bytes(roster_csv().encode("utf-16"))

    code, _, err = run(capsys, "roster", "import", str(path))

    assert code == 2
    assert str(path) in err


@pytest.mark.usefixtures("slack_workspace")
def test_roster_import_follows_the_configured_terms(capsys: pytest.CaptureFixture[str], workdir: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMCCG_CONFIG", "opg")
    csv = write(workdir / "opg.csv", f"{HEADER}\nU0NURSELD,professional_lead,nursing\n")

    code, _, err = run(capsys, "roster", "import", str(csv))

    assert code == 1
    assert "  line 2: professions: unknown profession 'nursing'; professions are clinical, operational" in err


# --- serve and socket: missing secrets are named and explained, never printed ----------------------


def test_serve_without_tokens_exits_2_naming_both_and_where_to_find_them(
        capsys: pytest.CaptureFixture[str], no_server: None) -> None:
    code, out, err = run(capsys, "serve")

    assert code == 2
    assert "SLACK_BOT_TOKEN is not set. Find it in your Slack app's settings, OAuth & Permissions" in err
    assert "SLACK_SIGNING_SECRET is not set. Find it in your Slack app's settings, Basic Information" in err
    assert "Export it, or put it in a .env file in the working directory." in err
    assert "Traceback" not in err


def test_serve_with_only_the_bot_token_reports_only_the_signing_secret_and_never_the_token(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_server: None) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", FAKE_BOT_TOKEN)

    code, out, err = run(capsys, "serve")

    assert code == 2
    assert "SLACK_SIGNING_SECRET is not set" in err
    assert "SLACK_BOT_TOKEN" not in err
    assert FAKE_BOT_TOKEN not in out + err
    assert "not-a-real-secret" not in out + err


def test_serve_with_only_the_signing_secret_never_prints_it(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_server: None) -> None:
    monkeypatch.setenv("SLACK_SIGNING_SECRET", FAKE_SIGNING_SECRET)

    code, out, err = run(capsys, "serve")

    assert code == 2
    assert "SLACK_BOT_TOKEN is not set" in err
    assert "SLACK_SIGNING_SECRET" not in err
    assert FAKE_SIGNING_SECRET not in out + err


def test_socket_without_tokens_names_the_app_token_and_socket_mode(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "socket")

    assert code == 2
    assert "SLACK_BOT_TOKEN is not set" in err
    assert "SLACK_APP_TOKEN is not set" in err
    assert "connections:write" in err and "Socket Mode" in err
    assert "SLACK_SIGNING_SECRET" not in err


# --- a bad terms file stops every command that needs the terms -------------------------------------


@pytest.fixture
def bad_terms(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from importlib import resources

    text = resources.files("bot.domain.presets").joinpath("pmccg.toml").read_text(encoding="utf-8")
    assert "minimum_present = 4" in text
    path = write(workdir / "our-terms.toml", text.replace("minimum_present = 4", "minimum_present = 0"))
    monkeypatch.setenv("PMCCG_CONFIG", str(path))
    return path


def test_bad_terms_file_stops_roster_import_naming_file_and_key(capsys: pytest.CaptureFixture[str], workdir: Path,
                                                                bad_terms: Path) -> None:
    good = write(workdir / "good.csv", roster_csv())

    code, out, err = run(capsys, "roster", "import", str(good))

    assert code == 2
    assert f"pmccg: {bad_terms}: quorum.minimum_present: must be greater than zero, not 0" in err
    assert "Imported" not in out
    assert run(capsys, "roster", "list")[1] == HEADER + "\n"


def test_bad_terms_file_stops_serve_before_it_starts(capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch, bad_terms: Path,
                                                     no_server: None) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", FAKE_BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", FAKE_SIGNING_SECRET)

    code, out, err = run(capsys, "serve")

    assert code == 2
    assert f"pmccg: {bad_terms}: quorum.minimum_present: must be greater than zero, not 0" in err
    assert FAKE_BOT_TOKEN not in out + err
    assert FAKE_SIGNING_SECRET not in out + err


def test_a_typo_in_the_terms_stops_serve_naming_the_key_and_what_was_meant(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, workdir: Path, no_server: None) -> None:
    from importlib import resources

    text = resources.files("bot.domain.presets").joinpath("pmccg.toml").read_text(encoding="utf-8")
    path = write(workdir / "our-terms.toml", text.replace("minimum_present = 4", "minimum_presnt = 6"))
    monkeypatch.setenv("PMCCG_CONFIG", str(path))
    monkeypatch.setenv("SLACK_BOT_TOKEN", FAKE_BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", FAKE_SIGNING_SECRET)

    code, _, err = run(capsys, "serve")

    assert code == 2
    assert f"pmccg: {path}: quorum.minimum_presnt: is not a setting of the terms; did you mean minimum_present?" in err


def test_missing_terms_file_exits_2_naming_it(capsys: pytest.CaptureFixture[str], workdir: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMCCG_CONFIG", "no-such-terms.toml")
    good = write(workdir / "good.csv", roster_csv())

    code, _, err = run(capsys, "roster", "import", str(good))

    assert code == 2
    assert "pmccg: no-such-terms.toml: (file): cannot be read: No such file or directory" in err


def test_bad_setting_exits_2_naming_the_variable(capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMCCG_TIMEZONE", "London")

    code, _, err = run(capsys, "db", "upgrade")

    assert code == 2
    assert "pmccg: PMCCG_TIMEZONE 'London' is not an IANA time zone such as Europe/London." in err


# --- db upgrade -----------------------------------------------------------------------------------


def test_db_upgrade_creates_the_database_and_says_it_is_up_to_date(capsys: pytest.CaptureFixture[str],
                                                                    workdir: Path) -> None:
    code, out, _ = run(capsys, "db", "upgrade")

    assert (code, out) == (0, "Database is up to date.\n")
    assert (workdir / "x.db").exists()


@pytest.mark.usefixtures("slack_workspace")
def test_db_upgrade_twice_is_harmless(capsys: pytest.CaptureFixture[str], workdir: Path) -> None:
    run(capsys, "roster", "import", str(write(workdir / "good.csv", roster_csv())))

    assert run(capsys, "db", "upgrade")[:2] == (0, "Database is up to date.\n")
    assert run(capsys, "db", "upgrade")[:2] == (0, "Database is up to date.\n")
    assert run(capsys, "roster", "list")[1] == expected_listing()


# --- help -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("argv", "mentions"), [
    pytest.param([], ["Performance Management Conference Call Group", "serve", "socket", "db", "roster"],
                 id="pmccg"),
    pytest.param(["serve"], ["POST /slack/events", "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET", "--host"],
                 id="serve"),
    pytest.param(["socket"], ["WebSocket", "SLACK_APP_TOKEN"], id="socket"),
    pytest.param(["db"], ["upgrade", "apply the migrations to DATABASE_URL"], id="db"),
    pytest.param(["roster"], ["import", "replace the roster from a CSV", "list", "print the roster as CSV",
                              "history", "every roster change"], id="roster"),
    pytest.param(["roster", "import"], ["user_id,roles,professions", "All or nothing", "file"],
                 id="roster import"),
])
def test_help_says_what_each_command_does(capsys: pytest.CaptureFixture[str], argv: list[str],
                                          mentions: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main([*argv, "--help"])
    out = " ".join(capsys.readouterr().out.split())

    assert exited.value.code == 0
    assert out.startswith(f"usage: pmccg {' '.join(argv)}".rstrip())
    for phrase in mentions:
        assert phrase in out


@pytest.mark.parametrize(("argv", "mentions"), [
    pytest.param(["db", "upgrade"], "migrations", id="db upgrade"),
    pytest.param(["roster", "list"], "CSV", id="roster list"),
])
def test_help_of_leaf_commands_says_what_they_do(capsys: pytest.CaptureFixture[str], argv: list[str],
                                                 mentions: str) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main([*argv, "--help"])

    assert exited.value.code == 0
    assert mentions in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["convene"])

    assert exited.value.code == 2
    assert "invalid choice: 'convene'" in capsys.readouterr().err


@pytest.mark.parametrize(("raw", "expected"), [
    pytest.param(None, 60.0, id="unset: a minute"),
    pytest.param("2.5", 2.5, id="seconds, for tests and the benchmark"),
])
def test_the_time_before_an_interrupted_convening_is_cleaned_up_is_a_setting(raw: str | None, expected: float) -> None:
    from bot.config import load_settings

    env = {} if raw is None else {"PMCCG_CONVENE_ORPHAN_SECONDS": raw}
    assert load_settings(env, dotenv=False).convene_orphan_seconds == expected


@pytest.mark.parametrize("raw", ["a minute", "0", "-5", "7200"])
def test_a_bad_orphan_time_is_refused_naming_the_variable(raw: str) -> None:
    from bot.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="PMCCG_CONVENE_ORPHAN_SECONDS"):
        load_settings({"PMCCG_CONVENE_ORPHAN_SECONDS": raw}, dotenv=False)


# --- quiet commands: only what was asked for; -v or PMCCG_LOG_LEVEL for the rest, errors always --------


def test_roster_list_prints_the_csv_and_nothing_else(capsys: pytest.CaptureFixture[str], workdir: Path) -> None:
    # The first command on a new database runs every migration: none of it is printed.
    code, out, err = run(capsys, "roster", "list")
    assert (code, out, err) == (0, HEADER + "\n", "")


@pytest.mark.parametrize("argv", [
    pytest.param(["db", "upgrade"], id="db upgrade"),
    pytest.param(["roster", "list"], id="roster list"),
    pytest.param(["purge", "--dry-run"], id="purge dry run"),
    pytest.param(["report", "annual", "--year", "2025"], id="report annual"),
])
def test_each_command_writes_nothing_to_stderr_when_it_succeeds(capsys: pytest.CaptureFixture[str], workdir: Path,
                                                                argv: list[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 0 and out
    assert err == ""


@pytest.mark.parametrize("how", [
    pytest.param(["-v", "roster", "list"], id="pmccg -v roster list"),
    pytest.param(["roster", "list", "--verbose"], id="pmccg roster list --verbose"),
    pytest.param(["roster", "list", "PMCCG_LOG_LEVEL=INFO"], id="PMCCG_LOG_LEVEL=INFO"),
])
def test_verbose_shows_the_migrations_on_stderr_and_leaves_stdout_alone(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, how: list[str]) -> None:
    argv = [a for a in how if "=" not in a]
    for setting in (a for a in how if "=" in a):
        monkeypatch.setenv(*setting.split("=", 1))
    code, out, err = run(capsys, *argv)
    assert (code, out) == (0, HEADER + "\n")
    assert "INFO alembic.runtime.migration Running upgrade" in err


def test_a_log_level_that_does_not_exist_is_refused_naming_the_choices(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMCCG_LOG_LEVEL", "chatty")
    code, out, err = run(capsys, "roster", "list")
    assert (code, out) == (2, "")
    assert "pmccg: PMCCG_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, not 'chatty'." in err


def test_a_database_that_cannot_be_written_is_an_error_in_plain_words(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, workdir: Path) -> None:
    import sqlite3

    sqlite3.connect(workdir / "new.db").close()  # an empty file, opened read-only: the migrations cannot run
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///file:{workdir}/new.db?mode=ro&uri=true")

    code, out, err = run(capsys, "roster", "list")

    assert (code, out) == (1, "")
    assert err == ("pmccg: the database could not be used just now (OperationalError): it may be down, locked by "
                   "another process or read-only. Check DATABASE_URL, then run the command again.\n")


@pytest.mark.parametrize(("command", "verbose", "env", "expected"), [
    pytest.param("roster", False, None, (logging.WARNING, logging.WARNING), id="a command: warnings and errors"),
    pytest.param("serve", False, None, (logging.INFO, logging.WARNING), id="a server: its own events too"),
    pytest.param("roster", True, None, (logging.INFO, logging.INFO), id="-v: libraries at INFO too"),
    pytest.param("worker", False, "debug", (logging.DEBUG, logging.DEBUG), id="PMCCG_LOG_LEVEL=debug"),
    pytest.param("serve", False, "ERROR", (logging.ERROR, logging.ERROR), id="PMCCG_LOG_LEVEL=ERROR"),
    pytest.param("serve", True, "ERROR", (logging.INFO, logging.INFO), id="-v wins over a quieter level"),
])
def test_log_levels_by_command_flag_and_setting(command: str, verbose: bool, env: str | None,
                                                expected: tuple[int, int]) -> None:
    assert cli.log_levels(command, verbose, env) == expected
