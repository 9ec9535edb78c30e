"""A Teams deployment's settings: the platform, the Entra registration named when missing, the secret never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import cli
from bot.config import ConfigError, Settings, describe, load_settings
from handlers.teams import auth
from handlers.teams.settings import teams_credentials, teams_endpoints

SECRET = "s3cr3t-Value~that-must-never-show"
TEAMS_ENV = {"TEAMS_CLIENT_ID": "0b7e2a1c-5d4f-4e3b-8a9c-1d2e3f4a5b6c",
             "TEAMS_TENANT_ID": "6c5a8f1e-2b7d-4c3a-9e1f-0a1b2c3d4e5f", "TEAMS_CLIENT_SECRET": SECRET}


def settings(**env: str) -> Settings:
    return load_settings(env, dotenv=False)


def test_a_deployment_is_on_slack_unless_it_says_teams() -> None:
    assert settings().platform == "slack"
    assert settings(PMCCG_PLATFORM="teams").platform == "teams"
    assert settings(PMCCG_PLATFORM=" Teams ").platform == "teams"


def test_any_other_platform_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="PMCCG_PLATFORM must be slack or teams"):
        settings(PMCCG_PLATFORM="discord")


def test_the_endpoints_default_to_microsofts_public_cloud() -> None:
    endpoints = teams_endpoints(settings())
    assert endpoints == auth.TeamsEndpoints()
    assert (endpoints.openid_metadata_url, endpoints.login_url, endpoints.service_url, endpoints.graph_api_url) == (
        auth.PUBLIC_OPENID_METADATA_URL, auth.PUBLIC_LOGIN_URL, auth.PUBLIC_SERVICE_URL, auth.PUBLIC_GRAPH_API_URL)
    assert endpoints.graph_scope == "https://graph.microsoft.com/.default"


def test_each_endpoint_can_point_at_a_local_stand_in() -> None:
    endpoints = teams_endpoints(settings(
        TEAMS_OPENID_METADATA_URL="http://127.0.0.1:9/v1/.well-known/openidconfiguration/",
        TEAMS_LOGIN_URL="http://127.0.0.1:9", TEAMS_SERVICE_URL="http://127.0.0.1:9/teams/",
        GRAPH_API_URL="http://127.0.0.1:9/v1.0"))
    assert endpoints.service_url == "http://127.0.0.1:9/teams"
    assert endpoints.graph_scope == "http://127.0.0.1:9/.default"
    assert endpoints.cloud().openid_metadata_url == "http://127.0.0.1:9/v1/.well-known/openidconfiguration"


@pytest.mark.parametrize(("name", "value", "says"), [
    ("TEAMS_LOGIN_URL", "http://login.example.org", "TEAMS_LOGIN_URL must use https"),
    ("GRAPH_API_URL", "graph.microsoft.com", "GRAPH_API_URL must be an http(s) URL"),
    ("TEAMS_SERVICE_URL", "ftp://smba.example/teams", "TEAMS_SERVICE_URL must be an http(s) URL"),
    ("TEAMS_OPENID_METADATA_URL", "https://login.botframework.com/v1/.well-known/keys",
     "TEAMS_OPENID_METADATA_URL must end in /openidconfiguration"),
])
def test_a_malformed_endpoint_is_refused_naming_its_variable(name: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says.replace("(", r"\(").replace(")", r"\)")):
        teams_endpoints(settings(**{name: value}))


def test_the_credentials_are_built_from_the_settings() -> None:
    credentials = teams_credentials(settings(**TEAMS_ENV))
    assert (credentials.client_id, credentials.tenant_id, credentials.client_secret) == (
        TEAMS_ENV["TEAMS_CLIENT_ID"], TEAMS_ENV["TEAMS_TENANT_ID"], SECRET)
    assert SECRET not in repr(credentials)


def test_each_missing_setting_is_named_with_where_to_find_it_and_no_value_is_shown() -> None:
    with pytest.raises(ConfigError) as refused:
        teams_credentials(settings(TEAMS_CLIENT_SECRET=SECRET))
    message = str(refused.value)
    assert "TEAMS_CLIENT_ID is not set" in message and "Application (client) ID" in message
    assert "TEAMS_TENANT_ID is not set" in message and "Directory (tenant) ID" in message
    assert "TEAMS_CLIENT_SECRET" not in message
    assert SECRET not in message


def test_the_secret_never_appears_in_the_settings_repr_or_summary() -> None:
    loaded = settings(**TEAMS_ENV, PMCCG_PLATFORM="teams")
    assert SECRET not in repr(loaded) and SECRET not in str(loaded)
    assert "TEAMS_CLIENT_SECRET=set" in describe(loaded)
    assert SECRET not in describe(loaded)


@pytest.fixture
def teams_shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with no .env, the database there, no Teams or SDK variables but the secret."""
    monkeypatch.chdir(tmp_path)
    for name in [*TEAMS_ENV, "CLIENT_SECRET", "CLIENT_ID", "TENANT_ID", "PMCCG_PLATFORM", "PMCCG_LOG_LEVEL"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'pmccg.db'}")
    monkeypatch.setenv("TEAMS_CLIENT_SECRET", SECRET)
    return tmp_path


def test_pmccg_teams_names_what_is_missing_and_never_the_secret(teams_shell: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["teams"]) == 2
    out, err = capsys.readouterr()
    assert "TEAMS_CLIENT_ID is not set" in err and "TEAMS_TENANT_ID is not set" in err
    assert SECRET not in out + err


def test_pmccg_teams_help_says_what_it_needs_and_never_the_secret(teams_shell: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["teams", "--help"])
    assert exited.value.code == 0
    out, err = capsys.readouterr()
    assert "POST /api/messages" in out and "TEAMS_CLIENT_SECRET" in out
    assert SECRET not in out + err


def test_the_sdks_own_client_secret_variable_is_refused_as_it_would_bypass_the_configured_login(
        teams_shell: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TEAMS_CLIENT_ID", TEAMS_ENV["TEAMS_CLIENT_ID"])
    monkeypatch.setenv("TEAMS_TENANT_ID", TEAMS_ENV["TEAMS_TENANT_ID"])
    monkeypatch.setenv("TEAMS_APP_ID", "3f1c2b4a-6d5e-4f70-8192-a3b4c5d6e7f8")
    monkeypatch.setenv("CLIENT_SECRET", SECRET)
    assert cli.main(["teams"]) == 2
    out, err = capsys.readouterr()
    assert "CLIENT_SECRET is set in the environment" in err
    assert SECRET not in out + err


def test_both_directories_offer_what_listeners_use() -> None:
    # bot/services.py's Directory protocol: names(), refresh_in_background(), and People's standing + id labels.
    from handlers.slack.directory import Directory
    from handlers.teams.directory import TeamsDirectory

    for kind in (Directory, TeamsDirectory):
        for member in ("names", "refresh_in_background", "standing", "id_label", "id_example"):
            assert hasattr(kind, member) or member in kind.__dataclass_fields__, (kind, member)
    assert TeamsDirectory.id_label == "Microsoft Entra object ID"
