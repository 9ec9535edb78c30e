"""The layers of docs/architecture.md, checked on every test run.

The import contracts live in pyproject.toml ([tool.importlinter]) and are checked here with import-linter, so
`python -m pytest` fails as soon as the domain imports Slack, storage imports the bot, a listener imports
storage, or the domain's modules import each other in a circle. What a tool cannot see from the import graph
alone is checked by reading the source: no function-level import in the domain (the usual way to hide a circle).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOMAIN = ("bot/domain", "bot/records")
OURS = ("bot", "handlers", "storage", "templates")

# The handlers -> storage exceptions of pyproject.toml. It held ten lines; every listener now makes one domain
# call, so none is allowed (an exception list may only shrink).
ALLOWED_EXCEPTIONS: set[str] = set()


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return list(config["tool"]["importlinter"]["contracts"])


def _domain_files() -> list[Path]:
    return sorted(p for d in DOMAIN for p in (ROOT / d).rglob("*.py"))


def test_every_import_contract_is_kept() -> None:
    # In a process of its own: run in this one, import-linter leaves the logging of later tests unheard
    # (tests/test_log_privacy.py read an empty log after it).
    run = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
                          f"sys.exit(lint_imports(config_filename={str(ROOT / 'pyproject.toml')!r}, no_cache=True, "
                          "no_logo=True))"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"an import contract of pyproject.toml is broken:\n{run.stdout}{run.stderr}"


def test_the_contracts_cover_what_issue_15_asks() -> None:
    contracts = {str(c["name"]): c for c in _contracts()}
    domain = next(c for c in contracts.values() if c.get("source_modules") == ["bot.domain", "bot.records", "storage"])
    for banned in ("slack_bolt", "slack_sdk", "flask", "gunicorn", "apscheduler", "microsoft_teams", "handlers",
                   "bot.sandbox", "bot.cli", "bot.config", "bot.web", "bot.scheduler", "bot.clock", "bot.logs",
                   "bot.services"):
        assert banned in domain["forbidden_modules"]  # type: ignore[operator]
    assert not domain.get("ignore_imports")
    assert any(c.get("type") == "independence" and set(c["modules"]) == {"handlers.slack", "handlers.teams"}  # type: ignore[arg-type]
               for c in contracts.values())
    assert any(c.get("type") == "acyclic_siblings" and "bot.domain" in c["ancestors"]  # type: ignore[operator]
               for c in contracts.values())


def test_the_exception_list_only_shrinks() -> None:
    listed = {str(line) for c in _contracts() for line in c.get("ignore_imports", [])}  # type: ignore[attr-defined]
    grown = listed - ALLOWED_EXCEPTIONS
    assert not grown, f"new exceptions to the layers: {sorted(grown)}; make the listener one domain call instead"


def test_no_function_level_import_of_our_own_packages_in_the_domain() -> None:
    hidden: list[str] = []
    for path in _domain_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        top_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if id(node) in top_level:
                continue
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            if any(n.split(".")[0] in OURS for n in names) or (isinstance(node, ast.ImportFrom) and node.level):
                hidden.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not hidden, f"function-level imports in the domain (an import cycle hidden?): {hidden}"


def test_the_source_scan_sees_the_domain() -> None:
    files = {p.relative_to(ROOT).as_posix() for p in _domain_files()}
    assert {"bot/domain/reminders.py", "bot/domain/composers.py", "bot/records/case_file.py"} <= files


def test_a_refusal_is_worded_in_one_place() -> None:
    """Who to ask (NotAllowed.contacts) is worded by handlers/slack/replies.py alone (and its Teams twin,
    handlers/teams/replies.py): there were four copies."""
    wording = ROOT / "handlers" / "slack" / "replies.py"
    twins = {wording, ROOT / "handlers" / "teams" / "replies.py"}
    copies: list[str] = []
    for path in sorted((ROOT / "handlers").rglob("*.py")):
        if path in twins:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        copies += [f"{path.relative_to(ROOT)}:{node.lineno}" for node in ast.walk(tree)
                   if isinstance(node, ast.Attribute) and node.attr == "contacts"]
    assert not copies, f"refusals worded outside handlers/slack/replies.py refusal_text: {copies}"
    assert "def refusal_text(" in wording.read_text(encoding="utf-8")
