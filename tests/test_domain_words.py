"""No Slack in the domain's words (issue 15, rule 2): the domain's strings carry no Slack markup or names.

Reads every string the domain and the records write (docstrings and comments aside, which may well explain
what Slack does): no mention or date token (`<@`, `<#`, `<!`), no `:shortcode:` emoji, no mrkdwn bold, no
"Slack" in words a person reads, no Slack action id (the values of handlers/slack/ids.py), and no Slack limit
(a module-level block or character budget). The platform's templates and filters turn plain values into markup.

KNOWN lists what is still there, by file and kind; it may only shrink (docs/architecture.md says what is next).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from handlers.slack import ids

ROOT = Path(__file__).resolve().parents[1]
DOMAIN = ("bot/domain", "bot/records")

MENTION = re.compile(r"<[@#!]")
SHORTCODE = re.compile(r"(?:^|\s):[a-z0-9_+-]{2,}:(?:\s|$)")
BOLD = re.compile(r"(?:^|\s)\*[^*\s][^*\n]*\*(?:\s|$|[.,:;)])")
SLACK_WORD = re.compile(r"\bSlack\b")
# A platform's size budget held by the domain: blocks a message, characters a block, items a view.
BUDGET = re.compile(r"^(?:[A-Z_]*BLOCKS|[A-Z_]*CHUNK_CHARS|LIST_LIMIT|MAX_ITEMS|MAX_CASES)$")
# Slack's action and callback ids; the form field names (*_FIELD, *_VIEW, roster columns) are the domain's own.
ACTION_IDS = {v for k, v in vars(ids).items() if k.isupper() and isinstance(v, str) and "_" in v
              and not k.endswith(("_FIELD", "_VIEW")) and not k.startswith(("ROSTER_", "ROLL_CALL_PERSON"))}

# (file, kind) still to move to the platform. Each is a view model or a module that still holds Slack's
# words or budget; remove a line when it is fixed (the test fails while a listed line is no longer true).
KNOWN = {
    ("bot/domain/agenda.py", "budget"),                # CHUNK_CHARS: Slack's 3,000 characters a block (split_text)
}


def _docstrings(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _strings(tree: ast.AST) -> list[str]:
    skip = _docstrings(tree)
    out: list[str] = []
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = []
            for v in node.values:
                inside.add(id(v))
                parts.append(v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "{}")
            out.append("".join(parts))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip | inside:
            out.append(node.value)
    return out


def findings() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for path in sorted(p for d in DOMAIN for p in (ROOT / d).rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for text in _strings(tree):
            for kind, pattern in (("mention", MENTION), ("shortcode", SHORTCODE), ("bold", BOLD),
                                  ("slack", SLACK_WORD)):
                if pattern.search(text):
                    found.add((name, kind))
            if text in ACTION_IDS:
                found.add((name, "action_id"))
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
                node, ast.AnnAssign) else []
            for t in targets:
                if isinstance(t, ast.Name) and BUDGET.match(t.id):
                    found.add((name, "budget"))
    return found


def test_the_domain_writes_no_slack_markup_names_ids_or_limits_beyond_the_known_list() -> None:
    new = findings() - KNOWN
    assert not new, f"Slack in the domain's words: {sorted(new)}; give the platform plain values instead"


def test_the_known_list_only_shrinks() -> None:
    fixed = KNOWN - findings()
    assert not fixed, f"no longer there, remove from KNOWN: {sorted(fixed)}"


def test_the_scan_finds_what_it_looks_for() -> None:
    tree = ast.parse('X = f"<@{u}> :bell: *Reminder*"\nMAX_BLOCKS = 50\n')
    text = _strings(tree)[0]
    assert MENTION.search(text) and SHORTCODE.search(text) and BOLD.search(text)
    assert BUDGET.match("MAX_BLOCKS") and "case_record_outcome" in ACTION_IDS
