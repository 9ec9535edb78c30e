"""Every form the bot can open reads as plain English at the field (issue 14, rule 3).

The bot's forms are walked as people meet them: each is opened through the real HTTP path (a command
or a button, as Slack sends it) and submitted empty or wrong, so every refusal the bot gives is seen
too. A few forms only a later state shows (ten action point rows, a closing note that is not needed,
the other terms of reference) come from the same builders the listeners use. Each form fails on:

- a label saying "(optional)" (or "(required)"): Slack marks an optional input itself;
- an empty label, hint or placeholder, or one over Slack's limit;
- a word from JARGON, an identifier (snake_case), a raw user id, mention syntax or mrkdwn in plain text;
- an error keyed to no input block of the view (Slack refuses the whole answer: the person sees a
  generic failure instead of the error at the field), or one that is not a sentence.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.domain.closing import CloseCheck
from bot.domain.recording import to_record
from bot.domain.terms import load_terms
from handlers.slack import ids
from handlers.slack.listeners.case_close import close_view
from handlers.slack.listeners.convene import convene_view
from handlers.slack.listeners.outcome import MAX_ROWS, outcome_view
from storage.tables import ActionPoint, Case
from tests.factories import convene_state
from tests.slack_client import TEAM, submit_view
from tests.test_outcome_http import outcome_state

MANAGER, CHAIR, GOVERNANCE, OWNER = "U0MANAGER", "U0CHAIR01", "U0GOVERN1", "U0SERVICE"
# Words a person filling in a form should not have to know: programmers' words, abbreviations, Latin.
JARGON = re.compile(r"\b(n/a|e\.g|i\.e|etc|via|invalid|field|input|submit|payload|user ?id|null|utc|iso|datetime|"
                    r"timestamp|modal|block|api|dropdown|mandatory|enum|boolean|string|parse|validation|exception|"
                    r"nonce|seat|trigger)\b", re.IGNORECASE)
IDENTIFIER = re.compile(r"\b[a-z]+_[a-z_]+\b")
RAW_ID = re.compile(r"\b[UW][0-9A-Z]{8,}\b|<[@#!]")
LIMITS = {"label": 2000, "hint": 2000, "placeholder": 150}


# --- the checks ----------------------------------------------------------------------------------------------


def _plain(text: str, where: str) -> list[str]:
    problems = []
    if found := JARGON.search(text):
        problems.append(f"{where}: jargon {found.group(0)!r} in {text!r}")
    if found := IDENTIFIER.search(text.replace("/pmccg", "")):
        problems.append(f"{where}: an identifier {found.group(0)!r} in {text!r}")
    if found := RAW_ID.search(text):
        problems.append(f"{where}: {found.group(0)!r} shows as typed in plain text: {text!r}")
    return problems


def view_problems(view: dict[str, Any]) -> list[str]:
    """What reads badly in one form's labels, hints and placeholders."""
    name = view.get("callback_id", "?")
    problems: list[str] = []
    for block in view.get("blocks") or []:
        if block.get("type") != "input":
            continue
        where = f"{name}/{block.get('block_id')}"
        texts = {"label": block.get("label"), "hint": block.get("hint"),
                 "placeholder": (block.get("element") or {}).get("placeholder")}
        for part, obj in texts.items():
            if obj is None and part != "label":
                continue
            text = str((obj or {}).get("text", "")).strip()
            if not text:
                problems.append(f"{where}: empty {part}")
                continue
            if len(text) > LIMITS[part]:
                problems.append(f"{where}: {part} over Slack's {LIMITS[part]} characters")
            if (obj or {}).get("type") != "plain_text":
                problems.append(f"{where}: {part} is not plain text")
            if "*" in text:
                problems.append(f"{where}: mrkdwn in a plain-text {part}: {text!r}")
            problems += _plain(text, f"{where} {part}")
        label = str((block.get("label") or {}).get("text", ""))
        if re.search(r"\((optional|required)\)", label, re.IGNORECASE):
            marked = "optional" if block.get("optional") else "required"
            problems.append(f"{where}: the label {label!r} says what Slack already shows ({marked})")
        hint = str((block.get("hint") or {}).get("text", ""))
        if hint and not hint.rstrip().endswith((".", "?")):
            problems.append(f"{where}: the hint is not a sentence: {hint!r}")
    return problems


def error_problems(view: dict[str, Any], errors: dict[str, str]) -> list[str]:
    """What is wrong with the errors a submission of `view` was answered with."""
    name = view.get("callback_id", "?")
    inputs = {b.get("block_id") for b in view.get("blocks") or [] if b.get("type") == "input"}
    problems: list[str] = []
    for block_id, message in errors.items():
        where = f"{name}/{block_id} error"
        if block_id not in inputs:
            problems.append(f"{where}: keyed to no input block of the view ({sorted(inputs)})")
        text = str(message).strip()
        if not text or not (text[0].isupper() or text[0].isdigit()) or not text.endswith((".", "?", ")")):
            problems.append(f"{where}: not a sentence: {message!r}")
        problems += _plain(text, where)
    return problems


# --- walking the forms through the running bot ----------------------------------------------------------------


class Walk:
    """Opens the bot's forms as people would and keeps each view and each refusal it was answered with."""

    def __init__(self, bot: Any) -> None:
        self.bot = bot
        self.views: list[dict[str, Any]] = []
        self.refusals: list[tuple[dict[str, Any], dict[str, str]]] = []

    def opened(self, act: Any) -> dict[str, Any]:
        """Run `act` (a command or click that opens a form); the view as Slack holds it (with its id)."""
        count = len(self.bot.slack.calls_to("views.open")) + 1
        act()
        sent = self.bot.slack.wait_for("views.open", count=count)[count - 1].params["view"]
        held = [v for v in self.bot.slack.views.values() if v.get("callback_id") == sent["callback_id"]
                and v.get("private_metadata") == sent.get("private_metadata")]
        view = {**sent, "id": held[-1]["id"], "hash": held[-1]["hash"]}
        self.views.append(view)
        return view

    def refused(self, user: str, view: dict[str, Any], values: dict[str, Any]) -> dict[str, str]:
        body = submit_view(self.bot, user, view, values).json()
        assert body.get("response_action") == "errors", f"{view['callback_id']} was not refused: {body}"
        self.refusals.append((view, body["errors"]))
        return dict(body["errors"])

    def command(self, user: str, text: str) -> dict[str, Any]:
        return self.opened(lambda: self.bot.command(user, text))

    def click(self, user: str, action_id: str, value: str, **where: Any) -> dict[str, Any]:
        return self.opened(lambda: self.bot.click(user, action_id, value, **where))

    def private_click(self, user: str, action_id: str, value: str) -> dict[str, Any]:
        """A button on a private reply (the action point list), as Slack sends it with its reply address."""
        payload = {"type": "block_actions", "team": TEAM, "user": {"id": user}, "api_app_id": "A0001",
                   "trigger_id": f"trigger-{uuid.uuid4().hex[:8]}", "response_url": self.bot.response_url,
                   "container": {"type": "message", "message_ts": "1.0", "channel_id": "C0GENERAL",
                                 "is_ephemeral": True},
                   "actions": [{"action_id": action_id, "block_id": "b", "type": "button", "value": value,
                                "action_ts": str(time.time())}]}
        return self.opened(lambda: self.bot.post_payload(payload))


def _case(bot: Any) -> Case:
    with bot.services.sessions() as session:
        return session.exec(select(Case)).one()


def _choose_profession(bot: Any, view: dict[str, Any], profession: str) -> dict[str, Any]:
    """Choose the profession in the open convene form; the view Slack shows after the bot's update."""
    values = {"profession": {"profession": {"type": "static_select", "selected_option": {"value": profession}}}}
    seen = len(bot.slack.calls_to("views.update"))
    bot.post_payload({
        "type": "block_actions", "team": TEAM, "user": {"id": MANAGER, "team_id": TEAM["id"]}, "api_app_id": "A0001",
        "trigger_id": f"trigger-{uuid.uuid4().hex[:8]}", "container": {"type": "view", "view_id": view["id"]},
        "view": {**view, "state": {"values": values}},
        "actions": [{"type": "static_select", "action_id": "profession", "block_id": "profession",
                     "selected_option": {"value": profession}, "action_ts": str(time.time())}]})
    (update,) = bot.slack.wait_for("views.update", count=seen + 1)[seen:]
    return {**update.params["view"], "id": view["id"]}


def _walk(bot: Any) -> Walk:
    walk = Walk(bot)
    # Convening: the empty form, refused empty; then with a profession the roster has no lead for.
    convene = walk.command(MANAGER, "convene")
    walk.refused(MANAGER, convene, {})
    no_lead = _choose_profession(bot, convene, "pharmacy")
    walk.views.append(no_lead)
    state = convene_state(bot.clock())
    state["seat_professional_lead.pharmacy"] = {"seat_professional_lead": state.pop("seat_professional_lead")[
        "seat_professional_lead"]}
    state["profession"] = {"profession": {"type": "static_select", "selected_option": {"value": "pharmacy"}}}
    state["seat_service_lead"] = state["seat_line_manager"]  # one person in two roles
    walk.refused(MANAGER, no_lead, state)

    bot.submit(MANAGER, "convene", convene_state(bot.clock()))
    bot.slack.wait_for("views.update", lambda c: "is convened" in str(c.params.get("view")))
    case = _case(bot)
    ref, room, header = case.reference, case.room_id, case.header_ref

    # Before the call: moving or cancelling it, a deputy, the roster.
    reschedule = walk.click(MANAGER, ids.CASE_RESCHEDULE, ref, channel=room, message_ts=header)
    walk.refused(MANAGER, reschedule, {})
    walk.refused(MANAGER, walk.click(MANAGER, ids.CASE_CANCEL, ref, channel=room, message_ts=header), {})
    walk.refused(CHAIR, walk.click(CHAIR, ids.SENDING_DEPUTY, ref, channel=f"D{CHAIR}"), {})
    walk.refused(MANAGER, walk.click(MANAGER, ids.QUORUM_INVITE_DEPUTY, ref, channel=f"D{MANAGER}"), {})
    walk.refused(GOVERNANCE, walk.click(GOVERNANCE, ids.ROSTER_EDIT, ""), {})

    # The outcome: refused empty and with half an action point; fairness; then recorded.
    outcome = walk.command(CHAIR, f"outcome {ref}")
    walk.refused(CHAIR, outcome, {})
    half_row = {"action_1_description": {"action_1_description": {"type": "plain_text_input", "value": "Review"}}}
    walk.refused(CHAIR, outcome, {**outcome_state(), **half_row,
                                  "action_1_owner": {"action_1_owner": {"type": "users_select", "selected_user": None}},
                                  "action_1_due": {"action_1_due": {"type": "datepicker", "selected_date": None}}})
    walk.refused(CHAIR, walk.command(CHAIR, f"fairness {ref}"), {})
    recorded = submit_view(bot, CHAIR, walk.command(CHAIR, f"outcome {ref}"), outcome_state()).json()
    assert recorded["response_action"] == "update", recorded

    # Action points: one more, an update, a new due date; then closing with one still open.
    walk.refused(CHAIR, walk.command(CHAIR, f"action {ref}"), {})
    with bot.services.sessions() as session:
        item = session.exec(select(ActionPoint).where(ActionPoint.owner_id == OWNER)).first()
    assert item is not None
    walk.refused(OWNER, walk.private_click(OWNER, ids.ACTION_ADD_UPDATE, str(item.id)), {})
    walk.refused(OWNER, walk.private_click(OWNER, ids.ACTION_NEW_DUE, str(item.id)), {})
    walk.refused(CHAIR, walk.command(CHAIR, f"close {ref}"), {})

    # At the call: marking someone present, correcting the roll-call.
    bot.clock.move_to(case.call_at + timedelta(minutes=1))
    walk.refused(CHAIR, walk.click(CHAIR, ids.ROLL_CALL_MARK_OTHER, ref, channel=room), {})
    walk.refused(CHAIR, walk.click(CHAIR, ids.ROLL_CALL_CORRECT, ref, channel=room), {})

    # What only a later state shows, from the listeners' own builders.
    with bot.services.sessions() as session:
        walk.views.append(outcome_view(to_record(session, session.get(Case, case.id)), rows=MAX_ROWS))
    walk.views.append(close_view(CloseCheck(reference=ref, open_items=0, outcome_recorded=True)))
    opg = load_terms(Path(__file__).resolve().parents[1] / "bot" / "domain" / "presets" / "opg.toml")
    walk.views.append(convene_view(opg, "Europe/London", {}))
    return walk


MODALS = {value for name, value in vars(ids).items() if name.endswith("_VIEW")}


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)  # the wording does not depend on the database
def test_every_form_the_bot_opens_reads_plainly_and_is_refused_only_at_its_own_fields(clocked_bot: Any) -> None:
    walk = _walk(clocked_bot)
    assert {v["callback_id"] for v in walk.views} == MODALS, "every form the bot can open is walked"
    assert {v["callback_id"] for v, _ in walk.refusals} == MODALS, "every form is seen refused"
    problems = [p for view in walk.views for p in view_problems(view)]
    problems += [p for view, errors in walk.refusals for p in error_problems(view, errors)]
    assert not problems, "\n".join(problems)
    # The convene form after a profession without a lead on the roster says so, at the lead's seat.
    lead = next(b for b in walk.views[1]["blocks"] if str(b.get("block_id")).startswith("seat_professional_lead"))
    assert "no professional lead for pharmacy" in lead["hint"]["text"]


# --- the checks do fail -----------------------------------------------------------------------------------------


def _input(block_id: str, label: str, *, optional: bool = False, hint: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "input", "block_id": block_id, "optional": optional,
                             "label": {"type": "plain_text", "text": label},
                             "element": {"type": "plain_text_input", "action_id": block_id}}
    if hint is not None:
        block["hint"] = {"type": "plain_text", "text": hint}
    return block


@pytest.mark.parametrize(("block", "found"), [
    pytest.param(_input("extra", "Extra members (optional)", optional=True), "says what Slack already shows",
                 id="optional twice"),
    pytest.param(_input("note", "Note", hint="  "), "empty hint", id="empty hint"),
    pytest.param(_input("when", "When", hint="Enter a valid datetime."), "jargon 'datetime'", id="jargon"),
    pytest.param(_input("who", "Who", hint="The user_id of the owner."), "an identifier 'user_id'", id="identifier"),
    pytest.param(_input("who", "Who", hint="Ask <@U0GOVERN1>."), "shows as typed", id="mention in plain text"),
    pytest.param(_input("why", "*Why*", hint="Why it moves."), "mrkdwn in a plain-text label", id="mrkdwn"),
])
def test_a_form_reading_badly_is_caught(block: dict[str, Any], found: str) -> None:
    problems = view_problems({"callback_id": "example", "blocks": [block]})
    assert any(found in p for p in problems), problems


@pytest.mark.parametrize(("errors", "found"), [
    pytest.param({"seat_professional_lead": "Choose a lead."}, "keyed to no input block", id="renamed block"),
    pytest.param({"reason": "required"}, "not a sentence", id="not a sentence"),
    pytest.param({"reason": "This field is invalid."}, "jargon", id="jargon"),
])
def test_an_error_that_slack_would_refuse_or_that_reads_badly_is_caught(errors: dict[str, str], found: str) -> None:
    view = {"callback_id": "example", "blocks": [_input("reason", "Reason"), _input(
        "seat_professional_lead.nursing", "Professional lead")]}
    problems = error_problems(view, errors)
    assert any(found in p for p in problems), problems
