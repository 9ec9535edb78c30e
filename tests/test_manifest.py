"""Keep manifest.json valid against Slack's published app-manifest JSON schema.

The schema is vendored from slackapi/manifest-schema; see tests/schemas/README.md.
"""

from __future__ import annotations

import copy
import json
import pathlib
import re

import jsonschema
import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
MANIFEST_PATH = REPO_ROOT / "manifest.json"
SCHEMA_PATH = REPO_ROOT / "tests" / "schemas" / "slack-app-manifest.schema.json"

EVENTS_PATH = "/slack/events"
EXPECTED_BOT_SCOPES = {"commands", "chat:write", "groups:write", "users:read", "files:write"}


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validator(schema: dict) -> jsonschema.Draft7Validator:
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


@pytest.fixture()
def manifest() -> dict:
    return json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))


def _errors(validator: jsonschema.Draft7Validator, instance: dict) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator.iter_errors(instance)
    ]


def test_manifest_is_valid_against_slack_schema(validator, manifest):
    assert _errors(validator, manifest) == []


def test_display_information(manifest):
    info = manifest["display_information"]
    assert info["name"] == "PMCCG bot"
    # The upstream schema spells this constraint "regex" (not a JSON Schema
    # keyword), so validators skip it; check the hex colour here instead.
    assert re.fullmatch(r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?", info["background_color"])
    assert info["background_color"].lower() == "#005eb8"


def test_request_urls_point_at_slack_events(manifest):
    commands = manifest["features"]["slash_commands"]
    settings = manifest["settings"]
    urls = [c["url"] for c in commands] + [
        settings["interactivity"]["request_url"],
        settings["event_subscriptions"]["request_url"],
    ]
    assert len(urls) == 3
    for url in urls:
        assert url.startswith("https://"), url
        assert url.endswith(EVENTS_PATH), url


def test_slash_command(manifest):
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/pmccg"
    assert command["usage_hint"] == ("convene | outcome <case> | actions | close <case> | export <case> "
                                     "| report [year] | help")
    assert command["should_escape"] is False


def test_interactivity_and_events(manifest):
    settings = manifest["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["event_subscriptions"]["bot_events"] == ["app_home_opened"]


def test_socket_mode_is_off(manifest):
    assert manifest["settings"]["socket_mode_enabled"] is False


def test_bot_scopes_are_exactly_the_expected_set(manifest):
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    assert len(scopes) == len(set(scopes)), "duplicate bot scopes"
    assert set(scopes) == EXPECTED_BOT_SCOPES
    assert "user" not in manifest["oauth_config"]["scopes"], "no user scopes expected"


@pytest.mark.parametrize(
    "breakage",
    [
        pytest.param(
            lambda m: m["display_information"].__setitem__("description", "x" * 200),
            id="description-200-chars",
        ),
        pytest.param(
            lambda m: m["display_information"].pop("name"),
            id="missing-display-name",
        ),
        pytest.param(
            lambda m: m["display_information"].__setitem__("long_description", "too short"),
            id="long-description-under-175",
        ),
        pytest.param(
            lambda m: m["features"]["slash_commands"][0].__setitem__("command", "pmccg"),
            id="command-without-slash",
        ),
        pytest.param(
            lambda m: m["settings"].__setitem__("socket_mode", False),
            id="unknown-settings-key",
        ),
    ],
)
def test_broken_manifest_fails_validation(validator, manifest, breakage):
    broken = copy.deepcopy(manifest)
    breakage(broken)
    assert _errors(validator, broken), "schema accepted a deliberately broken manifest"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, validator.schema, cls=jsonschema.Draft7Validator)
