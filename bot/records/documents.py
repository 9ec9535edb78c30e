"""The Jinja2 environment for the record (templates/records/): case file, reports. HTML escaped, strict.

Platform-neutral: the same documents are given to Slack and Teams alike.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

import templates

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
