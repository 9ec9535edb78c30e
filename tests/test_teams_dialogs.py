"""The bot's forms as Teams dialogs (handlers/teams/dialogs): what Teams would show and what it sends back.

Every card is checked as Teams takes it (handlers.teams.cards.check_card). A submission is made the way
Teams makes one: the Action.Submit's data with each input's value merged in by input id, as strings
(a multi-select as one comma-separated string). Tampered data is what a client could send instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.domain import action_points, attendance, convening, recording
from bot.domain.action_points import NewAction
from bot.domain.action_reminders import ItemToChange
from bot.domain.closing import CloseCheck
from bot.domain.errors import InvalidInput
from bot.domain.outcomes import MAX_ACTION_ROWS
from bot.domain.people import Standing
from bot.domain.recording import CaseToRecord
from bot.domain.rescheduling import CaseToAdminister
from bot.domain.roll_call import CorrectionForm
from bot.domain.terms import Terms, load_terms
from bot.sandbox.teams_checks import invoke_response_refusal
from handlers.teams import dialogs
from handlers.teams.cards import CARD_CONTENT_TYPE, card_problems, escape_text
from handlers.teams.dialogs import convene, outcome
from handlers.teams.dialogs.fields import FORM_FIELD, USERS_DATASET

NONCE = "n0nce-Abc_123"
ZONE = ZoneInfo("Europe/London")
TERMS: Terms = load_terms()
ANN, BOB, CAT, DAN = ("0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b", "1f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b",
                      "2f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b", "3f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b")
NAMES = {ANN: "Ann Example", BOB: "Bob Example", CAT: "Cat Example"}
REF = "PMCCG-2026-007"
CASE = CaseToRecord(reference=REF, case_id=7, quorate=None, quorum_reason=None, outcome_recorded=False, fairness={})
ITEM = ItemToChange(reference=REF, number=3, due_on=date(2026, 12, 9),
                    description="Ask *HR* for <at>x</at> {{DATE(1)}}")
ADMIN = CaseToAdminister(reference=REF, call_at=datetime(2026, 12, 10, 10, 0, tzinfo=UTC), duration_minutes=75)
ANSWER = attendance.answer_value(REF, 2, board=True)
OPEN_SEATS = [("service_lead", "Service lead"), ("people_team", "People team")]


# --- reading cards as Teams shows them -------------------------------------------------------------------


def elements(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "type" in node:
            yield node
        for key, value in node.items():
            if key not in ("data", "choices", "choices.data"):
                yield from elements(value)
    elif isinstance(node, list):
        for value in node:
            yield from elements(value)


def inputs(card: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in elements(card["body"]) if str(e["type"]).startswith("Input.")}


def after(card: Mapping[str, Any], field: str) -> dict[str, Any] | None:
    """The element right under the input `field` in the card's body."""
    body = card["body"]
    index = next(i for i, e in enumerate(body) if e.get("id") == field)
    return body[index + 1] if index + 1 < len(body) else None


def attention(card: Mapping[str, Any]) -> list[str]:
    return [e["text"] for e in elements(card["body"]) if e["type"] == "TextBlock" and e.get("color") == "Attention"]


def submit(card: Mapping[str, Any]) -> dict[str, Any]:
    (action,) = card["actions"]
    assert action["type"] == "Action.Submit"
    return action["data"]


def buttons(card: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The in-dialog buttons (ActionSets in the body), by the action their data names."""
    return {a["data"]["action"]: a for e in elements(card["body"]) if e["type"] == "ActionSet" for a in e["actions"]}


def sent(card: Mapping[str, Any], typed: Mapping[str, str], action: dict[str, Any] | None = None) -> dict[str, Any]:
    """What Teams posts on task/submit: the pressed action's data with every input's value merged in."""
    return {**(action or {"data": submit(card)})["data"], **typed}


# --- every form, with a typical submission --------------------------------------------------------------


@dataclass(frozen=True)
class Form:
    name: str
    build: Callable[..., dict[str, Any]]  # (values, errors) -> card
    read: Callable[[Mapping[str, Any]], dialogs.Reading[Any]]
    typed: dict[str, str]  # a submission as Teams would send it (input id -> string)
    expected: Any  # what read gives for it


LEAD = convening.seat_field(next(s for s in TERMS.seats if s.match_profession))
SEATS = [convening.seat_field(s) for s in TERMS.seats]
PEOPLE = [ANN, BOB, CAT, DAN] + [f"{i}a1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b" for i in range(4, 10)]
CONVENE_TYPED = {"profession": "nursing", "route": "incident", "concern_raised": "2026-11-20",
                 "concern": "Late *medication* rounds on ward 7", "risks": "none identified", "call_date": "2026-12-10",
                 "call_time": "14:30", "duration": "45", "call_details": "https://meet.example/abc",
                 **{seat: PEOPLE[i] for i, seat in enumerate(SEATS)}, "extra_members": f"{PEOPLE[8]},{PEOPLE[9]}",
                 "short_notice": "yes"}
CONVENE_FORM = convening.ConveneForm(
    convener_id=ANN, submission_key=NONCE, profession="nursing", route="incident",
    concern="Late *medication* rounds on ward 7", risks="none identified", call_date=date(2026, 12, 10),
    call_time=time(14, 30), duration_minutes=45, call_details="https://meet.example/abc",
    seats={s.key: PEOPLE[i] for i, s in enumerate(TERMS.seats)}, extra_members=(PEOPLE[8], PEOPLE[9]),
    short_notice=True, concern_raised=date(2026, 11, 20))

FAIRNESS_TYPED = {**{f"fairness_{k}": "yes" for k in ("welfare", "understanding", "heard", "process")},
                  "fairness_equity": "unknown", "fairness_equity_note": "Similar cases still being found"}
FAIRNESS_READ = {**{k: ("yes", "") for k in ("welfare", "understanding", "heard", "process")},
                 "equity": ("unknown", "Similar cases still being found")}
OUTCOME_TYPED = {"process": "informal", "rationale": "First concern, insight shown", "risk_level": "low",
                 "ml_policy": "no", "legal_advice": "no", "welfare": "yes", "quorate_stated": "yes",
                 "quorum_statement": "Chair counted five", **FAIRNESS_TYPED,
                 "action_1_description": "", "action_1_owner": "", "action_1_due": "",
                 "action_2_description": "Arrange mentoring", "action_2_owner": BOB, "action_2_due": "2026-12-20"}


def _convene(values: Mapping[str, Any] = {}, errors: Mapping[str, str] = {}, **kw: Any) -> dict[str, Any]:
    return dialogs.convene_dialog(values, errors, nonce=NONCE, terms=TERMS, zone_name="Europe/London",
                                  proposal={"chair": ANN}, names=NAMES, **kw)


FORMS = [
    Form("convene", _convene, lambda d: dialogs.read_convene(d, TERMS, convener_id=ANN, submission_key=NONCE),
         CONVENE_TYPED, CONVENE_FORM),
    Form("deputy", lambda v={}, e={}: dialogs.deputy_dialog(v, e, nonce=NONCE, answer=ANSWER, names=NAMES),
         dialogs.read_deputy, {"deputy": BOB}, dialogs.DeputyChoice(attendance.AnswerButton(REF, 2, True), BOB)),
    Form("outcome", lambda v={}, e={}: dialogs.outcome_dialog(v, e, nonce=NONCE, case=CASE, rows=2, names=NAMES),
         lambda d: dialogs.read_outcome(d, reference=REF, actor=ANN, rows=2), OUTCOME_TYPED, None),
    Form("fairness", lambda v={}, e={}: dialogs.fairness_dialog(v, e, nonce=NONCE, reference=REF),
         dialogs.read_fairness, FAIRNESS_TYPED, FAIRNESS_READ),
    Form("action_add", lambda v={}, e={}: dialogs.action_add_dialog(v, e, nonce=NONCE, reference=REF, names=NAMES),
         dialogs.read_action_add, {"action_description": "Book the review", "action_owner": CAT,
                                   "action_due": "2027-01-05"}, NewAction("Book the review", CAT, date(2027, 1, 5))),
    Form("action_update", lambda v={}, e={}: dialogs.action_update_dialog(v, e, nonce=NONCE, item=ITEM),
         dialogs.read_action_update, {"update": "Met HR on Monday"}, "Met HR on Monday"),
    Form("action_due", lambda v={}, e={}: dialogs.action_due_dialog(v, e, nonce=NONCE, item=ITEM),
         dialogs.read_action_due, {"due": "2026-12-23", "reason": "Waiting for the report"},
         dialogs.NewDue(date(2026, 12, 23), "Waiting for the report")),
    Form("reschedule", lambda v={}, e={}: dialogs.reschedule_dialog(v, e, nonce=NONCE, case=ADMIN, zone=ZONE),
         dialogs.read_reschedule, {"call_date": "2026-12-11", "call_time": "09:15", "duration": "90"},
         dialogs.NewTime(date(2026, 12, 11), time(9, 15), 90)),
    Form("cancel", lambda v={}, e={}: dialogs.cancel_dialog(v, e, nonce=NONCE, case=ADMIN),
         dialogs.read_cancel, {"reason": "Resolved informally"}, "Resolved informally"),
    Form("close", lambda v={}, e={}: dialogs.close_dialog(v, e, nonce=NONCE, check=CloseCheck(REF, 2, True)),
         dialogs.read_close, {"reason": "Handed to the formal process"}, "Handed to the formal process"),
    Form("roster", lambda v={}, e={}: dialogs.roster_dialog(v, e, nonce=NONCE, terms=TERMS, names=NAMES),
         lambda d: dialogs.read_roster(d, TERMS), {"user": DAN, "roles": "professional_lead,member",
                                                   "professions": "nursing"},
         dialogs.RosterChange(DAN, ["professional_lead", "member"], ["nursing"])),
    Form("roll_call_mark", lambda v={}, e={}: dialogs.mark_dialog(v, e, nonce=NONCE, reference=REF, names=NAMES),
         dialogs.read_mark, {"person": BOB}, (REF, BOB)),
    Form("roll_call_correct", lambda v={}, e={}: dialogs.correct_dialog(v, e, nonce=NONCE, reference=REF, names=NAMES),
         lambda d: dialogs.read_correct(d, actor=ANN), {"person": BOB, "present": "absent",
                                                        "reason": "Left before the start"},
         CorrectionForm(REF, ANN, BOB, False, "Left before the start")),
    Form("invite_deputy", lambda v={}, e={}: dialogs.invite_deputy_dialog(v, e, nonce=NONCE, reference=REF,
                                                                          seats=OPEN_SEATS, proposed=CAT, names=NAMES),
         lambda d: dialogs.read_invite_deputy(d, [k for k, _ in OPEN_SEATS]), {"seat": "people_team", "deputy": DAN},
         dialogs.SeatToFill(REF, "people_team", DAN)),
]
BY_NAME = {f.name: f for f in FORMS}


@pytest.fixture(params=FORMS, ids=[f.name for f in FORMS])
def form(request: pytest.FixtureRequest) -> Form:
    return request.param


# --- the cards -------------------------------------------------------------------------------------------


def test_every_dialog_is_a_card_teams_takes_empty_filled_and_with_errors(form: Form) -> None:
    empty = form.build()
    fields = list(inputs(empty))
    errors = {name: f"Something about {name}." for name in [*fields, FORM_FIELD]}
    for card in (empty, form.build(form.typed), form.build(form.typed, errors)):
        assert card_problems(card) == []
        assert card["version"] == "1.5"
    assert set(form.typed) <= set(fields)


def test_the_dialog_answer_is_one_the_teams_stand_in_takes(form: Form) -> None:
    errors = {name: "Wrong." for name in inputs(form.build())}
    assert invoke_response_refusal(dialogs.dialog_continue(form.name, form.build(form.typed, errors))) is None


def test_the_nonce_and_the_submit_action_are_carried(form: Form) -> None:
    card = form.build(form.typed, {"x": "y"})
    assert submit(card)["action"] == f"{form.name}_submit"
    assert submit(card)["nonce"] == NONCE
    for button in buttons(card).values():
        assert button["type"] == "Action.Submit" and button["data"]["nonce"] == NONCE
    # No input may be sent under the data's own keys.
    assert not {"action", "nonce"} & set(inputs(card))


def test_a_submission_reads_as_the_slack_listener_builds_it(form: Form) -> None:
    reading = form.read(sent(form.build(), form.typed))
    assert reading.errors == {} and reading.ok
    if form.expected is not None:
        assert reading.value == form.expected


def test_a_rerender_keeps_what_was_typed_and_shows_each_error_under_its_field(form: Form) -> None:
    field = next(iter(form.typed))
    message = "Not <at>Ann</at> [here](https://x.example) {{DATE(2026-01-01T00:00:00Z)}}"
    card = form.build(form.typed, {field: message})
    under = after(card, field)
    assert under is not None and under["type"] == "TextBlock" and under["color"] == "Attention"
    assert under["text"] == escape_text(message)
    assert attention(card) == [escape_text(message)]
    shown = inputs(card)
    for name, value in form.typed.items():
        element = shown[name]
        if element["type"] == "Input.Toggle":
            assert element["value"] == value
        elif value:
            # Typed text goes back into the input as typed: an input's value is plain text.
            assert element["value"] == value, name
        else:
            assert "value" not in element or element["value"] == ""
    # A person already chosen is listed by name, so Teams shows who it is.
    for element in shown.values():
        if "choices.data" in element and element.get("value"):
            assert element["choices.data"] == {"type": "Data.Query", "dataset": USERS_DATASET}
            titles = {c["value"]: c["title"] for c in element["choices"]}
            assert all(titles.get(u) == NAMES[u] for u in element["value"].split(",") if u in NAMES)


def test_field_ids_are_the_ones_the_domain_names_in_its_errors() -> None:
    class Everyone:
        id_label, id_example = "Entra object id", ANN

        def standing(self, ids: Any) -> dict[str, Standing]:
            return dict.fromkeys(ids, Standing.OK)

    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    empty = dialogs.read_convene({}, TERMS, convener_id=ANN, submission_key=NONCE)
    with pytest.raises(InvalidInput) as refused:
        convening.validate(empty.value, TERMS, {}, [], now, ZONE, people=Everyone())
    assert set(refused.value.fields) <= set(inputs(_convene()))
    assert set(SEATS) <= set(refused.value.fields)
    with pytest.raises(InvalidInput) as refused:
        recording.check_fairness(dialogs.read_fairness({}).value, [])
    assert set(refused.value.fields) <= set(inputs(BY_NAME["fairness"].build()))
    errors = action_points.check_new(NewAction("", "", None), now.date(), [], outcome.ACTION, Everyone())
    assert errors and set(errors) <= set(inputs(BY_NAME["action_add"].build()))
    row_errors = action_points.check_new(NewAction("", "", None), now.date(), [], "action_2", Everyone())
    assert set(row_errors) <= set(inputs(BY_NAME["outcome"].build()))


# --- tampering ------------------------------------------------------------------------------------------


def _bad_values(element: dict[str, Any]) -> list[Any]:
    """Values the card's input never sends: wrong types for every input, wrong shapes where one is checked."""
    wrong: list[Any] = [["x"], 5, {"a": 1}, True]
    kind = element["type"]
    if kind == "Input.ChoiceSet" and "choices.data" in element:
        wrong += ["U0123ABC", f"{ANN},{BOB}" if not element["isMultiSelect"] else f"{ANN},nobody"]
    elif kind == "Input.ChoiceSet":
        wrong += ["not-an-option", "yes,no" if not element["isMultiSelect"] else "member,not-an-option", "٦٠"]
    elif kind == "Input.Date":
        wrong += ["2026-02-30", "tomorrow", "٢٠٢٦-١٢-١٠"]
    elif kind == "Input.Time":
        wrong += ["25:61", "noon", "١٤:٣٠"]
    elif kind == "Input.Toggle":
        wrong += ["maybe"]
    return wrong


def test_tampered_values_are_errors_at_their_field_never_exceptions(form: Form) -> None:
    card = form.build()
    for name, element in inputs(card).items():
        for bad in _bad_values(element):
            data = sent(card, {**form.typed, name: bad})
            reading = form.read(data)
            assert name in reading.errors, (name, bad)
            # And the dialog built again from that data is still a card Teams takes, with the error shown.
            again = form.build(data, reading.errors)
            assert card_problems(again) == []
            assert after(again, name)["color"] == "Attention"  # type: ignore[index]


def test_not_a_mapping_at_all_is_an_error_on_the_form(form: Form) -> None:
    for data in (None, ["x"], "text"):
        reading = form.read(data)  # type: ignore[arg-type]
        assert FORM_FIELD in reading.errors


def test_extra_keys_are_not_read_and_never_reach_the_card(form: Form) -> None:
    data = sent(form.build(), {**form.typed, "evil": "<at>x</at>", "seat_nobody": ANN, "msteams": {"x": 1}})
    reading = form.read(data)
    assert reading.errors == {}
    assert "evil" not in str(form.build(data, reading.errors))


def test_an_outcome_row_the_form_does_not_have_is_an_error_and_is_not_read() -> None:
    card = dialogs.outcome_dialog(nonce=NONCE, case=CASE, rows=2)
    for extra in ("action_3_description", "action_0_owner", f"action_{MAX_ACTION_ROWS + 1}_due"):
        reading = dialogs.read_outcome(sent(card, {**OUTCOME_TYPED, extra: "Smuggled"}), reference=REF, actor=ANN,
                                       rows=2)
        assert FORM_FIELD in reading.errors
        assert reading.value.rows == (2,)  # only the rows the form has
        again = dialogs.outcome_dialog(OUTCOME_TYPED, reading.errors, nonce=NONCE, case=CASE, rows=2)
        assert again["body"][0]["color"] == "Attention"
        assert card_problems(again) == []


def test_too_many_extra_members_for_the_picker_that_has_no_limit() -> None:
    most = TERMS.max_extra_members
    many = ",".join(f"{i:08x}-4b5a-4978-8a9b-0c1d2e3f4a5b" for i in range(most + 1))
    reading = dialogs.read_convene({**CONVENE_TYPED, "extra_members": many}, TERMS, convener_id=ANN,
                                   submission_key=NONCE)
    assert reading.errors == {"extra_members": f"Invite at most {most} extra members."}
    # Each person once; ids as Graph gives them (lower case).
    reading = dialogs.read_convene({**CONVENE_TYPED, "extra_members": f"{ANN.upper()},{ANN}"}, TERMS,
                                   convener_id=ANN, submission_key=NONCE)
    assert reading.ok and reading.value.extra_members == (ANN,)


# --- the outcome's action point rows ----------------------------------------------------------------------


def _rows(card: Mapping[str, Any]) -> int:
    return sum(1 for name in inputs(card) if name.endswith("_description"))


@pytest.mark.parametrize("rows", [1, 4, MAX_ACTION_ROWS - 1])
def test_add_another_row_builds_the_dialog_again_with_one_more_and_what_was_typed(rows: int) -> None:
    typed = {**OUTCOME_TYPED, "action_1_description": "Keep this", "action_1_owner": ANN}
    card = dialogs.outcome_dialog(typed, nonce=NONCE, case=CASE, rows=rows, names=NAMES)
    typed = {k: v for k, v in typed.items() if k in inputs(card)}  # Teams sends the card's own inputs
    assert _rows(card) == rows
    add = buttons(card)[outcome.ADD_ROW]
    assert add["title"] == "Add another action point" and add["data"] == {"action": "outcome_add_row",
                                                                          "nonce": NONCE}
    # The listener counts the row on the form record, then answers with the dialog one row longer.
    data = sent(card, typed, add)
    grown = dialogs.outcome_dialog(data, nonce=NONCE, case=CASE, rows=rows + 1, names=NAMES)
    assert _rows(grown) == rows + 1
    assert inputs(grown)["action_1_description"]["value"] == "Keep this"
    assert inputs(grown)["action_1_owner"]["value"] == ANN
    assert "value" not in inputs(grown)[f"action_{rows + 1}_description"]
    assert card_problems(grown) == []


def test_the_rows_stop_at_the_limit() -> None:
    for rows in (MAX_ACTION_ROWS, MAX_ACTION_ROWS + 5):
        card = dialogs.outcome_dialog(nonce=NONCE, case=CASE, rows=rows)
        assert _rows(card) == MAX_ACTION_ROWS
        assert outcome.ADD_ROW not in buttons(card)
        assert any(f"up to {MAX_ACTION_ROWS} action points" in e.get("text", "") for e in card["body"])
        assert card_problems(card) == []


def test_outcome_rows_read_as_slack_reads_them_and_errors_go_back_to_their_row() -> None:
    reading = dialogs.read_outcome(sent(BY_NAME["outcome"].build(), OUTCOME_TYPED), reference=REF, actor=ANN, rows=2)
    assert reading.ok
    got = reading.value
    assert got.rows == (2,)  # the empty first row is ignored
    assert got.form.actions == (NewAction("Arrange mentoring", BOB, date(2026, 12, 20)),)
    assert got.form.quorate_stated is True and got.form.fairness["equity"] == ("unknown",
                                                                               "Similar cases still being found")
    assert got.form.reference == REF and got.form.actor == ANN
    # The domain numbers the one row it was given "action_1": it is row 2 on the dialog.
    mapped = dialogs.errors_at_rows({"action_1_due": "Choose a due date.", "rationale": "x"}, got.rows)
    assert mapped == {"action_2_due": "Choose a due date.", "rationale": "x"}


def test_a_quorum_from_the_roll_call_is_shown_not_asked() -> None:
    case = CaseToRecord(REF, 7, quorate=True, quorum_reason="quorate: *5* present", outcome_recorded=False, fairness={})
    card = dialogs.outcome_dialog(nonce=NONCE, case=case)
    assert "quorate_stated" not in inputs(card)
    assert any(e.get("text") == f"From the roll-call: {escape_text('quorate: *5* present')}" for e in card["body"])


# --- the convene form -----------------------------------------------------------------------------------


def test_convene_opens_with_the_proposal_and_the_usual_duration() -> None:
    card = _convene()
    shown = inputs(card)
    assert shown["seat_chair"]["value"] == ANN
    assert shown["seat_chair"]["choices"] == [{"title": NAMES[ANN], "value": ANN}]
    assert shown["duration"]["value"] == "60"
    assert shown["extra_members"]["isMultiSelect"] is True and shown["seat_chair"]["isMultiSelect"] is False
    assert all(shown[s]["choices.data"]["dataset"] == USERS_DATASET for s in SEATS)
    assert shown["short_notice"]["value"] == "no"
    assert not any(e.get("isRequired") for e in shown.values())  # the in-dialog buttons must send a half-filled form


def test_choosing_the_profession_proposes_its_lead_and_keeps_the_rest() -> None:
    card = _convene()
    propose = buttons(card)[convene.PROPOSE]
    assert propose["data"] == {"action": "convene_profession", "nonce": NONCE}
    hint = after(card, LEAD)
    assert hint is not None and hint["text"] == "Proposed from the roster once the professional group above is chosen."
    typed = {**CONVENE_TYPED, LEAD: ""}
    data = sent(card, typed, propose)
    reading = dialogs.read_convene(data, TERMS, convener_id=ANN, submission_key=NONCE)
    lead_key = LEAD.removeprefix("seat_")
    assert reading.value.profession == "nursing" and reading.value.seats[lead_key] is None
    # The listener asks the roster (convening.propose_for_profession) and answers with the dialog again.
    # Chosen but not yet proposed: the hint says how to have one proposed.
    assert after(_convene(data), LEAD)["text"] == (  # type: ignore[index]
        'Choose a professional lead for nursing, or press "Propose their professional lead" above.')
    proposed = dialogs.propose_leads(data, TERMS, {lead_key: CAT})
    again = _convene(proposed, proposed_for="nursing")
    assert inputs(again)[LEAD]["value"] == CAT
    assert after(again, LEAD)["text"] == "Proposed from the roster: a professional lead for nursing."  # type: ignore
    assert inputs(again)["concern"]["value"] == CONVENE_TYPED["concern"]
    assert inputs(again)["seat_chair"]["value"] == CONVENE_TYPED["seat_chair"]
    # No lead free for that profession: the seat is emptied and the hint says what to do.
    nobody = _convene(dialogs.propose_leads(data, TERMS, {lead_key: None}), proposed_for="nursing")
    assert "value" not in inputs(nobody)[LEAD]
    assert after(nobody, LEAD)["text"].startswith("The roster has no professional lead for nursing")  # type: ignore


def test_a_banner_after_a_failed_convening_shows_above_the_form() -> None:
    card = dialogs.convene_dialog(CONVENE_TYPED, nonce=NONCE, terms=TERMS, zone_name="Europe/London",
                                  banner="Nothing was created: creating the case chat failed.")
    assert card["body"][0]["color"] == "Warning"
    assert inputs(card)["concern"]["value"] == CONVENE_TYPED["concern"]


# --- typed text shown, envelopes --------------------------------------------------------------------------


def test_typed_text_shown_in_a_text_block_is_escaped() -> None:
    card = dialogs.action_update_dialog(nonce=NONCE, item=ITEM)
    texts = [e["text"] for e in card["body"] if e["type"] == "TextBlock"]
    assert escape_text(ITEM.description) in texts
    assert not any("<at>" in t or "{{DATE" in t for t in texts)
    assert inputs(dialogs.action_due_dialog(nonce=NONCE, item=ITEM))["due"]["value"] == "2026-12-09"


def test_reschedule_starts_from_the_current_time_in_the_organisations_zone() -> None:
    shown = inputs(BY_NAME["reschedule"].build())
    assert (shown["call_date"]["value"], shown["call_time"]["value"], shown["duration"]["value"]) == \
        ("2026-12-10", "10:00", "75")
    assert "75" in [c["value"] for c in shown["duration"]["choices"]]


def test_close_says_whether_a_reason_is_required() -> None:
    needed = inputs(dialogs.close_dialog(nonce=NONCE, check=CloseCheck(REF, 2, True)))["reason"]
    optional = inputs(dialogs.close_dialog(nonce=NONCE, check=CloseCheck(REF, 0, True)))["reason"]
    assert (needed["label"], optional["label"]) == ("Reason", "Closing note (optional)")


@pytest.mark.parametrize(("name", "key", "carried"), [
    ("deputy", "answer", ANSWER), ("roll_call_mark", "reference", REF), ("roll_call_correct", "reference", REF),
    ("invite_deputy", "reference", REF)])
def test_a_dialog_opened_from_a_button_carries_what_slack_keeps_in_private_metadata(name: str, key: str,
                                                                                      carried: str) -> None:
    form = BY_NAME[name]
    card = form.build()
    assert submit(card) == {"action": f"{name}_submit", "nonce": NONCE, key: carried}
    for missing in (None, 5, ""):
        reading = form.read({**sent(card, form.typed), key: missing})
        assert FORM_FIELD in reading.errors


def test_invite_a_deputy_starts_from_the_first_open_seat_and_the_proposal() -> None:
    shown = inputs(BY_NAME["invite_deputy"].build())
    assert (shown["seat"]["value"], shown["deputy"]["value"]) == ("service_lead", CAT)
    # Without the offered seats, any seat text is passed on for the domain to refuse at "seat".
    assert dialogs.read_invite_deputy({"reference": REF, "seat": "chair"}).value.seat == "chair"


def test_dialog_envelopes() -> None:
    card = BY_NAME["cancel"].build()
    assert dialogs.dialog_continue("Cancel the call", card) == {"task": {"type": "continue", "value": {
        "title": "Cancel the call", "card": {"contentType": CARD_CONTENT_TYPE, "content": card}}}}
    assert dialogs.dialog_continue("t", card, height="large", width="medium")["task"]["value"]["height"] == "large"
    assert dialogs.dialog_message("Saved.") == {"task": {"type": "message", "value": "Saved."}}


# --- wording (as tests/test_form_wording.py holds Slack's forms to it) -------------------------------------


def test_every_dialog_reads_as_plain_english(form: Form) -> None:
    from tests.test_form_wording import _plain

    card = form.build(form.typed)
    body = card["body"]
    # A hint is the subtle text right under an input (or under its error), as Slack's hint is (the same check).
    hints = {id(e) for before, e in zip(body, body[1:], strict=False) if e.get("isSubtle")
             and (str(before["type"]).startswith("Input.") or before.get("color") == "Attention")}
    problems: list[str] = []
    for element in elements(body):
        where = f"{form.name}/{element.get('id', element['type'])}"
        texts = [element.get("label"), element.get("placeholder"), element.get("title")]
        if id(element) in hints:
            texts.append(element["text"])
        for choice in element.get("choices") or []:
            texts.append(choice["title"] if choice["value"] not in NAMES else None)
        for text in filter(None, texts):
            problems += _plain(str(text), where)
        if element["type"].startswith("Input.") and not str(element.get("label", "")).strip():
            problems.append(f"{where}: no label")
        if element.get("isSubtle") and not element["text"].rstrip().endswith((".", "?")):
            problems.append(f"{where}: the hint is not a sentence: {element['text']!r}")
    # The errors the readers give for tampered data are sentences a person can act on, at a field of the card.
    for name, element in inputs(card).items():
        for bad in _bad_values(element):
            for field, message in form.read(sent(card, {**form.typed, name: bad})).errors.items():
                assert field in inputs(card) or field == FORM_FIELD
                assert message[0].isupper() and message.endswith("."), message
                problems += _plain(message, f"{form.name}/{field} error")
    assert problems == []
