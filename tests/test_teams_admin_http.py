"""Case administration on Teams: reschedule, cancel, close and the roster, through signed activities.

The Teams twins of tests/test_rescheduling.py, tests/test_home_and_closing.py (closing) and
tests/test_roster.py (the Slack parts): dialogs opened from the case header in the case chat (or from the
private card `close REF` answers), submitted once, the domain's refusals in its words; what is asserted is
what the Teams stand-in holds (chats, cards updated in place, 1:1 chats, the chat's topic and apps).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlmodel import select

from bot.domain import roster
from bot.domain.people import ONE, Standing
from bot.sandbox.teams_api import visible_text
from storage.tables import CaseEvent, CaseStatus, MessageState, ScheduledMessage
from tests.factories import LONDON
from tests.teams_bot import TeamsBotHarness
from tests.teams_cases import case_named, convene, dialog_card, dialog_text, eventually, submit_data, texts

MEMBERS = ("U0CHAIR01", "U0MANAGER", "U0SERVICE", "U0PEOPLE1", "U0GOVERN1", "U0CLINDIR", "U0NURSELD")


def _open(tb: TeamsBotHarness, who: str, dialog_id: str, reference: str, *, card: str | None,
          chat: str | None) -> dict[str, Any]:
    response = tb.open_dialog(tb.person(who), {"dialog_id": dialog_id, "value": reference}, reply_to_id=card,
                              conversation=chat)
    assert response.status_code == 200, response.text
    return response.json()


def _submit(tb: TeamsBotHarness, who: str, data: dict[str, Any], chat: str | None) -> dict[str, Any]:
    response = tb.submit_dialog(tb.person(who), data, conversation=chat)
    assert response.status_code == 200, response.text
    return response.json()


def _header(tb: TeamsBotHarness, chat: str, header_ref: str | None) -> str:
    """The case header as the chat shows it now (its facts' values too); one activity, updated in place."""
    (header,) = [m for m in tb.teams.messages(chat) if m["id"] == header_ref]
    return json.dumps(header, ensure_ascii=False)


def _pending(tb: TeamsBotHarness, case_id: int) -> list[ScheduledMessage]:
    with tb.services.sessions() as session:
        return list(session.exec(select(ScheduledMessage).where(ScheduledMessage.case_id == case_id,
                                                                ScheduledMessage.state == MessageState.PENDING)))


def _events(tb: TeamsBotHarness, case_id: int, kind: str) -> int:
    with tb.services.sessions() as session:
        return len(list(session.exec(select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == kind))))


# ----------------------------------------------------------------------------- reschedule


def test_the_convener_reschedules_from_the_header_members_are_told_and_the_header_moves(
        teams_bot: TeamsBotHarness) -> None:
    tb = teams_bot
    tb.reset()
    tb.install(tb.person("U0MANAGER"))  # their 1:1 chat, where the result is told
    case = convene(tb)
    chat, ref = case.room_id, case.reference
    before = {uid: len(tb.teams.personal_messages(tb.person(uid).id)) for uid in MEMBERS}
    opened = _open(tb, "U0MANAGER", "case_reschedule", ref, card=case.header_ref, chat=chat)
    card = dialog_card(opened)
    assert opened["task"]["value"]["title"] == "Reschedule the call"
    inputs = {e["id"]: e for e in card["body"] if e.get("id")}
    assert inputs["call_time"]["value"] == "14:00" and inputs["duration"]["value"] == "60"
    assert ref not in str(submit_data(card))  # the dialog carries its nonce only

    new_day = (tb.clock().astimezone(LONDON) + timedelta(days=5)).date()
    data = {**submit_data(card), "call_date": new_day.isoformat(), "call_time": "10:30", "duration": "90"}
    answer = _submit(tb, "U0MANAGER", data, chat)
    assert dialog_text(answer) == f"{ref} is moved. Telling the members; this takes a few seconds."

    # Every member but the one who moved it is told in their 1:1 chat; the convener hears the result there.
    for uid in MEMBERS:
        if uid == "U0MANAGER":
            continue
        latest = eventually(lambda uid=uid: tb.teams.personal_messages(tb.person(uid).id)[before[uid]:])
        assert any(ref in t for t in texts(latest)), uid
    told = eventually(lambda: [t for t in texts(tb.teams.personal_messages(tb.person("U0MANAGER").id))
                               if "is moved to" in t])
    assert ref in told[-1] and "answer on the board too" in told[-1] and "Teams refused" not in told[-1]
    # The case chat is told, and the header shows the new duration in place (the same activity).
    assert eventually(lambda: [t for t in texts(tb.teams.messages(chat)) if "Rescheduled" in t or "rescheduled" in t])
    assert "90 minutes" in _header(tb, chat, case.header_ref)
    # The attendance board is updated in place too: everyone is asked again.
    (board,) = [m for m in tb.teams.messages(chat) if m["id"] == case.board_ref]
    assert "lastModified" in board
    after = case_named(tb, ref)
    assert after.duration_minutes == 90 and after.schedule_version == 2

    # The same dialog submitted again acts once.
    again = _submit(tb, "U0MANAGER", data, chat)
    assert "already sent and has been saved once" in dialog_text(again)
    assert case_named(tb, ref).schedule_version == 2 and _events(tb, case.id or 0, "rescheduled") == 1


def test_someone_not_allowed_is_refused_in_the_domains_words_and_nothing_opens(teams_bot: TeamsBotHarness) -> None:
    tb = teams_bot
    tb.reset()
    case = convene(tb)
    for who, dialog_id in (("U0PEOPLE1", "case_reschedule"), ("U0MEMBER1", "case_cancel")):
        answer = _open(tb, who, dialog_id, case.reference, card=case.header_ref, chat=case.room_id)
        text = dialog_text(answer)
        assert text.startswith(f"Only the person who convened {case.reference}")
        # Who to ask, by name (a dialog's message cannot mention).
        for contact in ("U0MANAGER", "U0CHAIR01"):
            assert tb.person(contact).display_name in text or "a member" in text

    # A submission of the convener's dialog by someone else is refused; the case does not move.
    opened = dialog_card(_open(tb, "U0MANAGER", "case_cancel", case.reference, card=case.header_ref,
                               chat=case.room_id))
    refused = _submit(tb, "U0PEOPLE1", {**submit_data(opened), "reason": "Not needed."}, case.room_id)
    assert "was not opened for you" in dialog_text(refused)
    assert case_named(tb, case.reference).status == CaseStatus.CONVENED


def test_a_button_naming_another_case_or_on_another_card_opens_nothing(teams_bot: TeamsBotHarness) -> None:
    tb = teams_bot
    tb.reset()
    first, second = convene(tb), convene(tb)
    # The second case's reference on the first case's header, in the first case's chat.
    wrong_case = _open(tb, "U0MANAGER", "case_reschedule", second.reference, card=first.header_ref,
                       chat=first.room_id)
    assert "not on this case's card" in dialog_text(wrong_case)
    # The right case, but the click names a card that is not one of the case's messages.
    other_card = _open(tb, "U0MANAGER", "case_cancel", first.reference, card="1700000000999", chat=first.room_id)
    assert "not on this case's card" in dialog_text(other_card)
    # A dialog opened in one chat and submitted from another is refused.
    opened = dialog_card(_open(tb, "U0MANAGER", "case_cancel", first.reference, card=first.header_ref,
                               chat=first.room_id))
    moved = _submit(tb, "U0MANAGER", {**submit_data(opened), "reason": "Not needed."}, second.room_id)
    assert "was not opened for you" in dialog_text(moved)
    assert case_named(tb, first.reference).status == case_named(tb, second.reference).status == CaseStatus.CONVENED


def test_a_bad_time_is_shown_at_the_field_with_the_values_kept(teams_bot: TeamsBotHarness) -> None:
    tb = teams_bot
    tb.reset()
    case = convene(tb)
    card = dialog_card(_open(tb, "U0MANAGER", "case_reschedule", case.reference, card=case.header_ref,
                             chat=case.room_id))
    yesterday = (tb.clock().astimezone(LONDON) - timedelta(days=1)).date()
    data = {**submit_data(card), "call_date": yesterday.isoformat(), "call_time": "10:30", "duration": "90"}
    again = dialog_card(_submit(tb, "U0MANAGER", data, case.room_id))
    shown = visible_text({"attachments": [{"content": again}]})
    assert "past" in shown.lower() or "already" in shown.lower()
    inputs = {e["id"]: e for e in again["body"] if e.get("id")}
    assert inputs["call_date"]["value"] == yesterday.isoformat() and inputs["duration"]["value"] == "90"
    assert case_named(tb, case.reference).schedule_version == 1


# ----------------------------------------------------------------------------- cancel


def test_the_chair_cancels_with_a_reason_members_are_told_and_nothing_more_is_sent(teams_bot: TeamsBotHarness) -> None:
    tb = teams_bot
    tb.reset()
    case = convene(tb)
    chat, ref = case.room_id, case.reference
    chair = tb.person("U0CHAIR01")
    tb.install(chair)
    assert _pending(tb, case.id or 0)
    card = dialog_card(_open(tb, "U0CHAIR01", "case_cancel", ref, card=case.header_ref, chat=chat))
    data = {**submit_data(card), "reason": "The concern was resolved informally with the practitioner."}
    assert dialog_text(_submit(tb, "U0CHAIR01", data, chat)).startswith(f"{ref} is cancelled.")

    nurse = tb.person("U0NURSELD").id
    eventually(lambda: [t for t in texts(tb.teams.personal_messages(nurse)) if "resolved informally" in t])
    eventually(lambda: [t for t in texts(tb.teams.messages(chat)) if "resolved informally" in t])
    eventually(lambda: "cancelled" in _header(tb, chat, case.header_ref))
    assert case_named(tb, ref).status == CaseStatus.CANCELLED and _pending(tb, case.id or 0) == []
    told = eventually(lambda: [t for t in texts(tb.teams.personal_messages(chair.id)) if "is cancelled. The" in t])
    assert "Teams refused" not in told[-1]  # the cancelled invite reached the members too (their 1:1 chats)
    assert "already sent" in dialog_text(_submit(tb, "U0CHAIR01", data, chat))
    assert _events(tb, case.id or 0, "cancelled") == 1


def test_a_cancel_reason_naming_the_staff_member_is_refused_at_the_field(teams_bot: TeamsBotHarness) -> None:
    from tests.factories import STAFF_MEMBER

    tb = teams_bot
    tb.reset()
    case = convene(tb)
    tb.services.directory.refresh_in_background()
    eventually(lambda: STAFF_MEMBER[1] in tb.services.directory.names(wait_seconds=1.0))
    card = dialog_card(_open(tb, "U0CHAIR01", "case_cancel", case.reference, card=case.header_ref,
                             chat=case.room_id))
    data = {**submit_data(card), "reason": f"{STAFF_MEMBER[1]} has left the trust."}
    again = dialog_card(_submit(tb, "U0CHAIR01", data, case.room_id))
    assert "name" in visible_text({"attachments": [{"content": again}]}).lower()
    assert case_named(tb, case.reference).status == CaseStatus.CONVENED


# ----------------------------------------------------------------------------- close


def test_closing_from_the_header_says_so_in_the_chat_and_retires_it(teams_bot: TeamsBotHarness) -> None:
    tb = teams_bot
    tb.reset()
    case = convene(tb)
    chat, ref = case.room_id, case.reference
    card = dialog_card(_open(tb, "U0CHAIR01", "case_close", ref, card=case.header_ref, chat=chat))
    shown = visible_text({"attachments": [{"content": card}]})
    assert "No outcome is recorded" in shown  # a reason is required
    missing = dialog_card(_submit(tb, "U0CHAIR01", {**submit_data(card), "reason": ""}, chat))
    assert "reason" in visible_text({"attachments": [{"content": missing}]}).lower()
    assert case_named(tb, ref).status == CaseStatus.CONVENED

    data = {**submit_data(card), "reason": "Referred to the regulator; the panel's advice is not needed."}
    assert dialog_text(_submit(tb, "U0CHAIR01", data, chat)) == f"{ref} is closed. Posting the closing summary."
    summary = eventually(lambda: [t for t in texts(tb.teams.messages(chat)) if "This chat is now retired." in t])
    assert ref in summary[-1]
    eventually(lambda: tb.teams.conversation(chat).topic.endswith("(closed)"))
    eventually(lambda: not tb.teams.conversation(chat).app_installed)
    assert case_named(tb, ref).status == CaseStatus.CLOSED
    # The app has left the chat: Teams delivers nothing more from it (a repeat is tested from the 1:1 chat).


def test_close_typed_answers_privately_with_the_button_or_the_refusal(teams_bot: TeamsBotHarness) -> None:
    tb = teams_bot
    tb.reset()
    case = convene(tb)
    chair, member = tb.person("U0CHAIR01"), tb.person("U0MEMBER1")
    tb.install(chair)
    tb.install(member)
    tb.say(member, f"close {case.reference}")
    refusal = texts(tb.teams.personal_messages(member.id))[-1]
    assert "close it" in refusal and case.reference in refusal

    tb.say(chair, f"close {case.reference.lower()}")
    opener = tb.teams.personal_messages(chair.id)[-1]["attachments"][0]["content"]
    (button,) = opener["actions"]
    assert button["data"] == {"msteams": {"type": "task/fetch"}, "dialog_id": "case_close", "value": case.reference}
    card = dialog_card(_open(tb, "U0CHAIR01", "case_close", case.reference, card=None, chat=None))
    data = {**submit_data(card), "reason": "Resolved through the capability process."}
    assert dialog_text(_submit(tb, "U0CHAIR01", data, None)).startswith(f"{case.reference} is closed.")
    eventually(lambda: [t for t in texts(tb.teams.personal_messages(chair.id)) if "is closed. The closing" in t])
    assert case_named(tb, case.reference).status == CaseStatus.CLOSED
    # The same dialog delivered again acts once.
    assert "already sent" in dialog_text(_submit(tb, "U0CHAIR01", data, None))
    assert _events(tb, case.id or 0, "closed") == 1
    # Opening it again says it is closed.
    assert "already closed" in dialog_text(_open(tb, "U0CHAIR01", "case_close", case.reference, card=None, chat=None))



# ----------------------------------------------------------------------------- roster


def _roster_card(tb: TeamsBotHarness, who: str) -> dict[str, Any]:
    person = tb.person(who)
    tb.install(person)
    tb.say(person, "roster")
    return tb.teams.personal_messages(person.id)[-1]


def _open_editor(tb: TeamsBotHarness, who: str) -> dict[str, Any]:
    return _open_dialog_data(tb, who, {"dialog_id": "roster_edit_open", "value": ""})


def _open_dialog_data(tb: TeamsBotHarness, who: str, data: dict[str, Any]) -> dict[str, Any]:
    response = tb.open_dialog(tb.person(who), data)
    assert response.status_code == 200, response.text
    return response.json()


def _roster_of(tb: TeamsBotHarness, who: str) -> set[str] | None:
    with tb.services.sessions() as session:
        found = roster.entry(session, tb.person(who).id)
    return None if found is None else {str(r) for r in found.roles}


def test_governance_changes_the_roster_through_the_dialog_and_sees_the_change(teams_bot: TeamsBotHarness) -> None:
    tb = teams_bot
    tb.reset()
    tb.services.directory.refresh_in_background()
    overview = _roster_card(tb, "U0GOVERN1")
    shown = visible_text(overview)
    assert "Roster for the" in shown and "No changes recorded yet." not in shown  # the import is a change
    (button,) = overview["attachments"][0]["content"]["actions"]
    assert button["data"]["dialog_id"] == "roster_edit_open"

    card = dialog_card(_open_dialog_data(tb, "U0GOVERN1", {k: v for k, v in button["data"].items()}))
    member = tb.person("U0MEMBER1")
    data = {**submit_data(card), "user": member.id, "roles": "member,deputy_chair", "professions": ""}
    answer = _submit(tb, "U0GOVERN1", data, None)
    assert "is on the roster as" in dialog_text(answer) and "Deputy chair" in dialog_text(answer)
    assert _roster_of(tb, "U0MEMBER1") == {"member", "deputy_chair"}
    # The same dialog sent again changes nothing more.
    assert "already sent" in dialog_text(_submit(tb, "U0GOVERN1", {**data, "roles": "member"}, None))
    assert _roster_of(tb, "U0MEMBER1") == {"member", "deputy_chair"}

    # The overview lists the change, most recent first, with who made it.
    again = visible_text(_roster_card(tb, "U0GOVERN1"))
    recent = again.split("Recent changes", 1)[1]
    assert "+Deputy chair" in recent and "CSV import" in recent


def test_only_governance_sees_or_changes_the_roster(teams_bot: TeamsBotHarness) -> None:
    tb = teams_bot
    tb.reset()
    refused = visible_text(_roster_card(tb, "U0CHAIR01"))
    assert "Only the governance team can view or change the roster" in refused and "Recent changes" not in refused
    assert "Only the governance team" in dialog_text(_open_editor(tb, "U0CHAIR01"))
    # A governance dialog submitted by someone else counts for nothing.
    card = dialog_card(_open_editor(tb, "U0GOVERN1"))
    data = {**submit_data(card), "user": tb.person("U0CHAIR01").id, "roles": "governance", "professions": ""}
    assert "was not opened for you" in dialog_text(_submit(tb, "U0CHAIR01", data, None))
    assert _roster_of(tb, "U0CHAIR01") == {"chair"}


def test_a_guest_or_a_leaver_is_refused_at_the_person_field(teams_bot: TeamsBotHarness) -> None:
    from tests.factories import DEACTIVATED, OUTSIDER

    tb = teams_bot
    tb.reset()
    for who, standing in ((OUTSIDER, Standing.UNKNOWN), (DEACTIVATED[0], Standing.DEACTIVATED)):
        card = dialog_card(_open_editor(tb, "U0GOVERN1"))
        data = {**submit_data(card), "user": tb.person(who).id, "roles": "member", "professions": ""}
        again = dialog_card(_submit(tb, "U0GOVERN1", data, None))
        # The domain's words, directly under the person field (the dialog built again, the choice kept).
        body = [json.dumps(e) for e in again["body"]]
        at = next(i for i, e in enumerate(again["body"]) if e.get("id") == "user")
        assert again["body"][at]["value"] == tb.person(who).id
        assert ONE[standing] in body[at + 1] and not any(ONE[standing] in e for e in body[:at])
        assert _roster_of(tb, who) is None


def test_close_typed_in_the_case_chat_is_answered_in_the_1to1_chat_only(teams_bot: TeamsBotHarness) -> None:
    tb = teams_bot
    tb.reset()
    case = convene(tb)
    chair = tb.person("U0CHAIR01")
    tb.install(chair)
    in_chat = len(tb.teams.messages(case.room_id))
    mine = len(tb.teams.personal_messages(chair.id))
    assert tb.mention(chair, case.room_id, f"close {case.reference}").status_code == 200
    opener = eventually(lambda: tb.teams.personal_messages(chair.id)[mine:])
    assert opener[-1]["attachments"][0]["content"]["actions"][0]["data"]["dialog_id"] == "case_close"
    assert len(tb.teams.messages(case.room_id)) == in_chat  # nothing said in the case chat


def test_a_value_the_dialog_never_sends_is_an_error_at_its_field(teams_bot: TeamsBotHarness) -> None:
    tb = teams_bot
    tb.reset()
    case = convene(tb)
    card = dialog_card(_open(tb, "U0MANAGER", "case_reschedule", case.reference, card=case.header_ref,
                             chat=case.room_id))
    data = {**submit_data(card), "call_date": "next tuesday", "call_time": "10:30", "duration": "7"}
    again = dialog_card(_submit(tb, "U0MANAGER", data, case.room_id))
    at = next(i for i, e in enumerate(again["body"]) if e.get("id") == "call_date")
    assert "date picker" in json.dumps(again["body"][at + 1])
    assert case_named(tb, case.reference).schedule_version == 1
