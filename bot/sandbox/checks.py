"""What Slack refuses, checked before the sandbox's stand-in accepts a call: scopes, block and modal limits.

Each check returns Slack's error code and the `response_metadata.messages` Slack sends with it, so
the page can show the refusal as Slack would and the bot's own error handling runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.json"

# The scope each Web API method the bot may call needs (private channels: groups:*).
METHOD_SCOPES: dict[str, str] = {
    "chat.postMessage": "chat:write", "chat.update": "chat:write", "chat.postEphemeral": "chat:write",
    "chat.delete": "chat:write", "conversations.create": "groups:write", "conversations.invite": "groups:write",
    "conversations.archive": "groups:write", "conversations.unarchive": "groups:write",
    "conversations.rename": "groups:write", "conversations.info": "groups:read", "conversations.members": "groups:read",
    "conversations.open": "im:write", "users.info": "users:read", "users.list": "users:read",
    "files.getUploadURLExternal": "files:write", "files.completeUploadExternal": "files:write",
    "files.delete": "files:write",
}

KNOWN_BLOCKS = {"header", "section", "context", "divider", "actions", "image", "rich_text", "input", "file", "video",
                "markdown"}
MESSAGE_BLOCK_LIMIT = 50
VIEW_BLOCK_LIMIT = 100
TITLE_LIMIT = 24
HEADER_LIMIT = 150
SECTION_TEXT_LIMIT = 3000
FIELD_LIMIT = 2000
FIELDS_MAX = 10
BUTTON_TEXT_LIMIT = 75


@dataclass(frozen=True)
class Refusal:
    error: str
    messages: tuple[str, ...] = ()

    def describe(self) -> str:
        return self.error + (": " + "; ".join(self.messages) if self.messages else "")


def granted_scopes(manifest: Path = MANIFEST) -> frozenset[str]:
    data = json.loads(manifest.read_text(encoding="utf-8"))
    return frozenset(data.get("oauth_config", {}).get("scopes", {}).get("bot", []))


def missing_scope(method: str, granted: frozenset[str]) -> Refusal | None:
    needed = METHOD_SCOPES.get(method)
    if needed and needed not in granted:
        return Refusal("missing_scope", (f"[ERROR] {method} needs the {needed} scope, which manifest.json does "
                                         "not grant",))
    return None


def _text_len(obj: Any) -> int:
    return len(str(obj.get("text", ""))) if isinstance(obj, dict) else 0


def block_problems(blocks: Any, limit: int, pointer: str) -> list[str]:
    """Slack's `invalid_blocks` reasons, with its json-pointer style, for a list of blocks."""
    if not isinstance(blocks, list):
        return [f"[ERROR] must be an array [json-pointer:{pointer}]"]
    problems = []
    if len(blocks) > limit:
        problems.append(f"[ERROR] must be less than {limit + 1} items [json-pointer:{pointer}]")
    for n, block in enumerate(blocks):
        where = f"{pointer}/{n}"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in KNOWN_BLOCKS:
            problems.append(f"[ERROR] unsupported type: {kind} [json-pointer:{where}/type]")
            continue
        if kind == "header" and _text_len(block.get("text")) > HEADER_LIMIT:
            problems.append(f"[ERROR] must be less than {HEADER_LIMIT + 1} characters [json-pointer:{where}/text]")
        if kind == "section":
            if not block.get("text") and not block.get("fields"):
                problems.append(f"[ERROR] must provide either text or fields [json-pointer:{where}]")
            if _text_len(block.get("text")) > SECTION_TEXT_LIMIT:
                problems.append(f"[ERROR] must be less than {SECTION_TEXT_LIMIT + 1} characters "
                                f"[json-pointer:{where}/text/text]")
            fields = block.get("fields") or []
            if len(fields) > FIELDS_MAX:
                problems.append(f"[ERROR] must be less than {FIELDS_MAX + 1} items [json-pointer:{where}/fields]")
            problems += [f"[ERROR] must be less than {FIELD_LIMIT + 1} characters [json-pointer:{where}/fields/{i}]"
                         for i, f in enumerate(fields) if _text_len(f) > FIELD_LIMIT]
        if kind == "actions":
            for i, el in enumerate(block.get("elements") or []):
                is_button = isinstance(el, dict) and el.get("type") == "button"
                if is_button and _text_len(el.get("text")) > BUTTON_TEXT_LIMIT:
                    problems.append(f"[ERROR] must be less than {BUTTON_TEXT_LIMIT + 1} characters "
                                    f"[json-pointer:{where}/elements/{i}/text]")
        if kind == "input" and (not block.get("label") or not block.get("element")):
            problems.append(f"[ERROR] an input block needs a label and an element [json-pointer:{where}]")
    return problems


def message_refusal(params: dict[str, Any]) -> Refusal | None:
    if "blocks" not in params or params["blocks"] in (None, ""):
        return None
    problems = block_problems(params["blocks"], MESSAGE_BLOCK_LIMIT, "/blocks")
    return Refusal("invalid_blocks", tuple(problems)) if problems else None


def view_refusal(view: Any) -> Refusal | None:
    if not isinstance(view, dict):
        return Refusal("invalid_arguments", ("[ERROR] missing required field: view",))
    problems = []
    if view.get("type") == "modal":
        for key in ("title", "submit", "close"):
            if view.get(key) and _text_len(view[key]) > TITLE_LIMIT:
                problems.append(f"[ERROR] must be less than {TITLE_LIMIT + 1} characters "
                                f"[json-pointer:/view/{key}/text]")
        if not view.get("title"):
            problems.append("[ERROR] missing required field: title [json-pointer:/view]")
    problems += block_problems(view.get("blocks", []), VIEW_BLOCK_LIMIT, "/view/blocks")
    return Refusal("invalid_arguments", tuple(problems)) if problems else None


def refusal_for(method: str, params: dict[str, Any], granted: frozenset[str]) -> Refusal | None:
    """What Slack would refuse about this call, or None."""
    if refused := missing_scope(method, granted):
        return refused
    if method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
        return message_refusal(params)
    if method in ("views.open", "views.push", "views.update", "views.publish"):
        return view_refusal(params.get("view"))
    return None
