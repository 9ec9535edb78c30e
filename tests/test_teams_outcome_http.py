"""Recording the outcome in Teams (the twin of tests/test_outcome_http.py's main scenarios): the case card's
"Record outcome" dialog, "Add another action point", field errors under the fields, one record per form
however often it is sent, the circulation (the owner's 1:1 chat), refusals, `outcome REF` typed, and
tampered openers. Through the running bot and the Teams stand-in, asserting what Teams received."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from bot.domain.outcomes import MAX_ACTION_ROWS
from bot.sandbox.teams_api import visible_text
from storage.tables import ActionPoint, Case, FairnessAnswer, FormRecord, Outcome
from tests.teams_after_call import (
    card_text,
    convene_case,
    dialog_card,
    dialog_closed_with,
    due,
    inputs,
    outcome_answers,
    submit_data,
    tick,
    with_text,
)
from tests.teams_bot import TeamsBotHarness


def _open(bot: TeamsBotHarness, case: Case, uid: str = "U0CHAIR01", **where: Any) -> Any:
    """`uid` presses "Record outcome" on the case card in the case chat (or where `where` says)."""
    place = {"reply_to_id": case.header_ref, "conversation": case.room_id, **where}
    return bot.open_dialog(bot.person(uid), {"dialog_id": "case_record_outcome", "value": case.reference}, **place)


def _written(bot: TeamsBotHarness) -> tuple[int, int, int]:
    with bot.services.sessions() as session:
        return (len(session.exec(select(Outcome)).all()), len(session.exec(select(FairnessAnswer)).all()),
                len(session.exec(select(ActionPoint)).all()))


def test_the_chair_records_an_outcome_and_the_owner_hears_of_their_action_point(teams_bot: TeamsBotHarness) -> None:
    teams_bot.reset()
    case = convene_case(teams_bot)
    chair, owner = teams_bot.person("U0CHAIR01"), teams_bot.person("U0SERVICE")
    card = dialog_card(_open(teams_bot, case))
    fields = inputs(card)
    # Every field of Slack's form, under the domain's names; no roll-call was taken, so quorum is asked.
    assert {"process", "rationale", "risk_level", "quorate_stated", "quorum_statement", "action_1_description",
            "action_1_owner", "action_1_due"} <= set(fields)
    data = submit_data(card)
    assert data["action"] == "outcome_submit" and case.reference not in str(data)  # only the nonce

    answers = outcome_answers(("Arrange supervised medication rounds", owner.id, due(bot=teams_bot)))
    closed = dialog_closed_with(teams_bot.submit_dialog(chair, {**answers, **data}, conversation=case.room_id))
    assert closed.startswith(f"Recorded: the outcome of {case.reference}")
    assert _written(teams_bot) == (1, 5, 1)

    # The circulation is the scheduler's (due at once): the summary in the case chat, the owner's own list.
    tick(teams_bot)
    assert with_text(teams_bot.teams.messages(case.room_id), "Arrange supervised medication rounds")
    owner_cards = with_text(teams_bot.teams.personal_messages(owner.id), "Arrange supervised medication rounds")
    assert len(owner_cards) == 1 and case.reference in visible_text(owner_cards[0])
    # The header lost its "Record outcome" button once the outcome stood.
    header = next(m for m in teams_bot.teams.messages(case.room_id) if m["id"] == case.header_ref)
    assert "Record outcome" not in visible_text(header)


def test_the_same_outcome_sent_twice_is_recorded_once(teams_bot: TeamsBotHarness) -> None:
    teams_bot.reset()
    case = convene_case(teams_bot)
    chair = teams_bot.person("U0CHAIR01")
    data = submit_data(dialog_card(_open(teams_bot, case)))
    sent = {**outcome_answers(("Arrange supervised medication rounds", teams_bot.person("U0SERVICE").id,
                               due(bot=teams_bot))), **data}
    first = dialog_closed_with(teams_bot.submit_dialog(chair, sent, conversation=case.room_id))
    again = dialog_closed_with(teams_bot.submit_dialog(chair, sent, conversation=case.room_id))
    assert first.startswith("Recorded") and "already sent" in again
    assert _written(teams_bot) == (1, 5, 1)
    # A second dialog for the same case now refuses: the outcome stands.
    refused = dialog_closed_with(_open(teams_bot, case))
    assert "already recorded" in refused and f"fairness {case.reference}" in refused


def test_field_errors_show_under_the_fields_with_what_was_typed_kept(teams_bot: TeamsBotHarness) -> None:
    teams_bot.reset()
    case = convene_case(teams_bot)
    chair = teams_bot.person("U0CHAIR01")
    data = submit_data(dialog_card(_open(teams_bot, case)))
    staff_name = "Cordelia Marchbanks"  # the staff member, in the directory: refused at the field
    sent = {**outcome_answers(rationale=f"{staff_name} needs supervised practice.", process=None), **data}
    card = dialog_card(teams_bot.submit_dialog(chair, sent, conversation=case.room_id))
    text = card_text(card)
    assert "Choose the recommended process." in text
    fields = inputs(card)
    assert fields["rationale"]["value"] == sent["rationale"]  # kept as typed
    body = card["body"]
    at = next(i for i, b in enumerate(body) if b.get("id") == "rationale")
    assert body[at + 1].get("color") == "Attention"  # the message directly under the field
    assert _written(teams_bot) == (0, 0, 0)
    # Corrected, the same form records.
    fixed = {**outcome_answers(), **submit_data(card)}
    assert dialog_closed_with(teams_bot.submit_dialog(chair, fixed, conversation=case.room_id)).startswith("Recorded")


def test_add_another_action_point_grows_the_dialog_up_to_the_limit(teams_bot: TeamsBotHarness) -> None:
    teams_bot.reset()
    case = convene_case(teams_bot)
    chair = teams_bot.person("U0CHAIR01")
    card = dialog_card(_open(teams_bot, case))
    nonce = submit_data(card)["nonce"]
    typed = {"rationale": "Kept while the form grows."}
    for rows in range(2, MAX_ACTION_ROWS + 1):
        card = dialog_card(teams_bot.submit_dialog(chair, {"action": "outcome_add_row", "nonce": nonce, **typed},
                                                   conversation=case.room_id))
        assert f"action_{rows}_description" in inputs(card) and f"action_{rows + 1}_description" not in inputs(card)
        assert inputs(card)["rationale"]["value"] == typed["rationale"]
    assert "Add another action point" not in card_text(card)
    # Past the limit, nothing more is counted.
    card = dialog_card(teams_bot.submit_dialog(chair, {"action": "outcome_add_row", "nonce": nonce},
                                               conversation=case.room_id))
    assert f"action_{MAX_ACTION_ROWS + 1}_description" not in inputs(card)
    with teams_bot.services.sessions() as session:
        assert session.exec(select(FormRecord).where(FormRecord.nonce == nonce)).one().rows == MAX_ACTION_ROWS


def test_someone_not_the_chair_is_refused_and_nothing_is_recorded(teams_bot: TeamsBotHarness) -> None:
    teams_bot.reset()
    case = convene_case(teams_bot)
    refused = dialog_closed_with(_open(teams_bot, case, "U0SERVICE"))
    assert "record its outcome" in refused
    # A dialog opened for the chair, submitted by someone else, is not theirs.
    data = submit_data(dialog_card(_open(teams_bot, case)))
    member = teams_bot.person("U0SERVICE")
    closed = dialog_closed_with(teams_bot.submit_dialog(member, {**outcome_answers(), **data},
                                                        conversation=case.room_id))
    assert "not opened for you" in closed
    assert _written(teams_bot) == (0, 0, 0)


def test_an_opener_naming_another_case_or_on_another_card_opens_nothing(teams_bot: TeamsBotHarness) -> None:
    teams_bot.reset()
    first, second = convene_case(teams_bot, "T1"), convene_case(teams_bot, "T2")
    chair = teams_bot.person("U0CHAIR01")
    # In the first case's chat, a button whose data names the second case.
    other_case = teams_bot.open_dialog(chair, {"dialog_id": "case_record_outcome", "value": second.reference},
                                       reply_to_id=first.header_ref, conversation=first.room_id)
    assert "not on this case's card" in dialog_closed_with(other_case)
    # The right case, but replyToId names a card the bot never posted there.
    other_card = _open(teams_bot, first, reply_to_id="1700000000000")
    assert "not on this case's card" in dialog_closed_with(other_card)
    with teams_bot.services.sessions() as session:
        assert session.exec(select(FormRecord)).all() == []


def test_outcome_typed_answers_with_the_button_in_the_1_1_chat(teams_bot: TeamsBotHarness) -> None:
    teams_bot.reset()
    case = convene_case(teams_bot)
    chair = teams_bot.person("U0CHAIR01")
    before = len(teams_bot.teams.personal_messages(chair.id))
    assert teams_bot.say(chair, f"outcome {case.reference}").status_code in (200, 201)
    (answer,) = teams_bot.teams.personal_messages(chair.id)[before:]
    (opener,) = [a for a in answer["attachments"][0]["content"]["actions"]]
    assert opener["data"]["dialog_id"] == "case_record_outcome" and opener["data"]["value"] == case.reference
    # Pressed in the 1:1 chat, it opens the dialog (the person's own card: permission decides).
    card = dialog_card(teams_bot.open_dialog(chair, opener["data"], reply_to_id=answer["id"]))
    assert submit_data(card)["action"] == "outcome_submit"
    # Typed by someone who may not record, the refusal instead, in the domain's words.
    member = teams_bot.person("U0SERVICE")
    teams_bot.say(member, f"outcome {case.reference}")
    assert "record its outcome" in visible_text(teams_bot.teams.personal_messages(member.id)[-1])


def _typed_opener(bot: TeamsBotHarness, uid: str, text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """`uid` types `text` in their 1:1 chat; the card the bot answers with and its one button's data."""
    person = bot.person(uid)
    before = len(bot.teams.personal_messages(person.id))
    bot.say(person, text)
    (answer,) = bot.teams.personal_messages(person.id)[before:]
    (opener,) = answer["attachments"][0]["content"].get("actions", [])
    return answer, dict(opener["data"])


def test_action_typed_adds_one_and_its_owner_is_told_in_their_chat(teams_bot: TeamsBotHarness) -> None:
    teams_bot.reset()
    case = convene_case(teams_bot)
    chair, owner = teams_bot.person("U0CHAIR01"), teams_bot.person("U0NURSELD")
    # Before the outcome, the domain says to record it first.
    teams_bot.say(chair, f"action {case.reference}")
    assert "Record the outcome" in visible_text(teams_bot.teams.personal_messages(chair.id)[-1])
    data = submit_data(dialog_card(_open(teams_bot, case)))
    teams_bot.submit_dialog(chair, {**outcome_answers(), **data}, conversation=case.room_id)

    answer, opener = _typed_opener(teams_bot, "U0CHAIR01", f"action {case.reference}")
    card = dialog_card(teams_bot.open_dialog(chair, opener, reply_to_id=answer["id"]))
    assert {"action_description", "action_owner", "action_due"} <= set(inputs(card))
    sent = {**submit_data(card), "action_description": "Share the revised night-shift rota",
            "action_owner": owner.id, "action_due": due(7, teams_bot).isoformat()}
    closed = dialog_closed_with(teams_bot.submit_dialog(chair, sent))
    assert closed.startswith(f"Added action point 1 on {case.reference}")
    (told,) = teams_bot.teams.wait_for("POST /v3/conversations/{id}/activities",
                                       lambda c: "Share the revised night-shift rota" in visible_text(c.body))
    assert told.params["id"] == teams_bot.teams.personal_conversation_id(owner.id)
    (assigned,) = with_text(teams_bot.teams.personal_messages(owner.id), "Share the revised night-shift rota")
    assert f"gave you action point 1 on case **{case.reference}**" in visible_text(assigned)
    # The same dialog sent again adds nothing more.
    assert "already sent" in dialog_closed_with(teams_bot.submit_dialog(chair, sent))
    assert _written(teams_bot)[2] == 1


def test_fairness_typed_revisits_the_answers_and_notes_it_in_the_case_chat(teams_bot: TeamsBotHarness) -> None:
    teams_bot.reset()
    case = convene_case(teams_bot)
    chair = teams_bot.person("U0CHAIR01")
    data = submit_data(dialog_card(_open(teams_bot, case)))
    teams_bot.submit_dialog(chair, {**outcome_answers(), **data}, conversation=case.room_id)

    answer, opener = _typed_opener(teams_bot, "U0CHAIR01", f"fairness {case.reference}")
    card = dialog_card(teams_bot.open_dialog(chair, opener, reply_to_id=answer["id"]))
    assert inputs(card)["fairness_heard"]["value"] == "yes"  # the current answers, to start from
    sent = {**submit_data(card), **{k: "yes" for k in inputs(card) if not k.endswith("_note")},
            "fairness_heard": "unknown", "fairness_heard_note": "The practitioner is on leave until next week."}
    closed = dialog_closed_with(teams_bot.submit_dialog(chair, sent))
    assert closed.startswith(f"Saved: the fairness answers for {case.reference}") and "1 new action point" in closed
    teams_bot.teams.wait_for("POST /v3/conversations/{id}/activities",
                             lambda c: c.params["id"] == case.room_id and "revisited" in visible_text(c.body))
    assert _written(teams_bot) == (1, 10, 1)  # earlier answers kept; the "unknown" is an inquiry for the chair


def test_add_another_row_pressed_by_someone_else_changes_nothing(teams_bot: TeamsBotHarness) -> None:
    teams_bot.reset()
    case = convene_case(teams_bot)
    nonce = submit_data(dialog_card(_open(teams_bot, case)))["nonce"]
    member = teams_bot.person("U0SERVICE")
    closed = dialog_closed_with(teams_bot.submit_dialog(member, {"action": "outcome_add_row", "nonce": nonce},
                                                        conversation=case.room_id))
    assert "not opened for you" in closed
    # The chair's own form, sent from another conversation (their 1:1 chat), is not the dialog opened.
    chair = teams_bot.person("U0CHAIR01")
    elsewhere = dialog_closed_with(teams_bot.submit_dialog(chair, {"action": "outcome_add_row", "nonce": nonce}))
    assert "not opened for you" in elsewhere
    with teams_bot.services.sessions() as session:
        assert session.exec(select(FormRecord).where(FormRecord.nonce == nonce)).one().rows == 1
