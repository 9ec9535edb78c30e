"""The Jinja2 environments: Slack messages (JSON, Slack-safe filters) and documents (HTML escaped).

Both are strict: a missing field fails a test rather than rendering blank."""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

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


# Backslash-escaped anywhere: emphasis, code, links and images ([...](...), ![...]), tables, strikethrough.
_MD_PUNCTUATION = re.compile(r"([\\`*_\[\]|~])")
# Backslash-escaped at the start of a line: headings, lists, thematic breaks, setext underlines.
_MD_LINE_START = re.compile(r"^(\s*)([#+=-])")
_MD_ORDERED = re.compile(r"^(\s*\d{1,9})([.)])")


def md_escape(text: Any) -> str:
    """Typed text made literal in Markdown (CommonMark and the original Markdown alike).

    `&`, `<` and `>` become entities, so no HTML tag, entity or autolink is written; the characters that
    make emphasis, code, links, images or tables are backslash-escaped anywhere, and those that make
    a heading, a list or a rule at the start of a line. What a reader sees is what was typed.
    """
    escaped = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    escaped = _MD_PUNCTUATION.sub(r"\\\1", escaped)
    lines = [_MD_ORDERED.sub(r"\1\\\2", _MD_LINE_START.sub(r"\1\\\2", line)) for line in escaped.split("\n")]
    return "\n".join(lines)


def md_inline(text: Any) -> str:
    """Typed text made literal on one Markdown line (a table cell, after a label): escaped, newlines as spaces."""
    return md_escape(" ".join(str(text).split()))


def md_lines(text: str | None, indent: str = "> ") -> str:
    """Typed text as a Markdown block quote: each line escaped (md_escape), so typed lines stay lines and
    cannot become markup, links or headings."""
    return "\n".join(indent + md_escape(line) for line in (text or "").splitlines()) or indent.rstrip()


@cache
def document_environment() -> Environment:
    """For the record (templates/records/): typed text in HTML is shown literally, never as markup."""
    env = Environment(loader=FileSystemLoader(Path(templates.__file__).parent),
                      autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["md_lines"] = md_lines
    env.filters["md_inline"] = md_inline
    return env


def render_document(name: str, **context: Any) -> str:
    return document_environment().get_template(name).render(**context)


def render_text(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)


def render_json(name: str, **context: Any) -> dict[str, Any]:
    """Render a template that produces JSON (Block Kit) and parse it, so a broken template fails loudly."""
    rendered = render_text(name, **context)
    try:
        return json.loads(rendered)
    except json.JSONDecodeError as exc:
        raise ValueError(f"template {name} produced invalid JSON: {exc}") from exc
