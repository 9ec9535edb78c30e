"""The sandbox in a real headless Chromium: a whole case, driven through the page as people would.

Every click reaches the bot as the signed request Slack sends, so this runs the production code path.
Every screen visited is checked with axe-core (the vendored copy, injected into the page; no download):
a serious or critical violation fails the test, naming the rule and the elements. With
PMCCG_SCREENSHOTS=1 the screenshots go to docs/screenshots/ (for the README); otherwise to tmp.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from bot.sandbox import runtime
from bot.sandbox.page import create_page
from bot.sandbox.runtime import Sandbox

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "screenshots"
AXE = ROOT / "bot" / "sandbox" / "static" / "vendor" / "axe-core" / "axe.min.js"
MANAGER, CHAIR, SERVICE_LEAD, PEOPLE_TEAM = "UDMANAGER", "UDCHAIR01", "UDSERVICE", "UDPEOPLE1"
NURSING_LEAD, MEMBER, MEDICAL_DIRECTOR, DEPUTY = "UDNURSELD", "UDMEMBER1", "UDMEDDIR1", "UDDEPUTY1"
# Characters a page would need an emoji or symbol font for (arrows to pictographs); the bot's :emoji: are SVG.
NEEDS_A_FONT = re.compile("[\u2190-\u2bff\U0001f000-\U0001faff]")


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
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    running = Sandbox(tmp_path / "sandbox", tick_seconds=60).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def sandbox_url(sandbox: Sandbox) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, create_page(sandbox), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


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


def _axe(page: Any, screen: str) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is now; fail on any serious or critical violation, naming it."""
    page.wait_for_load_state()
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']})).violations
        .map(v => ({rule: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}))""")
    bad = [v for v in found if v["impact"] in ("serious", "critical")]
    assert not bad, f"axe-core on {screen}: " + "; ".join(
        f"{v['impact']} {v['rule']} ({v['help']}) at {', '.join(v['nodes'])}" for v in bad)
    return found


def _focused(page: Any) -> str:
    """The focused element, described: tag#id[name] "text"."""
    return page.evaluate("""() => { const e = document.activeElement, name = e.getAttribute('name') || '';
        return `${e.tagName.toLowerCase()}#${e.id}[${name}] ${(e.innerText || '').trim()}`; }""")


def _tab_to(page: Any, selector: str, limit: int = 40, key: str = "Tab") -> None:
    """Press Tab until the element matching `selector` has focus (as a keyboard user would)."""
    for _ in range(limit):
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
        page.keyboard.press(key)
    raise AssertionError(f"{selector} never got focus with {key}; focus is on {_focused(page)}")


def _as(page: Any, user: str, channel_prefix: str | None = None) -> None:
    page.goto(f"/as/{user}")
    if channel_prefix:
        page.locator(".nav-item", has_text=channel_prefix).first.click()


def _type(page: Any, text: str) -> None:
    page.fill("#composer", text)
    page.press("#composer", "Enter")
    page.wait_for_load_state()


def _field(page: Any, block: str) -> Any:
    """The form control of a modal's input block (named v|block|action|type, like view.state). The seat that
    follows the staff member's profession is found by its field name: its block id names the profession
    it was proposed for (seat_professional_lead.nursing), so it is matched on that prefix."""
    if block == "seat_professional_lead":
        return page.locator(f'.modal [data-block^="{block}"] [name^="v|"]').first
    return page.locator(f'.modal [data-block="{block}"] [name^="v|"]').first


def _seat(name: str) -> str:
    """A seat's field from a control's name (v|block|action|type): the block id without the profession."""
    return name.split("|")[1].split(".")[0]


def _choose(page: Any, block: str, value: Any) -> None:
    """Choose in a modal's select; one that dispatches its change (dispatch_action) reloads the form."""
    control = _field(page, block)
    if control.get_attribute("data-dispatch"):
        with page.expect_navigation():
            control.select_option(value)
    else:
        control.select_option(value)


def _next_until(page: Any, text: str, tries: int = 12, said: list[str] | None = None) -> None:
    """Press "Next scheduled" until `text` shows in the open channel (each press sends one due message);
    what the clock panel said it would send next is added to `said`."""
    for _ in range(tries):
        if page.locator(".message", has_text=text).count():
            return
        if said is not None:
            said.append(page.locator("#clock-next").inner_text())
        page.get_by_role("button", name="Next scheduled").click()
        page.wait_for_load_state()
    assert page.locator(".message", has_text=text).count(), f"{text!r} never appeared"


def _convene_form(page: Any, concern: str, now: datetime) -> dict[str, Any]:
    """Fill every field of the convene form, changing proposals where a person could; return what was given."""
    given: dict[str, Any] = {
        "profession": "nursing", "route": "incident", "concern_raised": (now - timedelta(days=2)).date(),
        "concern": concern, "risks": "Patient safety on night shifts.",
        "call_date": (now + timedelta(days=3)).date(), "call_time": "14:00", "duration": "90",
        "call_details": "https://meet.example.org/pmccg", "seat_service_lead": MEDICAL_DIRECTOR,
        "seat_professional_lead": NURSING_LEAD, "extra_members": sorted([MEMBER, DEPUTY]),
    }
    for block in ("profession", "route", "duration", "seat_service_lead", "seat_professional_lead", "extra_members"):
        _choose(page, block, given[block])
    for block in ("concern", "risks", "call_time", "call_details"):
        _field(page, block).fill(given[block])
    for block in ("concern_raised", "call_date"):
        _field(page, block).fill(given[block].isoformat())
    page.locator('.modal [data-block="short_notice"] input[type=checkbox]').check()
    # The other seats keep the roster's proposals; they must come back too.
    for seat in page.locator('.modal [data-block^="seat_"] select').all():
        given[_seat(seat.get_attribute("name"))] = seat.input_value()
    return given


def _form_values(page: Any, given: dict[str, Any]) -> dict[str, Any]:
    """What the open form shows for each field in `given`, in the same shapes."""
    shown: dict[str, Any] = {}
    for block, value in given.items():
        control = _field(page, block)
        if isinstance(value, list):
            shown[block] = sorted(control.evaluate("s => [...s.selectedOptions].map(o => o.value)"))
        elif hasattr(value, "isoformat"):
            shown[block] = type(value).fromisoformat(control.input_value()) if control.input_value() else None
        else:
            shown[block] = control.input_value()
    shown["short_notice"] = page.locator('.modal [data-block="short_notice"] input[type=checkbox]').is_checked()
    return shown


def test_a_whole_case_in_the_browser(page: Any, shots: Path, sandbox: Sandbox) -> None:
    page.goto("/")
    _axe(page, "who are you?")
    # The manager convenes through the form.
    _as(page, MANAGER)
    _axe(page, "#general")
    _type(page, "/pmccg convene")
    page.wait_for_selector(".modal")
    assert page.locator(".modal h2").inner_text() == "Convene PMCCG"
    # Choosing the profession proposes its lead from the roster; changing it replaces the proposal.
    _choose(page, "profession", "paramedic")
    assert _field(page, "seat_professional_lead").input_value() == "UDPARALED"
    _choose(page, "profession", "nursing")
    assert _field(page, "seat_professional_lead").input_value() == NURSING_LEAD
    lead_seat = page.locator('.modal [data-block^="seat_professional_lead"]')
    assert "a professional lead for nursing" in lead_seat.inner_text()
    _choose(page, "route", "incident")
    _field(page, "concern").fill("Two medication errors on night shifts in October.")
    _field(page, "risks").fill("Patient safety on night shifts.")
    call_day = (sandbox.clock() + timedelta(days=3)).date().isoformat()
    _field(page, "call_date").fill(call_day)
    _field(page, "call_time").fill("14:00")
    _field(page, "call_details").fill("https://meet.example.org/pmccg")
    _choose(page, "seat_professional_lead", NURSING_LEAD)
    _axe(page, "the convene form")
    page.screenshot(path=shots / "1-convene-form.png")
    page.click("#modal-submit")
    page.wait_for_load_state()
    if page.locator(".modal").count():  # the form says what was done; the manager closes it
        _axe(page, "the convened modal")
        page.locator(".modal footer .secondary").click()
    case_link = page.locator(".nav-item", has_text="pmccg-")
    case_link.first.wait_for()
    channel_name = re.search(r"pmccg-\d{4}-\d{3}", case_link.first.inner_text()).group(0)
    reference = channel_name.upper()
    assert re.fullmatch(r"PMCCG-\d{4}-\d{3}", reference)
    # The case channel is private: the list shows a lock and says so in words.
    assert case_link.first.locator('svg[data-emoji="lock"]').count() == 1
    assert re.fullmatch(rf"private channel {channel_name}", case_link.first.evaluate("a => a.textContent.trim()"))

    # A member's invitation names the case channel; the link opens it.
    page.goto(f"/as/{CHAIR}/dm")
    invitation = page.locator(".message", has_text="call link are in").last
    _axe(page, "a member's invitation DM")
    invitation.locator("a.mention.channel").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text().endswith(channel_name), page.locator("h1").inner_text()

    # Three members answer from the board in the case channel; the board updates each time.
    for member in (CHAIR, SERVICE_LEAD, PEOPLE_TEAM):
        _as(page, member, channel_name)
        board = page.locator(".message", has_text="Attendance for the call")
        board.get_by_role("button", name="Attending").click()
        page.wait_for_load_state()
    # The private reply is shown at the foot of the channel and told to a screen reader where focus is.
    page.wait_for_function("document.getElementById('announce').textContent.includes('down as attending')")
    board = page.locator(".message", has_text="Attendance for the call")
    for name in ("Harriet Pemberton", "Felix Ravensworth", "Anjali Desborough"):
        assert re.search(rf"{name}\S*\s*(—|-)\s*Attending", board.inner_text()), board.inner_text()
    # The status icons are drawings with a name, not characters an emoji font must supply.
    attending = len(re.findall(r"(—|-)\s*Attending", board.inner_text()))  # the convener is attending too
    assert attending >= 3
    assert board.locator('svg[data-emoji="white_check_mark"][role="img"][aria-label="Tick"]').count() == attending
    assert not NEEDS_A_FONT.search(board.inner_text()), board.inner_text()
    board.scroll_into_view_if_needed()
    _axe(page, "the case channel with the board")
    page.screenshot(path=shots / "2-attendance-board.png")

    # Switching person keeps the view where they may see it: a member stays in the case channel,
    # someone outside the case goes to their Home, never to a channel they are not in.
    page.select_option("#who", CHAIR)
    page.click("#switch-person")
    page.wait_for_load_state()
    assert page.url.endswith(f"/as/{CHAIR}/c/" + page.url.rsplit("/", 1)[-1]) and channel_name in page.title()
    page.select_option("#who", MEMBER)
    page.click("#switch-person")
    page.wait_for_url(f"**/as/{MEMBER}/home")
    assert not page.locator(".nav-item", has_text="pmccg-").count()
    _axe(page, "App Home of someone outside the case")
    _as(page, PEOPLE_TEAM, channel_name)

    # Move the clock to the call: the agenda comes first, then the roll-call. The clock panel says
    # what each press will send, in words, and names nobody.
    said: list[str] = []
    _next_until(page, f"Agenda: {reference}", tries=20, said=said)
    _next_until(page, "Roll-call", tries=10, said=said)
    assert any(re.fullmatch(r"Next: chase to \d members?, \w{3} \d{2} \w{3} \d{2}:\d{2}", x) for x in said), said
    chased = {int(n) for x in said for n in re.findall(r"chase to (\d+) member", x)}
    assert chased == {3}, f"a chase goes only to the three who have not answered: {said}"
    assert any("agenda in the case channel" in x for x in said), said
    names = [n for n, _, _ in runtime.DEMO_PEOPLE.values()]
    assert not [x for x in said for n in names if n.split()[0] in x or n.split()[-1] in x], said
    assert page.locator(".message", has_text=f"Agenda: {reference}").count() == 1
    page.locator(".bk-header", has_text=f"Agenda: {reference}").evaluate("h => h.scrollIntoView()")
    _axe(page, "the agenda and roll-call")
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
    due = (sandbox.clock() + timedelta(days=21)).date().isoformat()
    _field(page, "action_1_due").fill(due)
    _axe(page, "the outcome form")
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
    _axe(page, "the owner's reminder DM")
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
    _axe(page, "the chair's App Home")
    page.screenshot(path=shots / "6-app-home.png")
    assert not page.locator(".slack-error").count(), page.locator(".slack-error").all_inner_texts()


def test_from_the_keyboard_a_refused_convene_form_comes_back_with_every_value_given(page: Any, shots: Path,
                                                                                     sandbox: Sandbox) -> None:
    # At 320 CSS pixels wide (a 1280-pixel window at 400% zoom) the page reflows: nothing scrolls sideways.
    page.set_viewport_size({"width": 320, "height": 640})
    page.goto(f"/as/{MANAGER}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    _axe(page, "#general, 320 pixels wide")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.reload()
    # The first Tab reaches the skip link, which moves past the sidebar.
    page.keyboard.press("Tab")
    assert _focused(page).endswith("Skip to messages"), _focused(page)
    page.keyboard.press("Enter")
    _tab_to(page, "#composer")
    page.keyboard.type("/pmccg convene")
    page.keyboard.press("Enter")
    dialog = page.locator('[role="dialog"]')
    dialog.wait_for()
    # A dialog named by its title, with focus moved into it (on the first field) and kept there.
    assert dialog.get_attribute("aria-modal") == "true"
    title_id = dialog.get_attribute("aria-labelledby")
    assert page.locator(f"#{title_id}").inner_text() == "Convene PMCCG"
    assert page.evaluate("document.querySelector('.app').inert"), "what is behind the dialog cannot be reached"
    assert _focused(page).startswith("select#profession--profession"), _focused(page)
    page.keyboard.press("Shift+Tab")
    assert _focused(page).startswith("button#[close_view]"), _focused(page)
    page.keyboard.press("Shift+Tab")
    assert _focused(page).startswith("button#modal-submit"), "Shift+Tab from the first control wraps to the last"
    page.keyboard.press("Tab")
    assert _focused(page).startswith("button#[close_view]"), "Tab from the last control wraps to the first"
    # Fill fields from the keyboard: a select with the arrow keys, text and a date and time typed, a box
    # ticked with Space.
    _tab_to(page, "#profession--profession")
    page.keyboard.press("ArrowDown")
    assert _field(page, "profession").input_value() != "", "the arrow keys choose in a closed select"
    assert page.locator('[role="dialog"]').count() == 1, "moving through a select sends nothing by itself"
    if _field(page, "profession").get_attribute("data-dispatch"):  # leaving it sends the choice; focus moves on
        with page.expect_navigation():
            page.keyboard.press("Tab")
    _tab_to(page, "#concern--concern")
    page.keyboard.type("Two medication errors.")
    call_day = (sandbox.clock() + timedelta(days=3)).date()
    _tab_to(page, "#call_date--call_date")
    for order in ("%m%d%Y", "%d%m%Y"):  # the browser's own locale orders the parts (en-US: month first)
        page.keyboard.type(f"{call_day:{order}}")
        if _field(page, "call_date").input_value() == call_day.isoformat():
            break
        _field(page, "call_date").fill("")
        _field(page, "call_date").focus()
    assert _field(page, "call_date").input_value() == call_day.isoformat()
    _tab_to(page, "#call_time--call_time")
    page.keyboard.type("1400")
    assert _field(page, "call_time").input_value() == "14:00"
    _tab_to(page, '.modal [data-block="short_notice"] input[type=checkbox]')
    page.keyboard.press("Space")
    assert page.locator('.modal [data-block="short_notice"] input[type=checkbox]').is_checked()
    _axe(page, "the convene form, opened from the keyboard")
    # Esc closes the form and focus goes back to what opened it.
    page.keyboard.press("Escape")
    dialog.wait_for(state="detached")
    assert _focused(page).startswith("input#composer"), _focused(page)

    # The channel list, the clock and the person switcher from the keyboard; focus stays where it was.
    _tab_to(page, "#nav-dm", key="Shift+Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/as/{MANAGER}/c/D{MANAGER}")
    _tab_to(page, "#clock-hour")
    page.keyboard.press("Enter")
    page.wait_for_function("document.activeElement.id === 'clock-hour'")
    _tab_to(page, "#who", key="Shift+Tab")
    page.keyboard.press("ArrowDown")
    assert page.url.endswith(f"/as/{MANAGER}/c/D{MANAGER}"), "choosing a person does not switch by itself"
    chosen = page.locator("#who").input_value()
    assert chosen != MANAGER
    _tab_to(page, "#switch-person")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/as/{chosen}/c/D{chosen}")  # from a direct message, to their own
    assert page.evaluate("document.activeElement.id") == "switch-person"

    # Opened again, filled in full, with a name in the concern: refused at the concern, nothing lost.
    _as(page, MANAGER)
    _type(page, "/pmccg convene")
    dialog.wait_for()
    given = _convene_form(page, "Kit Ashdown gave two doses twice.", sandbox.clock())
    page.click("#modal-submit")
    concern = _field(page, "concern")
    page.wait_for_selector('.modal [aria-invalid="true"]')
    assert [b.get_attribute("data-block") for b in page.locator(".modal .has-error").all()] == ["concern"]
    assert _form_values(page, given) == {**given, "short_notice": True}
    # The error is tied to its field, and focus is on the first field with an error.
    assert concern.get_attribute("aria-invalid") == "true"
    described = [page.locator(f"#{i}").inner_text() for i in concern.get_attribute("aria-describedby").split()]
    assert any("looks like a name" in text for text in described), described
    assert _focused(page).startswith("textarea#concern--concern"), _focused(page)
    _axe(page, "the convene form refused with an error")
    page.locator('.modal [data-block="concern"]').scroll_into_view_if_needed()
    page.screenshot(path=shots / "1b-convene-refused.png")

    # Fixing only the concern is enough: the case is convened.
    concern.fill("Two medication errors on night shifts.")
    page.click("#modal-submit")
    page.locator(".modal", has_text="convened").wait_for()
    _axe(page, "the convened modal")
    assert page.locator(".nav-item", has_text="pmccg-").count() == 1
    # The check does fail on a serious violation (an image with no text alternative), naming it.
    page.evaluate("document.querySelector('.modal-body').append(Object.assign(new Image(), {src: 'data:,'}))")
    with pytest.raises(AssertionError, match="critical image-alt"):
        _axe(page, "a page with an unnamed image")
