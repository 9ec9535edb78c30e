"""The vendored renderer draws a checked card offline, escaped typed text shows as typed, and axe runs on it.

Headless Chromium (Debian's, as tests/test_sandbox_browser.py) with no network: the page asks for nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from handlers.teams.cards import card_problems, escape_text
from tests.test_sandbox_browser import _chromium

VENDOR = Path(__file__).resolve().parents[1] / "bot" / "sandbox" / "static" / "vendor"

TYPED = "**not bold** [not a link](https://evil.example) <at>Dr Jane Smith</at> {{DATE(2026-01-01T09:00:00Z)}} ${x}"


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    try:
        from playwright import sync_api
    except ImportError:
        reason = "playwright is not installed (pip install -e '.[test]')"
        if os.environ.get("CI"):
            pytest.fail(reason)  # under CI a missing browser driver fails, as in tests/test_sandbox_browser.py
        pytest.skip(reason)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(_chromium()), args=["--no-sandbox"])
        page = browser.new_page()
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.set_content("<!doctype html><html lang='en'><head><title>Card</title></head>"
                         "<body><main id='card'></main></body></html>")
        page.add_style_tag(path=str(VENDOR / "adaptivecards" / "adaptivecards.css"))
        page.add_script_tag(path=str(VENDOR / "markdown-it" / "markdown-it.umd.min.js"))
        page.add_script_tag(path=str(VENDOR / "adaptivecards" / "adaptivecards.min.js"))
        page.add_script_tag(path=str(VENDOR / "axe-core" / "axe.min.js"))
        page.requests = requests
        yield page
        browser.close()


CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [
    {"type": "TextBlock", "text": "Case 2026-014 **agenda**", "wrap": True},
    {"type": "TextBlock", "text": escape_text(TYPED), "wrap": True},
    {"type": "FactSet", "facts": [{"title": "Update", "value": escape_text("_typed_ by the owner")}]},
    {"type": "Input.Text", "id": "update", "label": "Add an update"},
    {"type": "ActionSet", "actions": [{"type": "Action.Execute", "title": "Done", "verb": "done"}]}]}


def draw(page: Any, card: dict[str, Any]) -> dict[str, Any]:
    return page.evaluate("""(card) => {
        const adaptive = new AdaptiveCards.AdaptiveCard();
        adaptive.parse(card);
        const root = document.getElementById('card');
        root.replaceChildren(adaptive.render());
        return {text: root.innerText, bold: [...root.querySelectorAll('strong')].map(e => e.innerText),
                links: root.querySelectorAll('a').length, em: root.querySelectorAll('em').length,
                button: [...root.querySelectorAll('button')].map(e => e.innerText)};
    }""", card)


def test_the_vendored_renderer_shows_escaped_text_as_typed_and_markdown_as_markdown(page):
    assert card_problems(CARD) == []
    drawn = draw(page, CARD)
    assert drawn["bold"] == ["agenda"]  # Markdown is on, so the escapes are what keeps typed text plain
    assert TYPED in drawn["text"] and "_typed_ by the owner" in drawn["text"]
    assert (drawn["links"], drawn["em"]) == (0, 0)
    assert drawn["button"] == ["Done"]
    assert [url for url in page.requests if not url.startswith(("about:", "data:"))] == []


def test_axe_finds_no_violation_in_the_drawn_card(page):
    assert draw(page, CARD)["button"] == ["Done"]
    violations = page.evaluate("async () => (await axe.run(document.getElementById('card'))).violations"
                               ".map(v => v.id)")
    assert violations == []
