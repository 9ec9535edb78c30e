"""`pmccg teams`'s app through the real HTTP path: health, the door (tokens, size, JSON), the 1:1 chat kept, the logs.

The real app of handlers/teams/app.py is served on 127.0.0.1 against the Teams stand-in (tests/teams_bot.py),
once per module and database; activities are signed by the stand-in's channel key, or spoilt as Teams' SDK
must refuse them. What is asserted is what Teams would see (statuses) and what the bot kept or sent.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.domain import direct_rooms
from bot.domain.notify import Message, MessageKind
from bot.domain.people import Standing
from bot.sandbox.teams_api import CLIENT_SECRET, BadToken, TeamsStandIn, TeamsUser
from handlers.teams.directory import TeamsDirectory
from handlers.teams.guard import MAX_BODY_BYTES
from tests.teams_bot import TeamsBotHarness

ACTIVITIES = "POST /v3/conversations/{id}/activities"
REPO = Path(__file__).resolve().parent.parent


class Probe:
    """A last listener noting every activity that reached the listeners (after the token was checked)."""

    def __init__(self) -> None:
        self.reached: list[str] = []

    def clear(self) -> None:
        self.reached.clear()


@pytest.fixture(scope="module")
def probe(teams_bot: TeamsBotHarness) -> Probe:
    seen = Probe()

    async def note(turn: Any) -> None:
        seen.reached.append(turn.activity.id or "")
        await turn.next()

    teams_bot.bot.app.use(note)
    return seen


@pytest.fixture
def bot(teams_bot: TeamsBotHarness, probe: Probe) -> TeamsBotHarness:
    probe.clear()
    teams_bot.teams.clear()
    return teams_bot


def newcomer(bot: TeamsBotHarness, name: str) -> TeamsUser:
    """Someone who has not installed the app yet (no 1:1 chat known to the bot)."""
    return bot.teams.add_user(name, app_installed=False)


def test_the_health_check_says_ok_when_the_database_answers(bot: TeamsBotHarness) -> None:
    response = httpx.get(bot.url + "/healthz", timeout=5)
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_a_signed_message_is_accepted_and_reaches_the_listeners(bot: TeamsBotHarness, probe: Probe) -> None:
    activity = bot.teams.message(bot.person("U0MEMBER1"), "hello")
    assert bot.post(activity).status_code == 200
    assert probe.reached == [activity["id"]]


@pytest.mark.parametrize("kind", list(BadToken))
def test_a_bad_token_is_401_and_reaches_no_listener(bot: TeamsBotHarness, probe: Probe, kind: BadToken) -> None:
    person = newcomer(bot, f"Rowena Tidewell {kind.value}")
    bot.teams.install_app_for(person.id)
    response = bot.post(bot.teams.installation_update(person, "add"), token=bot.teams.bad_inbound_token(kind))
    assert response.status_code == 401
    assert probe.reached == []
    assert direct_rooms.find(bot.services.sessions, person.id) is None
    assert bot.teams.calls_to(ACTIVITIES) == []


@pytest.mark.parametrize("header", [None, "Basic dXNlcjpwYXNz", "Bearer", "Bearer not-a-jwt"])
def test_a_missing_or_malformed_authorization_is_401_and_reaches_no_listener(bot: TeamsBotHarness, probe: Probe,
                                                                              header: str | None) -> None:
    activity = bot.teams.message(bot.person("U0MEMBER1"), "hello")
    headers = {"Content-Type": "application/json"} | ({"Authorization": header} if header else {})
    response = httpx.post(bot.messages_url, content=json.dumps(activity), headers=headers, timeout=10)
    assert response.status_code == 401
    assert probe.reached == []


def test_a_body_declared_over_1_mib_is_413_and_reaches_no_listener(bot: TeamsBotHarness, probe: Probe) -> None:
    activity = bot.teams.message(bot.person("U0MEMBER1"), "x" * (MAX_BODY_BYTES + 1))
    assert bot.post(activity).status_code == 413
    assert probe.reached == []


def test_a_chunked_body_over_1_mib_is_413_without_being_read_to_its_end(bot: TeamsBotHarness, probe: Probe) -> None:
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        yield b'{"type": "message", "text": "'
        for _ in range(64):  # 4 MiB offered; the bot stops reading just past 1 MiB
            sent += 64 * 1024
            yield b"x" * (64 * 1024)
        yield b'"}'

    token = bot.teams.mint_inbound_token()
    try:
        response = httpx.post(bot.messages_url, content=chunks(), timeout=10,
                              headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        answer: int | str = response.status_code
    except httpx.HTTPError as exc:  # the bot closed the connection before the client had sent it all
        answer = type(exc).__name__
    assert answer in (413, "WriteError", "RemoteProtocolError", "ReadError"), answer
    assert probe.reached == []


def test_a_body_just_under_the_limit_is_read(bot: TeamsBotHarness, probe: Probe) -> None:
    activity = bot.teams.message(bot.person("U0MEMBER1"), "")
    activity["channelData"]["padding"] = "x" * (MAX_BODY_BYTES - len(json.dumps(activity)) - 64)
    assert len(json.dumps(activity)) < MAX_BODY_BYTES
    assert bot.post(activity).status_code == 200
    assert probe.reached == [activity["id"]]


@pytest.mark.parametrize("body", [b"not json", b'["a", "list"]', b'"text"', b"", b"\xff\xfe{}", b"[" * 100_000],
                         ids=["text", "list", "string", "empty", "not-utf8", "deep"])
def test_a_body_that_is_not_a_json_object_is_400_and_reaches_no_listener(bot: TeamsBotHarness, probe: Probe,
                                                                         body: bytes) -> None:
    token = bot.teams.mint_inbound_token()  # a valid token: it is the body that is refused
    response = httpx.post(bot.messages_url, content=body, timeout=10,
                          headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    assert response.status_code == 400
    assert probe.reached == []


def test_installing_the_app_keeps_the_persons_1_1_chat(bot: TeamsBotHarness) -> None:
    person = newcomer(bot, "Ottilie Brackenbury")
    assert bot.install(person).status_code == 200
    kept = direct_rooms.find(bot.services.sessions, person.id)
    assert kept is not None
    assert kept.room == bot.teams.personal_conversation_id(person.id)
    assert kept.service_url.rstrip("/") == bot.teams.service_url


def test_a_direct_message_after_the_install_goes_into_the_kept_1_1_chat(bot: TeamsBotHarness) -> None:
    from handlers.teams.workspace import TeamsWorkspace

    person = newcomer(bot, "Wilhelmina Stroud")
    assert bot.install(person).status_code == 200
    bot.teams.clear()
    # The process's own sender, on the serving loop, with a plain card (the templates are another package's).
    workspace = TeamsWorkspace(credentials=bot.bot.credentials, endpoints=bot.bot.endpoints,
                               teams_app_id=bot.teams.teams_app_id, loop=bot.bot.loop, sessions=bot.services.sessions,
                               render=lambda message: {"type": "message", "text": "Your action points"},
                               tokens=bot.bot.tokens)
    posted = workspace.send_direct(person.id, Message(MessageKind.HOME, {}))
    assert posted.room == bot.teams.personal_conversation_id(person.id)
    assert bot.teams.calls_to("POST /v3/conversations") == []  # the kept chat, not one made anew
    # (the home card sent at install may arrive around the clear: only this message is asserted)
    assert [m.get("text") for m in bot.teams.personal_messages(person.id)].count("Your action points") == 1


def test_a_personal_message_keeps_the_1_1_chat_and_a_group_chat_mention_does_not_replace_it(
        bot: TeamsBotHarness) -> None:
    person = bot.person("U0MANAGER")
    assert bot.say(person, "actions").status_code == 200
    kept = direct_rooms.find(bot.services.sessions, person.id)
    assert kept is not None and kept.room == bot.teams.personal_conversation_id(person.id)
    chat = bot.teams.add_group_chat([person.id, bot.person("U0CHAIR01").id], topic="PMCCG-2026-001")
    assert bot.mention(person, chat, "actions").status_code == 200
    assert direct_rooms.find(bot.services.sessions, person.id) == kept


def test_removing_the_app_keeps_nothing_new(bot: TeamsBotHarness) -> None:
    person = newcomer(bot, "Lavinia Cresswell")
    bot.teams.install_app_for(person.id)
    assert bot.post(bot.teams.installation_update(person, "remove")).status_code == 200
    assert direct_rooms.find(bot.services.sessions, person.id) is None


def test_who_is_kept_is_the_signed_sender_whatever_the_activity_data_says(bot: TeamsBotHarness) -> None:
    person = newcomer(bot, "Peregrine Ashworth")
    bot.teams.install_app_for(person.id)
    victim = bot.person("U0GOVERN1")
    before = direct_rooms.find(bot.services.sessions, victim.id)
    activity = bot.teams.message(person, "hello", value={"user_id": victim.id, "aadObjectId": victim.id})
    assert bot.post(activity).status_code == 200
    assert direct_rooms.find(bot.services.sessions, victim.id) == before
    assert direct_rooms.find(bot.services.sessions, person.id) is not None


def test_neither_the_secret_nor_tokens_nor_typed_text_reach_the_log(bot: TeamsBotHarness,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    typed = "Confidential concern about Cordelia Marchbanks"
    person = newcomer(bot, "Evangeline Hartwell")
    token = bot.teams.mint_inbound_token()
    bot.install(person)
    bot.post(bot.teams.message(person, typed), token=token)
    for kind in (BadToken.FORGED, BadToken.EXPIRED, BadToken.MISMATCHED_SERVICE_URL):
        bot.post(bot.teams.message(person, typed), token=bot.teams.bad_inbound_token(kind))
    bot.post(bot.teams.message(person, "x" * (MAX_BODY_BYTES + 1)))
    httpx.post(bot.messages_url, content=typed.encode(), headers={"Authorization": f"Bearer {token}"}, timeout=10)
    # A fresh directory asks the login endpoint for a Graph token and Graph for people.
    fresh = TeamsDirectory(bot.bot.endpoints, type(bot.bot.tokens)(bot.bot.credentials, bot.teams.login_url))
    fresh.refresh_in_background()
    assert fresh.names(wait_seconds=5)
    assert fresh.standing([person.id]) == {person.id: Standing.OK}
    text = caplog.text
    assert "request_too_large" in text  # the log is captured at all
    for leak in (CLIENT_SECRET, token, typed, "Cordelia", "Evangeline"):
        assert leak not in text
    assert "Bearer" not in text and "eyJ" not in text  # no JWT at all


# ----------------------------------------------------------------------------- the directory, through Graph


@pytest.fixture(scope="module")
def directory(teams_bot: TeamsBotHarness) -> TeamsDirectory:
    return TeamsDirectory(teams_bot.bot.endpoints, teams_bot.bot.tokens, page_size=4, lookup_seconds=2.0)


def test_the_directory_says_who_is_an_enabled_member_of_the_organisation(bot: TeamsBotHarness,
                                                                         directory: TeamsDirectory) -> None:
    member, guest, leaver = bot.person("U0CHAIR01"), bot.person("U0OUTSIDE"), bot.person("U0LEFT001")
    nobody = "8f3c2a1e-5b6d-4e7f-9a0b-1c2d3e4f5a6b"
    assert directory.standing([member.id, guest.id, leaver.id, nobody, "U0CHAIR01", "29:1abc"]) == {
        member.id: Standing.OK, guest.id: Standing.UNKNOWN, leaver.id: Standing.DEACTIVATED, nobody: Standing.UNKNOWN,
        "U0CHAIR01": Standing.MALFORMED, "29:1abc": Standing.MALFORMED}
    asked = bot.teams.calls_to("GET /v1.0/users/{id}")
    assert {c.params["id"] for c in asked} == {member.id, guest.id, leaver.id, nobody}
    assert all("accountEnabled" in c.query["$select"] and "userType" in c.query["$select"] for c in asked)


def test_a_person_graph_does_not_answer_for_in_time_is_unconfirmed(bot: TeamsBotHarness) -> None:
    slow = TeamsDirectory(bot.bot.endpoints, bot.bot.tokens, lookup_seconds=0.3)
    person = bot.person("U0MEMBER1")
    bot.teams.delay_next("GET /v1.0/users/{id}", 1.0)
    assert slow.standing([person.id]) == {person.id: Standing.UNCONFIRMED}
    # The lookup goes on in the background and answers a retry from the cache.
    deadline = time.monotonic() + 5
    while not bot.teams.delivered("GET /v1.0/users/{id}") and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.1)
    bot.teams.clear()
    assert slow.standing([person.id]) == {person.id: Standing.OK}
    assert bot.teams.calls_to("GET /v1.0/users/{id}") == []


def test_lookups_under_load_are_all_confirmed_on_one_kept_client(bot: TeamsBotHarness) -> None:
    loaded = TeamsDirectory(bot.bot.endpoints, bot.bot.tokens)
    people = [bot.person(u).id for u in ("U0CHAIR01", "U0MEMBER1", "U0GOVERN1", "U0NURSELD")]
    assert loaded.standing(people) == {p: Standing.OK for p in people}
    kept = loaded._http

    def ask_again(_: int) -> dict[str, Standing]:
        loaded.forget_standings()  # each asks Graph, as a busy convening day would
        return loaded.standing(people)

    with ThreadPoolExecutor(max_workers=2) as pool:  # modest: the machine is shared, the wait is 1 s
        answers = list(pool.map(ask_again, range(6)))
    assert answers == [{p: Standing.OK for p in people}] * 6
    assert loaded._http is kept  # no client built per lookup (docs/teams-sdk-notes.md §3)


def test_a_graph_failure_is_unconfirmed_not_unknown(bot: TeamsBotHarness) -> None:
    failing = TeamsDirectory(bot.bot.endpoints, bot.bot.tokens)
    person = bot.person("U0MEMBER1")
    bot.teams.server_error_next("GET /v1.0/users/{id}", 503)
    assert failing.standing([person.id]) == {person.id: Standing.UNCONFIRMED}
    assert failing.standing([person.id]) == {person.id: Standing.OK}  # not cached: asked again


def test_the_names_are_loaded_page_by_page_and_answer_for_everyone_listed(bot: TeamsBotHarness,
                                                                          directory: TeamsDirectory) -> None:
    directory.refresh_in_background()
    names = directory.names(wait_seconds=10)
    assert {"Imogen Thistlewood", "Cordelia Marchbanks", "Wilfred Ambleside"} <= set(names)
    pages = bot.teams.calls_to("GET /v1.0/users")
    assert len(pages) >= len(bot.teams.users) // 4  # followed @odata.nextLink
    assert directory.display_name(bot.person("U0CHAIR01").id) == "Imogen Thistlewood"
    bot.teams.clear()
    assert directory.standing([bot.person("U0DEPUTY1").id]) == {bot.person("U0DEPUTY1").id: Standing.OK}
    assert bot.teams.calls_to("GET /v1.0/users/{id}") == []  # the list already answered


def test_the_bots_directory_is_the_graph_directory(bot: TeamsBotHarness) -> None:
    assert bot.services.directory is bot.bot.context.directory
    assert isinstance(bot.services.directory, TeamsDirectory)


# ----------------------------------------------------------------------------- `pmccg teams` itself


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_pmccg_teams_serves_on_port_checks_tokens_and_never_logs_the_secret(tmp_path: Path) -> None:
    with TeamsStandIn() as teams:
        person = teams.add_user("Harriet Pemberton")
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("CLIENT_SECRET", "CLIENT_ID", "TENANT_ID")}
        env |= teams.settings_env() | {"PORT": str(port), "DATABASE_URL": f"sqlite:///{tmp_path / 'pmccg.db'}",
                                       "PMCCG_RUN_SCHEDULER": "false", "PMCCG_PLATFORM": "teams"}
        log = (tmp_path / "stderr.log").open("wb")
        proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "teams", "--host", "127.0.0.1"], cwd=tmp_path,
                                env=env | {"PYTHONPATH": str(REPO)}, stdout=log, stderr=log)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None, (tmp_path / "stderr.log").read_text()
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                        break
                assert time.monotonic() < deadline, "pmccg teams did not answer /healthz"
                time.sleep(0.2)
            assert teams.post_activity(url + "/api/messages", teams.message(person, "hello")).status_code == 200
            forged = teams.bad_inbound_token(BadToken.FORGED)
            assert teams.post_activity(url + "/api/messages", teams.message(person, "hello"),
                                       token=forged).status_code == 401
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=15)
            log.close()
        stderr = (tmp_path / "stderr.log").read_text()
        # uvicorn shuts down cleanly, then re-raises the SIGTERM it caught (so the exit says how it ended).
        assert code in (0, -signal.SIGTERM), stderr
        assert "Application shutdown complete" in stderr and "serving" in stderr
        assert "Warning" not in stderr  # the SDK's preview warning at import is not an operator's business
        assert CLIENT_SECRET not in stderr and "eyJ" not in stderr


# ----------------------------------------------------------------------------- the harness itself


def test_each_harness_helper_sends_a_signed_activity_that_reaches_the_listeners(bot: TeamsBotHarness,
                                                                               probe: Probe) -> None:
    person = bot.person("U0CHAIR01")
    chat = bot.teams.add_group_chat([person.id, bot.person("U0MEMBER1").id], topic="PMCCG-2026-002")
    answers = [
        bot.say(person, "help"),
        bot.mention(person, chat, "help"),
        bot.click(person, "attend", {"value": "PMCCG-2026-002:1"}, reply_to_id="1700000000001", conversation=chat),
        bot.open_dialog(person, {"dialog_id": "convene"}),
        bot.submit_dialog(person, {"action": "convene", "nonce": "n-1"}),
    ]
    # None is refused at the door; the typed "help"s pass every listener (the probe, last, sees both) and are
    # answered in their chats; the invokes are answered by the listener they are for, which ends the chain.
    assert all(a.status_code not in (400, 401, 413) for a in answers), [a.status_code for a in answers]
    assert len(probe.reached) >= 2
    answered = {c.params["id"] for c in bot.teams.calls_to(ACTIVITIES)}
    assert chat in answered


def test_reset_empties_the_database_and_loads_the_roster_again(bot: TeamsBotHarness) -> None:
    from bot.domain import roster

    person = newcomer(bot, "Cornelius Fenwick")
    bot.install(person)
    assert direct_rooms.find(bot.services.sessions, person.id) is not None
    bot.reset()
    assert direct_rooms.find(bot.services.sessions, person.id) is None
    with bot.services.sessions() as session:
        kept = {e.user_id for e in roster.all_entries(session)}
    assert bot.person("U0CHAIR01").id in kept and len(kept) == 11
