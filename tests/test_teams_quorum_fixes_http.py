"""The fixes on a pre-call quorum warning, on Teams: the twins of tests/test_quorum_fixes_http.py.

The warning is sent as the scheduler sends it (the outbox, through TeamsWorkspace) to the convener's and the
chair's 1:1 chats; its buttons are then pressed there.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

from sqlmodel import select

from bot.domain import reminders
from bot.domain.history import events
from bot.sandbox.teams_api import visible_text
from storage.tables import Case, DeliveryRecord
from tests.teams_bot import TeamsBotHarness
from tests.teams_convening import MANAGER, closing, convened, dialog_card, error_under, inputs, wait

UPDATES = "PUT /v3/conversations/{id}/activities/{activityId}"


def warned(bot: TeamsBotHarness) -> Case:
    """A fresh case whose pre-call check has run (an hour before the call): nobody but the convener answered."""
    bot.reset()
    case = convened(bot)
    reminders.send_due(bot.services.sessions, bot.services.engine, bot.bot.workspace(), bot.terms,
                       bot.services.zone, case.call_at - timedelta(hours=1))
    return case


def warning(bot: TeamsBotHarness, uid: str, case: Case) -> dict[str, Any]:
    """The quorum warning in `uid`'s 1:1 chat, found by the activity id the ledger kept."""
    person = bot.person(uid)
    with bot.services.sessions() as session:
        (row,) = session.exec(select(DeliveryRecord).where(
            DeliveryRecord.case_id == case.id, DeliveryRecord.recipient == person.id,
            DeliveryRecord.kind == "quorum_warning"))
    (found,) = [m for m in bot.teams.personal_messages(person.id) if m["id"] == row.ref]
    return found


def open_invite(bot: TeamsBotHarness, uid: str, case: Case, reply_to: str | None) -> dict[str, Any]:
    response = bot.open_dialog(bot.person(uid), {"dialog_id": "quorum_invite_deputy", "value": case.reference},
                               reply_to_id=reply_to)
    assert response.status_code == 200
    return response.json()


def proceed(bot: TeamsBotHarness, uid: str, case: Case, reply_to: str | None) -> str:
    response = bot.click(bot.person(uid), "quorum_proceed", {"value": case.reference}, reply_to_id=reply_to)
    answer = response.json()
    assert answer["type"] == "application/vnd.microsoft.activity.message", answer
    return str(answer["value"])


def test_the_convener_invites_the_deputy_chair_into_the_open_chair_seat(teams_bot: TeamsBotHarness) -> None:
    case = warned(teams_bot)
    sent = warning(teams_bot, MANAGER, case)
    assert "may not be quorate" in visible_text(sent)
    card = dialog_card(open_invite(teams_bot, MANAGER, case, sent["id"]))
    fields = inputs(card)
    deputy = teams_bot.person("U0DEPUTY1")
    assert fields["seat"]["value"] == "chair" and fields["deputy"]["value"] == deputy.id
    data = card["actions"][0]["data"]

    def send(**values: str) -> dict[str, Any]:
        return teams_bot.submit_dialog(teams_bot.person(MANAGER), {**data, **values}).json()

    # A seat already filled (the convener's own) is refused at the field, the rest kept.
    again = dialog_card(send(seat="line_manager", deputy=deputy.id))
    assert "needs nobody to stand in" in (error_under(again, "seat") or "")
    # The reference the dialog carries back is not read: the form's own is.
    assert "Invited" in closing(send(seat="chair", deputy=deputy.id, reference="PMCCG-1999-001"))
    wait(lambda: deputy.id in teams_bot.teams.conversation(case.room_id).members)
    board = wait(lambda: next((m for m in teams_bot.teams.messages(case.room_id) if m["id"] == case.board_ref
                               and f"Sending a deputy: <at>{deputy.display_name}</at>" in json.dumps(
                                   m, ensure_ascii=False)), None))
    assert board is not None
    assert "already sent" in closing(send(seat="chair", deputy=deputy.id))


def test_only_the_convener_the_chair_or_governance_can_use_the_fixes(teams_bot: TeamsBotHarness) -> None:
    case = warned(teams_bot)
    answer = open_invite(teams_bot, "U0CLINDIR", case, warning(teams_bot, MANAGER, case)["id"])
    assert "Only the person who convened" in closing(answer)


def test_a_fix_pressed_anywhere_but_on_the_warning_sent_to_that_person_changes_nothing(
        teams_bot: TeamsBotHarness) -> None:
    case = warned(teams_bot)
    chairs = warning(teams_bot, "U0CHAIR01", case)
    # The chair's warning, pressed by the convener (who may use the fixes, but from their own warning only).
    assert "not on a message the bot sent you" in closing(open_invite(teams_bot, MANAGER, case, chairs["id"]))
    assert "not on a message the bot sent you" in proceed(teams_bot, MANAGER, case, chairs["id"])
    assert "not on a message the bot sent you" in proceed(teams_bot, "U0CHAIR01", case, None)
    time.sleep(0.2)
    with teams_bot.services.sessions() as session:
        assert "proceed_may_be_inquorate" not in [e.kind for e in events(session, case.id or 0)]


def test_proceeding_is_recorded_once_and_said_in_the_case_chat_once(teams_bot: TeamsBotHarness) -> None:
    case = warned(teams_bot)
    before = len(teams_bot.teams.messages(case.room_id))
    first = proceed(teams_bot, "U0CHAIR01", case, warning(teams_bot, "U0CHAIR01", case)["id"])
    second = proceed(teams_bot, MANAGER, case, warning(teams_bot, MANAGER, case)["id"])
    assert first.startswith("Recorded") and second.startswith("Already recorded")
    noted = wait(lambda: [m for m in teams_bot.teams.messages(case.room_id)[before:]
                          if "may be inquorate" in visible_text(m)])
    time.sleep(0.3)
    assert len(noted) == 1
    with teams_bot.services.sessions() as session:
        kinds = [e.kind for e in events(session, case.id or 0)]
    assert kinds.count("proceed_may_be_inquorate") == 1


def test_going_ahead_is_kept_when_the_case_chat_cannot_be_told_and_the_person_is_told_so(
        teams_bot: TeamsBotHarness) -> None:
    case = warned(teams_bot)
    chair = teams_bot.person("U0CHAIR01")
    sent = warning(teams_bot, "U0CHAIR01", case)
    earlier = len(teams_bot.teams.personal_messages(chair.id))
    teams_bot.teams.fail_next("POST /v3/conversations/{id}/activities", 404, "ConversationNotFound")
    assert proceed(teams_bot, "U0CHAIR01", case, sent["id"]).startswith("Recorded")
    wait(lambda: any("could not be told" in visible_text(m)
                     for m in teams_bot.teams.personal_messages(chair.id)[earlier:]))
    with teams_bot.services.sessions() as session:
        assert "proceed_may_be_inquorate" in [e.kind for e in events(session, case.id or 0)]
