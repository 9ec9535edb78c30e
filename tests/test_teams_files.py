"""Files on Teams (issue 16 point 11): the case file, the attendance matrix and the annual report reach only the
person who asked, in their 1:1 chat, through the file consent flow; what is asserted is what the stand-in holds.

The Teams twins of tests/test_case_file.py's export tests, tests/test_attendance_matrix.py's and
tests/test_annual_report.py's delivery and refusal tests.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from bot.sandbox.teams_api import FILE_CONSENT_CONTENT_TYPE, visible_text
from storage.tables import CaseEvent
from tests.factories import all_names
from tests.teams_bot import TeamsBotHarness
from tests.teams_cases import convene, eventually, texts

FILE_INFO = "application/vnd.microsoft.teams.card.file.info"
CASE_CHAT_MEMBERS = ("U0CHAIR01", "U0MANAGER", "U0SERVICE", "U0PEOPLE1", "U0CLINDIR", "U0NURSELD")


_SINCE: dict[str, int] = {"id": 0}


def _start(tb: TeamsBotHarness) -> None:
    """An empty case history; chats keep what earlier tests left, so only cards posted from now on count."""
    tb.reset()
    _SINCE["id"] = max((int(m["id"]) for c in tb.teams.conversations for m in c.messages), default=0)


def _consents(tb: TeamsBotHarness, who: str) -> list[dict[str, Any]]:
    """The consent cards waiting in `who`'s 1:1 chat since the test started, oldest first."""
    return [m for m in tb.teams.personal_messages(tb.person(who).id) if int(m["id"]) > _SINCE["id"]
            and any(a.get("contentType") == FILE_CONSENT_CONTENT_TYPE for a in m.get("attachments") or [])]


def _saved(tb: TeamsBotHarness, who: str) -> dict[str, bytes]:
    """What reached `who`'s OneDrive since the test started (reset() cleared the call log): name -> content."""
    uploaded = [c.answer["name"] for c in tb.teams.calls_to("PUT /_onedrive/uploads/{uploadId}") if c.status == 201]
    theirs = tb.teams.files_of(tb.person(who).id)
    return {name: theirs[name] for name in uploaded if name in theirs}


def _name(card: dict[str, Any]) -> str:
    return str(card["attachments"][0]["name"])


def _consent(tb: TeamsBotHarness, who: str, card: dict[str, Any], action: str = "accept", **kw: Any) -> None:
    response = tb.post(tb.teams.file_consent(tb.person(who), card["id"], action, **kw))  # type: ignore[arg-type]
    assert response.status_code == 200, response.text


def _nobody_else_has_files(tb: TeamsBotHarness, requester: str, chat: str) -> None:
    for uid in CASE_CHAT_MEMBERS:
        if uid != requester:
            assert _consents(tb, uid) == [] and _saved(tb, uid) == {}, uid
    assert not [m for m in tb.teams.messages(chat) if FILE_CONSENT_CONTENT_TYPE in str(m)]


def test_governance_exports_and_the_files_reach_only_their_1to1_chat_once_allowed(teams_bot: TeamsBotHarness) -> None:
    tb = teams_bot
    _start(tb)
    case = convene(tb)
    governance = tb.person("U0GOVERN1")
    tb.install(governance)
    tb.say(governance, f"export {case.reference.lower()}")
    cards = eventually(lambda: _consents(tb, "U0GOVERN1") if len(_consents(tb, "U0GOVERN1")) == 3 else None)
    assert sorted(_name(c) for c in cards) == sorted(f"case-file-{case.reference}.{e}" for e in ("html", "md", "json"))
    assert "Allow" in texts(tb.teams.personal_messages(governance.id))[-1]
    assert _saved(tb, "U0GOVERN1") == {}  # nothing is uploaded before consent
    _nobody_else_has_files(tb, "U0GOVERN1", case.room_id)

    html = next(c for c in cards if _name(c).endswith(".html"))
    _consent(tb, "U0GOVERN1", html)
    saved = _saved(tb, "U0GOVERN1")
    assert list(saved) == [f"case-file-{case.reference}.html"]
    content = saved[f"case-file-{case.reference}.html"].decode()
    assert case.reference in content and "Two medication errors" in content
    assert not [name for name in all_names() if name in content]
    # The consent card became the file's card, in place (the same activity).
    (now_shown,) = [m for m in tb.teams.personal_messages(governance.id) if m["id"] == html["id"]]
    assert now_shown["attachments"][0]["contentType"] == FILE_INFO

    # Declined: forgotten, nothing sent; a second answer to the same card does nothing more.
    md = next(c for c in cards if _name(c).endswith(".md"))
    _consent(tb, "U0GOVERN1", md, "decline")
    _consent(tb, "U0GOVERN1", md, "accept")
    assert list(_saved(tb, "U0GOVERN1")) == [f"case-file-{case.reference}.html"]
    assert "no longer waiting" in texts(tb.teams.personal_messages(governance.id))[-1]
    _nobody_else_has_files(tb, "U0GOVERN1", case.room_id)
    with tb.services.sessions() as session:
        exported = session.exec(select(CaseEvent).where(CaseEvent.kind == "case_file_exported")).one()
    assert exported.actor_id == governance.id


def test_the_chair_exports_from_the_header_button_into_their_own_chat(teams_bot: TeamsBotHarness) -> None:
    tb = teams_bot
    _start(tb)
    case = convene(tb)
    tb.install(tb.person("U0CHAIR01"))
    response = tb.click(tb.person("U0CHAIR01"), "case_export", {"value": case.reference},
                        reply_to_id=case.header_ref, conversation=case.room_id)
    answer = response.json()
    assert answer["type"] == "application/vnd.microsoft.activity.message"
    assert "it will arrive in your chat with the bot" in answer["value"]
    assert len(eventually(lambda: _consents(tb, "U0CHAIR01") if len(_consents(tb, "U0CHAIR01")) == 3 else None)) == 3
    _nobody_else_has_files(tb, "U0CHAIR01", case.room_id)


def test_a_member_without_a_records_role_is_refused_and_nothing_is_offered(teams_bot: TeamsBotHarness) -> None:
    tb = teams_bot
    _start(tb)
    case = convene(tb)
    response = tb.click(tb.person("U0NURSELD"), "case_export", {"value": case.reference},
                        reply_to_id=case.header_ref, conversation=case.room_id)
    assert response.json()["value"].startswith("Only ") and "governance" in response.json()["value"]
    manager = tb.person("U0MANAGER")
    tb.install(manager)
    tb.say(manager, f"export {case.reference}")
    assert texts(tb.teams.personal_messages(manager.id))[-1].startswith("Only ")
    governance = tb.person("U0GOVERN1")
    tb.install(governance)
    tb.say(governance, "export PMCCG-1999-999")
    assert "There is no case" in texts(tb.teams.personal_messages(governance.id))[-1]
    assert [uid for uid in (*CASE_CHAT_MEMBERS, "U0GOVERN1") if _consents(tb, uid)] == []


def test_an_export_button_naming_another_case_in_this_chat_offers_nothing(teams_bot: TeamsBotHarness) -> None:
    tb = teams_bot
    _start(tb)
    first, second = convene(tb), convene(tb)
    tb.install(tb.person("U0CHAIR01"))
    response = tb.click(tb.person("U0CHAIR01"), "case_export", {"value": second.reference},
                        reply_to_id=first.header_ref, conversation=first.room_id)
    assert "not on this case's card" in response.json()["value"]
    assert _consents(tb, "U0CHAIR01") == []


def test_a_consent_copied_from_another_persons_card_takes_nothing(teams_bot: TeamsBotHarness) -> None:
    tb = teams_bot
    _start(tb)
    case = convene(tb)
    governance, chair = tb.person("U0GOVERN1"), tb.person("U0CHAIR01")
    tb.install(governance)
    tb.install(chair)
    tb.say(governance, f"export {case.reference}")
    tb.say(chair, "report")  # the chair gets consent cards of their own to answer
    theirs = eventually(lambda: _consents(tb, "U0GOVERN1") if len(_consents(tb, "U0GOVERN1")) == 3 else None)
    own = eventually(lambda: _consents(tb, "U0CHAIR01"))
    stolen = theirs[0]["attachments"][0]["content"]["acceptContext"]
    _consent(tb, "U0CHAIR01", own[0], "accept", context=stolen)
    assert _saved(tb, "U0CHAIR01") == {}
    # The owner can still accept it: nothing was taken.
    _consent(tb, "U0GOVERN1", theirs[0])
    assert list(_saved(tb, "U0GOVERN1")) == [_name(theirs[0])]


def test_the_attendance_matrix_and_the_annual_report_come_to_the_1to1_chat(teams_bot: TeamsBotHarness) -> None:
    tb = teams_bot
    _start(tb)
    convene(tb)
    governance = tb.person("U0GOVERN1")
    tb.install(governance)
    year = tb.clock().year
    tb.say(governance, f"attendance {year}")
    shown = texts(tb.teams.personal_messages(governance.id))
    assert any(f"Preparing the attendance matrix for {year}" in t for t in shown)
    assert any(f"attendance matrix {year}" in t for t in shown)
    matrix = [_name(c) for c in _consents(tb, "U0GOVERN1")]
    assert matrix and all(str(year) in n for n in matrix)
    tb.say(governance, "report")
    assert any(f"annual summary report {year}" in t for t in texts(tb.teams.personal_messages(governance.id)))
    names = [_name(c) for c in _consents(tb, "U0GOVERN1")][len(matrix):]
    assert names and all(str(year) in n for n in names)
    card = _consents(tb, "U0GOVERN1")[-1]
    _consent(tb, "U0GOVERN1", card)
    assert list(_saved(tb, "U0GOVERN1")) == [_name(card)]
    for uid in CASE_CHAT_MEMBERS:
        assert _consents(tb, uid) == [], uid


def test_someone_without_a_records_role_or_a_bad_year_is_refused_privately(teams_bot: TeamsBotHarness) -> None:
    tb = teams_bot
    _start(tb)
    member = tb.person("U0MEMBER1")
    tb.install(member)
    tb.say(member, "attendance")
    tb.say(member, "report 2026")
    refusals = texts(tb.teams.personal_messages(member.id))[-2:]
    assert all(r.startswith("Only ") and "governance" in r for r in refusals)
    governance = tb.person("U0GOVERN1")
    tb.install(governance)
    tb.say(governance, "report 20x6")
    assert "year" in visible_text(tb.teams.personal_messages(governance.id)[-1]).lower()
    assert _consents(tb, "U0MEMBER1") == [] and _consents(tb, "U0GOVERN1") == []
