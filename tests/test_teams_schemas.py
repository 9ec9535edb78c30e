"""The vendored Teams files are the ones their READMEs record, and the app manifest check accepts and refuses as Teams.

Covers handlers/teams/manifest_schema.py, the manifest half of bot/sandbox/teams_checks.py, and the
provenance tables in handlers/teams/schemas/README.md and bot/sandbox/static/vendor/README.md.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bot.sandbox.teams_checks import manifest_refusal, resource_specific_permissions
from handlers.teams.cards import CARD_SCHEMA_PATH
from handlers.teams.manifest_schema import MANIFEST_SCHEMA_PATH, manifest_problems, manifest_schema

ROOT = Path(__file__).resolve().parents[1]
VENDOR_READMES = [ROOT / "handlers" / "teams" / "schemas" / "README.md",
                  ROOT / "bot" / "sandbox" / "static" / "vendor" / "README.md"]
_ROW = re.compile(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", re.MULTILINE)


def _recorded(readme: Path) -> dict[Path, str]:
    return {readme.parent / name: digest for name, digest in _ROW.findall(readme.read_text(encoding="utf-8"))}


@pytest.mark.parametrize("readme", VENDOR_READMES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_vendored_file_matches_the_sha256_its_readme_records(readme):
    recorded = _recorded(readme)
    on_disk = {p for p in readme.parent.rglob("*") if p.is_file() and p.name != "README.md"}
    assert set(recorded) >= on_disk, f"not in the README's table: {sorted(map(str, on_disk - set(recorded)))}"
    for path, digest in recorded.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, path


def test_the_card_schema_is_microsofts_1_5_schema():
    schema = json.loads(CARD_SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft6Validator.check_schema(schema)
    assert schema["id"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    definitions = schema["definitions"]
    assert definitions["Action.Execute"]["version"] == "1.4" and definitions["Table"]["version"] == "1.5"
    versions = set(re.findall(r'"version": "(1\.\d)"', CARD_SCHEMA_PATH.read_text(encoding="utf-8")))
    assert max(versions) == "1.5"


def test_the_manifest_schema_is_microsofts_v1_29_with_no_outside_references():
    schema = manifest_schema()
    jsonschema.Draft7Validator.check_schema(schema)  # with its one ECMAScript pattern translated
    assert schema["properties"]["manifestVersion"]["const"] == "1.29"
    refs = set(re.findall(r'"\$ref": "([^"]+)"', MANIFEST_SCHEMA_PATH.read_text(encoding="utf-8")))
    assert refs and all(ref.startswith("#/") for ref in refs)


APP_ID = "5b6d7c8e-1f2a-4b3c-9d4e-5f6a7b8c9d0e"

MINIMAL = {
    "$schema": "https://developer.microsoft.com/json-schemas/teams/v1.29/MicrosoftTeams.schema.json",
    "manifestVersion": "1.29",
    "version": "1.0.0",
    "id": APP_ID,
    "developer": {"name": "NHS PMCCG", "websiteUrl": "https://example.nhs.uk",
                  "privacyUrl": "https://example.nhs.uk/privacy", "termsOfUseUrl": "https://example.nhs.uk/terms"},
    "name": {"short": "PMCCG bot", "full": "Performance Management Conference Call Group bot"},
    "description": {"short": "Runs the PMCCG: convene, quorum, agenda, outcomes, action points.",
                    "full": "Runs an NHS Performance Management Conference Call Group in Microsoft Teams."},
    "icons": {"color": "color.png", "outline": "outline.png"},
    "accentColor": "#005EB8",
    "bots": [{
        "botId": APP_ID,
        "scopes": ["personal", "groupChat"],
        "supportsFiles": True,
        "commandLists": [{"scopes": ["personal", "groupChat"],
                          "commands": [{"title": "convene", "description": "Convene a case"},
                                       {"title": "actions", "description": "My action points"}]}],
    }],
    "validDomains": ["pmccg.example.nhs.uk"],
    "webApplicationInfo": {"id": APP_ID, "resource": f"api://pmccg.example.nhs.uk/{APP_ID}"},
    "authorization": {"permissions": {"resourceSpecific": [
        {"name": "ChatMember.Read.Chat", "type": "Application"},
        {"name": "ChatSettings.Read.Chat", "type": "Application"}]}},
}


def test_a_minimal_manifest_for_the_bot_validates():
    assert manifest_problems(MINIMAL) == []
    assert manifest_refusal(MINIMAL) is None
    assert resource_specific_permissions(MINIMAL) == {"ChatMember.Read.Chat", "ChatSettings.Read.Chat"}


def _broken(change: Any) -> dict[str, Any]:
    manifest = copy.deepcopy(MINIMAL)
    change(manifest)
    return manifest


BROKEN = [
    pytest.param(lambda m: m.update(manifestVersion="1.30"), "/manifestVersion", "must be '1.29'",
                 id="another manifest version"),
    pytest.param(lambda m: m.pop("icons"), "", "'icons' is a required property", id="no icons"),
    pytest.param(lambda m: m.update(id="pmccg-bot"), "/id", "does not match", id="an id that is not a GUID"),
    pytest.param(lambda m: m["name"].update(short="Performance Management Conference Call"), "/name/short",
                 "is too long", id="a short name over 30 characters"),
    pytest.param(lambda m: m.update(accentColor="NHS blue"), "/accentColor", "does not match",
                 id="an accent colour that is not hex"),
    pytest.param(lambda m: m["bots"][0].update(scopes=["personal", "channel"]), "/bots/0/scopes/1",
                 "'channel' is not one of", id="a bot scope Teams does not have"),
    pytest.param(lambda m: m["bots"][0].pop("botId"), "/bots/0", "'botId' is a required property",
                 id="a bot without its id"),
    pytest.param(lambda m: m["bots"][0]["commandLists"][0].update(
        commands=[{"title": f"c{i}", "description": "d"} for i in range(13)]),
        "/bots/0/commandLists/0/commands", "is too long", id="more than 12 commands in a list"),
    pytest.param(lambda m: m["authorization"]["permissions"]["resourceSpecific"][0].pop("type"),
                 "/authorization/permissions/resourceSpecific/0", "'type' is a required property",
                 id="a resource-specific permission without its type"),
    pytest.param(lambda m: m.update(botFramework={}), "", "'botFramework' not allowed here",
                 id="an unknown top-level property"),
    pytest.param(lambda m: m["developer"].update(websiteUrl="example.nhs.uk"), "/developer/websiteUrl",
                 "does not match", id="a developer URL without a scheme"),
]


@pytest.mark.parametrize(("change", "pointer", "phrase"), BROKEN)
def test_broken_manifests_are_refused_at_the_field(change, pointer, phrase):
    problems = manifest_problems(_broken(change))
    assert any(p.pointer == pointer and phrase in p.message for p in problems), problems
    refused = manifest_refusal(_broken(change))
    assert refused.status == 400 and any(phrase in d for d in refused.details)


def test_a_manifest_that_is_not_an_object_is_refused():
    assert [str(p) for p in manifest_problems(["not", "a", "manifest"])] == ["/: a manifest must be a JSON object"]
