"""The roll-call in Teams (the twin of tests/test_roll_call.py's main scenarios): posted in the case chat at
the call; "I'm on the call" marks the presser and redraws the one roll-call card in place; the chair marks
someone who joined by phone through a dialog and records the quorum result; someone else cannot record; a
press whose data names another case, or on another card, changes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import select

from bot.sandbox.teams_api import visible_text
from storage.tables import Case, RollCallMark
from tests.teams_after_call import buttons, convene_case, dialog_card, dialog_closed_with, submit_data, tick
from tests.teams_bot import TeamsBotHarness

UPDATE = "PUT /v3/conversations/{id}/activities/{activityId}"


def _at_the_call(bot: TeamsBotHarness, key: str = "T1") -> tuple[Case, dict[str, Any]]:
    """A case whose call has started: the roll-call posted in its chat (the scheduler's), and that card."""
    case = convene_case(bot, key)
    bot.clock.move_to(case.call_at + timedelta(minutes=2) if case.call_at.tzinfo else
                      case.call_at.replace(tzinfo=bot.clock().tzinfo) + timedelta(minutes=2))
    tick(bot)
    with bot.services.sessions() as session:
        case = session.exec(select(Case).where(Case.id == case.id)).one()
    assert case.roll_call_ref
    card = next(m for m in bot.teams.messages(case.room_id) if m["id"] == case.roll_call_ref)
    return case, card


def _value(card: dict[str, Any], title: str) -> dict[str, Any]:
    return next(b for b in buttons(card) if b.get("title") == title)["data"]


def _marks(bot: TeamsBotHarness) -> int:
    with bot.services.sessions() as session:
        return len(session.exec(select(RollCallMark)).all())


def test_im_on_the_call_marks_the_presser_and_redraws_the_roll_call_in_place(teams_bot: TeamsBotHarness) -> None:
    teams_bot.reset()
    case, card = _at_the_call(teams_bot)
    assert "Nobody is marked present yet." in visible_text(card)
    member = teams_bot.person("U0SERVICE")
    count = len(teams_bot.teams.messages(case.room_id))
    answer = teams_bot.click(member, "roll_call_present", _value(card, "I'm on the call"),
                             reply_to_id=case.roll_call_ref, conversation=case.room_id)
    assert answer.json()["value"] == f"You are marked present as a member on {case.reference}."
    teams_bot.teams.wait_for(UPDATE, lambda c: c.params["activityId"] == case.roll_call_ref)
    redrawn = next(m for m in teams_bot.teams.messages(case.room_id) if m["id"] == case.roll_call_ref)
    assert "Desmond Okonkwo-Hale" in visible_text(redrawn) and len(teams_bot.teams.messages(case.room_id)) == count
    again = teams_bot.click(member, "roll_call_present", _value(card, "I'm on the call"),
                            reply_to_id=case.roll_call_ref, conversation=case.room_id)
    assert again.json()["value"].startswith("No change: You were already marked present")
    assert _marks(teams_bot) == 1


def test_the_chair_marks_someone_present_and_records_the_result(teams_bot: TeamsBotHarness) -> None:
    teams_bot.reset()
    case, card = _at_the_call(teams_bot)
    chair, nurse = teams_bot.person("U0CHAIR01"), teams_bot.person("U0NURSELD")
    opened = teams_bot.open_dialog(chair, {"dialog_id": "roll_call_mark_other",
                                           "value": _value(card, "Mark someone present")["value"]},
                                   reply_to_id=case.roll_call_ref, conversation=case.room_id)
    data = submit_data(dialog_card(opened))
    closed = dialog_closed_with(teams_bot.submit_dialog(chair, {**data, "person": nurse.id},
                                                        conversation=case.room_id))
    assert closed == f"Marisol Pennington is marked present as a member on {case.reference}."
    # A member who is not the chair may not record the result.
    member = teams_bot.person("U0SERVICE")
    refused = teams_bot.click(member, "roll_call_record", _value(card, "Record the quorum result"),
                              reply_to_id=case.roll_call_ref, conversation=case.room_id)
    assert "record its quorum result" in refused.json()["value"]
    recorded = teams_bot.click(chair, "roll_call_record", _value(card, "Record the quorum result"),
                               reply_to_id=case.roll_call_ref, conversation=case.room_id)
    assert recorded.json()["value"].startswith(f"Recorded: {case.reference} was ")
    teams_bot.teams.wait_for("POST /v3/conversations/{id}/activities",
                             lambda c: c.params["id"] == case.room_id and "quorate" in visible_text(c.body).lower()
                             and c.body.get("id") is None)
    with teams_bot.services.sessions() as session:
        assert session.exec(select(Case).where(Case.id == case.id)).one().quorate is not None


def test_a_press_naming_another_case_or_on_another_card_changes_nothing(teams_bot: TeamsBotHarness) -> None:
    teams_bot.reset()
    first, card = _at_the_call(teams_bot, "T1")
    second = convene_case(teams_bot, "T2")
    member = teams_bot.person("U0SERVICE")
    other_case = teams_bot.click(member, "roll_call_present", {"value": second.reference},
                                 reply_to_id=first.roll_call_ref, conversation=first.room_id)
    assert "not on this case's roll-call" in other_case.json()["value"]
    other_card = teams_bot.click(member, "roll_call_present", _value(card, "I'm on the call"),
                                 reply_to_id=first.header_ref, conversation=first.room_id)
    assert "not on this case's roll-call" in other_card.json()["value"]
    own_chat = teams_bot.click(member, "roll_call_present", _value(card, "I'm on the call"),
                               reply_to_id=first.roll_call_ref)
    assert "not on this case's roll-call" in own_chat.json()["value"]
    assert _marks(teams_bot) == 0


def test_the_chair_corrects_the_roll_call_with_a_reason(teams_bot: TeamsBotHarness) -> None:
    teams_bot.reset()
    case, card = _at_the_call(teams_bot)
    chair, member = teams_bot.person("U0CHAIR01"), teams_bot.person("U0SERVICE")
    # Someone who is not the chair is refused before any dialog opens.
    refused = teams_bot.open_dialog(member, {"dialog_id": "roll_call_correct", "value": case.reference},
                                    reply_to_id=case.roll_call_ref, conversation=case.room_id)
    assert "correct its roll-call" in dialog_closed_with(refused)
    opened = teams_bot.open_dialog(chair, {"dialog_id": "roll_call_correct", "value": case.reference},
                                   reply_to_id=case.roll_call_ref, conversation=case.room_id)
    data = submit_data(dialog_card(opened))
    # No reason: the domain's error under its field, nothing written.
    again = dialog_card(teams_bot.submit_dialog(chair, {**data, "person": member.id, "present": "present"},
                                                conversation=case.room_id))
    assert any(b.get("color") == "Attention" for b in again["body"]) and _marks(teams_bot) == 0
    closed = dialog_closed_with(teams_bot.submit_dialog(
        chair, {**data, "person": member.id, "present": "present", "reason": "Joined by phone; the line dropped."},
        conversation=case.room_id))
    assert closed == f"Corrected: the roll-call for {case.reference}."
    teams_bot.teams.wait_for(UPDATE, lambda c: c.params["activityId"] == case.roll_call_ref)
    teams_bot.teams.wait_for("POST /v3/conversations/{id}/activities",
                             lambda c: c.params["id"] == case.room_id and "corrected" in visible_text(c.body))
    assert _marks(teams_bot) == 1
