"""The Teams SDK pointed at the local stand-ins, with no internet: inbound auth, replies, proactive sends, Graph.

A real `microsoft_teams.apps.App` is served by uvicorn on 127.0.0.1 with the production identity
wiring (`handlers.teams.auth.app_auth_options`): activities are signed by the stand-in's channel key
and POSTed over HTTP; what is asserted is what the Bot Connector, Graph and the login endpoint got.
Servers start once for the module.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from microsoft_teams.api import (
    Account,
    AdaptiveCardActionCardResponse,
    AdaptiveCardAttachment,
    AdaptiveCardInvokeActivity,
    CardTaskModuleTaskInfo,
    ConversationUpdateActivity,
    CreateConversationParams,
    InstalledActivity,
    MessageActivity,
    MessageActivityInput,
    TaskFetchInvokeActivity,
    TaskModuleContinueResponse,
    TaskModuleMessageResponse,
    TaskModuleResponse,
    TaskSubmitInvokeActivity,
    card_attachment,
)
from microsoft_teams.apps import ActivityContext, App, FastAPIAdapter
from microsoft_teams.cards import AdaptiveCard, TextBlock

from bot.sandbox.teams_api import (
    BOT_FRAMEWORK_SCOPE,
    TEAMS_APP_ID,
    BadToken,
    TeamsStandIn,
    TeamsUser,
    visible_text,
)
from handlers.teams.auth import (
    ClientCredentialsTokens,
    TeamsAuthError,
    TeamsCredentials,
    TeamsEndpoints,
    TokenRequestError,
    app_auth_options,
)
from tests.teams_client import RunningTeamsApp

ACTIVITIES = "POST /v3/conversations/{id}/activities"
TOKEN = "POST /{tenant}/oauth2/v2.0/token"


@pytest.fixture(scope="module")
def teams() -> Iterator[TeamsStandIn]:
    with TeamsStandIn() as standin:
        yield standin


@pytest.fixture(scope="module")
def people(teams: TeamsStandIn) -> dict[str, TeamsUser]:
    # Fictional people, as in the sandbox's demo roster.
    return {
        "chair": teams.add_user("Harriet Pemberton"),
        "lead": teams.add_user("Tomasz Kowalczyk"),
        "member": teams.add_user("Kit Ashdown"),
        "newcomer": teams.add_user("Anjali Desborough", app_installed=False),
    }


def credentials(teams: TeamsStandIn) -> TeamsCredentials:
    env = teams.settings_env()
    return TeamsCredentials(env["TEAMS_CLIENT_ID"], env["TEAMS_TENANT_ID"], env["TEAMS_CLIENT_SECRET"])


def endpoints(teams: TeamsStandIn) -> TeamsEndpoints:
    env = teams.settings_env()
    return TeamsEndpoints(openid_metadata_url=env["TEAMS_OPENID_METADATA_URL"], login_url=env["TEAMS_LOGIN_URL"],
                          service_url=env["TEAMS_SERVICE_URL"], graph_api_url=env["GRAPH_API_URL"])


def card(text: str) -> AdaptiveCard:
    return AdaptiveCard(version="1.5").with_body([TextBlock(text=text)])


class Bot:
    """The spike app: each handler notes what reached it, so a test can tell a refusal reached none."""

    def __init__(self, teams: TeamsStandIn) -> None:
        self.reached: list[tuple[str, Any]] = []
        self.tokens = ClientCredentialsTokens(credentials(teams), teams.login_url)
        fastapi = FastAPI()
        app = App(**app_auth_options(credentials(teams), endpoints(teams), self.tokens),
                  http_server_adapter=FastAPIAdapter(app=fastapi))
        self.app = app

        @app.on_message
        async def on_message(ctx: ActivityContext[MessageActivity]) -> None:
            text = ctx.activity.strip_mentions_text().text or ""
            self.reached.append(("message", text))
            await ctx.send(f"You said: {text}")

        @app.on_card_action_execute
        async def on_execute(ctx: ActivityContext[AdaptiveCardInvokeActivity]) -> AdaptiveCardActionCardResponse:
            self.reached.append(("execute", ctx.activity.value.action.data))
            return AdaptiveCardActionCardResponse(value=card("Thanks, noted"))

        @app.on_dialog_open
        async def on_open(ctx: ActivityContext[TaskFetchInvokeActivity]) -> TaskModuleResponse:
            self.reached.append(("dialog_open", ctx.activity.value.data))
            info = CardTaskModuleTaskInfo(title="Convene", card=card_attachment(AdaptiveCardAttachment(
                content=card("Case details"))))
            return TaskModuleResponse(task=TaskModuleContinueResponse(value=info))

        @app.on_dialog_submit
        async def on_submit(ctx: ActivityContext[TaskSubmitInvokeActivity]) -> TaskModuleResponse:
            self.reached.append(("dialog_submit", ctx.activity.value.data))
            return TaskModuleResponse(task=TaskModuleMessageResponse(value="Convening..."))

        @app.on_install_add
        async def on_install(ctx: ActivityContext[InstalledActivity]) -> None:
            self.reached.append(("install", ctx.activity.from_.aad_object_id))

        @app.on_conversation_update
        async def on_update(ctx: ActivityContext[ConversationUpdateActivity]) -> None:
            self.reached.append(("conversation_update", [m.id for m in ctx.activity.members_added or []]))

        self.running = RunningTeamsApp(app, fastapi)

    def send(self, conversation_id: str, activity: Any) -> Any:
        return self.running.run(self.app.send(conversation_id, activity))


@pytest.fixture(scope="module")
def bot(teams: TeamsStandIn, people: dict[str, TeamsUser]) -> Iterator[Bot]:
    spike = Bot(teams)
    yield spike
    spike.running.stop()


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:  # one client: making each costs ~0.2 s
        yield client


def graph(http: httpx.Client, teams: TeamsStandIn, method: str, path: str, token: str,
          **kwargs: Any) -> httpx.Response:
    return http.request(method, teams.graph_url + path, headers={"Authorization": f"Bearer {token}"}, **kwargs)


def graph_token(teams: TeamsStandIn) -> str:
    # A fresh token source, so roles granted or revoked by the test are in the token.
    return asyncio.run(ClientCredentialsTokens(credentials(teams), teams.login_url)(endpoints(teams).graph_scope))


def member_bind(user: TeamsUser) -> dict[str, Any]:
    return {"@odata.type": "#microsoft.graph.aadUserConversationMember", "roles": ["owner"],
            "user@odata.bind": f"https://graph.microsoft.com/v1.0/users('{user.id}')"}


APP_BIND = {"teamsApp@odata.bind": f"https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/{TEAMS_APP_ID}"}


# ----------------------------------------------------------------------------- inbound


def test_signed_message_reaches_the_handler_and_the_reply_lands_in_that_persons_chat(
        teams: TeamsStandIn, people: dict[str, TeamsUser], bot: Bot) -> None:
    chair = people["chair"]
    response = teams.post_activity(bot.running.messages_url, teams.message(chair, "actions"))

    assert response.status_code == 200
    assert ("message", "actions") in bot.reached
    conversation = teams.personal_conversation_id(chair.id)
    reply = teams.wait_for(ACTIVITIES, lambda c: c.params["id"] == conversation)[-1]
    assert reply.client_id == teams.client_id  # sent with a token the login endpoint issued to the bot
    assert [m["text"] for m in teams.personal_messages(chair.id)][-1] == "You said: actions"
    assert teams.personal_messages(people["member"].id) == []


@pytest.mark.parametrize("kind", list(BadToken), ids=lambda k: k.value)
def test_a_bad_token_is_401_and_reaches_no_handler(teams: TeamsStandIn, people: dict[str, TeamsUser], bot: Bot,
                                                   kind: BadToken) -> None:
    before = list(bot.reached)
    activity = teams.message(people["chair"], "convene")

    response = teams.post_activity(bot.running.messages_url, activity, token=teams.bad_inbound_token(kind))

    assert response.status_code == 401
    assert bot.reached == before


@pytest.mark.parametrize("header", [None, "Basic abc", "Bearer not-a-jwt"], ids=["missing", "not_bearer", "garbage"])
def test_a_missing_or_malformed_authorization_is_401(http: httpx.Client, teams: TeamsStandIn,
                                                     people: dict[str, TeamsUser], bot: Bot,
                                                     header: str | None) -> None:
    before = list(bot.reached)
    headers = {"Authorization": header} if header else {}
    response = http.post(bot.running.messages_url, json=teams.message(people["chair"], "convene"), headers=headers)

    assert response.status_code == 401
    assert bot.reached == before


def test_a_valid_token_for_another_service_url_than_the_activity_names_is_401(
        teams: TeamsStandIn, people: dict[str, TeamsUser], bot: Bot) -> None:
    # The activity claims to come from another Bot Connector: replies would go there.
    activity = teams.message(people["chair"], "convene")
    activity["serviceUrl"] = "https://smba.trafficmanager.net/teams/"
    before = list(bot.reached)

    response = teams.post_activity(bot.running.messages_url, activity, token=teams.mint_inbound_token())

    assert response.status_code == 401
    assert bot.reached == before


def test_the_channel_keys_are_fetched_once_not_per_activity(teams: TeamsStandIn, people: dict[str, TeamsUser],
                                                            bot: Bot) -> None:
    teams.post_activity(bot.running.messages_url, teams.message(people["chair"], "one"))
    fetched = len(teams.calls_to("GET /v1/.well-known/keys"))
    for text in ("two", "three"):
        assert teams.post_activity(bot.running.messages_url, teams.message(people["chair"], text)).status_code == 200

    assert len(teams.calls_to("GET /v1/.well-known/keys")) == fetched


def test_a_mention_in_a_group_chat_reaches_the_handler_without_the_mention(
        teams: TeamsStandIn, people: dict[str, TeamsUser], bot: Bot) -> None:
    chat = teams.add_group_chat([people["chair"].id, people["lead"].id, people["member"].id], topic="PMCCG-2026-001")
    activity = teams.message(people["lead"], "outcome PMCCG-2026-001", conversation_id=chat, mention_bot=True)

    assert teams.post_activity(bot.running.messages_url, activity).status_code == 200

    assert ("message", "outcome PMCCG-2026-001") in bot.reached
    teams.wait_for(ACTIVITIES, lambda c: c.params["id"] == chat)
    assert teams.messages(chat)[-1]["text"] == "You said: outcome PMCCG-2026-001"


# ----------------------------------------------------------------------------- invokes


def test_an_action_execute_is_answered_with_the_card_that_replaces_it(
        teams: TeamsStandIn, people: dict[str, TeamsUser], bot: Bot) -> None:
    activity = teams.card_action(people["member"], {"action": "attend", "case": "PMCCG-2026-002"}, verb="attend",
                                 reply_to_id="1700000000001")

    response = teams.post_activity(bot.running.messages_url, activity)

    assert response.status_code == 200
    body = response.json()
    assert body["statusCode"] == 200
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    assert visible_text({"attachments": [{"content": body["value"]}]}) == "Thanks, noted"
    assert ("execute", {"action": "attend", "case": "PMCCG-2026-002"}) in bot.reached


def test_a_dialog_opens_with_a_card_and_its_submission_is_answered(
        teams: TeamsStandIn, people: dict[str, TeamsUser], bot: Bot) -> None:
    opened = teams.post_activity(bot.running.messages_url, teams.dialog_open(people["chair"], {"dialog_id": "convene"}))
    submitted = teams.post_activity(bot.running.messages_url,
                                    teams.dialog_submit(people["chair"], {"nonce": "n1", "case_ref": "PMCCG-2026-003"}))

    assert opened.status_code == 200
    task = opened.json()["task"]
    assert task["type"] == "continue"
    assert task["value"]["card"]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert submitted.status_code == 200
    assert submitted.json() == {"task": {"type": "message", "value": "Convening..."}}


def test_installation_and_conversation_updates_reach_their_handlers(
        teams: TeamsStandIn, people: dict[str, TeamsUser], bot: Bot) -> None:
    chat = teams.add_group_chat([people["chair"].id, people["member"].id])
    teams.post_activity(bot.running.messages_url, teams.installation_update(people["lead"]))
    teams.post_activity(bot.running.messages_url, teams.conversation_update(chat, by=people["chair"], bot_added=True))

    assert ("install", people["lead"].id) in bot.reached
    assert ("conversation_update", [f"28:{teams.client_id}"]) in bot.reached


# ----------------------------------------------------------------------------- outbound


def test_a_proactive_send_from_another_thread_lands_and_updates_in_place(
        teams: TeamsStandIn, people: dict[str, TeamsUser], bot: Bot) -> None:
    conversation = teams.personal_conversation_id(people["member"].id)
    assert conversation

    sent = bot.send(conversation, MessageActivityInput(text="Reminder: action point due").add_card(card("Due Friday")))
    bot.send(conversation, MessageActivityInput(text="Done", id=sent.id))  # an id makes the SDK PUT

    shown = teams.personal_messages(people["member"].id)
    assert [m["id"] for m in shown][-1] == sent.id
    assert shown[-1]["text"] == "Done"
    assert teams.delivered("PUT /v3/conversations/{id}/activities/{activityId}")[-1].params["activityId"] == sent.id

    bot.running.run(bot.app.api.conversations.delete_activity(conversation, sent.id))
    assert sent.id not in [m["id"] for m in teams.personal_messages(people["member"].id)]


def test_the_bots_token_is_fetched_once_per_scope_and_reused(teams: TeamsStandIn, people: dict[str, TeamsUser],
                                                              bot: Bot) -> None:
    conversation = teams.personal_conversation_id(people["chair"].id)
    assert conversation
    for n in range(3):
        bot.send(conversation, f"Update {n}")

    token_calls = [c for c in teams.delivered(TOKEN) if c.body["scope"] == BOT_FRAMEWORK_SCOPE]
    assert len(token_calls) == 1
    assert token_calls[0].body["client_secret"] == "***"  # the log never keeps the secret


def test_a_one_to_one_chat_needs_the_app_installed_for_that_person(
        http: httpx.Client, teams: TeamsStandIn, people: dict[str, TeamsUser], bot: Bot) -> None:
    newcomer = people["newcomer"]
    params = CreateConversationParams(members=[Account(id=newcomer.mri)], tenant_id=teams.tenant_id)

    with pytest.raises(httpx.HTTPStatusError) as refused:
        bot.running.run(bot.app.api.conversations.create(params))
    assert refused.value.response.status_code == 403

    install_path = f"/users/{newcomer.id}/teamwork/installedApps"
    installed = graph(http, teams, "POST", install_path, graph_token(teams), json=APP_BIND)
    assert installed.status_code == 201
    again = graph(http, teams, "POST", install_path, graph_token(teams), json=APP_BIND)
    assert again.status_code == 409

    by_object_id = CreateConversationParams(members=[Account(id=newcomer.id)], tenant_id=teams.tenant_id)
    created = bot.running.run(bot.app.api.conversations.create(by_object_id))
    assert created.id == teams.personal_conversation_id(newcomer.id)
    assert bot.running.run(bot.app.api.conversations.create(params)).id == created.id  # found, not made twice
    bot.send(created.id, "Welcome to the PMCCG bot")
    assert visible_text(teams.personal_messages(newcomer.id)[-1]) == "Welcome to the PMCCG bot"


def test_a_standing_refusal_and_a_blocked_bot_fail_only_that_person(
        teams: TeamsStandIn, people: dict[str, TeamsUser], bot: Bot) -> None:
    leaver = teams.add_user("Rupert Hollingsworth")
    blocker = teams.add_user("Beatrix Underhill")
    teams.refuse("POST /v3/conversations", 404, "NotFound", user=leaver.id)
    teams.block_bot(blocker.id)
    try:
        statuses = {}
        for person in (leaver, blocker, people["chair"]):
            params = CreateConversationParams(members=[Account(id=person.mri)], tenant_id=teams.tenant_id)
            try:
                bot.running.run(bot.app.api.conversations.create(params))
                statuses[person.display_name] = 201
            except httpx.HTTPStatusError as exc:
                statuses[person.display_name] = exc.response.status_code
                assert exc.response.json()["error"]["code"] in ("NotFound", "ConversationBlockedByUser")
    finally:
        teams.clear_refusals()

    assert statuses == {"Rupert Hollingsworth": 404, "Beatrix Underhill": 403, "Harriet Pemberton": 201}


def test_injected_faults_reach_the_sdk_as_http_status_errors(teams: TeamsStandIn, people: dict[str, TeamsUser],
                                                             bot: Bot) -> None:
    conversation = teams.personal_conversation_id(people["chair"].id)
    assert conversation
    teams.rate_limit_next(ACTIVITIES, retry_after=7)
    teams.server_error_next(ACTIVITIES, 503)
    teams.fail_next(ACTIVITIES, 404, "ConversationNotFound")

    seen = []
    for _ in range(3):
        with pytest.raises(httpx.HTTPStatusError) as failed:
            bot.send(conversation, "Agenda")
        seen.append((failed.value.response.status_code, failed.value.response.headers.get("Retry-After")))
    assert seen == [(429, "7"), (503, None), (404, None)]
    assert failed.value.response.json()["error"]["code"] == "ConversationNotFound"
    assert bot.send(conversation, "Agenda").id  # the next call is answered again


def test_an_oversized_message_is_refused_with_413(teams: TeamsStandIn, people: dict[str, TeamsUser], bot: Bot) -> None:
    conversation = teams.personal_conversation_id(people["chair"].id)
    assert conversation
    with pytest.raises(httpx.HTTPStatusError) as refused:
        bot.send(conversation, "x" * (teams.message_size_limit + 1))
    assert refused.value.response.status_code == 413


def test_members_are_listed_whole_and_in_pages(teams: TeamsStandIn, people: dict[str, TeamsUser], bot: Bot) -> None:
    trio = [people["chair"], people["lead"], people["member"]]
    chat = teams.add_group_chat([p.id for p in trio])
    conversations = bot.app.api.conversations

    everyone = bot.running.run(conversations.get_members(chat))
    first = bot.running.run(conversations.get_paged_members(chat, page_size=2))
    rest = bot.running.run(conversations.get_paged_members(chat, page_size=2,
                                                           continuation_token=first.continuation_token))

    assert [m.aad_object_id for m in everyone] == [p.id for p in trio]
    assert len(first.members) == 2 and first.continuation_token
    assert [m.aad_object_id for m in rest.members] == [people["member"].id] and rest.continuation_token is None


def test_the_bot_connector_refuses_a_token_it_did_not_issue(http: httpx.Client, teams: TeamsStandIn,
                                                            people: dict[str, TeamsUser]) -> None:
    conversation = teams.personal_conversation_id(people["chair"].id)
    url = f"{teams.service_url}/v3/conversations/{conversation}/activities"
    forged = teams.mint_inbound_token()  # a channel token is no credential for the Bot Connector

    response = http.post(url, json={"type": "message", "text": "hi"}, headers={"Authorization": f"Bearer {forged}"})

    assert response.status_code == 401


# ----------------------------------------------------------------------------- login endpoint


def test_the_login_endpoint_refuses_a_wrong_secret_permanently(teams: TeamsStandIn) -> None:
    wrong = TeamsCredentials(teams.client_id, teams.tenant_id, "not-the-secret")
    with pytest.raises(TokenRequestError) as refused:
        asyncio.run(ClientCredentialsTokens(wrong, teams.login_url)(BOT_FRAMEWORK_SCOPE))

    assert refused.value.status == 401 and refused.value.error == "invalid_client"
    assert not refused.value.retryable
    assert "not-the-secret" not in str(refused.value)


def test_a_rate_limited_token_request_is_retryable_with_its_delay(teams: TeamsStandIn) -> None:
    teams.rate_limit_next(TOKEN, retry_after=3)
    with pytest.raises(TokenRequestError) as limited:
        asyncio.run(ClientCredentialsTokens(credentials(teams), teams.login_url)(BOT_FRAMEWORK_SCOPE))

    assert limited.value.retryable and limited.value.retry_after == 3


def test_tokens_are_refused_for_another_tenant_and_for_an_unknown_resource(teams: TeamsStandIn) -> None:
    tokens = ClientCredentialsTokens(credentials(teams), teams.login_url)
    with pytest.raises(TeamsAuthError):
        asyncio.run(tokens(BOT_FRAMEWORK_SCOPE, "another-tenant"))
    with pytest.raises(TokenRequestError) as unknown:
        asyncio.run(tokens("https://graph.microsoft.com/.default"))  # Graph lives elsewhere in this setup
    assert unknown.value.error == "invalid_resource"


def test_endpoint_settings_that_cannot_work_are_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TeamsAuthError, match="TEAMS_OPENID_METADATA_URL"):
        TeamsEndpoints(openid_metadata_url="https://login.botframework.com/v1/.well-known/openid-configuration")
    with pytest.raises(TeamsAuthError, match="TEAMS_LOGIN_URL must use https"):
        TeamsEndpoints(login_url="http://login.example.org")
    with pytest.raises(TeamsAuthError, match="TEAMS_CLIENT_SECRET"):
        TeamsCredentials("id", "tenant", "")
    monkeypatch.setenv("CLIENT_SECRET", "would-win-over-ours")
    with pytest.raises(TeamsAuthError, match="CLIENT_SECRET"):
        app_auth_options(TeamsCredentials("id", "tenant", "secret"), TeamsEndpoints())


def test_the_default_endpoints_are_microsofts_public_cloud() -> None:
    cloud = TeamsEndpoints().cloud()
    assert cloud.openid_metadata_url == "https://login.botframework.com/v1/.well-known/openidconfiguration"
    assert cloud.login_endpoint == "https://login.microsoftonline.com"
    assert cloud.graph_scope == "https://graph.microsoft.com/.default"
    assert TeamsEndpoints().service_url == "https://smba.trafficmanager.net/teams"


# ----------------------------------------------------------------------------- Graph


def test_a_case_chat_is_created_with_its_members_and_the_app_and_the_bot_can_post_there(
        http: httpx.Client, teams: TeamsStandIn, people: dict[str, TeamsUser], bot: Bot) -> None:
    token = graph_token(teams)
    body = {"chatType": "group", "topic": "PMCCG-2026-004", "installedApps": [APP_BIND],
            "members": [member_bind(people[k]) for k in ("chair", "lead", "member")]}

    created = graph(http, teams, "POST", "/chats", token, json=body)

    assert created.status_code == 202 and created.content == b""
    chat_id = created.headers["Content-Location"].split("'")[1]
    assert chat_id.startswith("19:") and chat_id.endswith("@thread.v2")
    assert graph(http, teams, "GET", f"/chats/{chat_id}", token).json()["topic"] == "PMCCG-2026-004"
    apps = graph(http, teams, "GET", f"/chats/{chat_id}/installedApps", token, params={"$expand": "teamsApp"}).json()
    assert [a["teamsApp"]["id"] for a in apps["value"]] == [TEAMS_APP_ID]

    bot.send(chat_id, "The case chat is ready")
    assert visible_text(teams.messages(chat_id)[-1]) == "The case chat is ready"
    assert teams.delivered("POST /v1.0/chats")[-1].permission == "Chat.Create"


def test_a_deputy_is_added_and_removed_and_the_topic_renamed(http: httpx.Client, teams: TeamsStandIn,
                                                             people: dict[str, TeamsUser]) -> None:
    token = graph_token(teams)
    chat = teams.add_group_chat([people["chair"].id, people["lead"].id], topic="PMCCG-2026-005")
    deputy = teams.add_user("Julian Featherstone")

    added = graph(http, teams, "POST", f"/chats/{chat}/members", token, json=member_bind(deputy))
    no_role = graph(http, teams, "POST", f"/chats/{chat}/members", token,
                    json={k: v for k, v in member_bind(deputy).items() if k != "roles"})
    renamed = graph(http, teams, "PATCH", f"/chats/{chat}", token, json={"topic": "PMCCG-2026-005 (closed)"})

    assert added.status_code == 201 and added.json()["userId"] == deputy.id
    assert no_role.status_code == 400
    assert renamed.status_code == 200
    assert teams.conversation(chat).members == (people["chair"].id, people["lead"].id, deputy.id)
    assert teams.conversation(chat).topic == "PMCCG-2026-005 (closed)"
    # Renaming used the chat's resource-specific permission, granted through the app installed there.
    assert teams.delivered("PATCH /v1.0/chats/{id}")[-1].permission == "ChatSettings.ReadWrite.Chat"

    removed = graph(http, teams, "DELETE", f"/chats/{chat}/members/{added.json()['id']}", token)
    assert removed.status_code == 204
    assert deputy.id not in teams.conversation(chat).members


def test_removing_the_app_from_a_chat_stops_the_bot_posting_there(
        http: httpx.Client, teams: TeamsStandIn, people: dict[str, TeamsUser], bot: Bot) -> None:
    token = graph_token(teams)
    chat = teams.add_group_chat([people["chair"].id, people["member"].id])
    install = graph(http, teams, "GET", f"/chats/{chat}/installedApps", token).json()["value"][0]["id"]

    assert graph(http, teams, "DELETE", f"/chats/{chat}/installedApps/{install}", token).status_code == 204

    with pytest.raises(httpx.HTTPStatusError) as refused:
        bot.send(chat, "Closed")
    assert refused.value.response.status_code == 403
    assert refused.value.response.json()["error"]["code"] == "BotNotInConversationRoster"


def test_a_chat_whose_app_install_is_still_pending_refuses_posts_until_it_completes(
        http: httpx.Client, teams: TeamsStandIn, people: dict[str, TeamsUser], bot: Bot) -> None:
    teams.hold_chat_installs()
    try:
        created = graph(http, teams, "POST", "/chats", graph_token(teams), json={
            "chatType": "group", "installedApps": [APP_BIND],
            "members": [member_bind(people["chair"]), member_bind(people["lead"])]})
        chat_id = created.headers["Content-Location"].split("'")[1]
        with pytest.raises(httpx.HTTPStatusError) as early:
            bot.send(chat_id, "Hello")
        assert early.value.response.status_code == 403
    finally:
        teams.complete_chat_installs()
    assert bot.send(chat_id, "Hello").id


def test_a_call_without_its_permission_is_403_naming_what_it_needs(http: httpx.Client, teams: TeamsStandIn,
                                                                    people: dict[str, TeamsUser]) -> None:
    teams.revoke("Chat.Create")
    try:
        refused = graph(http, teams, "POST", "/chats", graph_token(teams), json={
            "chatType": "group", "members": [member_bind(people["chair"]), member_bind(people["lead"])]})
    finally:
        teams.grant("Chat.Create")

    assert refused.status_code == 403
    assert "Chat.Create" in refused.json()["error"]["message"]
    assert teams.calls_to("POST /v1.0/chats")[-1].needs[0] == "Chat.Create"


def test_graph_faults_are_shaped_like_graphs_and_a_slow_route_holds_up_no_other(
        http: httpx.Client, teams: TeamsStandIn, people: dict[str, TeamsUser]) -> None:
    token = graph_token(teams)
    teams.rate_limit_next("GET /v1.0/users", retry_after=2)
    teams.fail_next("GET /v1.0/users/{id}", 404, "Request_ResourceNotFound")

    limited = graph(http, teams, "GET", "/users", token)
    missing = graph(http, teams, "GET", f"/users/{people['chair'].id}", token)

    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "2")
    assert missing.status_code == 404
    assert set(missing.json()["error"]) == {"code", "message", "innerError"}

    teams.delay_next("GET /v1.0/chats/{id}", 1.0)
    chat = teams.add_group_chat([people["chair"].id, people["lead"].id])
    with httpx.Client(timeout=5) as other:
        slow = threading.Thread(target=graph, args=(other, teams, "GET", f"/chats/{chat}", token))
        slow.start()
        assert graph(http, teams, "GET", "/users", token).status_code == 200
        assert slow.is_alive()  # the delayed call is still waiting; the other route was answered meanwhile
        slow.join()
    assert teams.calls_to("GET /v1.0/chats/{id}")[-1].status == 200


def test_a_token_for_the_bot_connector_is_no_use_on_graph(http: httpx.Client, teams: TeamsStandIn) -> None:
    bot_token = asyncio.run(ClientCredentialsTokens(credentials(teams), teams.login_url)(BOT_FRAMEWORK_SCOPE))
    response = graph(http, teams, "GET", "/users", bot_token)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_the_directory_pages_and_says_who_is_enabled_only_when_asked(http: httpx.Client, teams: TeamsStandIn,
                                                                     people: dict[str, TeamsUser]) -> None:
    token = graph_token(teams)
    leaver = teams.add_user("Samuel Oyelaran")
    teams.disable_user(leaver.id)

    plain = graph(http, teams, "GET", "/users", token).json()["value"]
    assert "accountEnabled" not in plain[0]  # Graph returns it only when $select names it

    seen: list[dict[str, Any]] = []
    url: str | None = teams.graph_url + "/users?$select=id,displayName,accountEnabled,userType&$top=2"
    while url:
        page = http.get(url, headers={"Authorization": f"Bearer {token}"}).json()
        seen.extend(page["value"])
        url = page.get("@odata.nextLink")
    assert len(seen) == len(teams.users)
    assert {u["displayName"]: u["accountEnabled"] for u in seen}["Samuel Oyelaran"] is False

    enabled = graph(http, teams, "GET", "/users", token, params={"$filter": "accountEnabled eq true",
                                                            "$select": "id"}).json()["value"]
    assert leaver.id not in {u["id"] for u in enabled}
    assert graph(http, teams, "GET", f"/users/{people['chair'].id}", token).json()["displayName"] == "Harriet Pemberton"
    assert graph(http, teams, "GET", "/users/00000000-0000-0000-0000-000000000000", token).status_code == 404

