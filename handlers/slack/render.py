"""The Jinja2 environment for Slack messages (Block Kit JSON, Slack-safe filters); documents are
bot/records/documents.py's.

Strict: a missing field fails a test rather than rendering blank."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

import templates


def slack_escape(text: Any) -> str:
    """Escape the three characters Slack's mrkdwn treats as control: & < >.

    With them escaped, typed text cannot become a mention, a channel ping or a link.
    """
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_date(when: datetime, fallback: str, fmt: str = "{date_long_pretty} at {time}") -> str:
    """A Slack date token: each reader sees the time in their own time zone; `fallback` otherwise."""
    return f"<!date^{int(when.timestamp())}^{fmt}|{slack_escape(fallback)}>"


def mention(platform_id: str) -> str:
    """A stored id as a Slack mention: a person (`<@U…>`) or, for a room id, a channel (`<#C…>`)."""
    text = slack_escape(platform_id)
    return f"<#{text}>" if text[:1] in ("C", "G", "D") else f"<@{text}>"


def truncate_label(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    env.filters["slack_escape"] = slack_escape
    env.filters["slack_date"] = slack_date
    env.filters["truncate_label"] = truncate_label
    env.filters["mention"] = mention
    env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": False}
    return env


def render_text(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)


def render_json(name: str, **context: Any) -> dict[str, Any]:
    """Render a template that produces JSON (Block Kit) and parse it, so a broken template fails loudly."""
    rendered = render_text(name, **context)
    try:
        return json.loads(rendered)
    except json.JSONDecodeError as exc:
        raise ValueError(f"template {name} produced invalid JSON: {exc}") from exc
