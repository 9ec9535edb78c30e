"""The sandbox in a real headless Chromium: a whole case, driven through the page as people would.

Every click reaches the bot as the signed request Slack sends, so this runs the production code path.
With PMCCG_SCREENSHOTS=1 the screenshots go to docs/screenshots/ (for the README); otherwise to tmp.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from bot import clock
from bot.sandbox.page import create_page
from bot.sandbox.runtime import Sandbox

CHROMIUM = Path("/usr/bin/chromium")
DOCS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
MANAGER, CHAIR, SERVICE_LEAD, PEOPLE_TEAM = "UDMANAGER", "UDCHAIR01", "UDSERVICE", "UDPEOPLE1"
NURSING_LEAD = "UDNURSELD"


def _chromium() -> Path:
    """The system browser; in CI a missing one is installed, and failing that is a failure, not a skip."""
    if not CHROMIUM.exists() and os.environ.get("CI") and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "chromium"], check=False,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, timeout=600)
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture
def sandbox_url(tmp_path: Path) -> Iterator[str]:
    sandbox = Sandbox(tmp_path / "sandbox", tick_seconds=60).start()
    server = make_server("127.0.0.1", 0, create_page(sandbox), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        sandbox.stop()
        clock.reset()


@pytest.fixture
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
        tab = browser.new_page(viewport={"width": 1280, "height": 900}, base_url=sandbox_url)
        tab.set_default_timeout(15_000)
        yield tab
        browser.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = DOCS if os.environ.get("PMCCG_SCREENSHOTS") == "1" else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _as(page: Any, user: str, channel_prefix: str | None = None) -> None:
    page.goto(f"/as/{user}")
    if channel_prefix:
        page.locator(".nav-item", has_text=channel_prefix).first.click()


def _type(page: Any, text: str) -> None:
    page.fill("#composer", text)
    page.press("#composer", "Enter")
    page.wait_for_load_state()


def _field(page: Any, block: str) -> Any:
    """The form control of a modal's input block (named v|block|action|type, like view.state)."""
    return page.locator(f'.modal [data-block="{block}"] [name^="v|"]').first


def _next_until(page: Any, text: str, tries: int = 12) -> None:
    """Press "Next scheduled" until `text` shows in the open channel (each press sends one due message)."""
    for _ in range(tries):
        if page.locator(".message", has_text=text).count():
            return
        page.get_by_role("button", name="Next scheduled").click()
        page.wait_for_load_state()
    assert page.locator(".message", has_text=text).count(), f"{text!r} never appeared"


def test_a_whole_case_in_the_browser(page: Any, shots: Path) -> None:
    # The manager convenes through the form.
    _as(page, MANAGER)
    _type(page, "/pmccg convene")
    page.wait_for_selector(".modal")
    assert page.locator(".modal h2").inner_text() == "Convene PMCCG"
    _field(page, "profession").select_option("nursing")
    _field(page, "route").select_option("incident")
    _field(page, "concern").fill("Two medication errors on night shifts in October.")
    _field(page, "risks").fill("Patient safety on night shifts.")
    call_day = (clock.now() + timedelta(days=3)).date().isoformat()
    _field(page, "call_date").fill(call_day)
    _field(page, "call_time").fill("14:00")
    _field(page, "call_details").fill("https://meet.example.org/pmccg")
    _field(page, "seat_professional_lead").select_option(NURSING_LEAD)
    page.screenshot(path=shots / "1-convene-form.png")
    page.click("#modal-submit")
    page.wait_for_load_state()
    if page.locator(".modal").count():  # the form says what was done; the manager closes it
        page.locator(".modal footer .secondary").click()
    case_link = page.locator(".nav-item", has_text="pmccg-")
    case_link.first.wait_for()
    channel_name = re.search(r"pmccg-\d{4}-\d{3}", case_link.first.inner_text()).group(0)
    reference = channel_name.upper()
    assert re.fullmatch(r"PMCCG-\d{4}-\d{3}", reference)

    # Three members answer from the board in the case channel; the board updates each time.
    for member in (CHAIR, SERVICE_LEAD, PEOPLE_TEAM):
        _as(page, member, channel_name)
        board = page.locator(".message", has_text="Attendance for the call")
        board.get_by_role("button", name="Attending").click()
        page.wait_for_load_state()
    board = page.locator(".message", has_text="Attendance for the call")
    for name in ("Harriet Pemberton", "Felix Ravensworth", "Anjali Desborough"):
        assert re.search(rf"{name}\S*\s*(—|-)\s*Attending", board.inner_text()), board.inner_text()
    board.scroll_into_view_if_needed()
    page.screenshot(path=shots / "2-attendance-board.png")

    # Move the clock to the call: the agenda comes first, then the roll-call.
    _next_until(page, f"Agenda: {reference}", tries=20)
    _next_until(page, "Roll-call", tries=10)
    assert page.locator(".message", has_text=f"Agenda: {reference}").count() == 1
    page.locator(".bk-header", has_text=f"Agenda: {reference}").evaluate("h => h.scrollIntoView()")
    page.screenshot(path=shots / "3-agenda-and-roll-call.png")
    for member in (PEOPLE_TEAM, CHAIR):  # the roll-call message updates in place for each
        _as(page, member, channel_name)
        page.locator(".message", has_text="Roll-call").get_by_role("button", name="I'm on the call").click()
        page.wait_for_load_state()
    roll_call = page.locator(".message", has_text="Roll-call")
    assert "Harriet Pemberton" in roll_call.inner_text() and "Anjali Desborough" in roll_call.inner_text()
    roll_call.evaluate("m => m.scrollIntoView()")
    page.screenshot(path=shots / "3b-roll-call.png")

    # The chair records the outcome with one action point, owned by the service lead.
    _type(page, f"/pmccg outcome {reference}")
    page.wait_for_selector(".modal")
    _field(page, "process").select_option("informal")
    _field(page, "rationale").fill("A training need: supervised practice first.")
    _field(page, "risk_level").select_option("moderate")
    for block, answer in (("ml_policy", "no"), ("legal_advice", "no"), ("welfare", "yes")):
        page.locator(f'.modal [data-block="{block}"] input[value="{answer}"]').check()
    if page.locator('.modal [data-block="quorate_stated"]').count():
        page.locator('.modal [data-block="quorate_stated"] input[value="yes"]').check()
        _field(page, "quorum_statement").fill("Four members were on the call.")
    for radio in page.locator('.modal [data-block^="fairness_"] input[value="yes"]').all():
        radio.check()
    _field(page, "action_1_description").fill("Arrange supervised medication rounds")
    _field(page, "action_1_owner").select_option(SERVICE_LEAD)
    due = (clock.now() + timedelta(days=21)).date().isoformat()
    _field(page, "action_1_due").fill(due)
    page.screenshot(path=shots / "4-outcome-form.png", full_page=True)
    page.click("#modal-submit")
    page.wait_for_load_state()
    errors = page.locator(".field-error").all_inner_texts()
    assert not errors, errors
    if page.locator(".modal").count():
        page.locator(".modal footer .secondary").click()

    # A week later the owner's reminder arrives in their direct messages; they mark it done.
    for _ in range(7):
        page.get_by_role("button", name="+1 day").click()
        page.wait_for_load_state()
    page.goto(f"/as/{SERVICE_LEAD}/dm")
    reminder = page.locator(".message", has_text="Arrange supervised medication rounds").last
    reminder.wait_for()
    assert reminder.get_by_role("button", name="Done").count()
    assert "late" not in reminder.inner_text(), "the clock stops at each due time, as a running scheduler would"
    reminder.scroll_into_view_if_needed()
    page.screenshot(path=shots / "5-reminder.png")
    reminder.get_by_role("button", name="Done").click()
    page.wait_for_load_state()
    updated = page.locator(".message", has_text="Arrange supervised medication rounds").last
    assert updated.get_by_role("button", name="Done").count() == 0, "a done item has no buttons left"
    assert "(edited)" in updated.inner_text(), "the reminder is updated in place"

    # The chair's App Home lists the case.
    _as(page, CHAIR)
    page.click("#nav-home")
    page.wait_for_load_state()
    home = page.locator(".home-view").inner_text()
    assert reference in home and "My cases" in home
    page.screenshot(path=shots / "6-app-home.png")
    assert not page.locator(".slack-error").count(), page.locator(".slack-error").all_inner_texts()
