"""The edges of POST /slack/events and GET /healthz: what Slack (or anyone else) sees at the door."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier
from sqlmodel import select

from bot.clock import now
from storage.tables import Case, Invitee
from tests.factories import convene_state
from tests.slack_client import TEAM

# Methods that would mean a listener acted: a modal, a message, a channel.
ACTING_METHODS = ("views.open", "views.update", "chat.postMessage", "chat.update", "conversations.create",
                  "response")


def _settle(seconds: float = 0.5) -> None:
    """Give any listener that was (wrongly) started after the ack time to reach the fake Slack."""
    time.sleep(seconds)


def _cases(bot: Any) -> list[Case]:
    with bot.services.sessions() as session:
        return list(session.exec(select(Case)))


def _invitees(bot: Any) -> list[Invitee]:
    with bot.services.sessions() as session:
        return list(session.exec(select(Invitee)))


def _command_body(bot: Any, user: str, text: str, trigger_id: str | None = None) -> str:
    """The form body Slack posts for `/pmccg <text>` (as RunningBot.command builds it)."""
    return urlencode({"token": "legacy", "team_id": TEAM["id"], "team_domain": TEAM["domain"],
                      "channel_id": "C0GENERAL", "user_id": user, "command": "/pmccg", "text": text,
                      "response_url": bot.response_url,
                      "trigger_id": trigger_id or f"trigger-{uuid.uuid4().hex[:8]}"})


def _acting_calls(bot: Any) -> list[Any]:
    return [c for c in bot.slack.calls if c.method in ACTING_METHODS]


# --- request signing ----------------------------------------------------------------------------


def test_unsigned_request_is_refused_and_reaches_no_listener(bot: Any) -> None:
    response = bot.post(_command_body(bot, "U0MANAGER", "convene"), signed=False)
    assert response.status_code == 401
    _settle()
    assert bot.slack.calls == []


def test_unsigned_help_command_gets_no_help_text(bot: Any) -> None:
    # The empty command answers in the HTTP body when accepted; unsigned, nothing of it comes back.
    response = bot.post(_command_body(bot, "U0MANAGER", ""), signed=False)
    assert response.status_code == 401
    assert "convene" not in response.text


def test_request_signed_with_the_wrong_secret_is_refused(bot: Any) -> None:
    body = _command_body(bot, "U0MANAGER", "convene")
    ts = str(int(time.time()))
    forged = SignatureVerifier("not-the-signing-secret").generate_signature(timestamp=ts, body=body)
    response = bot.post(body, signed=False, timestamp=int(ts), headers={"X-Slack-Signature": forged})
    assert response.status_code == 401
    _settle()
    assert bot.slack.calls == []


def test_correctly_signed_but_stale_request_is_refused_as_a_replay(bot: Any) -> None:
    ten_minutes_ago = int(time.time()) - 600
    response = bot.post(_command_body(bot, "U0MANAGER", "convene"), timestamp=ten_minutes_ago)
    assert response.status_code == 401
    _settle()
    assert bot.slack.calls == []


def test_a_valid_signature_on_a_tampered_body_is_refused(bot: Any) -> None:
    body = _command_body(bot, "U0MEMBER1", "convene")
    ts = str(int(time.time()))
    signature = SignatureVerifier(bot.secret).generate_signature(timestamp=ts, body=body)
    tampered = body.replace("U0MEMBER1", "U0MANAGER")
    response = bot.post(tampered, signed=False, timestamp=int(ts), headers={"X-Slack-Signature": signature})
    assert response.status_code == 401
    _settle()
    assert bot.slack.calls == []


# --- malformed but signed bodies ---------------------------------------------------------------


MALFORMED_BODIES = [
    pytest.param("this is not a form, just words", "application/x-www-form-urlencoded", id="plain-words"),
    pytest.param("\u00e9\u00e8=&&&==%%%zz", "application/x-www-form-urlencoded", id="broken-percent-escapes"),
    pytest.param("<xml>nope</xml>", "text/xml", id="xml"),
    pytest.param("", "application/x-www-form-urlencoded", id="empty"),
    pytest.param(urlencode({"payload": json.dumps({"type": "mystery_type", "team": TEAM,
                                                   "user": {"id": "U0MANAGER"}})}),
                 "application/x-www-form-urlencoded", id="unknown-payload-type"),
    pytest.param(urlencode({"payload": json.dumps({
        "type": "block_actions", "team": TEAM, "user": {"id": "U0MANAGER", "team_id": TEAM["id"]},
        "api_app_id": "A0001", "trigger_id": "trigger-x", "response_url": "http://127.0.0.1:1/nowhere",
        "actions": [{"action_id": "no_such_action", "block_id": "b", "type": "button", "value": "x",
                     "action_ts": "1.0"}]})}),
        "application/x-www-form-urlencoded", id="unknown-action-id"),
    pytest.param(urlencode({"payload": json.dumps({"type": "view_submission", "team": TEAM,
                                                   "user": {"id": "U0MANAGER"},
                                                   "view": {"id": "V1", "type": "modal",
                                                            "callback_id": "no_such_view",
                                                            "state": {"values": {}}}})}),
                 "application/x-www-form-urlencoded", id="unknown-view-callback"),
    # Each of these once escaped Bolt as a 500 with a traceback; bot/web.py now answers 400.
    # Suggested fix in bot/web.py: verify the signature with SignatureVerifier first (401), then wrap
    # slack.handle(request) in try/except Exception -> log an event and answer 400.
    pytest.param(urlencode({"payload": json.dumps({"type": "view_submission", "team": TEAM,
                                                   "user": {"id": "U0MANAGER"},
                                                   "view": {"id": "V1", "callback_id": "convene",
                                                            "state": {"values": {}}}})}),
                 "application/x-www-form-urlencoded", id="view-without-type"),
    pytest.param("payload=this-is-not-json", "application/x-www-form-urlencoded", id="payload-not-json"),
    pytest.param("{this is not json", "application/json", id="json-content-type-not-json"),
    pytest.param(urlencode({"payload": json.dumps(["a", "list"])}), "application/x-www-form-urlencoded",
                 id="payload-json-not-an-object"),
]


@pytest.mark.parametrize(("body", "content_type"), MALFORMED_BODIES)
def test_signed_malformed_body_never_gets_a_server_error_and_creates_nothing(
        bot: Any, body: str, content_type: str) -> None:
    response = bot.post(body, headers={"Content-Type": content_type})
    assert response.status_code < 500, f"{response.status_code}: {response.text[:200]}"
    _settle()
    assert _acting_calls(bot) == []
    assert _cases(bot) == []


# The signature is checked before Bolt parses the body, so a forged malformed body is a plain 401.
def test_unsigned_malformed_payload_is_refused_not_a_server_error(bot: Any) -> None:
    response = bot.post("payload=this-is-not-json", signed=False)
    assert response.status_code == 401, f"{response.status_code}: {response.text[:200]}"
    assert bot.slack.calls == []


# --- Slack retries -------------------------------------------------------------------------------


def test_a_retried_convene_command_does_not_open_a_second_form(bot: Any) -> None:
    body = _command_body(bot, "U0MANAGER", "convene", trigger_id="trigger-retried")
    first = bot.post(body)
    assert first.status_code == 200
    bot.slack.wait_for("views.open")
    retry = bot.post(body, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert retry.status_code < 500
    _settle()
    # bot/app.py acknowledges and drops Slack's retries of commands and interactivity.
    assert len(bot.slack.calls_to("views.open")) == 1


def test_a_retried_convene_submission_makes_no_second_case_or_channel(bot: Any) -> None:
    payload = {
        "type": "view_submission", "team": TEAM, "user": {"id": "U0MANAGER", "team_id": TEAM["id"]},
        "api_app_id": "A0001", "trigger_id": "trigger-submit",
        "view": {"id": "VRETRY1", "type": "modal", "callback_id": "convene", "private_metadata": "",
                 "hash": "h", "state": {"values": convene_state(now())}},
    }
    assert bot.post_payload(payload).status_code == 200
    bot.slack.wait_for("views.update")
    invitees_before = len(_invitees(bot))
    retry = bot.post_payload(payload, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert retry.status_code < 500
    _settle(1.0)
    assert len(_cases(bot)) == 1
    assert len(_invitees(bot)) == invitees_before
    assert len(bot.slack.calls_to("conversations.create")) == 1
    assert len(bot.slack.calls_to("conversations.invite")) == 1


# --- stale buttons -------------------------------------------------------------------------------


def test_attendance_click_for_a_case_that_does_not_exist_gets_a_private_answer(bot: Any) -> None:
    response = bot.click("U0CHAIR01", "attendance_attending", "PMCCG-1999-042", channel="C0GONE",
                         message_ts="1700000000.000100")
    assert response.status_code == 200
    (reply,) = bot.slack.wait_for("response")
    assert reply.params["response_type"] == "ephemeral"
    assert reply.params.get("replace_original") in (False, "false", None)
    assert "PMCCG-1999-042 no longer exists" in reply.params["text"]
    _settle(0.3)
    assert bot.slack.calls_to("chat.update") == []
    assert _cases(bot) == []


def test_attendance_click_with_no_reference_at_all_is_not_a_server_error(bot: Any) -> None:
    response = bot.click("U0CHAIR01", "attendance_apologies", "", channel="C0GONE")
    assert response.status_code == 200
    (reply,) = bot.slack.wait_for("response")
    assert reply.params["response_type"] == "ephemeral"
    assert "no longer exists" in reply.params["text"]
    assert "Sorry, something went wrong" not in reply.params["text"]


# --- health check --------------------------------------------------------------------------------


def test_healthz_is_200_with_the_database_up(bot: Any) -> None:
    import requests

    response = requests.get(f"{bot.url}/healthz", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def _unreachable_urls(tmp_path: Path) -> list[str]:
    return [f"sqlite:///{tmp_path / 'no-such-directory' / 'deeper' / 'pmccg.db'}",
            "postgresql+psycopg://postgres@127.0.0.1:1/nothing?connect_timeout=2"]


@pytest.mark.parametrize("which", [0, 1], ids=["sqlite-missing-directory", "postgresql-closed-port"])
def test_healthz_is_503_when_the_database_is_unreachable(fake_slack: Any, tmp_path: Path, which: int) -> None:
    from bot.app import create_app
    from bot.config import load_settings
    from bot.web import create_web_app
    from storage.db import make_engine

    url = _unreachable_urls(tmp_path)[which]
    settings = load_settings({"SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_SIGNING_SECRET": "s",
                              "SLACK_API_URL": fake_slack.url, "DATABASE_URL": url}, dotenv=False)
    engine = make_engine(url)
    try:
        web = create_web_app(create_app(settings, engine=engine), engine)
        started = time.monotonic()
        response = web.test_client().get("/healthz")
        elapsed = time.monotonic() - started
    finally:
        engine.dispose()
    assert response.status_code == 503
    assert response.get_json() == {"status": "database unreachable"}
    # A load balancer's probe must get its answer well inside a typical 10 s probe timeout.
    assert elapsed < 8
    # The answer names no URL, host or credentials.
    assert "127.0.0.1" not in response.get_data(as_text=True)
    assert str(tmp_path) not in response.get_data(as_text=True)
