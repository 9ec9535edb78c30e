"""The Teams sandbox in a real headless Chromium: a case on Teams, driven through the page as people would.

Every click reaches the bot as the signed activity Teams sends (a message, an adaptiveCard/action invoke,
task/fetch, task/submit), so this runs the Teams app's production code path; the cards are drawn by the
vendored Adaptive Cards renderer. Every screen visited is checked with axe-core (the vendored copy): a
serious or critical violation fails the test. With PMCCG_SCREENSHOTS=1 the screenshots go to
docs/screenshots/teams-*.png (for the README); otherwise to tmp.

Every step must be answered: a command the bot says is "not available on Teams yet", an action no listener
answers, or any error the page shows (what Teams would refuse) fails the walk.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from bot.sandbox.teams_runtime import TeamsSandbox, entra_id
from tests.test_sandbox_browser import _axe, _chromium

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "screenshots"
MANAGER, CHAIR, SERVICE_LEAD, PEOPLE_TEAM = (entra_id(u) for u in ("UDMANAGER", "UDCHAIR01", "UDSERVICE",
                                                                    "UDPEOPLE1"))
NOT_YET = "is not available on Teams yet"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TeamsSandbox]:
    running = TeamsSandbox(tmp_path_factory.mktemp("teams-sandbox"), tick_seconds=3600).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def sandbox_url(sandbox: TeamsSandbox) -> Iterator[str]:
    from bot.sandbox.teams_page import create_teams_page

    server = make_server("127.0.0.1", 0, create_teams_page(sandbox), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def page(sandbox_url: str) -> Iterator[Any]:
    try:
        from playwright import sync_api
    except ImportError:
        reason = "playwright is missing: pip install -e '.[test]' installs it"
        if os.environ.get("CI"):
            pytest.fail(reason)  # CI installs the test extra: a missing driver is a broken install
        pytest.skip(reason)
    executable = _chromium()
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(executable), args=["--no-sandbox"])
        # Teams formats {{DATE()}} and {{TIME()}} in the reader's own zone: the sandbox's people are in London.
        context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=sandbox_url,
                                      timezone_id="Europe/London", locale="en-GB")
        tab = context.new_page()
        tab.set_default_timeout(15_000)
        errors: list[str] = []
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        tab.script_errors = errors
        yield tab
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = DOCS if os.environ.get("PMCCG_SCREENSHOTS") == "1" else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _as(page: Any, oid: str, chat: str | None = None) -> None:
    """Become `oid` (their 1:1 chat), then open the chat whose title starts with `chat`, if given."""
    page.goto(f"/as/{oid}")
    page.wait_for_load_state()
    if chat:
        page.locator(".nav-item", has_text=chat).first.click()
        page.wait_for_load_state()


def _type(page: Any, text: str) -> None:
    page.fill("#composer", text)
    with page.expect_navigation():
        page.press("#composer", "Enter")
    page.wait_for_load_state()


def _press(page: Any, button: Any) -> None:
    """Press a card's or the page's button; the page reloads once the bot has answered."""
    with page.expect_navigation():
        button.click()
    page.wait_for_load_state()


def _last_bot_message(page: Any) -> Any:
    return page.locator(".message.from-bot").last


def _needs(page: Any, command: str) -> None:
    if NOT_YET in _last_bot_message(page).inner_text():
        pytest.fail(f"`{command}` is not answered on Teams")


def _unanswered(page: Any) -> bool:
    errors = " ".join(page.locator(".teams-error").all_inner_texts())
    return "no answer to the action" in errors or "no dialog in the answer" in errors


def _answered(page: Any, what: str) -> None:
    """After a click: an action no listener answers yet (Teams would show "Something went wrong") ends the walk."""
    if _unanswered(page):
        pytest.fail(f"{what} is not answered on Teams")


def _no_errors(page: Any, pending: list[str]) -> None:
    """No refusal or failure on the page (an automatic card refresh included: handlers/teams/guard.py)."""
    errors = page.locator(".teams-error").all_inner_texts()
    assert not errors, errors


def _radio(page: Any, field: str, answer: str) -> None:
    """Tick `answer` among the radio buttons of an expanded choice; the renderer gives its box the input's id
    (the domain's field name, as Slack's block id) and the group no accessible name of its own."""
    page.locator(f'.modal [id="{field}"]').get_by_label(answer, exact=True).check()


def _dialog_field(page: Any, label: str) -> Any:
    return page.locator(".modal").get_by_label(label, exact=True)


def _error_under(page: Any, label: str) -> str:
    """The text of the attention-coloured TextBlock the bot put directly under the field labelled `label`."""
    field = _dialog_field(page, label)
    return field.evaluate("""(input) => {
        const blocks = [...document.querySelectorAll('.modal .ac-textBlock')];
        const after = blocks.filter(b => input.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING);
        const first = after[0];
        return first && getComputedStyle(first).color === 'rgb(179, 36, 59)' ? first.innerText : '';
    }""")


def _next_until(page: Any, text: str, tries: int = 20) -> None:
    for _ in range(tries):
        if page.locator(".message", has_text=text).count():
            return
        _press(page, page.get_by_role("button", name="Next scheduled"))
    assert page.locator(".message", has_text=text).count(), f"{text!r} never appeared"


def test_a_case_on_teams_in_the_browser(page: Any, shots: Path, sandbox: TeamsSandbox) -> None:
    page.goto("/")
    _axe(page, "who are you?")
    page.locator(".person", has_text="Nadia Brightwater").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text().startswith("PMCCG")
    _axe(page, "the manager's 1:1 chat")

    # Help: what the bot answers in the 1:1 chat, its Markdown drawn.
    _type(page, "help")
    help_reply = _last_bot_message(page)
    assert "convene" in help_reply.inner_text() and help_reply.locator("strong").count() >= 1
    assert "help" in page.locator(".message.mine").last.inner_text()

    # Convene: a card whose button opens the dialog (Teams cannot open one from a typed message).
    _type(page, "convene")
    _needs(page, "convene")
    opener = _last_bot_message(page).get_by_role("button", name=re.compile("convene form", re.I))
    _press(page, opener)
    page.wait_for_selector(".modal")
    assert page.locator("#modal-title").inner_text() == "Convene PMCCG"
    assert page.evaluate("document.querySelector('.app').inert"), "what is behind the dialog cannot be reached"
    _dialog_field(page, "Staff member's professional group").select_option(label="Nursing")
    _press(page, page.locator(".modal").get_by_role("button", name="Propose their professional lead"))
    lead = _dialog_field(page, "Professional lead for the staff member's profession")
    assert lead.evaluate("s => s.selectedOptions[0].text") == "Tomasz Kowalczyk"
    _dialog_field(page, "How was the concern identified?").select_option(label="Incident")
    _dialog_field(page, "Describe the concern").fill("Kit Ashdown gave two doses twice.")
    _dialog_field(page, "Immediate risks").fill("Patient safety on night shifts.")
    call_day = (sandbox.clock() + timedelta(days=3)).date().isoformat()
    _dialog_field(page, "Date of the call").fill(call_day)
    _dialog_field(page, "Time of the call (Europe/London time)").fill("14:00")
    _dialog_field(page, "Conference call link or dial-in").fill("https://meet.example.org/pmccg")
    _axe(page, "the convene dialog")
    page.screenshot(path=shots / "teams-1-convene-dialog.png")

    # A name in the concern: refused, the error directly under that field, everything typed kept.
    _press(page, page.locator(".modal").get_by_role("button", name="Convene", exact=True))
    page.wait_for_selector(".modal")
    assert "looks like a name" in _error_under(page, "Describe the concern")
    assert _dialog_field(page, "Immediate risks").input_value() == "Patient safety on night shifts."
    assert _dialog_field(page, "Date of the call").input_value() == call_day
    concern = _dialog_field(page, "Describe the concern")
    assert concern.get_attribute("aria-invalid") == "true"
    assert page.evaluate("document.activeElement.getAttribute('aria-invalid')") == "true", "focus on the error"
    _axe(page, "the convene dialog refused with an error")
    concern.scroll_into_view_if_needed()
    page.screenshot(path=shots / "teams-2-convene-refused.png")

    # Corrected: the dialog closes with the bot's message; the case chat appears; the result in the 1:1 chat.
    concern.fill("Two medication errors on night shifts in October.")
    _press(page, page.locator(".modal").get_by_role("button", name="Convene", exact=True))
    assert not page.locator(".modal").count()
    case_chat = page.locator(".nav-item[data-kind=groupChat]").first
    case_chat.wait_for()
    chat_name = re.search(r"pmccg-\d{4}-\d{3}", case_chat.inner_text(), re.I).group(0)
    reference = chat_name.upper()
    assert page.locator(".message", has_text=reference).count(), "the convener is told in their 1:1 chat"
    pending: list[str] = []
    _no_errors(page, pending)

    # Members answer from the board in the case chat; the board is one message, updated in place.
    for member in (CHAIR, SERVICE_LEAD, PEOPLE_TEAM):
        _as(page, member, chat_name)
        board = page.locator(".message", has_text="Attendance").last
        _press(page, board.get_by_role("button", name="Attending", exact=True))
    board = page.locator(".message", has_text="Attendance")
    assert board.count() == 1, "the board is updated in place, never posted again"
    for name in ("Harriet Pemberton", "Felix Ravensworth", "Anjali Desborough"):
        assert re.search(rf"{name}\S*\s*(—|-|:)?\s*Attending", board.inner_text()), board.inner_text()
    assert "Edited" in board.inner_text()
    _no_errors(page, pending)
    board.scroll_into_view_if_needed()
    _axe(page, "the case chat with the board")
    page.screenshot(path=shots / "teams-3-attendance-board.png")

    # The clock to the call: the agenda, then the roll-call, in the case chat.
    _next_until(page, f"Agenda: {reference}", tries=25)
    _next_until(page, "Roll-call", tries=10)
    assert page.locator(".message", has_text=f"Agenda: {reference}").count() == 1
    _no_errors(page, pending)
    page.locator(".message", has_text="Roll-call").last.scroll_into_view_if_needed()
    _axe(page, "the agenda and roll-call")
    page.screenshot(path=shots / "teams-4-agenda-and-roll-call.png")
    for member in (PEOPLE_TEAM, CHAIR):  # the roll-call is one message, updated in place for each
        _as(page, member, chat_name)
        _press(page, page.locator(".message", has_text="Roll-call").last.get_by_role("button", name="I'm on the call"))
        if _unanswered(page):
            pending.append("the roll-call's I'm on the call (its Teams listener is not merged yet)")
            _press(page, page.locator("#dismiss"))
            break
    else:
        roll_call = page.locator(".message", has_text="Roll-call")
        assert roll_call.count() == 1
        assert "Harriet Pemberton" in roll_call.inner_text() and "Anjali Desborough" in roll_call.inner_text()
        assert "Edited" in roll_call.inner_text()
        # The ticks are drawings with a name, not characters an emoji font must supply.
        assert "✅" not in roll_call.inner_text()
        assert roll_call.locator('svg.emoji[role="img"][aria-label="Tick"]').count() == 2
        _no_errors(page, pending)
        page.locator(".message", has_text="Roll-call").last.scroll_into_view_if_needed()
        page.screenshot(path=shots / "teams-4b-roll-call.png")
    _no_errors(page, pending)
    assert not page.script_errors, page.script_errors

    # The chair records the outcome with one action point, owned by the service lead, from the case card.
    _as(page, CHAIR, chat_name)
    _no_errors(page, pending)
    header = page.locator(".message", has_text="Record outcome").first
    _press(page, header.get_by_role("button", name="Record outcome"))
    _answered(page, "the outcome dialog")
    page.wait_for_selector(".modal")
    _dialog_field(page, "Recommended process").select_option(label="Informal process")
    _dialog_field(page, "Rationale").fill("A training need: supervised practice first.")
    _dialog_field(page, "Risk level").select_option(label="Moderate")
    for field, answer in (("ml_policy", "No"), ("legal_advice", "No"), ("welfare", "Yes")):
        _radio(page, field, answer)
    if page.locator('.modal [id="quorate_stated"]').count():  # no roll-call recorded: the chair says
        _radio(page, "quorate_stated", "Yes")
        _dialog_field(page, "How is that known?").fill("Four members were on the call.")
    for group in page.locator('.modal [id^="fairness_"]:has(input[type=radio])').all():
        group.get_by_label("Yes", exact=True).check()
    _dialog_field(page, "Action point 1 (optional)").fill("Arrange supervised medication rounds")
    _dialog_field(page, "Owner (optional)").select_option(label="Felix Ravensworth")
    due = (sandbox.clock() + timedelta(days=21)).date().isoformat()
    _dialog_field(page, "Due date (optional)").fill(due)
    _axe(page, "the outcome dialog")
    page.screenshot(path=shots / "teams-5-outcome-dialog.png")
    _press(page, page.locator(".modal").get_by_role("button", name="Record", exact=True))
    errors = page.locator(".modal .teams-error, .modal .ac-textBlock").all_inner_texts() if page.locator(
        ".modal").count() else []
    assert not page.locator(".modal").count(), errors
    _no_errors(page, pending)

    # A week later the owner's reminder arrives in their 1:1 chat; Done updates it in place.
    for _ in range(7):
        _press(page, page.get_by_role("button", name="+1 day"))
    _as(page, SERVICE_LEAD)
    reminder = page.locator(".message", has_text="Arrange supervised medication rounds").last
    reminder.wait_for()
    _no_errors(page, pending)
    reminder = page.locator(".message", has_text="Arrange supervised medication rounds").last
    done = reminder.get_by_role("button", name="Done")
    assert done.count()
    reminder.scroll_into_view_if_needed()
    _axe(page, "the owner's reminder")
    page.screenshot(path=shots / "teams-6-reminder.png")
    before = page.locator(".message").count()
    _press(page, done)
    _answered(page, "Done on the reminder")
    updated = page.locator(".message", has_text="Arrange supervised medication rounds").last
    assert updated.get_by_role("button", name="Done").count() == 0, "a done item has no Done button left"
    assert page.locator(".message").count() == before, "updated in place, not posted again"
    assert "Edited" in updated.inner_text()

    # The chair's home card in their 1:1 chat lists the case (refreshed for them as Teams does on opening).
    _as(page, CHAIR)
    home = page.locator(".message", has_text="My cases").first
    home.wait_for()
    _press(page, home.get_by_role("button", name="Refresh"))
    home = page.locator(".message", has_text="My cases").first
    assert reference in home.inner_text(), home.inner_text()
    _no_errors(page, pending)
    home = page.locator(".message", has_text="My cases").first
    home.scroll_into_view_if_needed()
    _axe(page, "the chair's home card")
    page.screenshot(path=shots / "teams-7-home-card.png")
    assert not page.script_errors, page.script_errors
    assert not pending, pending
