"""The Teams app package `pmccg teams package` writes: a manifest Microsoft's v1.29 schema accepts (vendored,
handlers/teams/manifest_schema.py), its command menu from the shared command table, the resource-specific
permissions the stand-in honours, the two icons Teams asks for, and a zip with exactly three files at its root."""

from __future__ import annotations

import io
import json
import logging
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot import cli
from bot.domain.commands import COMMANDS, MENU_LIMIT, menu_commands, parse_command
from bot.domain.terms import load_terms
from bot.sandbox.teams_api import CLIENT_ID, DEFAULT_GRANTED
from bot.sandbox.teams_checks import manifest_refusal, resource_specific_permissions
from handlers.teams import icons
from handlers.teams.manifest import (
    DESCRIPTION_LIMIT,
    TITLE_LIMIT,
    PackageSettings,
    PackageSettingsError,
    app_package,
    build_manifest,
    default_manifest_id,
)
from handlers.teams.manifest_schema import MANIFEST_VERSION, manifest_problems

HOST = "pmccg.example.nhs.uk"
ENV = {"TEAMS_CLIENT_ID": CLIENT_ID, "PMCCG_PUBLIC_HOST": HOST}
PACKAGE_VARIABLES = ("TEAMS_CLIENT_ID", "PMCCG_PUBLIC_HOST", "TEAMS_MANIFEST_ID", "TEAMS_APP_VERSION",
                     "TEAMS_DEVELOPER_NAME", "TEAMS_WEBSITE_URL", "TEAMS_PRIVACY_URL", "TEAMS_TERMS_URL",
                     "TEAMS_CLIENT_SECRET", "PMCCG_CONFIG")


def _manifest(env: dict[str, str] | None = None) -> dict[str, Any]:
    terms = load_terms(None)
    return build_manifest(PackageSettings.from_env(env or ENV), name=terms.name, short_name=terms.short_name)


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return _manifest()


# --- the manifest ------------------------------------------------------------------------------------


def test_the_manifest_validates_against_microsofts_schema_and_the_sandbox_accepts_it(manifest: dict[str, Any]) -> None:
    assert manifest["manifestVersion"] == MANIFEST_VERSION == "1.29"
    assert manifest_problems(manifest) == []
    assert manifest_refusal(manifest) is None


def test_a_manifest_missing_what_teams_requires_is_refused_naming_it(manifest: dict[str, Any]) -> None:
    # The check is live: the same manifest without its developer, or with a third scope list, fails.
    broken = {k: v for k, v in manifest.items() if k != "developer"}
    refusal = manifest_refusal(broken)
    assert refusal is not None and "developer" in refusal.describe()
    assert manifest_problems({**manifest, "manifestVersion": "1.17"})[0].pointer == "/manifestVersion"


def test_the_bot_is_the_entra_app_in_personal_and_group_chats_with_files(manifest: dict[str, Any]) -> None:
    (bot,) = manifest["bots"]
    assert bot["botId"] == CLIENT_ID
    assert bot["scopes"] == ["personal", "groupChat"]  # no team channels
    assert bot["supportsFiles"] is True
    assert manifest["webApplicationInfo"] == {"id": CLIENT_ID, "resource": f"api://botid-{CLIENT_ID}"}
    assert manifest["validDomains"] == [HOST]
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}


def test_the_manifest_id_is_the_apps_own_stable_guid_unless_set(manifest: dict[str, Any]) -> None:
    assert manifest["id"] == default_manifest_id(CLIENT_ID) == _manifest()["id"]
    assert manifest["id"] != CLIENT_ID
    assert default_manifest_id(CLIENT_ID.upper()) == manifest["id"]
    chosen = "d2a3b4c5-e6f7-4809-9a1b-2c3d4e5f6a7b"
    assert _manifest({**ENV, "TEAMS_MANIFEST_ID": chosen})["id"] == chosen


def test_the_menu_is_the_command_table_in_both_scopes_and_each_title_is_a_command(manifest: dict[str, Any]) -> None:
    lists = manifest["bots"][0]["commandLists"]
    assert [c["scopes"] for c in lists] == [["personal"], ["groupChat"]]
    menu = menu_commands()
    assert len(menu) == MENU_LIMIT == 10
    for listed in lists:
        assert [c["title"] for c in listed["commands"]] == [c.word for c in menu]
        for entry, command in zip(listed["commands"], menu, strict=True):
            assert len(entry["title"]) <= TITLE_LIMIT and len(entry["description"]) <= DESCRIPTION_LIMIT
            assert command.description in entry["description"]
            if command.args:
                assert entry["description"].startswith(command.usage + ": ")
            # Clicking a menu entry puts its title in the compose box: that text is the command.
            parsed = parse_command(entry["title"])
            assert parsed is not None and parsed.command is command
    # Every command of the table is in the menu but the ones it has no room for, which help lists.
    assert {c.word for c in COMMANDS} - {c["title"] for c in lists[0]["commands"]} == {"fairness", "home"}


def test_the_manifest_asks_for_exactly_the_chat_permissions_the_stand_in_honours(manifest: dict[str, Any]) -> None:
    granted_per_chat = {p for p in DEFAULT_GRANTED if p.endswith(".Chat")}
    assert resource_specific_permissions(manifest) == granted_per_chat == {
        "ChatMember.Read.Chat", "Chat.Manage.Chat", "ChatSettings.ReadWrite.Chat"}
    assert {p["type"] for p in manifest["authorization"]["permissions"]["resourceSpecific"]} == {"Application"}


def test_the_description_says_what_the_bot_is_and_names_no_one(manifest: dict[str, Any]) -> None:
    assert "advisory governance panel" in manifest["description"]["short"].lower()
    assert "advisory governance panel" in manifest["description"]["full"]
    assert "case number only" in manifest["description"]["full"]
    assert manifest["name"]["short"] == "PMCCG"
    assert manifest["developer"]["name"] == "Your organisation"  # a placeholder until TEAMS_DEVELOPER_NAME is set


def test_developer_settings_replace_the_placeholders() -> None:
    env = {**ENV, "TEAMS_DEVELOPER_NAME": "Example NHS Trust", "TEAMS_WEBSITE_URL": "https://example.nhs.uk/",
           "TEAMS_PRIVACY_URL": "https://example.nhs.uk/privacy", "TEAMS_TERMS_URL": "https://example.nhs.uk/terms"}
    settings = PackageSettings.from_env(env)
    assert settings.placeholders == ()
    assert _manifest(env)["developer"] == {"name": "Example NHS Trust", "websiteUrl": "https://example.nhs.uk/",
                                           "privacyUrl": "https://example.nhs.uk/privacy",
                                           "termsOfUseUrl": "https://example.nhs.uk/terms"}
    assert manifest_problems(_manifest(env)) == []


@pytest.mark.parametrize(("raw", "host"), [(HOST, HOST), (f"https://{HOST}/", HOST), ("PMCCG.Example.NHS.uk", HOST)])
def test_the_public_host_is_a_bare_host_name(raw: str, host: str) -> None:
    assert PackageSettings.from_env({**ENV, "PMCCG_PUBLIC_HOST": raw}).public_host == host


@pytest.mark.parametrize(("change", "named"), [
    ({"PMCCG_PUBLIC_HOST": f"http://{HOST}"}, "PMCCG_PUBLIC_HOST"),
    ({"PMCCG_PUBLIC_HOST": f"{HOST}/api/messages"}, "PMCCG_PUBLIC_HOST"),
    ({"PMCCG_PUBLIC_HOST": f"{HOST}:8443"}, "PMCCG_PUBLIC_HOST"),
    ({"TEAMS_CLIENT_ID": "pmccg-bot"}, "TEAMS_CLIENT_ID"),
    ({"TEAMS_MANIFEST_ID": "not-a-guid"}, "TEAMS_MANIFEST_ID"),
    ({"TEAMS_APP_VERSION": "1.0"}, "TEAMS_APP_VERSION"),
    ({"TEAMS_PRIVACY_URL": "http://example.nhs.uk/privacy"}, "TEAMS_PRIVACY_URL"),
    ({"TEAMS_DEVELOPER_NAME": "x" * 33}, "TEAMS_DEVELOPER_NAME"),
])
def test_a_malformed_setting_is_refused_naming_it(change: dict[str, str], named: str) -> None:
    with pytest.raises(PackageSettingsError, match=named):
        PackageSettings.from_env({**ENV, **change})


# --- the icons ---------------------------------------------------------------------------------------


def _image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_the_colour_icon_is_192_pixels_and_opaque() -> None:
    image = _image(icons.color_png())
    assert (image.format, image.size, image.mode) == ("PNG", (192, 192), "RGB")
    assert image.getpixel((0, 0)) == icons.NHS_BLUE
    assert icons.WHITE in {colour for _, colour in image.getcolors(maxcolors=192 * 192)}


def test_the_outline_icon_is_32_pixels_white_on_transparent() -> None:
    image = _image(icons.outline_png())
    assert (image.format, image.size, image.mode) == ("PNG", (32, 32), "RGBA")
    pixels = [image.getpixel((x, y)) for y in range(32) for x in range(32)]
    assert {p[:3] for p in pixels} == {icons.WHITE}  # white only; the shape is in the alpha channel
    assert image.getpixel((0, 0))[3] == 0 and image.getpixel((31, 31))[3] == 0
    alphas = [p[3] for p in pixels]
    assert alphas.count(0) > 32 * 32 / 2 and alphas.count(255) > 40


def test_the_icons_are_the_same_bytes_every_time() -> None:
    assert icons.color_png() == icons.color_png() and icons.outline_png() == icons.outline_png()


# --- the zip -----------------------------------------------------------------------------------------


def test_the_package_has_exactly_the_manifest_and_the_two_icons_at_its_root(manifest: dict[str, Any]) -> None:
    data = app_package(manifest)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        assert json.loads(archive.read("manifest.json")) == manifest
        assert _image(archive.read("color.png")).size == (192, 192)
        assert _image(archive.read("outline.png")).size == (32, 32)
    assert app_package(manifest) == data  # the same settings, the same bytes


# --- `pmccg teams package` ---------------------------------------------------------------------------


@pytest.fixture
def workdir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    for name in PACKAGE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield tmp_path
    root.handlers[:] = handlers
    root.setLevel(level)


def test_package_without_the_client_id_says_what_is_missing_and_writes_nothing(
        capsys: pytest.CaptureFixture[str], workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMCCG_PUBLIC_HOST", HOST)
    monkeypatch.setenv("TEAMS_CLIENT_SECRET", "not-a-real-client-secret-789")
    code = cli.main(["teams", "package"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert "TEAMS_CLIENT_ID is not set" in err and "Application (client) ID" in err
    assert "PMCCG_PUBLIC_HOST" not in err  # only what is missing
    assert "not-a-real-client-secret" not in err
    assert list(workdir.glob("*.zip")) == []


def test_package_without_either_setting_names_both(capsys: pytest.CaptureFixture[str], workdir: Path) -> None:
    assert cli.main(["teams", "package"]) == 2
    err = capsys.readouterr().err
    assert "TEAMS_CLIENT_ID is not set" in err and "PMCCG_PUBLIC_HOST is not set" in err


def test_package_writes_the_zip_and_says_where_and_what_to_fill_in(
        capsys: pytest.CaptureFixture[str], workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    code = cli.main(["teams", "package", "--out", "app.zip"])
    out, err = capsys.readouterr()
    assert code == 0
    assert out.splitlines()[0] == "app.zip" and default_manifest_id(CLIENT_ID) in out
    assert "TEAMS_DEVELOPER_NAME" in err and "TEAMS_PRIVACY_URL" in err  # placeholders to replace
    with zipfile.ZipFile(workdir / "app.zip") as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        written = json.loads(archive.read("manifest.json"))
    assert written == _manifest() and manifest_refusal(written) is None


def test_package_into_a_folder_that_does_not_exist_is_refused(capsys: pytest.CaptureFixture[str], workdir: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["teams", "package", "--out", "missing/app.zip"]) == 2
    assert "is not a folder" in capsys.readouterr().err
