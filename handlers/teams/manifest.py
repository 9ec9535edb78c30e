"""The Teams app package: `manifest.json` (schema v1.29, handlers/teams/manifest_schema.py), `color.png`
and `outline.png` (handlers/teams/icons.py) at the root of a zip, written by `pmccg teams package`.

What the manifest says, and why:

- one bot, whose id is the Entra app (client) id (`TEAMS_CLIENT_ID`: the Azure Bot resource uses the
  same registration), in the `personal` scope (the 1:1 chat: commands, home, forms, files) and
  `groupChat` (the case chats the bot creates); `supportsFiles` for the file consent cards of the
  1:1 chat; no `team` scope: the bot never works in channels;
- the command menu generated from the command table (bot/domain/commands.py), one list per scope,
  so help and the menu cannot drift;
- `webApplicationInfo` (required for resource-specific consent; `resource` is not used by RSC but
  must be present) and the RSC permissions the bot uses in its case chats (RSC_PERMISSIONS);
- `id`: the app's own GUID in the organisation's catalogue (its `externalId` in Graph). By default
  a uuid5 of the client id, so re-packaging updates the same app; TEAMS_MANIFEST_ID overrides it
  (keep the old one when moving to a new Entra registration). Graph's catalogue id of the uploaded
  app (the one `teamsApp@odata.bind` names) is another, generated GUID.
"""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

from bot.domain.commands import Command, menu_commands
from handlers.teams import icons
from handlers.teams.manifest_schema import MANIFEST_SCHEMA_URL, MANIFEST_VERSION

# Resource-specific (RSC) application permissions, granted per case chat when the bot is installed
# in it (Graph `POST /chats` with `installedApps` and `consentedPermissionSet`). Names checked
# against "Resource-specific consent for your Teams app" (Microsoft Learn) and the Graph pages below.
RSC_PERMISSIONS: dict[str, str] = {
    # GET /chats/{id}/members: who is in the case chat (a deputy is added once; a retired chat's members).
    "ChatMember.Read.Chat": "read the members of the case chat",
    # POST /chats/{id}/members: add a deputy or a member added after convening ("Add member to a chat").
    "Chat.Manage.Chat": "add members to the case chat",
    # PATCH /chats/{id}: the topic says the case is closed ("Update chat").
    "ChatSettings.ReadWrite.Chat": "change the case chat's topic",
}

# The Teams command menu's limits: the schema allows 128/4000 characters, but Microsoft's
# manifest reference for earlier versions (and the client's menu) keeps titles to 32 and
# descriptions to 128; the stricter limits are held so the menu reads whole everywhere.
TITLE_LIMIT = 32
DESCRIPTION_LIMIT = 128

# Manifest ids are namespaced under this, so the default is stable for a given client id.
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/pmccg-bot/teams-app")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+$")
_HOST = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")

ACCENT_COLOR = "#005EB8"  # NHS blue, as the colour icon
SHORT_DESCRIPTION = "Advisory governance panel bot: convene, quorum, agenda, action points"
DEVELOPER_PLACEHOLDER = "Your organisation"


class PackageSettingsError(ValueError):
    """A setting the package needs is missing or malformed; the message names it, never a secret."""


def default_manifest_id(client_id: str) -> str:
    """The manifest id used when TEAMS_MANIFEST_ID is not set: the same for the same client id."""
    return str(uuid.uuid5(_ID_NAMESPACE, client_id.strip().lower()))


def _package_version() -> str:
    try:
        return metadata.version("pmccg-bot")
    except metadata.PackageNotFoundError:  # running from a checkout that was never installed
        return "0.1.0"


@dataclass(frozen=True)
class Developer:
    """Who publishes the app, as Teams shows it on the app's page (names an organisation, never a person)."""

    name: str = DEVELOPER_PLACEHOLDER
    website_url: str = ""
    privacy_url: str = ""
    terms_url: str = ""


@dataclass(frozen=True)
class PackageSettings:
    client_id: str
    public_host: str
    manifest_id: str
    version: str
    developer: Developer = field(default_factory=Developer)
    # Settings left unset whose placeholders the administrator should replace before uploading.
    placeholders: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PackageSettings:
        """Read the package's settings (README "Install into Microsoft Teams"); raise naming what is wrong."""
        client_id = env.get("TEAMS_CLIENT_ID", "").strip()
        raw_host = env.get("PMCCG_PUBLIC_HOST", "").strip()
        missing = [name for name, value in (("TEAMS_CLIENT_ID", client_id), ("PMCCG_PUBLIC_HOST", raw_host))
                   if not value]
        if missing:
            raise PackageSettingsError("\n".join(f"{name} is not set: {_WHAT[name]}." for name in missing))
        if not _GUID.match(client_id):
            raise PackageSettingsError("TEAMS_CLIENT_ID must be the app registration's Application (client) ID, "
                                       "a GUID such as 0b7e2a1c-5d4f-4e3b-8a9c-1d2e3f4a5b6c.")
        host = public_host(raw_host)
        manifest_id = env.get("TEAMS_MANIFEST_ID", "").strip() or default_manifest_id(client_id)
        if not _GUID.match(manifest_id):
            raise PackageSettingsError("TEAMS_MANIFEST_ID must be a GUID (or unset, for one derived from "
                                       "TEAMS_CLIENT_ID).")
        version = env.get("TEAMS_APP_VERSION", "").strip() or _package_version()
        if not _SEMVER.match(version):
            raise PackageSettingsError(f"TEAMS_APP_VERSION must be a version such as 1.0.3, not {version!r}.")
        urls = {}
        for name in ("TEAMS_WEBSITE_URL", "TEAMS_PRIVACY_URL", "TEAMS_TERMS_URL"):
            value = env.get(name, "").strip()
            if value and (urlsplit(value).scheme != "https" or not urlsplit(value).hostname):
                raise PackageSettingsError(f"{name} must be an https:// address.")
            urls[name] = value
        name = env.get("TEAMS_DEVELOPER_NAME", "").strip()
        if len(name) > 32:
            raise PackageSettingsError("TEAMS_DEVELOPER_NAME must be at most 32 characters (Teams' limit).")
        placeholders = tuple(n for n, v in (("TEAMS_DEVELOPER_NAME", name), *urls.items()) if not v)
        home = f"https://{host}/"
        developer = Developer(name=name or DEVELOPER_PLACEHOLDER, website_url=urls["TEAMS_WEBSITE_URL"] or home,
                              privacy_url=urls["TEAMS_PRIVACY_URL"] or home, terms_url=urls["TEAMS_TERMS_URL"] or home)
        return cls(client_id=client_id.lower(), public_host=host, manifest_id=manifest_id.lower(), version=version,
                   developer=developer, placeholders=placeholders)


_WHAT = {
    "TEAMS_CLIENT_ID": "the Application (client) ID of the bot's Entra app registration (Entra admin centre, "
                       "App registrations, the app, Overview)",
    "PMCCG_PUBLIC_HOST": "the host name the bot is served on, e.g. pmccg.example.nhs.uk (its messaging endpoint "
                         "is https://<host>/api/messages)",
}


def public_host(raw: str) -> str:
    """The bare host name from PMCCG_PUBLIC_HOST; `https://host/` is accepted, a path or port is not."""
    text = raw.strip()
    parts = urlsplit(text if "//" in text else f"//{text}")
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("", "https") or parts.path not in ("", "/") or parts.port or parts.query \
            or not _HOST.match(host):
        raise PackageSettingsError("PMCCG_PUBLIC_HOST must be a host name such as pmccg.example.nhs.uk (no "
                                   "http://, path or port): the bot's public https address.")
    return host


def _menu_entry(command: Command) -> dict[str, str]:
    # The title is what a click puts in the compose box; the description shows the arguments to add.
    described = f"{command.usage}: {command.description}" if command.args else command.description
    entry = {"title": command.word, "description": described}
    if len(entry["title"]) > TITLE_LIMIT or len(entry["description"]) > DESCRIPTION_LIMIT:
        raise ValueError(f"the command {command.word!r} is too long for Teams' command menu")
    return entry


def command_lists() -> list[dict[str, Any]]:
    """The bot's command menu: the same commands in the 1:1 chat and in a case chat (after an @mention)."""
    entries = [_menu_entry(c) for c in menu_commands()]
    return [{"scopes": [scope], "commands": entries} for scope in ("personal", "groupChat")]


FULL_DESCRIPTION = (
    "{short} bot runs an advisory governance panel, the {name} ({short}), in Microsoft Teams. Type convene "
    "to the bot to set up a group for a new case: it creates a group chat for the case's members, tracks who "
    "will attend, tells the chair whether the group is quorate and posts the agenda before the call. During "
    "the meeting it records the group's advisory outcomes, which are recommendations only and not decisions, "
    "and afterwards it reminds each owner of their action points every week until they are done. Staff under "
    "discussion are referred to by case number only: the bot never posts a staff member's name, and refuses "
    "one typed into a form. Type help to the bot for its commands."
)


def build_manifest(settings: PackageSettings, *, name: str, short_name: str) -> dict[str, Any]:
    """The app manifest (v1.29) for these settings and the terms' names (`name` is the group's full name)."""
    rsc = [{"name": p, "type": "Application"} for p in RSC_PERMISSIONS]
    return {
        "$schema": MANIFEST_SCHEMA_URL,
        "manifestVersion": MANIFEST_VERSION,
        "version": settings.version,
        "id": settings.manifest_id,
        "developer": {"name": settings.developer.name, "websiteUrl": settings.developer.website_url,
                      "privacyUrl": settings.developer.privacy_url,
                      "termsOfUseUrl": settings.developer.terms_url},
        "name": {"short": short_name[:30], "full": f"{short_name} bot: {name}"[:100]},
        "description": {"short": SHORT_DESCRIPTION,
                        "full": FULL_DESCRIPTION.format(name=name, short=short_name)},
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": ACCENT_COLOR,
        "bots": [{
            "botId": settings.client_id,
            "scopes": ["personal", "groupChat"],
            "supportsFiles": True,
            "isNotificationOnly": False,
            "commandLists": command_lists(),
        }],
        "defaultInstallScope": "personal",
        "defaultGroupCapability": {"groupchat": "bot"},
        "validDomains": [settings.public_host],
        "webApplicationInfo": {"id": settings.client_id, "resource": f"api://botid-{settings.client_id}"},
        "authorization": {"permissions": {"resourceSpecific": rsc}},
    }


# The zip's entries: a fixed time, so the same settings give the same bytes (a diffable, checkable package).
_ZIP_TIME = (2026, 1, 1, 0, 0, 0)


def app_package(manifest: Mapping[str, Any]) -> bytes:
    """The zip to upload: manifest.json, color.png and outline.png at its root, nothing else."""
    files = {"manifest.json": (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8"),
             "color.png": icons.color_png(), "outline.png": icons.outline_png()}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for filename, content in files.items():
            info = zipfile.ZipInfo(filename, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, content)
    return out.getvalue()
