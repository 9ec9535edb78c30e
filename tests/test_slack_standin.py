"""Tests for the FakeSlack stand-in, driven through a real slack_sdk WebClient."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers

from bot.sandbox.slack_api import FakeSlack


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token="xoxb-test", base_url=fake.url, timeout=5)


def test_url_uses_ephemeral_port(fake: FakeSlack) -> None:
    assert fake.url.startswith("http://127.0.0.1:")
    assert fake.url.endswith("/api/")
    assert fake.port > 0


def test_auth_test(client: WebClient, fake: FakeSlack) -> None:
    resp = client.auth_test()
    assert resp["user_id"] == "UBOT"
    assert resp["bot_id"] == "BBOT"
    assert resp["team_id"] == "T0001"
    assert fake.calls_to("auth.test")[0].token == "xoxb-test"


def test_post_message_returns_ts_and_records_decoded_blocks(client: WebClient, fake: FakeSlack) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Quorum* reached"}}]
    first = client.chat_postMessage(channel="C123", text="Quorum reached", blocks=blocks)
    second = client.chat_postMessage(channel="C123", text="again")

    assert first["channel"] == "C123"
    assert first["ts"] == "1700000000.000100"
    assert second["ts"] > first["ts"]
    assert first["message"]["blocks"] == blocks

    call = fake.calls_to("chat.postMessage")[0]
    assert call.params["blocks"] == blocks
    assert call.params["text"] == "Quorum reached"
    assert call.token == "xoxb-test"
    assert call.answered_with == "ok"


def test_form_encoded_json_params_are_decoded(client: WebClient, fake: FakeSlack) -> None:
    # api_call with params= sends a form body; blocks arrive as a JSON string.
    client.api_call("chat.postMessage", params={"channel": "C1", "text": "x", "blocks": '[{"type": "divider"}]'})
    assert fake.calls_to("chat.postMessage")[0].params["blocks"] == [{"type": "divider"}]


def test_post_to_user_id_goes_to_dm_and_can_be_updated(client: WebClient, fake: FakeSlack) -> None:
    posted = client.chat_postMessage(channel="U0001", text="hi")
    assert posted["channel"] == "DU0001"
    updated = client.chat_update(channel=posted["channel"], ts=posted["ts"], text="edited")
    assert updated["message"]["text"] == "edited"
    with pytest.raises(SlackApiError) as exc:
        client.chat_update(channel=posted["channel"], ts="1.000000", text="nope")
    assert exc.value.response["error"] == "message_not_found"


def test_conversations_create_private_and_name_taken(client: WebClient, fake: FakeSlack) -> None:
    resp = client.conversations_create(name="pmccg-2024-03-case-17", is_private=True)
    channel = resp["channel"]
    assert channel["id"].startswith("C")
    assert channel["name"] == "pmccg-2024-03-case-17"
    assert channel["is_private"] is True

    with pytest.raises(SlackApiError) as exc:
        client.conversations_create(name="pmccg-2024-03-case-17", is_private=True)
    assert exc.value.response["error"] == "name_taken"

    fake.existing_channel_names.add("general-ops")
    with pytest.raises(SlackApiError) as exc:
        client.conversations_create(name="general-ops")
    assert exc.value.response["error"] == "name_taken"

    with pytest.raises(SlackApiError) as exc:
        client.conversations_create(name="Bad Name!")
    assert exc.value.response["error"] == "invalid_name_specials"

    assert [c.answered_with for c in fake.calls_to("conversations.create")] == [
        "ok",
        "name_taken",
        "name_taken",
        "invalid_name_specials",
    ]
    assert len(fake.delivered("conversations.create")) == 1


def test_a_renamed_channel_frees_its_name_but_an_archived_one_cannot_be_renamed(
        client: WebClient, fake: FakeSlack) -> None:
    room = client.conversations_create(name="pmccg-2026-001", is_private=True)["channel"]["id"]
    client.conversations_rename(channel=room, name="void-1-pmccg-2026-001")
    assert client.conversations_create(name="pmccg-2026-001", is_private=True)["ok"]
    client.conversations_archive(channel=room)
    with pytest.raises(SlackApiError) as exc:
        client.conversations_rename(channel=room, name="void-2-pmccg-2026-001")
    assert exc.value.response["error"] == "is_archived"


def test_a_delayed_call_is_in_flight_until_answered(client: WebClient, fake: FakeSlack) -> None:
    fake.delay_next("chat.postMessage", 0.5)
    sender = threading.Thread(target=lambda: client.chat_postMessage(channel="C0GENERAL", text="hello"))
    sender.start()
    deadline = time.monotonic() + 5
    while not fake.in_flight("chat.postMessage") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake.in_flight("chat.postMessage") == 1 and fake.calls_to("chat.postMessage") == []
    sender.join(5)
    assert fake.in_flight("chat.postMessage") == 0 and len(fake.delivered("chat.postMessage")) == 1


def test_a_latency_for_every_method_holds_each_call_but_one_with_its_own(client: WebClient, fake: FakeSlack) -> None:
    fake.set_latency("*", 0.3)
    fake.set_latency("auth.test", 0.01)
    start = time.monotonic()
    client.chat_postMessage(channel="C0GENERAL", text="hello")
    assert time.monotonic() - start >= 0.3
    start = time.monotonic()
    client.auth_test()
    assert time.monotonic() - start < 0.3
    fake.set_latency("*", 0)
    start = time.monotonic()
    client.chat_postMessage(channel="C0GENERAL", text="again")
    assert time.monotonic() - start < 0.3


def test_reset_connections_answer_nothing_until_turned_off(fake: FakeSlack) -> None:
    from slack_sdk.webhook import WebhookClient

    hook = WebhookClient(fake.url + "response", timeout=5, retry_handlers=[])
    fake.reset_connections("response")
    with pytest.raises(OSError):  # the connection ends without an answer: nothing Slack said
        hook.send(text="lost")
    assert fake.connections_reset("response") == 1 and fake.calls_to("response") == []
    fake.reset_connections("response", on=False)
    assert hook.send(text="delivered").status_code == 200
    assert [c.params["text"] for c in fake.calls_to("response")] == ["delivered"]


def test_invite_checks_directory_and_channel(client: WebClient, fake: FakeSlack) -> None:
    fake.add_user("U0001", "Alice Smith", "alice")
    channel_id = client.conversations_create(name="case-1", is_private=True)["channel"]["id"]

    assert client.conversations_invite(channel=channel_id, users=["U0001"])["channel"]["id"] == channel_id
    assert "U0001" in client.conversations_members(channel=channel_id)["members"]

    with pytest.raises(SlackApiError) as exc:
        client.conversations_invite(channel=channel_id, users="U0001,U9999")
    assert exc.value.response["error"] == "user_not_found"

    with pytest.raises(SlackApiError) as exc:
        client.conversations_invite(channel="C9999999", users="U0001")
    assert exc.value.response["error"] == "channel_not_found"


def test_rate_limit_is_retried_by_slack_sdk(client: WebClient, fake: FakeSlack) -> None:
    client.retry_handlers.append(builtin_handlers.RateLimitErrorRetryHandler(max_retry_count=1))
    fake.rate_limit_next("chat.postMessage", retry_after=0)

    resp = client.chat_postMessage(channel="C1", text="after backoff")

    assert resp["ok"] is True
    assert [c.answered_with for c in fake.calls_to("chat.postMessage")] == ["429", "ok"]
    assert len(fake.delivered("chat.postMessage")) == 1


def test_rate_limit_without_handler_surfaces_retry_after(client: WebClient, fake: FakeSlack) -> None:
    fake.rate_limit_next("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="C1", text="x")
    assert exc.value.response.status_code == 429
    assert exc.value.response.headers["Retry-After"] == "7"
    assert exc.value.response["error"] == "ratelimited"


def test_server_error_raises_without_handler(client: WebClient, fake: FakeSlack) -> None:
    fake.server_error_next("conversations.create", status=503)
    with pytest.raises(SlackApiError) as exc:
        client.conversations_create(name="case-2")
    assert exc.value.response.status_code == 503
    assert [c.answered_with for c in fake.calls_to("conversations.create")] == ["503"]
    # The fault was consumed and the channel was not created, so a retry succeeds.
    assert client.conversations_create(name="case-2")["ok"] is True


def test_server_error_retried_by_handler(client: WebClient, fake: FakeSlack) -> None:
    client.retry_handlers.append(builtin_handlers.ServerErrorRetryHandler(max_retry_count=1))
    fake.server_error_next("chat.postMessage")
    assert client.chat_postMessage(channel="C1", text="x")["ok"] is True
    assert [c.answered_with for c in fake.calls_to("chat.postMessage")] == ["500", "ok"]


def test_fail_next_applies_in_order_then_clears(client: WebClient, fake: FakeSlack) -> None:
    fake.fail_next("chat.postMessage", error="not_in_channel", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as exc:
            client.chat_postMessage(channel="C1", text="x")
        assert exc.value.response["error"] == "not_in_channel"
    assert client.chat_postMessage(channel="C1", text="x")["ok"] is True


def test_users_list_pagination(client: WebClient, fake: FakeSlack) -> None:
    for n in range(5):
        fake.add_user(f"U000{n}", f"Member {n}", tz="America/New_York")

    # SlackResponse iteration reuses one object, so snapshot each page's data.
    pages = [dict(page.data) for page in client.users_list(limit=2)]
    assert [len(p["members"]) for p in pages] == [2, 2, 1]
    assert [p["response_metadata"]["next_cursor"] for p in pages] == ["2", "4", ""]
    ids = [m["id"] for p in pages for m in p["members"]]
    assert ids == [f"U000{n}" for n in range(5)]
    assert pages[0]["members"][0]["profile"]["real_name"] == "Member 0"

    assert client.users_info(user="U0003")["user"]["tz"] == "America/New_York"
    with pytest.raises(SlackApiError) as exc:
        client.users_info(user="U4040")
    assert exc.value.response["error"] == "user_not_found"


def test_views_publish_keeps_home_view(client: WebClient, fake: FakeSlack) -> None:
    view = {"type": "home", "blocks": [{"type": "divider"}]}
    resp = client.views_publish(user_id="U0001", view=view)
    assert resp["view"]["id"].startswith("V")
    assert fake.home_views["U0001"]["blocks"] == [{"type": "divider"}]

    opened = client.views_open(trigger_id="t1", view={"type": "modal", "title": {"type": "plain_text", "text": "A"}})
    updated = client.views_update(view_id=opened["view"]["id"], view={"type": "modal"})
    assert updated["view"]["id"] == opened["view"]["id"]
    assert updated["view"]["hash"] != opened["view"]["hash"]


def test_files_upload_v2_round_trip(client: WebClient, fake: FakeSlack) -> None:
    resp = client.files_upload_v2(channel="C1", filename="case.csv", content="a,b\n1,2\n", title="Case export")
    file_id = resp["file"]["id"]
    assert fake.uploads[file_id] == b"a,b\n1,2\n"
    assert resp["file"]["title"] == "Case export"


def test_unknown_method_is_ok_and_recorded(client: WebClient, fake: FakeSlack) -> None:
    assert client.api_call("reactions.add", json={"channel": "C1", "name": "eyes", "timestamp": "1.0"})["ok"]
    assert fake.calls_to("reactions.add")[0].params["name"] == "eyes"


def test_wait_for_times_out_with_helpful_message(client: WebClient, fake: FakeSlack) -> None:
    client.auth_test()
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"chat\.postMessage.*auth\.test"):
        fake.wait_for("chat.postMessage", timeout=0.2)
    assert time.monotonic() - started < 2


def test_wait_for_sees_call_from_another_thread(client: WebClient, fake: FakeSlack) -> None:
    threading.Timer(0.1, lambda: client.chat_postMessage(channel="C1", text="late")).start()
    calls = fake.wait_for("chat.postMessage", predicate=lambda c: c.params.get("text") == "late")
    assert calls[0].params["channel"] == "C1"


def test_clear_empties_log(client: WebClient, fake: FakeSlack) -> None:
    client.auth_test()
    fake.clear()
    assert fake.calls == []
