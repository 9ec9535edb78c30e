"""TeamsWorkspace against the Teams stand-in on loopback (issue 16, points 4 and 5): what Teams would show.

The case chat is one Graph call with every member and the app, its topic the reference; messages are posted
and updated in place through the Bot Connector; a direct message finds or makes the person's 1:1 chat
(installing the app for them when Teams says it is not), and anyone Teams will not let the bot reach is a
permanent failure. The workspace is synchronous over a loop thread of its own, as in `pmccg worker`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from bot.config import Settings, load_settings
from bot.domain import direct_rooms
from bot.domain.errors import PlatformFailure
from bot.domain.notify import Message, MessageKind
from bot.platforms import teams_workspace
from bot.sandbox.teams_api import TEAMS_APP_ID, TeamsStandIn, TeamsUser
from handlers.teams.workspace import TEAMS_BUDGET, LoopThread, TeamsWorkspace
from storage.db import SessionFactory

REFERENCE = "PMCCG-2026-001"
POST_ACTIVITY = "POST /v3/conversations/{id}/activities"


def render(message: Message) -> dict[str, Any]:
    """A stand-in for handlers/teams/render.py: the kind and the model's text, which the stand-in shows."""
    return {"type": "message", "text": f"{message.template}: {message.model['text']}"}


def say(text: str, kind: MessageKind = MessageKind.CASE_HEADER) -> Message:
    return Message(kind, {"text": text})


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m.get("text", "") for m in messages]


@pytest.fixture(scope="module")
def teams() -> Iterator[TeamsStandIn]:
    with TeamsStandIn() as standin:
        yield standin


@pytest.fixture(scope="module")
def people(teams: TeamsStandIn) -> list[TeamsUser]:
    return [teams.add_user(name) for name in ("Ada Chair", "Ben Panel", "Cy Panel", "Dee Deputy")]


class _NoDatabase:
    def __call__(self) -> Any:
        raise AssertionError("this test needs no database")


@pytest.fixture(scope="module")
def loop_thread() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.stop()


def teams_settings(teams: TeamsStandIn, **more: str) -> Settings:
    env = {"DATABASE_URL": "sqlite:///unused.db", "PMCCG_PLATFORM": "teams", "TEAMS_APP_ID": TEAMS_APP_ID}
    return load_settings({**env, **teams.settings_env(), **more}, dotenv=False)


@pytest.fixture(scope="module")
def base_workspace(teams: TeamsStandIn, loop_thread: LoopThread) -> Iterator[TeamsWorkspace]:
    # Built from the settings as the processes build it (bot/platforms.py), on the module's loop thread.
    workspace = teams_workspace(teams_settings(teams), _NoDatabase(), loop=loop_thread.loop, render=render)
    yield workspace
    workspace.close()


@pytest.fixture
def workspace(base_workspace: TeamsWorkspace, teams: TeamsStandIn) -> Iterator[TeamsWorkspace]:
    teams.clear()
    yield base_workspace
    teams.clear_refusals()
    base_workspace.sessions = _NoDatabase()


@pytest.fixture
def with_db(workspace: TeamsWorkspace, sessions: SessionFactory) -> TeamsWorkspace:
    workspace.sessions = sessions
    return workspace


def _case_chat(workspace: TeamsWorkspace, people: list[TeamsUser]) -> str:
    return workspace.create_private_room(REFERENCE, [p.id for p in people[:3]], lambda _room: None)


# ----------------------------------------------------------------------------- the case chat


def test_the_case_chat_is_made_once_with_every_member_and_the_app_its_topic_the_reference(
        workspace: TeamsWorkspace, teams: TeamsStandIn, people: list[TeamsUser]) -> None:
    heard: list[str] = []
    room = workspace.create_private_room(REFERENCE, [p.id for p in people[:3]], heard.append)

    assert heard == [room] and room.startswith("19:") and room.endswith("@thread.v2")
    assert len(teams.calls_to("POST /v1.0/chats")) == 1  # one request: members and app together
    chat = teams.conversation(room)
    assert chat.kind == "groupChat" and chat.app_installed
    assert set(chat.members) == {p.id for p in people[:3]}
    assert chat.topic == REFERENCE  # the reference, never a name
    assert not any(part in chat.topic for p in people for part in p.display_name.split())

    posted = workspace.post(room, say("the case header"))
    assert posted.room == room
    assert texts(teams.messages(room)) == ["case_header: the case header"]


def test_a_person_added_to_the_case_joins_its_chat(workspace: TeamsWorkspace, teams: TeamsStandIn,
                                                   people: list[TeamsUser]) -> None:
    room = _case_chat(workspace, people)
    workspace.invite(room, [people[3].id])
    assert set(teams.conversation(room).members) == {p.id for p in people}


def test_a_post_is_updated_in_place_one_message_with_the_new_text(workspace: TeamsWorkspace, teams: TeamsStandIn,
                                                                   people: list[TeamsUser]) -> None:
    room = _case_chat(workspace, people)
    posted = workspace.post(room, say("2 of 3 attending", MessageKind.ATTENDANCE_BOARD))
    workspace.update(room, posted.ref, say("3 of 3 attending", MessageKind.ATTENDANCE_BOARD))

    shown = teams.messages(room)
    assert texts(shown) == ["attendance_board: 3 of 3 attending"] and shown[0]["id"] == posted.ref
    assert len(teams.delivered("PUT /v3/conversations/{id}/activities/{activityId}")) == 1


def test_a_deleted_message_leaves_the_chat_and_a_second_delete_says_it_is_gone(
        workspace: TeamsWorkspace, teams: TeamsStandIn, people: list[TeamsUser]) -> None:
    room = _case_chat(workspace, people)
    posted = workspace.post(room, say("soon gone"))
    workspace.delete_message(room, posted.ref)
    assert teams.messages(room) == []
    with pytest.raises(PlatformFailure) as gone:
        workspace.delete_message(room, posted.ref)
    assert gone.value.error == "message_not_found"  # counted as deleted by retention


def test_renaming_and_closing_the_case_chat(workspace: TeamsWorkspace, teams: TeamsStandIn,
                                            people: list[TeamsUser]) -> None:
    room = _case_chat(workspace, people)
    workspace.rename_room(room, "PMCCG-2026-001-ABANDONED")
    assert teams.conversation(room).topic == "PMCCG-2026-001-ABANDONED"

    workspace.post(room, say("the case is closed", MessageKind.CASE_CLOSED))  # the domain's notice, first
    workspace.archive_room(room)
    chat = teams.conversation(room)
    assert chat.topic == "PMCCG-2026-001-ABANDONED (closed)" and not chat.app_installed
    assert texts(chat.messages) == ["case_closed: the case is closed"]  # the members keep the history
    assert set(chat.members) == {p.id for p in people[:3]}
    with pytest.raises(PlatformFailure) as after:
        workspace.post(room, say("too late"))
    assert after.value.permanent
    workspace.archive_room(room)  # closing again (a retry) is done already
    assert teams.conversation(room).topic == "PMCCG-2026-001-ABANDONED (closed)"


def test_a_chat_that_is_gone_is_said_in_the_domains_words(workspace: TeamsWorkspace) -> None:
    gone = "19:0000000000000000000000000000dead@thread.v2"
    for action in (lambda: workspace.archive_room(gone),
                   lambda: workspace.invite(gone, ["2c3f6d33-a7d6-5e35-844f-e2f4fcd1dfe3"])):
        with pytest.raises(PlatformFailure) as refused:
            action()
        assert refused.value.error == "channel_not_found" and refused.value.permanent
    # Renaming needs the app's own permission in the chat, which a chat that is gone cannot give: refused.
    with pytest.raises(PlatformFailure) as renamed:
        workspace.rename_room(gone, "void-1-x")
    assert renamed.value.permanent


def test_a_chat_whose_app_install_is_still_pending_is_posted_to_once_it_completes(
        workspace: TeamsWorkspace, teams: TeamsStandIn, people: list[TeamsUser]) -> None:
    teams.hold_chat_installs()
    try:
        room = _case_chat(workspace, people)
        threading.Timer(1.5, teams.complete_chat_installs).start()
        workspace.post(room, say("the case header"))
    finally:
        teams.complete_chat_installs()
    assert texts(teams.messages(room)) == ["case_header: the case header"]
    assert any(c.status == 403 for c in teams.calls_to(POST_ACTIVITY))


@pytest.mark.parametrize("fault", ["member_not_found", "forbidden", "server_error"])
def test_graph_refusing_the_chat_keeps_nothing_and_says_so(fault: str, workspace: TeamsWorkspace,
                                                           teams: TeamsStandIn, people: list[TeamsUser]) -> None:
    before = {c.id for c in teams.conversations}
    heard: list[str] = []
    if fault == "member_not_found":
        members = [people[0].id, "00000000-0000-4000-8000-000000000000"]  # someone not in the tenant
    else:
        members = [p.id for p in people[:3]]
    if fault == "forbidden":  # the tenant refuses the app installed with the chat (consent withdrawn)
        teams.fail_next("POST /v1.0/chats", 403)
    if fault == "server_error":
        teams.server_error_next("POST /v1.0/chats", 503)
    with pytest.raises(PlatformFailure) as refused:
        workspace.create_private_room(REFERENCE, members, heard.append)
    assert heard == []  # no half-made chat was announced
    assert {c.id for c in teams.conversations} == before  # and Teams holds none
    assert refused.value.step == "creating the case chat"
    assert refused.value.permanent is (fault != "server_error")
    assert len(teams.calls_to("POST /v1.0/chats")) == 1  # a POST that failed at the server is not repeated


def test_a_chat_graph_accepted_without_saying_which_is_a_failure_that_says_so(
        teams: TeamsStandIn, loop_thread: LoopThread, people: list[TeamsUser]) -> None:
    import httpx

    from handlers.teams.auth import TeamsCredentials, TeamsEndpoints

    class NoLocation(httpx.AsyncBaseTransport):
        """Graph answering 202 with the headers that name the chat lost on the way."""

        def __init__(self) -> None:
            self.inner = httpx.AsyncHTTPTransport()

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await self.inner.handle_async_request(request)
            if request.method == "POST" and request.url.path.endswith("/chats"):
                await response.aread()
                return httpx.Response(response.status_code, content=b"")
            return response

    env = teams.settings_env()
    workspace = TeamsWorkspace(
        credentials=TeamsCredentials(env["TEAMS_CLIENT_ID"], env["TEAMS_TENANT_ID"], env["TEAMS_CLIENT_SECRET"]),
        endpoints=TeamsEndpoints(env["TEAMS_OPENID_METADATA_URL"], env["TEAMS_LOGIN_URL"], env["TEAMS_SERVICE_URL"],
                                 env["GRAPH_API_URL"]),
        teams_app_id=TEAMS_APP_ID, loop=loop_thread.loop, render=render, sessions=_NoDatabase(),
        transport=NoLocation())
    heard: list[str] = []
    try:
        with pytest.raises(PlatformFailure) as unnamed:
            workspace.create_private_room(REFERENCE, [p.id for p in people[:2]], heard.append)
    finally:
        workspace.close()
    assert heard == [] and "did not say which" in unnamed.value.error  # for whoever tidies up by hand


# ----------------------------------------------------------------------------- errors


def test_a_rate_limit_is_waited_out_and_the_message_sent_once(workspace: TeamsWorkspace, teams: TeamsStandIn,
                                                               people: list[TeamsUser]) -> None:
    room = _case_chat(workspace, people)
    teams.rate_limit_next(POST_ACTIVITY, retry_after=1)
    workspace.post(room, say("after the wait"))
    assert [c.status for c in teams.calls_to(POST_ACTIVITY)] == [429, 201]
    assert texts(teams.messages(room)) == ["case_header: after the wait"]


def test_a_rate_limit_longer_than_worth_waiting_is_left_to_a_later_try(
        workspace: TeamsWorkspace, teams: TeamsStandIn, people: list[TeamsUser]) -> None:
    room = _case_chat(workspace, people)
    teams.rate_limit_next(POST_ACTIVITY, retry_after=120)
    with pytest.raises(PlatformFailure) as later:
        workspace.post(room, say("not now"))
    assert not later.value.permanent and len(teams.calls_to(POST_ACTIVITY)) == 1  # not waited for two minutes


def test_a_server_error_is_a_transient_failure(workspace: TeamsWorkspace, teams: TeamsStandIn,
                                               people: list[TeamsUser]) -> None:
    room = _case_chat(workspace, people)
    teams.server_error_next(POST_ACTIVITY, 503)
    with pytest.raises(PlatformFailure) as failed:
        workspace.post(room, say("not now", MessageKind.AGENDA))
    assert not failed.value.permanent and failed.value.step == "posting the agenda"
    assert teams.messages(room) == []

    # An update may be repeated safely: retried at once.
    posted = workspace.post(room, say("v1"))
    teams.server_error_next("PUT /v3/conversations/{id}/activities/{activityId}", 502)
    workspace.update(room, posted.ref, say("v2"))
    assert texts(teams.messages(room)) == ["case_header: v2"]


def test_called_on_its_own_loop_it_refuses_instead_of_waiting_for_itself(
        workspace: TeamsWorkspace, loop_thread: LoopThread, people: list[TeamsUser]) -> None:
    outcome: list[BaseException] = []
    done = threading.Event()

    def on_the_loop() -> None:
        try:
            workspace.post("19:any@thread.v2", say("x"))
        except BaseException as exc:  # noqa: BLE001  (reported to the test)
            outcome.append(exc)
        done.set()

    loop_thread.loop.call_soon_threadsafe(on_the_loop)
    assert done.wait(5)
    assert isinstance(outcome[0], RuntimeError)


# ----------------------------------------------------------------------------- direct messages


def test_a_direct_message_makes_the_1to1_chat_once_and_keeps_it(with_db: TeamsWorkspace, teams: TeamsStandIn,
                                                                  sessions: SessionFactory) -> None:
    person = teams.add_user("Eve Member")  # the app installed, no conversation known to the bot
    posted = with_db.send_direct(person.id, say("you are invited", MessageKind.INVITATION))
    assert posted.room == teams.personal_conversation_id(person.id)
    assert texts(teams.personal_messages(person.id)) == ["invitation: you are invited"]
    kept = direct_rooms.find(sessions, person.id)
    assert kept is not None and kept.room == posted.room

    with_db.send_direct(person.id, say("a reminder", MessageKind.REPLY_CHASE))
    assert len(teams.calls_to("POST /v3/conversations")) == 1  # found, not made again
    assert texts(teams.personal_messages(person.id))[-1] == "reply_chase: a reminder"

    # The DM is updated in place where it landed.
    with_db.update(posted.room, posted.ref, say("your reply is noted", MessageKind.INVITATION))
    assert texts(teams.personal_messages(person.id)) == ["invitation: your reply is noted", "reply_chase: a reminder"]


def test_someone_without_the_app_gets_it_installed_and_then_the_message(
        with_db: TeamsWorkspace, teams: TeamsStandIn) -> None:
    person = teams.add_user("Fay Member", app_installed=False)
    with_db.send_direct(person.id, say("you are invited", MessageKind.INVITATION))
    assert len(teams.delivered("POST /v1.0/users/{id}/teamwork/installedApps")) == 1
    assert texts(teams.personal_messages(person.id)) == ["invitation: you are invited"]


def test_someone_who_removed_the_app_gets_it_back_and_the_message(
        with_db: TeamsWorkspace, teams: TeamsStandIn) -> None:
    person = teams.add_user("Gus Member")
    with_db.send_direct(person.id, say("first"))
    teams.uninstall_app_for(person.id)
    with_db.send_direct(person.id, say("second"))
    assert texts(teams.personal_messages(person.id)) == ["case_header: first", "case_header: second"]


@pytest.mark.parametrize("who", ["blocked", "left_the_tenant", "disabled"])
def test_someone_teams_will_not_let_the_bot_reach_is_a_permanent_failure(
        who: str, with_db: TeamsWorkspace, teams: TeamsStandIn, sessions: SessionFactory) -> None:
    if who == "left_the_tenant":
        user = "11111111-2222-4333-8444-555555555555"
    else:
        person = teams.add_user(f"Hal {who.title()}", app_installed=who == "blocked")
        user = person.id
        if who == "blocked":
            with_db.send_direct(user, say("before"))
            teams.block_bot(user)
        else:
            # A leaver's account: Teams makes no chat with them and Graph installs nothing for them.
            teams.disable_user(user)
            teams.refuse("POST /v3/conversations", 403, user=user)
            teams.refuse("POST /v1.0/users/{id}/teamwork/installedApps", 403, user=user)
    before = texts(teams.personal_messages(user)) if who != "left_the_tenant" else []
    with pytest.raises(PlatformFailure) as failed:
        with_db.send_direct(user, say("you are invited", MessageKind.INVITATION))
    assert failed.value.permanent and failed.value.step == "sending the invitation"
    # In the domain's words for an undelivered direct message (bot/domain/ledger.py ERROR_WORDS), as on Slack: a
    # disabled account is what Slack calls account_inactive (the directory says so before Teams is asked).
    assert failed.value.error == {"blocked": "blocked_bot", "left_the_tenant": "user_not_found",
                                  "disabled": "account_inactive"}[who]
    if who != "left_the_tenant":
        assert texts(teams.personal_messages(user)) == before


# ----------------------------------------------------------------------------- files and budget


def test_a_file_goes_to_the_1to1_chat_as_a_consent_card(with_db: TeamsWorkspace, teams: TeamsStandIn) -> None:
    person = teams.add_user("Ivy Member")
    dm = with_db.send_direct(person.id, say("your export"))
    posted = with_db.upload_file(dm.room, "PMCCG-2026-001.pdf", b"%PDF-1.7 confidential", "Case file")
    card = teams.personal_messages(person.id)[-1]["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.teams.card.file.consent"
    assert card["name"] == "PMCCG-2026-001.pdf" and card["content"]["sizeInBytes"] == 21
    assert "confidential" not in str(card)  # the content waits for consent, it is not in the card

    with_db.delete_file(posted.ref)
    assert len(teams.personal_messages(person.id)) == 1
    with pytest.raises(PlatformFailure) as gone:
        with_db.delete_file(posted.ref)
    assert gone.value.error == "file_not_found"  # counted as deleted by retention


def test_a_file_for_the_case_chat_reaches_each_member_in_their_own_chat_and_nobody_else(
        with_db: TeamsWorkspace, teams: TeamsStandIn, people: list[TeamsUser]) -> None:
    room = _case_chat(with_db, people)
    before = {c.id: len(c.messages) for c in teams.conversations if c.kind == "personal"}
    posted = with_db.upload_file(room, "PMCCG-2026-001.ics", b"BEGIN:VCALENDAR", "PMCCG-2026-001: the call")

    for member in people[:3]:
        card = teams.personal_messages(member.id)[-1]["attachments"][0]
        assert card["contentType"] == "application/vnd.microsoft.teams.card.file.consent"
        assert card["name"] == "PMCCG-2026-001.ics"
    grew = {c.id for c in teams.conversations if c.kind == "personal" and len(c.messages) > before.get(c.id, 0)}
    assert grew == {teams.personal_conversation_id(m.id) for m in people[:3]}  # not the deputy, not anyone else
    assert texts(teams.messages(room)) == [
        "PMCCG-2026-001: the call: PMCCG-2026-001.ics was sent to each member of this chat in their chat with the bot."]

    with_db.delete_file(posted.ref)
    assert teams.messages(room) == []


def test_an_accepted_file_is_uploaded_where_teams_says_and_its_card_replaces_the_consent_card(
        with_db: TeamsWorkspace, teams: TeamsStandIn, loop_thread: LoopThread) -> None:
    import asyncio
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[tuple[bytes, str, str]] = []

    class OneDrive(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:  # noqa: N802  (http.server's naming)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((body, self.headers.get("Content-Range", ""), self.headers.get("Authorization", "")))
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), OneDrive)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        person = teams.add_user("Jo Member")
        dm = with_db.send_direct(person.id, say("your export"))
        with_db.upload_file(dm.room, "report.csv", b"a,b\n1,2\n", "Attendance")
        consent = teams.personal_messages(person.id)[-1]
        token = consent["attachments"][0]["content"]["acceptContext"]["pmccg_file"]
        info = {"uploadUrl": f"http://127.0.0.1:{server.server_address[1]}/upload/report.csv",
                "contentUrl": "https://contoso.sharepoint.com/personal/jo/report.csv", "name": "report.csv",
                "uniqueId": "1150D938-8870-4044-9F2C-5BBDEBA70C8C", "fileType": "csv"}
        accepted = asyncio.run_coroutine_threadsafe(with_db.accept_file(token, info), loop_thread.loop).result(10)
        again = asyncio.run_coroutine_threadsafe(with_db.accept_file(token, info), loop_thread.loop).result(10)
    finally:
        server.shutdown()
    assert accepted and not again  # uploaded once
    assert received == [(b"a,b\n1,2\n", "bytes 0-7/8", "")]  # no token sent to the upload address
    shown = teams.personal_messages(person.id)
    assert len(shown) == 2 and shown[-1]["id"] == consent["id"]
    assert shown[-1]["attachments"][0]["contentType"] == "application/vnd.microsoft.teams.card.file.info"


def test_the_budget_keeps_lists_within_teams_card_size() -> None:
    assert TEAMS_BUDGET.blocks_per_message is None  # a card has no element count; its size is checked on render
    assert TEAMS_BUDGET.items_per_list == TEAMS_BUDGET.items_on_home == TEAMS_BUDGET.cases_on_home == 15


def test_a_worker_on_teams_sends_through_a_loop_thread_of_its_own(teams: TeamsStandIn,
                                                                  people: list[TeamsUser]) -> None:
    from bot.config import ConfigError
    from bot.platforms import workspace_for

    workspace = workspace_for(teams_settings(teams), _NoDatabase(), render=render)
    try:
        assert isinstance(workspace, TeamsWorkspace) and workspace.loop_thread is not None
        assert workspace.loop_thread.thread is not threading.current_thread()
        room = _case_chat(workspace, people)
        workspace.post(room, say("sent by the worker", MessageKind.AGENDA))
        assert texts(teams.messages(room)) == ["agenda: sent by the worker"]
    finally:
        workspace.close()
        workspace.loop_thread.stop()

    with pytest.raises(ConfigError, match="TEAMS_APP_ID is not set"):
        workspace_for(teams_settings(teams, TEAMS_APP_ID=""), _NoDatabase(), render=render)


def test_pmccg_worker_on_teams_names_the_teams_settings_it_lacks_not_slacks(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from bot import cli

    monkeypatch.chdir(tmp_path)
    for name in ("TEAMS_CLIENT_ID", "TEAMS_TENANT_ID", "TEAMS_APP_ID", "SLACK_BOT_TOKEN", "PMCCG_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'pmccg.db'}")
    monkeypatch.setenv("PMCCG_PLATFORM", "teams")
    monkeypatch.setenv("TEAMS_CLIENT_SECRET", "s3cret-value")
    assert cli.main(["worker"]) == 2
    err = capsys.readouterr().err
    assert "TEAMS_APP_ID is not set" in err and "TEAMS_CLIENT_ID is not set" in err
    assert "SLACK_BOT_TOKEN" not in err and "s3cret-value" not in err
