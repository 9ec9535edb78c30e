"""The Teams sandbox's runtime and page endpoints: what a person sees and sends, through the real Teams app.

One sandbox for the module (the Teams SDK and the app start once); the page is driven with Flask's test
client, as the browser's script drives it (JSON posts), and read back from the page and its state.json.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.domain.commands import COMMANDS
from bot.sandbox.runtime import DEMO_PEOPLE
from bot.sandbox.teams_api import BOT_FRAMEWORK_SCOPE, visible_text
from bot.sandbox.teams_runtime import TeamsSandbox, entra_id, granted_permissions

MANAGER, CHAIR, MEMBER = entra_id("UDMANAGER"), entra_id("UDCHAIR01"), entra_id("UDMEMBER1")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TeamsSandbox]:
    running = TeamsSandbox(tmp_path_factory.mktemp("teams-sandbox"), tick_seconds=3600).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def client(sandbox: TeamsSandbox) -> Any:
    from bot.sandbox.teams_page import create_teams_page

    return create_teams_page(sandbox).test_client()


def _state(client: Any, oid: str, chat: str = "") -> dict[str, Any]:
    response = client.get(f"/as/{oid}/state.json", query_string={"c": chat} if chat else {})
    assert response.status_code == 200
    return response.get_json()


def _personal(client: Any, oid: str) -> str:
    return next(c["id"] for c in _state(client, oid)["chats"] if c["kind"] == "personal")


def _post(client: Any, oid: str, path: str, payload: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/as/{oid}{path}", json=payload)
    assert response.status_code == 200, response.data
    return response.get_json()


def _text(message: dict[str, Any]) -> str:
    return visible_text({"text": message["text"], "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "content": c} for c in message["cards"]]})


def test_the_chooser_lists_the_demo_roster_under_entra_ids(client: Any) -> None:
    page = client.get("/").get_data(as_text=True)
    for uid, (name, _, _) in DEMO_PEOPLE.items():
        assert name in page and f"/as/{entra_id(uid)}" in page


def test_the_page_lists_a_persons_chats_their_1_1_first_then_their_group_chats(client: Any,
                                                                                sandbox: TeamsSandbox) -> None:
    chats = _state(client, CHAIR)["chats"]
    assert [c["kind"] for c in chats] == ["personal"]
    assert chats[0]["id"] == sandbox.teams.personal_conversation_id(CHAIR)
    # A case chat the chair is in shows for them, not for someone outside it.
    chat = sandbox.teams.add_group_chat([CHAIR, MANAGER], topic="PMCCG-2026-900")
    assert [c["title"] for c in _state(client, CHAIR)["chats"]] == ["PMCCG", "PMCCG-2026-900"]
    assert "PMCCG-2026-900" not in [c["title"] for c in _state(client, MEMBER)["chats"]]
    page = client.get(f"/as/{CHAIR}").headers["Location"]
    assert client.get(page).status_code == 200
    assert client.get(f"/as/{MEMBER}/chat", query_string={"c": chat}).status_code == 404  # not theirs to see


def test_typing_help_shows_the_help_in_their_1_1_chat(client: Any) -> None:
    chat = _personal(client, MEMBER)
    answer = _post(client, MEMBER, "/say", {"chat": chat, "text": "help"})
    assert answer["ok"], answer
    messages = _state(client, MEMBER, chat)["messages"]
    assert [m["text"] for m in messages if not m["bot"]] == ["help"]  # what they typed, then the bot's answer
    reply = _text([m for m in messages if m["bot"]][-1])
    for command in COMMANDS:
        assert command.usage in reply
    # The page itself carries it (the text drawn as Markdown in the browser).
    page = client.get(f"/as/{MEMBER}/chat", query_string={"c": chat}).get_data(as_text=True)
    assert COMMANDS[0].usage in page


def test_a_card_the_checks_refuse_is_refused_and_shown_as_an_error(client: Any, sandbox: TeamsSandbox) -> None:
    chat = _personal(client, MEMBER)
    before = len(_state(client, MEMBER, chat)["messages"])
    # The bot's own credentials, as its workspace would send: a card with a version beyond the manifest's 1.5.
    token = _bot_token(sandbox, BOT_FRAMEWORK_SCOPE)
    card = {"type": "AdaptiveCard", "version": "1.6", "body": [{"type": "TextBlock", "text": "Too new"}]}
    sent = httpx.post(f"{sandbox.teams.service_url}/v3/conversations/{chat}/activities",
                      headers={"Authorization": f"Bearer {token}"},
                      json={"type": "message", "attachments": [
                          {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}]})
    assert sent.status_code == 400 and sent.json()["error"]["code"] == "BadArgument"
    state = _state(client, MEMBER, chat)
    assert len(state["messages"]) == before  # nothing delivered
    assert any("BadArgument" in p and "Adaptive Card" in p for p in state["problems"]), state["problems"]
    page = client.get(f"/as/{MEMBER}/chat", query_string={"c": chat}).get_data(as_text=True)
    assert 'class="teams-error"' in page and "Teams cannot show this Adaptive Card" in page
    _post(client, MEMBER, "/dismiss", {})
    assert not _state(client, MEMBER, chat)["problems"]


def _bot_token(sandbox: TeamsSandbox, scope: str) -> str:
    """An access token of the bot's own, as its workspace gets one (client credentials at the tenant's login)."""
    return httpx.post(f"{sandbox.teams.login_url}/{sandbox.teams.tenant_id}/oauth2/v2.0/token", data={
        "grant_type": "client_credentials", "client_id": sandbox.teams.client_id,
        "client_secret": sandbox.teams.client_secret, "scope": scope}).json()["access_token"]


def test_a_proactive_message_to_someone_without_the_app_is_refused_and_shown(client: Any,
                                                                           sandbox: TeamsSandbox) -> None:
    _post(client, MEMBER, "/app", {"installed": False})  # the member removes the app: no chat with the bot left
    assert _state(client, MEMBER)["chats"] == [] and not _state(client, MEMBER)["installed"]
    token = _bot_token(sandbox, BOT_FRAMEWORK_SCOPE)
    member = sandbox.teams.user(MEMBER)
    sent = httpx.post(f"{sandbox.teams.service_url}/v3/conversations", headers={"Authorization": f"Bearer {token}"},
                      json={"isGroup": False, "members": [{"id": member.mri}], "tenantId": sandbox.teams.tenant_id,
                            "channelData": {"tenant": {"id": sandbox.teams.tenant_id}}})
    assert sent.status_code == 403
    assert any("not installed" in p for p in _state(client, CHAIR)["problems"])
    _post(client, MEMBER, "/app", {"installed": True})
    assert [c["kind"] for c in _state(client, MEMBER)["chats"]] == ["personal"]
    _post(client, CHAIR, "/dismiss", {})


def test_a_graph_call_beyond_the_granted_permissions_is_refused_and_shown(client: Any,
                                                                         sandbox: TeamsSandbox) -> None:
    chat = sandbox.teams.add_group_chat([CHAIR, MANAGER], topic="PMCCG-2026-901")
    token = _bot_token(sandbox, sandbox.teams.graph_resource + "/.default")
    gone = httpx.delete(f"{sandbox.teams.graph_url}/chats/{chat}", headers={"Authorization": f"Bearer {token}"})
    assert gone.status_code == 403  # Chat.ManageDeletion.All: neither the README nor the manifest asks for it
    assert any(p.startswith("Graph refused DELETE /v1.0/chats/{id} (403") for p in _state(client, CHAIR)["problems"])
    _post(client, CHAIR, "/dismiss", {})


def test_an_invoke_answer_the_checks_refuse_is_shown_to_the_clicker_only(sandbox: TeamsSandbox, client: Any,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    chat = _personal(client, CHAIR)
    bad = {"statusCode": 200, "type": "application/vnd.microsoft.card.adaptive",
           "value": {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "Media", "sources": []}]}}
    # The bot's answer as Teams would receive it: here, one with a Media element Teams does not show.
    monkeypatch.setattr(sandbox, "_post", lambda activity: (200, bad, 0.1))
    answer = sandbox.execute(CHAIR, chat, "1", "attend", {"value": "x"})
    assert "Teams refused the bot's answer" in answer.error
    assert any("refused the bot's answer" in p for p in sandbox.problems_for(CHAIR))
    assert not any("refused the bot's answer" in p for p in sandbox.problems_for(MEMBER))
    sandbox.dismiss(CHAIR)


def test_an_action_the_bot_does_not_answer_is_an_error_as_in_teams(sandbox: TeamsSandbox, client: Any) -> None:
    chat = _personal(client, CHAIR)
    answer = _post(client, CHAIR, "/execute", {"chat": chat, "activity": "1", "verb": "no_such_verb", "data": {}})
    assert not answer["ok"] and "no answer to the action" in answer["error"]
    _post(client, CHAIR, "/dismiss", {})


def test_an_invoke_card_replaces_the_card_for_the_clicker_until_the_message_changes(
        sandbox: TeamsSandbox, client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    chat = _personal(client, MANAGER)
    _post(client, MANAGER, "/say", {"chat": chat, "text": "help"})
    posted = [m for m in _state(client, MANAGER, chat)["messages"] if m["bot"]][-1]
    fresh = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Refreshed for you"}]}
    monkeypatch.setattr(sandbox, "_post", lambda activity: (200, {
        "statusCode": 200, "type": "application/vnd.microsoft.card.adaptive", "value": fresh}, 0.1))
    assert not sandbox.execute(MANAGER, chat, posted["id"], "refresh", {}).error
    shown = next(m for m in sandbox.messages_for(MANAGER, chat) if m["id"] == posted["id"])
    assert shown["cards"] == [fresh]


def test_a_dialog_opens_with_its_card_and_a_message_answer_closes_it(sandbox: TeamsSandbox, client: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    chat = _personal(client, MANAGER)
    card = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "Input.Text", "id": "concern"}],
            "actions": [{"type": "Action.Submit", "title": "Convene", "data": {"action": "convene_submit"}}]}
    answers = iter([
        {"task": {"type": "continue", "value": {"title": "Convene PMCCG", "card": {
            "contentType": "application/vnd.microsoft.card.adaptive", "content": card}}}},
        {"task": {"type": "message", "value": "Convening…"}},
    ])
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(sandbox, "_post", lambda activity: (sent.append(activity), (200, next(answers), 0.1))[1])
    _post(client, MANAGER, "/submit", {"chat": chat, "activity": "",
                                       "data": {"msteams": {"type": "task/fetch"}, "dialog_id": "convene"}})
    assert sent[-1]["name"] == "task/fetch" and sent[-1]["value"]["data"]["dialog_id"] == "convene"
    state = _state(client, MANAGER, chat)
    assert state["dialog"]["title"] == "Convene PMCCG" and state["dialog"]["card"] == card
    _post(client, MANAGER, "/dialog/submit", {"data": {"action": "convene_submit", "concern": "x"}})
    assert sent[-1]["name"] == "task/submit" and sent[-1]["value"]["data"]["concern"] == "x"
    state = _state(client, MANAGER, chat)
    assert state["dialog"] is None and state["notices"] == ["Convening…"]
    _post(client, MANAGER, "/dismiss", {})


def test_the_clock_moves_forward_and_says_where_it_is(client: Any, sandbox: TeamsSandbox) -> None:
    before = sandbox.clock()
    answer = _post(client, MANAGER, "/clock", {"step": "hour"})
    assert answer["ok"] and answer["notice"].startswith("The time is now")
    assert (sandbox.clock() - before).total_seconds() >= 3600
    assert client.post(f"/as/{MANAGER}/clock", json={"step": "backwards"}).status_code == 400


def test_graph_calls_beyond_the_manifest_and_the_readme_are_refused() -> None:
    granted = granted_permissions()
    assert {"Chat.Create", "User.Read.All", "ChatMember.Read.Chat"} <= granted
    assert not {"Chat.ReadWrite.All", "ChatMessage.Read.Chat", "Group.ReadWrite.All"} & granted


def test_the_page_draws_cards_from_json_not_html(client: Any) -> None:
    chat = _personal(client, MANAGER)
    page = client.get(f"/as/{MANAGER}/chat", query_string={"c": chat}).get_data(as_text=True)
    raw = page.split('<script type="application/json" id="page-data">', 1)[1].split("</script>", 1)[0]
    data = json.loads(raw)
    assert data["oid"] == MANAGER and data["chat"] == chat
    assert {p["value"] for p in data["directory"]} >= {MANAGER, CHAIR}
    assert "vendor/adaptivecards/adaptivecards.min.js" in page and "teams.js" in page


def test_people_chosen_who_are_not_in_the_roster_404(client: Any, tmp_path: Path) -> None:
    assert client.get("/as/not-a-person").status_code == 404
    assert client.post("/as/not-a-person/say", json={"chat": "x", "text": "help"}).status_code == 404


def test_a_file_offered_by_consent_card_is_allowed_then_opens_from_the_file_card(client: Any) -> None:
    governance = entra_id("UDGOVERN1")
    chat = _personal(client, governance)
    _post(client, governance, "/say", {"chat": chat, "text": "attendance"})
    offered = [m for m in _state(client, governance, chat)["messages"] if m["consents"]]
    assert offered, [m["text"] for m in _state(client, governance, chat)["messages"]]
    name = offered[-1]["consents"][0]["name"]
    page = client.get(f"/as/{governance}/chat", query_string={"c": chat}).get_data(as_text=True)
    assert name in page and ">Allow</button>" in page
    assert _post(client, governance, "/consent", {"activity": offered[-1]["id"], "accept": True})["ok"]
    shown = next(m for m in _state(client, governance, chat)["messages"] if m["id"] == offered[-1]["id"])
    assert shown["consents"] == [] and shown["files"] == [name]  # the consent card replaced by the file's, in place
    download = client.get(f"/as/{governance}/files/{name}")
    assert download.status_code == 200 and download.data
    assert client.get(f"/as/{MEMBER}/files/{name}").status_code == 404  # in the governance lead's OneDrive only


def test_in_a_case_chat_the_bot_hears_only_what_mentions_it(client: Any, sandbox: TeamsSandbox) -> None:
    chat = sandbox.teams.add_group_chat([CHAIR, MANAGER], topic="PMCCG-2026-902")
    _post(client, CHAIR, "/say", {"chat": chat, "text": "see you all at two"})
    assert [m["text"] for m in _state(client, MANAGER, chat)["messages"]] == ["see you all at two"]
    _post(client, CHAIR, "/say", {"chat": chat, "text": "@PMCCG help"})
    messages = _state(client, MANAGER, chat)["messages"]
    assert messages[1]["text"] == "@PMCCG help" and messages[-1]["bot"]
    assert COMMANDS[0].usage in _text(messages[-1])


def test_switching_person_keeps_a_case_chat_they_are_in_else_opens_their_1_1(client: Any,
                                                                            sandbox: TeamsSandbox) -> None:
    chat = sandbox.teams.add_group_chat([CHAIR, MANAGER], topic="PMCCG-2026-903")
    stay = client.get("/switch", query_string={"who": MANAGER, "c": chat})
    assert stay.status_code == 302 and f"/as/{MANAGER}/chat" in stay.headers["Location"]
    assert "19%3A" in stay.headers["Location"] or "19:" in stay.headers["Location"]
    leave = client.get("/switch", query_string={"who": MEMBER, "c": chat})
    assert leave.headers["Location"].endswith(f"/as/{MEMBER}")


def test_pmccg_sandbox_is_slacks_unless_teams_is_asked_for() -> None:
    from bot.cli import build_parser

    assert build_parser().parse_args(["sandbox"]).platform == "slack"
    args = build_parser().parse_args(["sandbox", "--platform", "teams", "--port", "8081", "--data", "x"])
    assert (args.platform, args.port, args.data) == ("teams", 8081, "x")
