"""Sends Slack-shaped, signed requests to the running bot over HTTP, as Slack itself would."""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import requests
from slack_sdk.signature import SignatureVerifier
from werkzeug.serving import BaseWSGIServer, make_server

TEAM = {"id": "T0001", "domain": "nhs-test"}


class RunningBot:
    """The WSGI app served on 127.0.0.1 at an ephemeral port, in a thread."""

    def __init__(self, wsgi_app: Any, signing_secret: str, response_url: str) -> None:
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.secret = signing_secret
        self.response_url = response_url
        # A short poll so that stop() (shutdown) returns at once rather than after half a second.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        # Bolt answers Slack at ack() and finishes the listener in its executor: wait for that work,
        # so none of it lands in the next test's database or calls the next test's stand-in.
        app = getattr(self, "app", None)
        if app is not None:
            app.listener_runner.listener_executor.shutdown(wait=True)

    # --- the raw HTTP path ---------------------------------------------------------------

    def post(self, body: str, *, signed: bool = True, timestamp: int | None = None,
             headers: dict[str, str] | None = None) -> requests.Response:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        all_headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts}
        if signed:
            all_headers["X-Slack-Signature"] = SignatureVerifier(self.secret).generate_signature(
                timestamp=ts, body=body)
        all_headers.update(headers or {})
        return requests.post(f"{self.url}/slack/events", data=body.encode(), headers=all_headers, timeout=10)

    def post_payload(self, payload: dict[str, Any], **kwargs: Any) -> requests.Response:
        return self.post(urlencode({"payload": json.dumps(payload)}), **kwargs)

    # --- what Slack sends ----------------------------------------------------------------------

    def command(self, user: str, text: str = "", *, channel: str = "C0GENERAL") -> requests.Response:
        body = urlencode({"token": "legacy", "team_id": TEAM["id"], "team_domain": TEAM["domain"],
                          "channel_id": channel, "user_id": user, "command": "/pmccg", "text": text,
                          "response_url": self.response_url, "trigger_id": f"trigger-{uuid.uuid4().hex[:8]}"})
        return self.post(body)

    def click(self, user: str, action_id: str, value: str = "", *, channel: str | None = None,
              message_ts: str | None = None, view: dict[str, Any] | None = None) -> requests.Response:
        payload: dict[str, Any] = {
            "type": "block_actions", "team": TEAM, "user": {"id": user, "team_id": TEAM["id"]},
            "api_app_id": "A0001", "trigger_id": f"trigger-{uuid.uuid4().hex[:8]}",
            "response_url": self.response_url,
            "actions": [{"action_id": action_id, "block_id": "attendance", "type": "button", "value": value,
                         "action_ts": str(time.time())}],
        }
        if channel:
            payload["channel"] = {"id": channel}
            payload["container"] = {"type": "message", "channel_id": channel, "message_ts": message_ts or "1.0"}
            payload["message"] = {"ts": message_ts or "1.0", "text": ""}
        if view:
            payload["view"] = view
            payload["container"] = {"type": "view", "view_id": view["id"]}
        return self.post_payload(payload)

    def submit(self, user: str, callback_id: str, values: dict[str, Any], *, view_id: str | None = None,
               private_metadata: str = "", blocks: list[dict[str, Any]] | None = None) -> requests.Response:
        payload = {
            "type": "view_submission", "team": TEAM, "user": {"id": user, "team_id": TEAM["id"]},
            "api_app_id": "A0001", "trigger_id": f"trigger-{uuid.uuid4().hex[:8]}",
            "view": {"id": view_id or f"V{uuid.uuid4().hex[:10].upper()}", "type": "modal",
                     "callback_id": callback_id, "private_metadata": private_metadata,
                     "hash": "h", "state": {"values": values}},
        }
        if blocks is not None:  # Slack sends the view's blocks with its state
            payload["view"]["blocks"] = blocks
        return self.post_payload(payload)


def opened_view(fake: Any, count: int = 1) -> dict[str, Any]:
    """The view of the bot's `count`-th views.open as the stand-in holds it now (with the id and hash Slack
    gave it), found by the form nonce the bot put in its private_metadata."""
    call = fake.wait_for("views.open", count=count)[count - 1]
    nonce = call.params["view"]["private_metadata"]
    return dict(next(v for v in fake.views.values() if v.get("private_metadata") == nonce))


def submit_view(bot: RunningBot, user: str, view: dict[str, Any], values: dict[str, Any]) -> requests.Response:
    """Submit a view the bot opened, as Slack sends it: its id and private_metadata come back unchanged."""
    return bot.submit(user, view["callback_id"], values, view_id=view["id"],
                      private_metadata=view.get("private_metadata", ""))


def open_and_submit(bot: RunningBot, user: str, action_id: str, values: dict[str, Any], value: str = "",
                    **click: Any) -> requests.Response:
    """Press the button that opens a form, then submit that form as the person who opened it."""
    opened = len(bot.slack.calls_to("views.open"))  # type: ignore[attr-defined]
    bot.click(user, action_id, value, **click)
    view = opened_view(bot.slack, opened + 1)  # type: ignore[attr-defined]
    return submit_view(bot, user, view, values)
