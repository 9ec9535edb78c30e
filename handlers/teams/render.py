"""The Jinja2 environment for Teams messages: templates/teams/<kind>.json.j2 rendered into Adaptive Cards 1.5.

A template renders a JSON object: `text` (the plain fallback: notifications, previews, hosts without
cards) and the card's own fields (`body`, `actions`, `refresh`, ...). This module wraps those in the
card (type, version, width, mention entities) and refuses any card handlers.teams.cards.check_card
would refuse, so a broken template fails a test rather than a send.

Filters (strict: a missing field fails rather than rendering blank):
- `text`: typed text through escape_text, so it shows as typed and does nothing else.
- `when(dt)`, `date(dt, style)`, `time(dt)`: Adaptive Cards' DATE()/TIME() functions of the UTC instant,
  so each reader sees their own zone.
- `mention(user_id)`: `<at>Name</at>` with its entity, the name asked of `names` at render time (never
  stored); an unknown person reads "a member", with no entity. `name(user_id)`: the same name as plain
  text (for the fallback `text`, where a mention tag would show raw).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

import templates
from bot.domain.notify import Message
from handlers.teams.cards import CARD_CONTENT_TYPE, TEAMS_CARD_VERSION, check_card, escape_text

Names = Callable[[str], str | None]

CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
UNKNOWN_MEMBER = "a member"
GROUP_CHAT = "a group chat"
DATE_STYLES = ("COMPACT", "SHORT", "LONG")
# Characters a display name loses inside <at>…</at>: they would end the tag, start a function or a
# binding, or format the text around it. Names come from the directory, but are not trusted either.
_NAME_DROP = re.compile(r"[<>{}\[\]\\*_`|~&$\x00-\x1f\x7f]")


@dataclass
class _Render:
    """One render call's state: who the names come from and the mentions made so far (by user id)."""

    names: Names
    entities: dict[str, dict[str, Any]] = field(default_factory=dict)


# A context variable rather than template context: filters used inside imported macros see it too.
_current: ContextVar[_Render | None] = ContextVar("teams_render", default=None)


@contextmanager
def _rendering(names: Names | None) -> Iterator[_Render]:
    state = _Render(names or (lambda _user_id: None))
    token = _current.set(state)
    try:
        yield state
    finally:
        _current.reset(token)


def _state() -> _Render:
    state = _current.get()
    if state is None:
        raise RuntimeError("a Teams template was rendered outside render_activity/render_card")
    return state


def display_name(user_id: str) -> str | None:
    """The person's display name as it may appear in a card, or None if the directory does not know them."""
    raw = _state().names(str(user_id))
    cleaned = " ".join(_NAME_DROP.sub("", raw).split()) if raw else ""
    return cleaned or None


def mention(user_id: Any) -> str:
    """`<at>Name</at>`, recording its entity (the Entra object id, which Teams' card mentions accept).

    A room id (a chat's `19:…`: an Entra object id has no colon) reads "a group chat": a card cannot
    mention a chat, and its topic is not known here.
    """
    user = str(user_id)
    if ":" in user:
        return GROUP_CHAT
    name = display_name(user)
    if name is None:
        return UNKNOWN_MEMBER
    tag = f"<at>{name}</at>"
    _state().entities.setdefault(user, {"type": "mention", "text": tag, "mentioned": {"id": user, "name": name}})
    return tag


def plain_name(user_id: Any) -> str:
    user = str(user_id)
    return GROUP_CHAT if ":" in user else display_name(user) or UNKNOWN_MEMBER


def utc_iso(when: datetime) -> str:
    """RFC 3339 in UTC, whole seconds: the only shape DATE()/TIME() read (`2026-12-02T10:00:00Z`)."""
    if when.tzinfo is None:
        raise ValueError("a time shown on a card must carry its zone")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def card_date(when: datetime, style: str = "SHORT") -> str:
    # No spaces inside the braces, the style after a bare comma, upper case: as the renderers match it.
    if style not in DATE_STYLES:
        raise ValueError(f"DATE style must be one of {DATE_STYLES}")
    return f"{{{{DATE({utc_iso(when)},{style})}}}}"


def card_time(when: datetime) -> str:
    return f"{{{{TIME({utc_iso(when)})}}}}"


def card_when(when: datetime, style: str = "SHORT") -> str:
    """"{{DATE(iso,SHORT)}} at {{TIME(iso)}}": a date and time each reader sees in their own zone."""
    return f"{card_date(when, style)} at {card_time(when)}"


def typed_text(value: Any) -> str:
    return escape_text(str(value))


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(Path(templates.__file__).parent),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["text"] = typed_text
    env.filters["when"] = card_when
    env.filters["date"] = card_date
    env.filters["time"] = card_time
    env.filters["mention"] = mention
    env.filters["name"] = plain_name
    env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": False}
    return env


def _template_name(name: str) -> str:
    name = name if name.endswith(".j2") else f"{name}.json.j2"
    return name if name.startswith("teams/") else f"teams/{name}"


def _render(name: str, state: _Render, context: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The checked card and the plain fallback text of one template."""
    template = _template_name(name)
    rendered = environment().get_template(template).render(**context)
    try:
        parts = json.loads(rendered)
    except json.JSONDecodeError as exc:
        raise ValueError(f"template {template} produced invalid JSON: {exc}") from exc
    if not isinstance(parts, dict):
        raise ValueError(f"template {template} must produce a JSON object")
    text = str(parts.pop("text", ""))
    card: dict[str, Any] = {"type": "AdaptiveCard", "$schema": CARD_SCHEMA, "version": TEAMS_CARD_VERSION}
    card.update(parts)
    if text and "fallbackText" not in card:
        card["fallbackText"] = text
    msteams: dict[str, Any] = {"width": "Full", **card.get("msteams", {})}
    if state.entities:
        msteams["entities"] = [*msteams.get("entities", []), *state.entities.values()]
    card["msteams"] = msteams
    check_card(card)
    return card, text


def render_card(name: str, *, names: Names | None = None, **context: Any) -> dict[str, Any]:
    """A checked Adaptive Card from templates/teams/<name>.json.j2 (a dialog, an invoke's answer).

    `names` resolves mentions; without it every mention reads "a member".
    """
    with _rendering(names) as state:
        card, _text = _render(name, state, context)
    return card


def render_activity(message: Message, *, names: Names) -> dict[str, Any]:
    """The Bot Framework message activity for a domain Message: its card, mentions in the card's entities."""
    with _rendering(names) as state:
        card, text = _render(str(message.template), state,
                             {"m": message.model, "delivery_id": message.delivery_id})
    # No activity `text`: Teams would show it as a second message above the card. `summary` is what a
    # notification or the chat list previews; the card's own fallbackText is for clients without cards.
    activity: dict[str, Any] = {"type": "message", "summary": text,
                                "attachments": [{"contentType": CARD_CONTENT_TYPE, "content": card}]}
    return activity
