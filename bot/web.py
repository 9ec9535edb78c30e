"""The WSGI app: Slack's one URL (POST /slack/events) and a health check for the load balancer."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_sdk.signature import SignatureVerifier
from sqlalchemy.engine import Engine

from bot.app import Bot
from storage.db import is_reachable

log = logging.getLogger(__name__)


def create_web_app(bot: Bot, engine: Engine) -> Flask:
    web = Flask("pmccg")
    slack = SlackRequestHandler(bot.app)
    secret = bot.services.settings.slack_signing_secret or ""
    verifier = SignatureVerifier(secret)

    @web.post("/slack/events")
    def slack_events() -> Response | tuple[Response, int]:
        # Check the signature before Bolt parses anything: a forged or malformed body can then
        # neither reach a listener nor make the parser fail (a 500 and a traceback in the log).
        if not verifier.is_valid_request(request.get_data(), dict(request.headers)):
            return jsonify(error="invalid request signature"), 401
        try:
            return slack.handle(request)
        except Exception:  # noqa: BLE001  (a signed but malformed body: say so, keep the body out of logs)
            log.warning("bad_slack_request", extra={"event": "bad_slack_request"})
            return jsonify(error="malformed request"), 400

    @web.get("/healthz")
    def healthz() -> tuple[Response, int]:
        if is_reachable(engine):
            return jsonify(status="ok"), 200
        return jsonify(status="database unreachable"), 503

    return web
