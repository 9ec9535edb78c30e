"""The baseline: the least a Bolt app can do (verify, parse, acknowledge), under `pmccg serve`'s gunicorn settings.

`python -m bench.bare_app` serves it on 127.0.0.1:$PORT. Same Flask adapter, same signature check, same
worker class, workers and threads as bot/cli.py `cmd_serve` on SQLite, so the difference is our own work.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

from flask import Flask, Response, jsonify, request
from gunicorn.app.base import BaseApplication
from slack_bolt import Ack, App
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_sdk import WebClient


def create() -> Flask:
    client = WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    quiet = logging.getLogger("bench.bare.bolt")
    quiet.setLevel(logging.WARNING)
    app = App(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"], token_verification_enabled=False,
              request_verification_enabled=True, process_before_response=False, logger=quiet)

    def just_ack(ack: Ack) -> None:
        ack()

    app.command("/pmccg")(just_ack)
    app.action(re.compile(".*"))(just_ack)
    app.view(re.compile(".*"))(just_ack)

    web = Flask("bare")
    slack = SlackRequestHandler(app)

    @web.post("/slack/events")
    def events() -> Any:
        return slack.handle(request)

    @web.get("/healthz")
    def healthz() -> tuple[Response, int]:
        return jsonify(status="ok"), 200

    return web


def main() -> None:
    web = create()
    options = {"bind": f"127.0.0.1:{os.environ['PORT']}", "workers": 1, "worker_class": "gthread",
               "threads": int(os.environ.get("PMCCG_THREADS", "8")), "timeout": 30, "accesslog": None,
               "loglevel": "info",
               "control_socket": os.path.join(os.environ.get("TMPDIR", "/tmp"), f"bench-bare-{os.getpid()}.ctl")}

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return web

    Server().run()


if __name__ == "__main__":
    main()
