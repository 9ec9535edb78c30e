"""Recording the outcome in Slack: the outcome form, revisiting fairness, adding an action point later.

HTTP tests drive the running bot as Slack would (signed clicks, commands and submissions) and
assert what Slack was sent and what the case record holds. Domain tests check record_outcome's
validation on both backends. Nothing here ticks the scheduler: circulation is another module's.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.clock import now
from bot.domain import cases, outcomes
from bot.domain.action_points import NewAction
from bot.domain.errors import InvalidInput, NotAllowed
from bot.domain.fairness import PRINCIPLES
from bot.domain.history import events
from bot.domain.outcomes import OutcomeForm
from bot.domain.recording import to_record
from bot.domain.terms import Terms
from bot.sandbox.slack_api import FakeSlack
from handlers.slack.listeners.outcome import outcome_view
from storage.db import SessionFactory, transaction
from storage.tables import ActionPoint, Case, CaseStatus, FairnessAnswer, Outcome, ScheduledMessage
from tests.factories import DEACTIVATED, HERE, LONDON, STAFF_MEMBER, all_names, convene_state, load_roster
from tests.scheduling import convene_at
from tests.slack_client import opened_view, submit_view

STAFF_NAME = STAFF_MEMBER[1]
FIELDS = {
    "process": "static_select", "rationale": "plain_text_input", "risk_level": "static_select",
    "risk_notes": "plain_text_input", "ml_policy": "radio_buttons", "legal_advice": "radio_buttons",
    "welfare": "radio_buttons", "line_manager_support": "plain_text_input", "quorate_stated": "radio_buttons",
    "quorum_statement": "plain_text_input",
    **{f"fairness_{p.key}": "radio_buttons" for p in PRINCIPLES},
    **{f"fairness_{p.key}_note": "plain_text_input" for p in PRINCIPLES},
}


# --- helpers -----------------------------------------------------------------------------------------


def _convened(bot: Any) -> Case:
    bot.submit("U0MANAGER", "convene", convene_state(now()))
    bot.slack.wait_for("views.update")
    with bot.services.sessions() as session:
        return session.exec(select(Case)).one()


def _element(kind: str, value: Any) -> dict[str, Any]:
    if kind == "plain_text_input":
        return {"type": kind, "value": value}
    if kind in ("static_select", "radio_buttons"):
        return {"type": kind, "selected_option": {"value": value} if value else None}
    if kind == "users_select":
        return {"type": kind, "selected_user": value}
    return {"type": kind, "selected_date": value}


def _row(n: int, description: str | None, owner: str | None, due: date | None) -> dict[str, Any]:
    """One action point row as view.state.values holds it."""
    elements = {f"action_{n}_description": _element("plain_text_input", description),
                f"action_{n}_owner": _element("users_select", owner),
                f"action_{n}_due": _element("datepicker", due.isoformat() if due else None)}
    return {field: {field: element} for field, element in elements.items()}


def _due(days: int = 14) -> date:
    return now().astimezone(LONDON).date() + timedelta(days=days)


def outcome_state(*rows: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """view.state.values of a complete outcome form (no roll-call taken), with `overrides` by field."""
    values: dict[str, Any] = {
        "process": "informal", "rationale": "A training need rather than a conduct matter: supervised practice first.",
        "risk_level": "moderate", "risk_notes": None, "ml_policy": "no", "legal_advice": "no", "welfare": "yes",
        "line_manager_support": "Weekly check-in with the service lead.", "quorate_stated": "yes",
        "quorum_statement": "The chair counted four members on the call, the nursing lead among them.",
        **{f"fairness_{p.key}": "yes" for p in PRINCIPLES}, **{f"fairness_{p.key}_note": None for p in PRINCIPLES},
    }
    values.update(overrides)
    state = {field: {field: _element(FIELDS[field], value)} for field, value in values.items()}
    for row in rows or (_row(1, "Arrange supervised medication rounds", "U0SERVICE", _due()),):
        state.update(row)
    return state


def _open_form(bot: Any, user: str, text: str) -> dict[str, Any]:
    """Open a form with `/pmccg <text>` as `user`; the view as the stand-in holds it (id, nonce)."""
    count = len(bot.slack.calls_to("views.open")) + 1
    bot.command(user, text)
    return opened_view(bot.slack, count)


def _submit_outcome(bot: Any, case: Case, user: str = "U0CHAIR01", *rows: dict[str, Any],
                    view: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    """Open the outcome form as `user` (unless `view` is one already open) and submit it."""
    view = view or _open_form(bot, user, f"outcome {case.reference}")
    response = submit_view(bot, user, view, outcome_state(*rows, **overrides))
    assert response.status_code == 200
    return dict(response.json())


def _block(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)


def _view_text(view: dict[str, Any]) -> str:
    return json.dumps(view["blocks"], ensure_ascii=False)


def _written(bot: Any) -> tuple[int, int, int]:
    with bot.services.sessions() as session:
        return (len(session.exec(select(Outcome)).all()), len(session.exec(select(FairnessAnswer)).all()),
                len(session.exec(select(ActionPoint)).all()))


# --- opening the form ------------------------------------------------------------------------------------


def test_the_chair_opens_the_outcome_form_with_every_field(bot: Any) -> None:
    case = _convened(bot)
    bot.click("U0CHAIR01", "case_record_outcome", case.reference, channel=case.room_id)
    (opened,) = bot.slack.wait_for("views.open")
    view = opened.params["view"]
    # The form carries only its nonce: which case it is about is kept by the bot (bot/domain/forms.py).
    assert view["callback_id"] == "outcome" and case.reference not in view["private_metadata"]
    assert len(view["private_metadata"]) >= 32
    assert view["title"]["text"] == "Outcome"
    block_ids = {b.get("block_id") for b in view["blocks"]}
    assert set(FIELDS) <= block_ids  # no roll-call was recorded: quorum is asked for
    assert {"action_1_description", "action_1_owner", "action_1_due"} <= block_ids
    assert "action_2_description" not in block_ids
    for p in PRINCIPLES:
        block = _block(view, f"fairness_{p.key}")
        assert block["label"]["text"] == p.title and block["hint"]["text"] == p.question
        assert [o["value"] for o in block["element"]["options"]] == ["yes", "no", "unknown"]
    assert _block(view, "rationale")["optional"] is False
    assert all(_block(view, f"action_1_{part}")["optional"] for part in ("description", "owner", "due"))
    assert _block(view, "action_1_owner")["element"]["type"] == "users_select"
    assert _block(view, "action_1_due")["element"]["type"] == "datepicker"
    assert "Add another action point" in _view_text(view)
    labels = _view_text(view)
    for question in ("Does the medical-liability policy need notifying?", "Is legal advice needed?",
                     "Was welfare / pastoral support offered to the staff member?", "Was the call quorate?"):
        assert question in labels


def test_the_roll_call_result_is_shown_instead_of_asking_whether_the_call_was_quorate(bot: Any) -> None:
    case = _convened(bot)
    with transaction(bot.services.sessions) as session:
        row = session.get(Case, case.id)
        assert row is not None
        row.quorate, row.quorum_reason = True, "quorate: 4 of 4 present"
        session.add(row)
    bot.command("U0CHAIR01", f"outcome {case.reference}")
    (opened,) = bot.slack.wait_for("views.open")
    view = opened.params["view"]
    block_ids = {b.get("block_id") for b in view["blocks"]}
    assert "quorate_stated" not in block_ids and "quorum_statement" not in block_ids
    assert "From the roll-call: quorate: 4 of 4 present" in _view_text(view)


def test_someone_not_chair_deputy_chair_or_governance_is_refused_privately(bot: Any) -> None:
    case = _convened(bot)
    bot.click("U0MANAGER", "case_record_outcome", case.reference, channel=case.room_id)
    (reply,) = bot.slack.wait_for("response")
    assert reply.params["response_type"] == "ephemeral"
    assert f"Only the chair of {case.reference}" in reply.params["text"]
    assert bot.slack.calls_to("views.open") == []
    # A submission from them of the chair's form (an edited request) is refused too, and writes nothing.
    chairs = _open_form(bot, "U0CHAIR01", f"outcome {case.reference}")
    body = _submit_outcome(bot, case, "U0MANAGER", view=chairs)
    assert body["response_action"] == "update" and "was not opened for you" in _view_text(body["view"])
    assert _written(bot) == (0, 0, 0)


def test_governance_may_open_the_form(bot: Any) -> None:
    case = _convened(bot)
    bot.click("U0GOVERN1", "case_record_outcome", case.reference, channel="DU0GOVERN1")

    (opened,) = bot.slack.wait_for("views.open")
    assert opened.params["view"]["callback_id"] == "outcome"
    assert not [c for c in bot.slack.calls_to("response") if "Only the chair" in c.params.get("text", "")]


@pytest.mark.parametrize(("text", "answer"), [
    pytest.param("outcome", "Say which case: `/pmccg outcome` followed by the case reference.", id="no reference"),
    pytest.param("outcome PMCCG-1999-999", "There is no case PMCCG-1999-999.", id="an unknown reference"),
])
def test_the_outcome_command_without_a_known_reference_answers_privately(bot: Any, text: str, answer: str) -> None:
    _convened(bot)
    bot.command("U0CHAIR01", text)
    (reply,) = bot.slack.wait_for("response")
    assert reply.params["response_type"] == "ephemeral"
    assert reply.params["text"] == answer
    assert bot.slack.calls_to("views.open") == []


# --- "Add another action point" ----------------------------------------------------------------------------


def _strip_initial(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = json.loads(json.dumps(blocks))
    for block in out:
        for key in [k for k in block.get("element", {}) if k.startswith("initial_")]:
            del block["element"][key]
    return out


def test_adding_an_action_point_row_keeps_what_was_typed_and_changes_nothing_else(bot: Any) -> None:
    case = _convened(bot)
    bot.click("U0CHAIR01", "case_record_outcome", case.reference, channel=case.room_id)
    opened = opened_view(bot.slack)
    typed = {
        "process": {"process": _element("static_select", "formal")},
        "rationale": {"rationale": _element("plain_text_input", "Repeated errors despite support.")},
        "fairness_heard": {"fairness_heard": _element("radio_buttons", "unknown")},
        **_row(1, "Review the rota", "U0SERVICE", _due(10)),
    }
    bot.click("U0CHAIR01", "outcome_add_action_row", case.reference, view={**opened, "state": {"values": typed}})
    (update,) = bot.slack.wait_for("views.update", predicate=lambda c: c.params.get("view_id") == opened["id"])
    assert update.params["hash"] == opened["hash"]
    view = update.params["view"]
    assert _block(view, "rationale")["element"]["initial_value"] == "Repeated errors despite support."
    assert _block(view, "process")["element"]["initial_option"]["value"] == "formal"
    assert _block(view, "fairness_heard")["element"]["initial_option"]["value"] == "unknown"
    assert _block(view, "action_1_description")["element"]["initial_value"] == "Review the rota"
    assert _block(view, "action_1_owner")["element"]["initial_user"] == "U0SERVICE"
    assert _block(view, "action_1_due")["element"]["initial_date"] == _due(10).isoformat()
    assert "initial_value" not in _block(view, "action_2_description")["element"]
    # Nothing else changed: without the new row and the carried values, it is the view that was opened.
    new_row = {"action_2_description", "action_2_owner", "action_2_due"}
    assert _strip_initial([b for b in view["blocks"] if b.get("block_id") not in new_row]) == opened["blocks"]
    for key in ("callback_id", "title", "submit", "close", "private_metadata"):
        assert view[key] == opened[key]


def test_adding_a_row_to_a_form_with_every_field_filled_keeps_every_value(bot: Any) -> None:
    case = _convened(bot)
    opened = _open_form(bot, "U0CHAIR01", f"outcome {case.reference}")
    _add_row(bot, "U0CHAIR01", opened)
    bot.slack.wait_for("views.update", lambda c: c.params["view_id"] == opened["id"])
    two_rows = bot.slack.views[opened["id"]]
    notes = {f"fairness_{p.key}_note": f"Note on {p.key}." for p in PRINCIPLES}
    typed = outcome_state(_row(1, "Review the rota", "U0SERVICE", _due(10)),
                          _row(2, "Supervised rounds", "U0PEOPLE1", _due(20)),
                          risk_notes="Rota gap if restricted.", fairness_heard="unknown", **notes)
    _add_row(bot, "U0CHAIR01", two_rows, typed)
    (_, update) = bot.slack.wait_for("views.update", lambda c: c.params["view_id"] == opened["id"], count=2)
    view = update.params["view"]
    shown: dict[str, Any] = {}
    for block in view["blocks"]:
        element = block.get("element") or {}
        start = next((v for k, v in element.items() if k.startswith("initial_")), None)
        if block.get("type") == "input" and start is not None:
            shown[block["block_id"]] = start["value"] if isinstance(start, dict) else start
    given = {}
    for field, by_action in typed.items():
        entry = by_action[field]
        value = entry.get("value") or entry.get("selected_user") or entry.get("selected_date") or (
            (entry.get("selected_option") or {}).get("value"))
        if value:
            given[field] = value
    assert shown == given  # every value typed, in every field and both rows; row 3 starts empty
    assert {"action_3_description", "action_3_owner", "action_3_due"} <= {b.get("block_id") for b in view["blocks"]}


def _add_row(bot: Any, user: str, view: dict[str, Any], values: dict[str, Any] | None = None) -> None:
    bot.click(user, "outcome_add_action_row", "", view={**view, "state": {"values": values or {}}})


def test_the_form_takes_at_most_ten_action_point_rows(bot: Any) -> None:
    case = _convened(bot)
    opened = _open_form(bot, "U0CHAIR01", f"outcome {case.reference}")
    for rows in range(2, 11):
        _add_row(bot, "U0CHAIR01", bot.slack.views[opened["id"]])
        updates = bot.slack.wait_for("views.update", lambda c: c.params["view_id"] == opened["id"], count=rows - 1)
    text = _view_text(updates[-1].params["view"])
    assert "action_10_due" in text and "action_11_description" not in text
    assert "Add another action point" not in text and f"/pmccg action {case.reference}" in text
    # The submission reads the ten rows the bot built, and no more (twelve in an edited payload).
    rows = [_row(n, f"Item {n}", "U0SERVICE", _due()) for n in range(1, 13)]
    assert _submit_outcome(bot, case, "U0CHAIR01", *rows, view=opened)["response_action"] == "update"
    assert _written(bot)[2] == 10


def test_another_row_is_built_by_the_bot_whatever_blocks_the_click_carries(bot: Any) -> None:
    case = _convened(bot)
    opened = _open_form(bot, "U0CHAIR01", f"outcome {case.reference}")
    injected = [{"type": "section", "block_id": "phish", "text": {"type": "mrkdwn", "text": (
        "<!channel> Your session expired: <https://evil.example/login|Re-authenticate>")}},
        {"type": "input", "block_id": "password", "label": {"type": "plain_text", "text": "Password"},
         "element": {"type": "plain_text_input", "action_id": "password"}}]
    typed = {
        "rationale": {"rationale": _element("plain_text_input", "Repeated errors despite support.")},
        "process": {"process": _element("static_select", "<!channel>")},  # not one of the bot's options
        "action_1_owner": {"action_1_owner": _element("users_select", "U0X> <!channel>")},  # not a user id
        "password": {"password": _element("plain_text_input", "hunter2")},
    }
    edited = {**opened, "blocks": injected + opened["blocks"], "title": {"type": "plain_text", "text": "Sign in"},
              "callback_id": "convene"}
    _add_row(bot, "U0CHAIR01", edited, typed)
    (update,) = bot.slack.wait_for("views.update", lambda c: c.params["view_id"] == opened["id"])
    view = update.params["view"]
    with bot.services.sessions() as session:
        built = outcome_view(to_record(session, session.get(Case, case.id)), rows=2, nonce=opened["private_metadata"])
    assert (view["callback_id"], view["title"], view["private_metadata"]) == (
        "outcome", built["title"], opened["private_metadata"])
    assert _strip_initial(view["blocks"]) == built["blocks"]  # the bot's own blocks, nothing of the payload's
    assert _block(view, "rationale")["element"]["initial_value"] == "Repeated errors despite support."
    assert "initial_option" not in _block(view, "process")["element"]
    assert "initial_user" not in _block(view, "action_1_owner")["element"]
    text = json.dumps(view)
    assert "evil.example" not in text and "hunter2" not in text and "<!channel>" not in text


def test_another_row_only_for_the_view_the_bot_opened_for_that_person(bot: Any, caplog: Any) -> None:
    case = _convened(bot)
    chairs = _open_form(bot, "U0CHAIR01", f"outcome {case.reference}")
    governance = _open_form(bot, "U0GOVERN1", f"outcome {case.reference}")
    caplog.set_level("WARNING", logger="bot.domain.forms")
    # Governance's own form, pointed at the chair's view; then the chair's form itself, clicked by governance.
    _add_row(bot, "U0GOVERN1", {**governance, "id": chairs["id"]})
    _add_row(bot, "U0GOVERN1", chairs)

    def refused() -> list[str]:
        return sorted(getattr(r, "reason", "") for r in caplog.records if getattr(r, "event", "") == "form_refused")

    deadline = time.monotonic() + 5
    while len(refused()) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert refused() == ["other_user", "other_view"]
    forms_updated = {chairs["id"], governance["id"]}
    assert [c for c in bot.slack.calls_to("views.update") if c.params["view_id"] in forms_updated] == []
    # The chair's own click still works, on the chair's view only.
    _add_row(bot, "U0CHAIR01", chairs)
    (update,) = bot.slack.wait_for("views.update", lambda c: c.params["view_id"] in forms_updated)
    assert update.params["view_id"] == chairs["id"]
    assert "action_2_description" in _view_text(update.params["view"])


# --- submitting -------------------------------------------------------------------------------------


def test_a_missing_rationale_is_shown_at_the_field_and_nothing_is_written(bot: Any) -> None:
    case = _convened(bot)
    body = _submit_outcome(bot, case, rationale="   ")
    assert body["response_action"] == "errors"
    assert body["errors"] == {"rationale": "The rationale is required: say why this process is recommended."}
    assert _written(bot) == (0, 0, 0)


def test_the_staff_members_name_in_the_rationale_is_refused_at_the_field(bot: Any) -> None:
    case = _convened(bot)
    body = _submit_outcome(bot, case, rationale=f"{STAFF_NAME} needs supervised practice first.")
    assert body["response_action"] == "errors"
    assert set(body["errors"]) == {"rationale"} and "name" in body["errors"]["rationale"]
    assert _written(bot) == (0, 0, 0)


def _two_row_form(bot: Any, case: Case) -> dict[str, Any]:
    """The chair's outcome form after one "Add another action point"."""
    view = _open_form(bot, "U0CHAIR01", f"outcome {case.reference}")
    _add_row(bot, "U0CHAIR01", view)
    bot.slack.wait_for("views.update", lambda c: c.params["view_id"] == view["id"])
    return dict(bot.slack.views[view["id"]])


def test_an_empty_row_is_ignored_and_a_partly_filled_row_is_refused_at_its_own_fields(bot: Any) -> None:
    case = _convened(bot)
    body = _submit_outcome(bot, case, "U0CHAIR01", _row(1, None, None, None),
                           _row(2, "Share the incident review", None, None), view=_two_row_form(bot, case))
    assert body["response_action"] == "errors"
    assert set(body["errors"]) == {"action_2_owner", "action_2_due"}
    assert _written(bot) == (0, 0, 0)


def test_a_valid_outcome_records_the_answers_the_action_points_and_an_inquiry_for_a_no(bot: Any) -> None:
    case = _convened(bot)
    body = _submit_outcome(bot, case, "U0CHAIR01", _row(1, "Arrange supervised medication rounds", "U0SERVICE",
                                                        _due()), _row(2, None, None, None),
                           view=_two_row_form(bot, case),
                           fairness_heard="no", fairness_heard_note="Awaiting the practitioner's statement.")
    assert body["response_action"] == "update"
    confirmation = _view_text(body["view"])
    assert "Recorded: the outcome of" in confirmation and "being circulated within a minute" in confirmation
    assert "1 fairness answer(s) call for further inquiry" in confirmation
    with bot.services.sessions() as session:
        outcome = session.exec(select(Outcome)).one()
        assert (outcome.process, outcome.risk_level, outcome.welfare_offered) == ("informal", "moderate", "yes")
        assert outcome.quorate is True and outcome.recorded_by == "U0CHAIR01"
        answers = outcomes.current_fairness(session, case.id or 0)
        assert {k: a.answer for k, a in answers.items()} == {p.key: "no" if p.key == "heard" else "yes"
                                                             for p in PRINCIPLES}
        items = session.exec(select(ActionPoint).order_by(ActionPoint.number)).all()
        assert [(i.number, i.source, i.owner_id) for i in items] == [(1, "outcome", "U0SERVICE"),
                                                                     (2, "fairness", "U0CHAIR01")]
        assert items[1].principle == "heard" and items[1].status == "open"
        circulation = session.exec(select(ScheduledMessage).where(ScheduledMessage.kind == "circulation")).one()
        assert circulation.case_id == case.id and circulation.state == "pending"
        assert any(e.kind == "outcome_recorded" for e in events(session, case.id or 0))


def test_recording_the_outcome_twice_is_refused(bot: Any) -> None:
    case = _convened(bot)
    # The chair and governance both open the form; the chair records first.
    chairs = _open_form(bot, "U0CHAIR01", f"outcome {case.reference}")
    governance = _open_form(bot, "U0GOVERN1", f"outcome {case.reference}")
    assert _submit_outcome(bot, case, view=chairs)["response_action"] == "update"
    body = _submit_outcome(bot, case, "U0GOVERN1", view=governance, rationale="A second go.")
    assert body["response_action"] == "update"
    assert "already recorded" in _view_text(body["view"])
    assert _written(bot)[0] == 1
    # And the form does not open again: the refusal is private.
    bot.click("U0CHAIR01", "case_record_outcome", case.reference, channel=case.room_id)
    (reply,) = bot.slack.wait_for("response")
    assert "already recorded" in reply.params["text"] and reply.params["response_type"] == "ephemeral"


# --- each form counts once, and only the bot's own forms count --------------------------------------------


def _circulations(bot: Any) -> int:
    with bot.services.sessions() as session:
        return len(session.exec(select(ScheduledMessage).where(ScheduledMessage.kind == "circulation")).all())


def test_the_same_outcome_form_delivered_twice_records_once_and_says_so_quietly(bot: Any) -> None:
    case = _convened(bot)
    view = _open_form(bot, "U0CHAIR01", f"outcome {case.reference}")
    first = _submit_outcome(bot, case, view=view)
    again = _submit_outcome(bot, case, view=view)  # a replayed or doubled delivery of the same view
    assert "Recorded: the outcome of" in _view_text(first["view"])
    assert again["response_action"] == "update" and "Already saved" in json.dumps(again["view"]["title"])
    assert "saved once. Nothing more was changed" in _view_text(again["view"])
    assert _written(bot) == (1, 5, 1) and _circulations(bot) == 1
    with bot.services.sessions() as session:
        assert [e.kind for e in events(session, case.id or 0)].count("outcome_recorded") == 1


def test_the_same_outcome_form_delivered_in_parallel_records_once(bot: Any) -> None:
    case = _convened(bot)
    view = _open_form(bot, "U0CHAIR01", f"outcome {case.reference}")
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: _submit_outcome(bot, case, view=view), range(4)))
    titles = sorted(a["view"]["title"]["text"] for a in answers)
    assert titles == ["Already saved", "Already saved", "Already saved", "Outcome"]
    assert _written(bot) == (1, 5, 1) and _circulations(bot) == 1


@pytest.mark.parametrize("metadata", [
    pytest.param("{reference}", id="the case reference, as forms carried before"),
    pytest.param('{{"case": "{reference}", "channel": "C0OTHER", "ts": "1.0"}}', id="made-up metadata"),
    pytest.param("", id="none"),
])
def test_an_outcome_form_the_bot_did_not_open_changes_nothing(bot: Any, metadata: str, caplog: Any) -> None:
    case = _convened(bot)
    caplog.set_level("WARNING", logger="bot.domain.forms")
    response = bot.submit("U0CHAIR01", "outcome", outcome_state(), private_metadata=metadata.format(
        reference=case.reference))
    body = response.json()
    assert body["response_action"] == "update" and "was not opened for you" in _view_text(body["view"])
    assert _written(bot) == (0, 0, 0) and _circulations(bot) == 0
    assert [getattr(r, "reason", "") for r in caplog.records if getattr(r, "event", "") == "form_refused"] == [
        "unknown"]


def test_a_form_of_another_kind_is_refused_at_the_outcome_callback(bot: Any) -> None:
    case = _convened(bot)
    _submit_outcome(bot, case)
    fairness = _open_form(bot, "U0CHAIR01", f"fairness {case.reference}")
    # The fairness form's nonce and view, sent to the outcome callback (an edited callback_id).
    body = bot.submit("U0CHAIR01", "outcome", outcome_state(), view_id=fairness["id"],
                      private_metadata=fairness["private_metadata"]).json()
    assert "was not opened for you" in _view_text(body["view"])
    assert _written(bot)[0] == 1


# --- revisiting fairness, adding an action point later ----------------------------------------------------


def _fairness_values(answers: dict[str, str], notes: dict[str, str] | None = None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for p in PRINCIPLES:
        values[f"fairness_{p.key}"] = {f"fairness_{p.key}": _element("radio_buttons", answers.get(p.key, "yes"))}
        note = (notes or {}).get(p.key)
        values[f"fairness_{p.key}_note"] = {f"fairness_{p.key}_note": _element("plain_text_input", note)}
    return values


def test_revisiting_fairness_appends_answers_and_keeps_the_old_ones(bot: Any) -> None:
    case = _convened(bot)
    _submit_outcome(bot, case, fairness_heard="no", fairness_heard_note="Statement awaited.")
    view = _open_form(bot, "U0CHAIR01", f"fairness {case.reference}")
    assert view["callback_id"] == "fairness_revisit" and case.reference not in view["private_metadata"]
    assert _block(view, "fairness_heard")["element"]["initial_option"]["value"] == "no"
    assert _block(view, "fairness_heard_note")["element"]["initial_value"] == "Statement awaited."
    assert _block(view, "fairness_welfare")["element"]["initial_option"]["value"] == "yes"

    values = _fairness_values({"heard": "yes", "equity": "unknown"})
    response = submit_view(bot, "U0CHAIR01", view, values)
    assert response.json()["response_action"] == "update"
    # Delivered again: saved once, the answers and inquiries are not added twice.
    again = submit_view(bot, "U0CHAIR01", view, values).json()
    assert again["view"]["title"]["text"] == "Already saved"
    with bot.services.sessions() as session:
        rows = session.exec(select(FairnessAnswer).where(FairnessAnswer.principle == "heard")
                            .order_by(FairnessAnswer.id)).all()
        assert [r.answer for r in rows] == ["no", "yes"]  # the old answer stays in the record
        assert len(session.exec(select(FairnessAnswer)).all()) == 10
        current = outcomes.current_fairness(session, case.id or 0)
        assert current["heard"].answer == "yes" and current["equity"].answer == "unknown"
        inquiries = session.exec(select(ActionPoint).where(ActionPoint.source == "fairness")).all()
        assert sorted((i.principle, i.owner_id) for i in inquiries) == [("equity", "U0CHAIR01"),
                                                                        ("heard", "U0CHAIR01")]
    note = bot.slack.wait_for("chat.postMessage", predicate=lambda c: c.params["channel"] == case.room_id
                              and "revisited" in c.params["text"])[-1]
    text = json.dumps(note.params["blocks"], ensure_ascii=False)
    assert "Ensuring the practitioner is heard: *Yes*" in text and "Equity and proportionality: *Unknown*" in text
    assert "1 new action point(s) for further inquiry, owned by <@U0CHAIR01>" in text


def test_a_name_in_a_fairness_note_is_refused_at_that_note(bot: Any) -> None:
    case = _convened(bot)
    _submit_outcome(bot, case)
    view = _open_form(bot, "U0CHAIR01", f"fairness {case.reference}")
    named = _fairness_values({}, {"welfare": f"Spoke to {STAFF_NAME} on Monday."})
    response = submit_view(bot, "U0CHAIR01", view, named)
    body = response.json()
    assert body["response_action"] == "errors" and set(body["errors"]) == {"fairness_welfare_note"}
    with bot.services.sessions() as session:
        assert len(session.exec(select(FairnessAnswer)).all()) == 5
    # The refusal wrote nothing, so the same form, corrected, still counts.
    assert submit_view(bot, "U0CHAIR01", view, _fairness_values({})).json()["view"]["title"]["text"] == (
        "Revisit fairness")


def test_only_chair_deputy_chair_or_governance_may_revisit_fairness(bot: Any) -> None:
    case = _convened(bot)
    bot.command("U0MEMBER1", f"fairness {case.reference}")
    (reply,) = bot.slack.wait_for("response")
    assert "Only the chair" in reply.params["text"] and reply.params["response_type"] == "ephemeral"


def test_an_action_point_is_added_from_the_case_channel_and_its_owner_told(bot: Any) -> None:
    case = _convened(bot)
    _submit_outcome(bot, case)
    view = _open_form(bot, "U0CHAIR01", f"action {case.reference}")
    assert view["callback_id"] == "action_add" and case.reference not in view["private_metadata"]
    assert {"action_description", "action_owner", "action_due"} <= {b.get("block_id") for b in view["blocks"]}

    values = {"action_description": {"action_description": _element("plain_text_input", "Book a <!here> debrief")},
              "action_owner": {"action_owner": _element("users_select", "U0PEOPLE1")},
              "action_due": {"action_due": _element("datepicker", _due(7).isoformat())}}
    body = submit_view(bot, "U0CHAIR01", view, values).json()
    assert body["response_action"] == "update"
    assert f"Added action point 2 on *{case.reference}* for <@U0PEOPLE1>" in _view_text(body["view"])
    # Delivered again: one action point, one message to its owner.
    assert submit_view(bot, "U0CHAIR01", view, values).json()["view"]["title"]["text"] == "Already saved"
    with bot.services.sessions() as session:
        item = session.exec(select(ActionPoint).where(ActionPoint.number == 2)).one()
        assert (item.source, item.owner_id, item.due_on) == ("channel", "U0PEOPLE1", _due(7))
        assert len(session.exec(select(ActionPoint)).all()) == 2
    dm = bot.slack.wait_for("chat.postMessage", predicate=lambda c: c.params["channel"] == "U0PEOPLE1"
                            and "New action point" in c.params["text"])[-1]
    assert "<!here>" not in dm.params["text"]
    rich = next(b for b in dm.params["blocks"] if b["type"] == "rich_text")
    assert rich["elements"][0]["elements"][0]["text"] == "Book a <!here> debrief"  # shown literally
    assert all("<!here>" not in json.dumps(b) for b in dm.params["blocks"] if b["type"] != "rich_text")
    assert len([c for c in bot.slack.calls_to("chat.postMessage") if c.params["channel"] == "U0PEOPLE1"
                and "New action point" in c.params["text"]]) == 1


def test_an_action_point_with_a_past_due_date_is_refused_at_the_field(bot: Any) -> None:
    case = _convened(bot)
    _submit_outcome(bot, case)
    values = {"action_description": {"action_description": _element("plain_text_input", "Book a debrief")},
              "action_owner": {"action_owner": _element("users_select", "U0PEOPLE1")},
              "action_due": {"action_due": _element("datepicker", _due(-1).isoformat())}}
    view = _open_form(bot, "U0CHAIR01", f"action {case.reference}")
    body = submit_view(bot, "U0CHAIR01", view, values).json()
    assert body == {"response_action": "errors",
                    "errors": {"action_due": "The due date has passed. Choose today or later."}}


@pytest.mark.parametrize(("owner", "message"), [
    pytest.param("U0X> <!channel> <https://evil.example|Re-authenticate>",
                 "That is not a person in this workspace. Choose someone from the list.", id="markup as the owner"),
    pytest.param(DEACTIVATED[0], "That person's account is deactivated.", id="a deactivated owner"),
    pytest.param("U0BOTUSER", "Choose a person, not an app.", id="an app as the owner"),
])
def test_an_edited_client_cannot_give_an_action_point_to_someone_who_is_not_a_person_here(
        bot: Any, owner: str, message: str) -> None:
    case = _convened(bot)
    _submit_outcome(bot, case)
    values = {"action_description": {"action_description": _element("plain_text_input", "Book a debrief")},
              "action_owner": {"action_owner": _element("users_select", owner)},
              "action_due": {"action_due": _element("datepicker", _due(7).isoformat())}}
    view = _open_form(bot, "U0CHAIR01", f"action {case.reference}")
    body = submit_view(bot, "U0CHAIR01", view, values).json()
    assert body == {"response_action": "errors", "errors": {"action_owner": message}}
    assert _written(bot)[2] == 1  # only the outcome's own action point


def test_an_action_point_cannot_be_added_before_the_outcome_is_recorded(bot: Any) -> None:
    case = _convened(bot)
    bot.command("U0CHAIR01", f"action {case.reference}")
    (reply,) = bot.slack.wait_for("response")
    assert f"Record the outcome of {case.reference} first" in reply.params["text"]
    assert bot.slack.calls_to("views.open") == []


# --- the domain: record_outcome's validation, on both backends ----------------------------------------------

CALL = datetime(2026, 11, 5, 14, 0, tzinfo=UTC)
CONVENED_AT = CALL - timedelta(days=3)
RECORDED_AT = CALL + timedelta(hours=2)
TODAY = RECORDED_AT.astimezone(LONDON).date()


def _form(reference: str, **overrides: Any) -> OutcomeForm:
    form = OutcomeForm(
        reference=reference, actor="U0CHAIR01", process="informal",
        rationale="A training need rather than a conduct matter: supervised practice first.", risk_level="moderate",
        risk_notes="", ml_policy_notify="no", legal_advice="no", welfare_offered="yes", line_manager_support="",
        fairness={p.key: ("yes", "") for p in PRINCIPLES},
        actions=(NewAction("Arrange supervised medication rounds", "U0SERVICE", TODAY + timedelta(days=14)),),
        quorate_stated=True,
        quorum_statement="The chair counted four members on the call, the nursing lead among them.")
    return replace(form, **overrides)


def _case(sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack) -> str:
    with sessions() as session:
        load_roster(session, terms)
    return convene_at(sessions, engine, terms, fake_slack, CONVENED_AT, CALL).reference


def _nothing_written(sessions: SessionFactory) -> bool:
    with sessions() as session:
        return not any(session.exec(select(table)).first() for table in (Outcome, FairnessAnswer, ActionPoint)) \
            and session.exec(select(ScheduledMessage).where(ScheduledMessage.kind == "circulation")).first() is None


ALL_YES = {p.key: ("yes", "") for p in PRINCIPLES}
ACTION = NewAction("Arrange supervised medication rounds", "U0SERVICE", TODAY + timedelta(days=14))


@pytest.mark.parametrize(("overrides", "field", "message"), [
    pytest.param({"rationale": ""}, "rationale", "The rationale is required", id="no rationale"),
    pytest.param({"rationale": "  \n "}, "rationale", "The rationale is required", id="a blank rationale"),
    pytest.param({"rationale": f"{STAFF_NAME} needs supervised practice."}, "rationale", "name",
                 id="the staff member named in the rationale"),
    pytest.param({"rationale": "x" * 2001}, "rationale", "under 2000", id="a rationale too long"),
    pytest.param({"process": None}, "process", "Choose the recommended process", id="no process"),
    pytest.param({"process": "dismissal"}, "process", "Choose the recommended process", id="an unknown process"),
    pytest.param({"risk_level": None}, "risk_level", "Choose the risk level", id="no risk level"),
    pytest.param({"risk_notes": "Dr Marchbanks is a risk"}, "risk_notes", "name", id="a name in the risk notes"),
    pytest.param({"ml_policy_notify": "maybe"}, "ml_policy", "Answer yes, no or unknown",
                 id="medical-liability policy not answered"),
    pytest.param({"legal_advice": None}, "legal_advice", "Answer yes, no or unknown", id="legal advice not answered"),
    pytest.param({"welfare_offered": None}, "welfare", "Answer yes, no or unknown", id="welfare not answered"),
    pytest.param({"line_manager_support": f"Support {STAFF_NAME}'s manager"}, "line_manager_support", "name",
                 id="a name in the line manager's support"),
    pytest.param({"quorate_stated": None}, "quorate_stated", "No roll-call was recorded",
                 id="no roll-call and quorum not stated"),
    pytest.param({"quorum_statement": ""}, "quorum_statement", "how quorum was established",
                 id="no roll-call and no reason for the quorum stated"),
    pytest.param({"fairness": {**ALL_YES, "heard": (None, "")}}, "fairness_heard", "Answer yes, no or unknown",
                 id="a fairness principle not answered"),
    pytest.param({"fairness": {k: v for k, v in ALL_YES.items() if k != "equity"}}, "fairness_equity",
                 "Answer yes, no or unknown", id="a fairness principle missing"),
    pytest.param({"fairness": {**ALL_YES, "welfare": ("no", f"{STAFF_NAME} declined")}}, "fairness_welfare_note",
                 "name", id="a name in a fairness note"),
    pytest.param({"actions": (replace(ACTION, owner_id=""),)}, "action_1_owner", "Choose who owns",
                 id="an action point without an owner"),
    pytest.param({"actions": (replace(ACTION, owner_id="U0BOTUSER"),)}, "action_1_owner", "not an app",
                 id="an action point owned by an app"),
    pytest.param({"actions": (replace(ACTION, owner_id=DEACTIVATED[0]),)}, "action_1_owner",
                 "That person's account is deactivated.", id="an action point owned by someone who has left"),
    pytest.param({"actions": (replace(ACTION, owner_id="U0NOBODY1"),)}, "action_1_owner",
                 "not a member of this workspace", id="an action point owned by nobody of this workspace"),
    pytest.param({"actions": (replace(ACTION, due_on=TODAY - timedelta(days=1)),)}, "action_1_due", "has passed",
                 id="an action point due yesterday"),
    pytest.param({"actions": (ACTION, replace(ACTION, description=f"Ask {STAFF_NAME} for a statement"))},
                 "action_2_description", "name", id="a name in the second action point"),
])
def test_record_outcome_refuses_bad_input_at_the_field_and_writes_nothing(
        sessions: SessionFactory, engine: Engine, terms: Terms, fake_slack: FakeSlack, overrides: dict[str, Any],
        field: str, message: str) -> None:
    reference = _case(sessions, engine, terms, fake_slack)
    with pytest.raises(InvalidInput) as caught, transaction(sessions) as session:
        outcomes.record_outcome(session, terms, _form(reference, **overrides), RECORDED_AT, LONDON, all_names(), HERE)
    assert field in caught.value.fields and message in caught.value.fields[field]
    assert _nothing_written(sessions)


@pytest.mark.parametrize(("actor", "status", "message"), [
    pytest.param("U0MANAGER", CaseStatus.CONVENED, "Only the chair of", id="the line manager may not record it"),
    pytest.param("U0MEMBER1", CaseStatus.CONVENED, "Only the chair of", id="a member may not record it"),
    pytest.param("U0DEPUTY1", CaseStatus.CONVENED, "Only the chair of", id="a roster deputy chair not on the case"),
    pytest.param("U0CHAIR01", CaseStatus.CANCELLED, "is cancelled", id="not on a cancelled case"),
])
def test_record_outcome_refuses_the_wrong_person_or_case(sessions: SessionFactory, engine: Engine, terms: Terms,
                                                         fake_slack: FakeSlack, actor: str, status: str,
                                                         message: str) -> None:
    reference = _case(sessions, engine, terms, fake_slack)
    with transaction(sessions) as session:
        case = cases.case_named(session, reference)
        case.status = status
        session.add(case)
    with pytest.raises(NotAllowed, match=message), transaction(sessions) as session:
        outcomes.record_outcome(session, terms, _form(reference, actor=actor), RECORDED_AT, LONDON, all_names(), HERE)
    assert _nothing_written(sessions)


def test_with_a_roll_call_recorded_the_quorum_need_not_be_stated(sessions: SessionFactory, engine: Engine,
                                                                 terms: Terms, fake_slack: FakeSlack) -> None:
    reference = _case(sessions, engine, terms, fake_slack)
    with transaction(sessions) as session:
        case = cases.case_named(session, reference)
        case.quorate, case.quorum_reason = False, "not quorate: 3 of 4 present"
        session.add(case)
    with transaction(sessions) as session:
        recorded = outcomes.record_outcome(session, terms, _form(reference, quorate_stated=None, quorum_statement=""),
                                           RECORDED_AT, LONDON, all_names(), HERE)
    with sessions() as session:
        outcome = session.exec(select(Outcome)).one()
        assert outcome.quorate is False and outcome.quorum_statement is None
    assert len(recorded.action_ids) == 1 and recorded.inquiry_ids == ()
